"""Data: `load_data` turns a source into train/validation/test `tf.data` pipelines and a `DataSpec`.

Sources: the bundled scikit-learn data sets by name (`digits`, `breast_cancer`,
`wine`, `iris`, `diabetes`; offline), `tfds:<name>` through tensorflow-datasets,
NumPy arrays `(x, y)`, a folder of images (one sub-folder a class) and a CSV file
with a label column. Every source is checked before training: empty data, labels
out of range and NaN/inf in features fail here, with the source's name.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerazoo.spec import DataSpec

__all__ = ["load_data", "Data", "BUNDLED", "check_arrays", "check_value_range", "infer_value_range"]

BUNDLED = ("digits", "breast_cancer", "wine", "iris", "diabetes")

log = logging.getLogger("kerazoo")


@dataclass
class Data:
    """What `load_data` returns: batched pipelines, the spec, and where they came from.

    Attributes:
        train, validation, test: batched `tf.data.Dataset`s of `(x, y)`;
            validation and test may be None.
        spec: the `DataSpec` that `build` takes.
        source: the source as the user named it (`"digits"`, `"tfds:mnist"`, a path).
        options: the split and batch settings, so a run can load the same data again.
        arrays: `{split: (x, y)}` NumPy arrays where the source fits in memory.
        tokenizer: for text sources, the `kerazoo.lm.Tokenizer` that made the
            tokens; `fit` saves it into the run directory.
        text: for text sources, the token stream and the blocks' bounds
            (`kerazoo.lm.text_metrics` scores every token of a block from it).
    """

    train: Any
    validation: Any
    test: Any
    spec: DataSpec
    source: str = "arrays"
    options: dict = field(default_factory=dict)
    arrays: dict | None = field(default=None, repr=False)
    tokenizer: Any = field(default=None, repr=False)
    text: dict | None = field(default=None, repr=False)

    def describe(self) -> str:
        counts = {k: len(v[0]) for k, v in (self.arrays or {}).items()}
        sizes = ", ".join(f"{k} {n}" for k, n in counts.items())
        return f"{self.spec.summary()}" + (f" ({sizes})" if sizes else "")


def load_data(
    source: Any,
    *,
    validation_split: float | None = None,
    test_split: float | None = None,
    batch_size: int = 32,
    seed: int = 0,
    task: str | None = None,
    kind: str | None = None,
    validation_data: tuple | None = None,
    test_data: tuple | None = None,
    label: str | None = None,
    image_size: tuple | None = None,
    name: str | None = None,
    seq_len: int | None = None,
    tokenizer: Any = None,
    value_range: tuple | None = None,
) -> Data:
    """Load a data set as train/validation/test pipelines plus its `DataSpec`.

    Classification splits are stratified, and every split is the same for the
    same seed. `test_split` is taken from the whole, then `validation_split`
    from what remains. Pipelines cache, shuffle (train only), batch and prefetch.

    Args:
        source: a bundled name, `"tfds:<name>"`, a tuple `(x, y)` of arrays,
            a folder of class sub-folders of images, a `.csv` file, or text
            for language models: `"text:pydoc"` (bundled), `"text:PATH"` (a
            .txt file or a folder of them), `"tfds:tiny_shakespeare"` with
            `task="causal_lm"` (see `kerazoo.lm.load_text`).
        validation_split: the share of the training part held out for
            validation. Defaults to 0.1 (0.05 for text).
        test_split: the share of the whole held out for testing. Defaults to
            0.2 (0.1 for text: the last tenth, one contiguous block).
        batch_size: the batch size. Defaults to 32.
        seed: the split and shuffle seed. Defaults to 0.
        task: override the inferred task (`multiclass`, `binary`, `regression`,
            `multilabel`).
        kind: override the inferred input kind (`image`, `tabular`, `sequence`,
            `tokens`).
        validation_data: an explicit `(x, y)` validation split for array
            sources; when given, no validation split is carved from `source`.
        test_data: an explicit `(x, y)` test split for array sources; when
            given, no test split is carved from `source`.
        label: the label column of a CSV file. Defaults to the last column.
        image_size: `(height, width)` images from a folder are resized to.
            Defaults to (64, 64).
        name: the data set's name in logs and specs.
        seq_len: text: the tokens in one training window. Defaults to 128.
        tokenizer: text: `"byte"` (the default), `"sentencepiece[:SIZE]"`
            (trained on the training text), or a run directory whose
            tokenizer to reuse.
        value_range: images: the raw pixel range `(low, high)` that models
            rescale to [0, 1] inside themselves. Defaults to None: known for
            bundled sets, folders (0-255) and tfds; for arrays, inferred from
            the data (`infer_value_range`) and logged.

    Returns:
        A `Data` bundle.

    Raises:
        ValueError: an unknown source, empty data, labels out of range, NaN or
            infinite features, or splits that leave a split empty.
        RuntimeError: a `tfds:` data set that could not be downloaded.

    Example:
    >>> data = load_data("digits")
    >>> data.spec.summary()
    'digits: image (8, 8, 1) -> multiclass, 10 classes'
    >>> {k: len(v[0]) for k, v in data.arrays.items()}
    {'train': 1293, 'validation': 144, 'test': 360}
    >>> load_data("digts")
    Traceback (most recent call last):
    ...
    ValueError: unknown data source 'digts'; did you mean 'digits'? Bundled: digits, breast_cancer, wine, iris, diabetes; or 'tfds:<name>', (x, y) arrays, an image folder, a .csv file, 'text:pydoc' or 'text:PATH'
    """
    text = isinstance(source, (str, os.PathLike)) and (
        os.fspath(source).startswith("text:") or (os.fspath(source).startswith("tfds:") and task == "causal_lm"))
    validation_split = (0.05 if text else 0.1) if validation_split is None else validation_split
    test_split = (0.1 if text else 0.2) if test_split is None else test_split
    if not text and (seq_len is not None or tokenizer is not None):
        raise ValueError(f"seq_len and tokenizer apply to text sources ('text:pydoc', 'text:PATH'), "
                         f"not {source!r}")
    for arg, value in (("validation_split", validation_split), ("test_split", test_split)):
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{arg} must be in [0, 1), got {value!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if value_range is not None:
        value_range = check_value_range(value_range)
    options = {"validation_split": validation_split, "test_split": test_split,
               "batch_size": batch_size, "seed": seed}
    for key, value in (("task", task), ("kind", kind), ("label", label), ("image_size", image_size),
                       ("value_range", value_range)):
        if value is not None:
            options[key] = list(value) if isinstance(value, tuple) else value
    common = dict(validation_split=validation_split, test_split=test_split, batch_size=batch_size,
                  seed=seed, task=task, kind=kind)

    if isinstance(source, tuple) and len(source) == 2:
        if label is not None or image_size is not None:
            raise ValueError("label (a .csv file's column) and image_size (image folders and tfds "
                             "images) do not apply to (x, y) arrays")
        ranged = {"value_range": value_range} if value_range is not None else {}
        return from_arrays(source[0], source[1], name=name or "arrays", source="arrays",
                           options=options, validation_data=validation_data,
                           test_data=test_data, **common, **ranged)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a name, a path or a tuple (x, y), got {type(source).__name__}")
    source = os.fspath(source)
    if validation_data is not None or test_data is not None:
        raise ValueError(f"validation_data and test_data go with an (x, y) array source, not {source!r}; "
                         f"use validation_split and test_split")
    if label is not None and not source.lower().endswith(".csv"):
        raise ValueError(f"label names the label column of a .csv file; {source!r} is not one")
    if image_size is not None and (source in BUNDLED or source.lower().endswith(".csv")):
        raise ValueError(f"image_size resizes the images of a folder or a tfds data set; not {source!r}")
    if text and value_range is not None:
        raise ValueError(f"value_range is the pixel range of images; not for text {source!r}")
    if text:
        from kerazoo.lm.data import load_text

        return load_text(source, seq_len=seq_len, tokenizer=tokenizer, name=name, image_size=image_size,
                         options=options, **common)
    if source in BUNDLED:
        x, y, extra = _bundled(source)
        spec_kwargs = {"task": task or extra.pop("task"), "kind": kind or extra.pop("kind"), **extra}
        if value_range is not None:
            spec_kwargs["value_range"] = value_range
        return from_arrays(x, y, name=name or source, source=source, options=options,
                           **{**common, **spec_kwargs})
    if source.startswith("tfds:"):
        from kerazoo._data_tfds import load_tfds

        return _with_range(load_tfds(source[5:], options=options, name=name, image_size=image_size,
                                     **common), value_range)
    if os.path.isdir(source):
        from kerazoo._data_files import load_image_folder

        return _with_range(load_image_folder(source, options=options, image_size=image_size, name=name,
                                             **common), value_range)
    if source.lower().endswith(".csv"):
        from kerazoo._data_files import load_csv

        return _with_range(load_csv(source, options=options, label=label, name=name, **common),
                           value_range)
    if os.path.isfile(source):  # it exists, in a form no source reads as it is
        if source.lower().endswith((".txt", ".text", ".md")):
            raise ValueError(f"{source!r} is a text file; language-model text is read with the text: prefix: "
                             f"'text:{source}'")
        raise ValueError(f"{source!r} is a file of no kind load_data reads: tables come from .csv files, "
                         f"language-model text with the text: prefix ('text:{source}')")
    import difflib

    close = difflib.get_close_matches(source, BUNDLED, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    what = "no such file or folder" if os.sep in source or "." in source else "unknown data source"
    raise ValueError(
        f"{what} {source!r}; {hint}Bundled: {', '.join(BUNDLED)}; "
        f"or 'tfds:<name>', (x, y) arrays, an image folder, a .csv file, 'text:pydoc' or 'text:PATH'")


def check_value_range(value) -> tuple:
    """`value_range` as a `(low, high)` tuple of floats, or a ValueError naming what is wrong.

    Example:
    >>> check_value_range([0, 16])
    (0.0, 16.0)
    >>> check_value_range((1, 1))
    Traceback (most recent call last):
    ...
    ValueError: value_range must be (low, high) with low < high, both finite; got (1, 1)
    """
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be (low, high) with low < high, both finite; got {value!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"value_range must be (low, high) with low < high, both finite; got {value!r}")
    return low, high


def infer_value_range(x: np.ndarray) -> tuple:
    """The pixel range `(low, high)` that image arrays `x` suggest.

    `uint8` is 0-255 whatever the pixels hold. Other integer types and floats
    go by the values seen: floats within [0, 1] are (0, 1), within [-1, 1]
    are (-1, 1); anything else is the observed minimum (or 0) to maximum.

    Example:
    >>> infer_value_range(np.array([0, 3], dtype="uint8"))
    (0, 255)
    >>> infer_value_range(np.array([0.0, 12.5, 16.0])), infer_value_range(np.array([0.1, 0.9]))
    ((0, 16), (0, 1))
    >>> infer_value_range(np.array([-0.5, 0.5])), infer_value_range(np.array([3, 1000], dtype="int32"))
    ((-1, 1), (0, 1000))
    """
    if x.dtype == np.uint8:
        return (0, 255)
    low, high = float(np.min(x)), float(np.max(x))
    if np.issubdtype(x.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        return (0, 1)
    if np.issubdtype(x.dtype, np.floating) and low >= -1.0 and high <= 1.0:
        return (-1, 1)
    low = min(0.0, np.floor(low))
    high = max(np.ceil(high), low + 1.0)
    return tuple(int(v) if float(v).is_integer() else float(v) for v in (low, high))


def _with_range(data: Data, value_range) -> Data:
    """The bundle with its images' value range stated by the user."""
    if value_range is None:
        return data
    if data.spec.kind != "image":
        raise ValueError(f"value_range is the pixel range of images; {data.spec.name!r} holds "
                         f"{data.spec.kind} inputs")
    from dataclasses import replace

    return replace(data, spec=data.spec.with_(value_range=value_range))


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """A bundled scikit-learn data set: features, targets and spec fields."""
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    bunch = loader()
    x = np.asarray(bunch.data, dtype="float32")
    y = np.asarray(bunch.target)
    if name == "digits":
        return (x.reshape(-1, 8, 8, 1), y.astype("int64"),
                {"task": "multiclass", "kind": "image", "value_range": (0, 16),
                 "class_names": tuple(str(c) for c in range(10))})
    if name == "diabetes":
        return x, y.astype("float32"), {"task": "regression", "kind": "tabular"}
    names = tuple(str(c) for c in bunch.target_names)
    task = "binary" if len(names) == 2 else "multiclass"
    return x, y.astype("int64"), {"task": task, "kind": "tabular", "class_names": names}


def infer_task(y: np.ndarray) -> str:
    """The task that targets `y` suggest.

    Example:
    >>> infer_task(np.array([0, 1, 1])), infer_task(np.array([0, 2, 1])), infer_task(np.array([0.5, 1.2]))
    ('binary', 'multiclass', 'regression')
    """
    if y.ndim == 2 and y.shape[1] > 1:
        return "multilabel" if np.isin(y, (0, 1)).all() else "regression"
    flat = y.reshape(-1)
    if np.issubdtype(flat.dtype, np.floating) and not np.all(np.mod(flat, 1) == 0):
        return "regression"
    return "binary" if len(np.unique(flat)) <= 2 else "multiclass"


def infer_kind(x: np.ndarray) -> str:
    """The input kind that features `x` (with a batch dimension) suggest."""
    if x.ndim == 2:
        return "tabular"
    if x.ndim == 4 or (x.ndim == 3 and np.issubdtype(x.dtype, np.integer)):
        return "image"
    return "sequence"


def check_arrays(x: np.ndarray, y: np.ndarray, *, name: str, split: str = "data",
                 task: str | None = None, num_classes: int | None = None) -> None:
    """Refuse data that cannot train: empty, mismatched, non-finite, or labels out of range.

    Example:
    >>> check_arrays(np.zeros((2, 3)), np.array([0, 5]), name="toy", task="multiclass", num_classes=3)
    Traceback (most recent call last):
    ...
    ValueError: toy (data): labels must be integers in [0, 3) for 3 classes; found 5
    >>> check_arrays(np.array([[np.nan]]), np.array([0]), name="toy")
    Traceback (most recent call last):
    ...
    ValueError: toy (data): features hold 1 NaN or infinite values (first at example 0); clean or impute them first
    """
    where = f"{name} ({split})"
    if len(x) == 0:
        raise ValueError(f"{where}: no examples; the data is empty")
    if len(x) != len(y):
        raise ValueError(f"{where}: {len(x)} inputs but {len(y)} labels; they must match one to one")
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x.reshape(len(x), -1))
        if bad.any():
            first = int(np.argmax(bad.any(axis=1)))
            raise ValueError(f"{where}: features hold {int(bad.sum())} NaN or infinite values "
                             f"(first at example {first}); clean or impute them first")
    elif not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{where}: features must be numbers, got dtype {x.dtype}")
    if task == "regression":
        if not np.isfinite(np.asarray(y, dtype="float64")).all():
            raise ValueError(f"{where}: regression targets hold NaN or infinite values")
    elif task in ("multiclass", "binary"):
        flat = np.asarray(y).reshape(-1)
        if np.issubdtype(flat.dtype, np.floating) and not np.all(np.mod(flat, 1) == 0):
            raise ValueError(f"{where}: {task} labels must be whole numbers; found {flat[np.mod(flat, 1) != 0][0].item()!r}")
        n = num_classes or (2 if task == "binary" else None)
        if n is not None:
            out = flat[(flat < 0) | (flat >= n)]
            if len(out):
                raise ValueError(f"{where}: labels must be integers in [0, {n}) for {n} classes; found {out[0].item()!r}")


def _split(x, y, share, *, seed, stratify, name="data", split="test"):
    from sklearn.model_selection import train_test_split

    strat = y if stratify else None
    try:
        return train_test_split(x, y, test_size=share, random_state=seed, stratify=strat)
    except ValueError:  # too few examples of a class to stratify
        pass
    try:
        return train_test_split(x, y, test_size=share, random_state=seed)
    except ValueError:
        raise ValueError(f"{name}: {len(x)} examples are too few to hold out {share:g} of them for "
                         f"{split} and keep some to train on; lower {split}_split or use more data") from None


def from_arrays(
    x, y, *, name: str, source: str, options: dict, validation_split: float, test_split: float,
    batch_size: int, seed: int, task: str | None = None, kind: str | None = None,
    validation_data: tuple | None = None, test_data: tuple | None = None, **spec_fields,
) -> Data:
    """The array path every in-memory source goes through: check, split, spec, pipelines."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype == object or y.dtype == object:
        raise ValueError(f"{name}: features and labels must be numeric arrays, got {x.dtype} and {y.dtype}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"{name}: labels must be numbers, got dtype {y.dtype}; map class names to "
                         f"ids 0, 1, 2, ... first (a .csv file's label column is mapped for you)")
    if x.ndim < 2:
        raise ValueError(f"{name}: inputs need a batch dimension and at least one feature; got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} (data): no examples; the data is empty")
    task = task or infer_task(y)
    kind = kind or infer_kind(x)
    if kind == "image" and x.ndim == 3:
        x = x[..., None]
    if kind == "image" and x.ndim != 4:
        raise ValueError(f"{name}: image inputs must be (n, height, width[, channels]); got shape {x.shape}")
    if task in ("multiclass", "binary"):
        y = y.reshape(len(y), -1)[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1:
            raise ValueError(f"{name}: {task} labels must be one integer per example; got shape {y.shape}")
    num_classes = spec_fields.pop("num_classes", None)
    if task == "multiclass" and num_classes is None:
        labels = y.astype("int64") if np.all(np.mod(y, 1) == 0) else y
        num_classes = int(labels.max()) + 1 if np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0 else None
        if num_classes is None:
            check_arrays(x, y, name=name, task=task)
            raise ValueError(f"{name} (data): {task} labels must be class ids 0, 1, 2, ...; "
                             f"found {labels.min().item()!r}")
    if task == "multilabel":
        num_classes = y.shape[1]
    if task == "regression":
        num_classes = 1 if y.ndim == 1 else y.shape[1]
    check_arrays(x, y, name=name, task=task, num_classes=num_classes)
    stratify = task in ("multiclass", "binary")
    rest_x, rest_y = x, y
    test = None
    if test_data is not None:
        test = tuple(np.asarray(a) for a in test_data)
    elif test_split:
        rest_x, test_x, rest_y, test_y = _split(x, y, test_split, seed=seed, stratify=stratify,
                                                name=name, split="test")
        test = (test_x, test_y)
    val = None
    if validation_data is not None:
        val = tuple(np.asarray(a) for a in validation_data)
    elif validation_split:
        rest_x, val_x, rest_y, val_y = _split(rest_x, rest_y, validation_split, seed=seed,
                                              stratify=stratify, name=name, split="validation")
        val = (val_x, val_y)
    arrays = {"train": (rest_x, rest_y)}
    if val is not None:
        arrays["validation"] = val
    if test is not None:
        arrays["test"] = test
    for split, (sx, sy) in arrays.items():
        if kind == "image" and sx.ndim == 3:
            sx = sx[..., None]
        check_arrays(sx, sy, name=name, split=split, task=task, num_classes=num_classes)
        if sx.shape[1:] != x.shape[1:]:
            raise ValueError(f"{name} ({split}): inputs of shape {sx.shape[1:]} differ from the "
                             f"training inputs' {x.shape[1:]}")
        arrays[split] = (sx, _labels(sy, task))
    spec = _spec_for(arrays["train"], name=name, task=task, kind=kind, num_classes=num_classes,
                     **spec_fields)
    pipes = {split: make_pipeline(sx, sy, batch_size=batch_size, shuffle=split == "train", seed=seed,
                                  dtype=spec.input_dtype)
             for split, (sx, sy) in arrays.items()}
    return Data(train=pipes["train"], validation=pipes.get("validation"), test=pipes.get("test"),
                spec=spec, source=source, options=options, arrays=arrays)


def _labels(y: np.ndarray, task: str) -> np.ndarray:
    if task == "multiclass":
        return y.astype("int64")
    if task == "binary":
        return y.astype("float32").reshape(-1, 1)
    return y.astype("float32")


def _spec_for(train: tuple, *, name: str, task: str, kind: str, num_classes, **fields) -> DataSpec:
    x, y = train
    if kind == "image" and fields.get("value_range") is None:
        fields["value_range"] = infer_value_range(x)
        log.info("kerazoo: %s: pixel values taken to range over %s (inferred from the training split: %s, "
                 "%g to %g); models rescale them to [0, 1]. State it with load_data(..., value_range=...)",
                 name, fields["value_range"], x.dtype, float(np.min(x)), float(np.max(x)))
    elif kind != "image" and fields.get("value_range") is not None:
        raise ValueError(f"{name}: value_range is the pixel range of images; these are {kind} inputs")
    if kind in ("tabular", "sequence"):
        flat = x.reshape(-1, x.shape[-1]).astype("float64")
        fields.setdefault("mean", tuple(float(v) for v in flat.mean(axis=0)))
        fields.setdefault("variance", tuple(float(max(v, 1e-12)) for v in flat.var(axis=0)))
    if kind == "tokens":
        fields.setdefault("vocab_size", int(x.max()) + 1)
    if task == "regression":
        t = y.reshape(len(y), -1).astype("float64")
        fields.setdefault("target_mean", tuple(float(v) for v in t.mean(axis=0)))
        fields.setdefault("target_std", tuple(float(max(v, 1e-12)) for v in t.std(axis=0)))
    return DataSpec(input_shape=tuple(int(d) for d in x.shape[1:]), task=task, num_classes=num_classes,
                    kind=kind, name=name, **fields)


def make_pipeline(x, y, *, batch_size: int, shuffle: bool, seed: int = 0, dtype: str = "float32"):
    """A cached, (shuffled,) batched and prefetched `tf.data.Dataset` of `(x, y)`."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x, dtype=dtype), y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

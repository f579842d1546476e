"""Arrays in memory: checks, inferred task and kind, stratified splits, the `Data` bundle and its pipelines.

Every source ends here: `from_arrays` checks the arrays (empty data, labels out
of range, NaN or infinite features fail with the source's name), splits them and
builds the batched `tf.data` pipelines and the `DataSpec`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerazoo.spec import DataSpec
from kerazoo.tasks import get_task

__all__ = ["Data", "from_arrays", "check_arrays", "check_value_range", "infer_value_range", "infer_task", "one_hot_ids",
           "names_to_ids", "infer_kind", "split_arrays", "make_pipeline"]

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
        train_pipeline: where the training pipeline is more than its arrays
            (text draws windows at fresh offsets every epoch): a function
            `(batch_size, seed) -> tf.data.Dataset` that `fit` calls to rebuild it
            for a seed or a strategy's global batch; None rebuilds from `arrays`.
        labels: `{split: labels}` where the inputs are not held in memory (an
            image folder lists its files' classes): what `split_labels` reads.
        made: the pipelines as the loader made them, `{split: dataset}`. `fit`
            rebuilds a split (for a seed, a strategy's global batch) only while
            it is still the one made: a pipeline you put in its place, as in
            `dataclasses.replace(data, train=data.train.take(4))`, is trained
            as given.
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
    train_pipeline: Any = field(default=None, repr=False)
    labels: dict | None = field(default=None, repr=False)
    made: dict | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.made is None:  # a new bundle; `dataclasses.replace` carries the first one's over
            self.made = {"train": self.train, "validation": self.validation, "test": self.test}

    def rebuilds(self, split: str) -> bool:
        """Whether `split` is still the pipeline the loader made (so `fit` may rebuild it from `arrays`).

        Example:
        >>> from dataclasses import replace
        >>> from kerazoo import load_data
        >>> data = load_data("iris")
        >>> data.rebuilds("train"), replace(data, train=data.train.take(1)).rebuilds("train")
        (True, False)
        """
        return self.made is not None and getattr(self, split) is self.made.get(split)

    def split_labels(self, split: str):
        """The labels of one split as an array, where known: in memory, or listed by an image folder (while the
        split is still the loader's pipeline); else None.

        Example:
        >>> from kerazoo import load_data
        >>> load_data("iris").split_labels("validation").shape
        (12,)
        """
        if self.arrays and split in self.arrays:
            return self.arrays[split][1]
        if self.labels and split in self.labels and self.rebuilds(split):
            return self.labels[split]
        return None

    def describe(self) -> str:
        counts = {k: len(v[0]) for k, v in (self.arrays or {}).items()}
        sizes = ", ".join(f"{k} {n}" for k, n in counts.items())
        return f"{self.spec.summary()}" + (f" ({sizes})" if sizes else "")


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


def one_hot_ids(y: np.ndarray) -> np.ndarray | None:
    """The class ids of one-hot labels (rows of 0s with a single 1, as `keras.utils.to_categorical` makes), else None.

    Example:
    >>> one_hot_ids(np.eye(3)[[2, 0, 1]]), one_hot_ids(np.array([[1, 1, 0], [0, 1, 0]])), one_hot_ids(np.array([0, 2]))
    (array([2, 0, 1]), None, None)
    """
    if y.ndim != 2 or y.shape[1] < 2 or not len(y) or not np.isin(y, (0, 1)).all() or not (y.sum(1) == 1).all():
        return None
    return y.argmax(1)


FEW_CLASSES = 20  # whole-number labels with this many distinct values or fewer are class ids


def infer_task(y: np.ndarray) -> str:
    """The task that targets `y` suggest.

    Whole numbers are class ids where they look like ids: `FEW_CLASSES` or
    fewer distinct values, or ids from 0 (or 1) that fill at least half their
    range, with five or more examples a value on average. Other whole numbers
    (prices, years, ages, counts) are regression targets, not a classifier
    with an output for every value up to the largest.

    Example:
    >>> infer_task(np.array([0, 1, 1])), infer_task(np.array([0, 2, 1])), infer_task(np.array([0.5, 1.2]))
    ('binary', 'multiclass', 'regression')
    >>> infer_task(np.arange(25, 347))  # sklearn's diabetes targets: whole numbers, 25 to 346
    'regression'
    """
    if y.ndim == 2 and y.shape[1] > 1:
        return "multilabel" if np.isin(y, (0, 1)).all() else "regression"
    flat = y.reshape(-1)
    if np.issubdtype(flat.dtype, np.floating) and not np.all(np.mod(flat, 1) == 0):
        return "regression"
    values = np.unique(flat)
    if len(values) <= 2:
        return "binary"
    if len(values) <= FEW_CLASSES:
        return "multiclass"  # negative ids are refused later, with a message that names both readings
    if values[0] in (0, 1) and len(flat) >= 5 * len(values) and values[-1] + 1 <= 2 * len(values):
        return "multiclass"
    log.info("kerazoo: whole-number targets read as regression: %d distinct values from %s to %s over %d "
             "examples do not look like class ids (for classes: task='multiclass', or --task multiclass)",
             len(values), values[0].item(), values[-1].item(), len(flat))
    return "regression"


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


def split_arrays(x, y, share: float, *, seed: int, stratify: bool, name: str = "data", split: str = "test"):
    """Hold out `share` of `(x, y)`, stratified by class where every class allows it.

    Returns `(rest_x, held_x, rest_y, held_y)`; a ValueError names the split to
    lower when too few examples remain.

    Example:
    >>> x, y = np.arange(20).reshape(10, 2), np.array([0, 1] * 5)
    >>> [len(a) for a in split_arrays(x, y, 0.2, seed=0, stratify=True)]
    [8, 2, 8, 2]
    """
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
    if x.dtype.kind in "USO" and x.ndim == 1 and any(isinstance(v, (str, bytes)) for v in x[:100]):
        raise ValueError(f"{name}: the inputs are strings; models here read numbers: for text, encode each "
                         f"text as token ids of one length (n, length), e.g. its UTF-8 bytes + 1 padded with 0 "
                         f"(examples/transformer_text.py) or keras.layers.TextVectorization")
    if x.dtype.kind in "USO" and x.ndim == 2:
        text = [j for j in range(x.shape[1]) if any(isinstance(v, (str, bytes)) for v in x[:100, j])]
        if text:
            raise ValueError(f"{name}: feature column {text[0]} holds strings ({x[:100, text[0]][0]!r}, ...); "
                             f"encode categories as numbers (one column per category) or drop the column")
    names = None
    if y.dtype.kind in "USO" and y.ndim == 1 and len(y) and all(isinstance(v, str) for v in y):
        y, names, task = names_to_ids(y, name=name, task=task)  # class names, as a CSV's label column
        spec_fields["class_names"] = names
        if task == "multiclass":
            spec_fields.setdefault("num_classes", len(names))
    if x.dtype == object or y.dtype == object:
        raise ValueError(f"{name}: features and labels must be numeric arrays, got {x.dtype} and {y.dtype}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"{name}: labels must be numbers or class names, got dtype {y.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name}: inputs need a batch dimension and at least one feature; got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} (data): no examples; the data is empty")
    ids = one_hot_ids(y) if task in (None, "multiclass", "binary") else None
    if ids is not None:  # keras.utils.to_categorical's labels: one class an example
        log.info("kerazoo: %s: the labels are one-hot rows: read as class ids 0-%d (pass task='multilabel' "
                 "for independent labels)", name, y.shape[1] - 1)
        task = task or ("binary" if y.shape[1] == 2 else "multiclass")
        if task == "multiclass":
            spec_fields.setdefault("num_classes", y.shape[1])
        y = ids
    one_hot = ids is not None
    task = task or infer_task(y)
    kind = kind or infer_kind(x)
    if kind == "image" and x.ndim == 3:
        x = x[..., None]
    if kind == "image" and x.ndim != 4:
        raise ValueError(f"{name}: image inputs must be (n, height, width[, channels]); got shape {x.shape}")
    if get_task(task).one_label:
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
                             f"found {labels.min().item()!r} (for a numeric target, pass task='regression')")
        _warn_of_unseen_classes(labels, num_classes, name=name)
    if task == "multilabel":
        num_classes = y.shape[1]
    if task == "regression":
        num_classes = 1 if y.ndim == 1 else y.shape[1]
    check_arrays(x, y, name=name, task=task, num_classes=num_classes)
    stratify = get_task(task).one_label
    rest_x, rest_y = x, y
    test = None
    if test_data is not None:
        test = _as_ids(tuple(np.asarray(a) for a in test_data), one_hot, names, name=name, split="test")
    elif test_split:
        rest_x, test_x, rest_y, test_y = split_arrays(x, y, test_split, seed=seed, stratify=stratify,
                                                name=name, split="test")
        test = (test_x, test_y)
    val = None
    if validation_data is not None:
        val = _as_ids(tuple(np.asarray(a) for a in validation_data), one_hot, names, name=name,
                      split="validation")
    elif validation_split:
        rest_x, val_x, rest_y, val_y = split_arrays(rest_x, rest_y, validation_split, seed=seed,
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


def _warn_of_unseen_classes(labels: np.ndarray, num_classes: int, *, name: str) -> None:
    """Warn when class ids inferred from the labels skip some: each skipped id is an output never trained."""
    unseen = np.setdiff1d(np.arange(num_classes), labels)
    if not len(unseen):
        return
    which = ", ".join(str(i) for i in unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
    log.warning("kerazoo: warning: %s: the labels are read as class ids 0-%d, and %s never occur%s: the model "
                "keeps an output for each, which training never sees; number the classes from 0 without gaps "
                "(ratings 1-5: y - 1)", name, num_classes - 1, "class " + which if len(unseen) == 1 else
                "classes " + which, "s" if len(unseen) == 1 else "")


def names_to_ids(labels, *, name: str, task: str | None, column: str = "labels") -> tuple[np.ndarray, tuple, str]:
    """Class names as class ids in sorted order: `(ids, class_names, task)`.

    Example:
    >>> names_to_ids(["rose", "iris", "rose"], name="flowers", task=None)
    (array([1, 0, 1]), ('iris', 'rose'), 'binary')
    >>> names_to_ids(["a", "b"], name="toy", task="regression")
    Traceback (most recent call last):
    ...
    ValueError: toy: the labels hold class names, so the task is 'binary' or 'multiclass', got task='regression'
    """
    labels = [str(v) for v in labels]
    class_names = tuple(sorted(set(labels)))
    hold = "hold" if column.endswith("s") else "holds"
    if len(class_names) < 2:
        raise ValueError(f"{name}: the {column} {hold} one class only ({class_names[0]!r}); "
                         f"a classifier needs at least two")
    if task not in (None, "binary", "multiclass"):
        raise ValueError(f"{name}: the {column} {hold} class names, so the task is 'binary' or 'multiclass', "
                         f"got task={task!r}")
    return _ids_by_name(labels, class_names), class_names, task or ("binary" if len(class_names) == 2 else "multiclass")


def _ids_by_name(labels, class_names: tuple) -> np.ndarray:
    """Each label's place among `class_names` (sorted, holding every label)."""
    return np.searchsorted(np.asarray(class_names), np.asarray([str(v) for v in labels])).astype("int64")


def _as_ids(pair: tuple, one_hot: bool, names: tuple | None, *, name: str, split: str) -> tuple:
    """An explicit split's `(x, y)`, its labels made class ids as the training labels were (one-hot, names)."""
    x, y = pair
    if names is not None:
        unknown = sorted({str(v) for v in y.reshape(-1)} - set(names))
        if unknown:
            raise ValueError(f"{name} ({split}): labels {', '.join(map(repr, unknown[:5]))} are not among the "
                             f"training labels' classes ({', '.join(names)})")
        return x, _ids_by_name(y.reshape(-1), names)
    if not one_hot or y.ndim == 1:
        return x, y
    ids = one_hot_ids(y)
    if ids is None:
        raise ValueError(f"{name} ({split}): the training labels are one-hot rows and these are not "
                         f"(shape {y.shape}); give every split its labels the same way")
    return x, ids


def _labels(y: np.ndarray, task: str) -> np.ndarray:
    y = y.astype(get_task(task).label_dtype)
    return y.reshape(-1, 1) if task == "binary" else y


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

"""Data: `load_data` turns a source into train/validation/test `tf.data` pipelines and a `DataSpec`.

Sources: the bundled scikit-learn data sets by name (`digits`, `breast_cancer`,
`wine`, `iris`, `diabetes`; offline), `tfds:<name>` through tensorflow-datasets,
NumPy arrays `(x, y)`, a folder of images (one sub-folder a class) and a CSV file
with a label column. Every source is checked before training: empty data, labels
out of range and NaN/inf in features fail here, with the source's name.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kerazoo.data.arrays import (
    Data,
    check_arrays,
    check_value_range,
    from_arrays,
    infer_task,
    infer_value_range,
    make_pipeline,
    split_arrays,
)
from kerazoo.sources import SOURCES, Source, find_source, register_source  # noqa: F401  (kerazoo.data.register_source stays)

__all__ = ["load_data", "Data", "BUNDLED", "check_arrays", "check_value_range", "infer_value_range",
           "infer_task", "from_arrays", "make_pipeline", "split_arrays", "Source", "SOURCES", "register_source"]

BUNDLED = ("digits", "breast_cancer", "wine", "iris", "diabetes")


def load_data(
    source: Any,
    *,
    validation_split: float | None = None,
    test_split: float | None = None,
    batch_size: int | None = None,
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
        batch_size: the batch size. Defaults to 32 (8 windows for text).
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
    row = find_source(source, task)
    validation_split = (row.validation_split if row else 0.1) if validation_split is None else validation_split
    test_split = (row.test_split if row else 0.2) if test_split is None else test_split
    batch_size = (row.batch_size if row else 32) if batch_size is None else batch_size
    extra = {"seq_len": seq_len, "tokenizer": tokenizer}
    given = [k for k, v in extra.items() if v is not None and not (row and k in row.options)]
    if given:
        takers = " or ".join(s.describe for s in SOURCES if set(given) <= set(s.options)) or "no source"
        verb = "apply" if len(given) > 1 else "applies"
        raise ValueError(f"{' and '.join(given)} {verb} to {takers}, not {source!r}")
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
    if row is not None:
        if value_range is not None and not row.images:
            raise ValueError(f"value_range is the pixel range of images; not for {row.describe}: {source!r}")
        own = {k: v for k, v in extra.items() if k in row.options}
        return row.load(source, name=name, image_size=image_size, options=options, **own, **common)
    if source in BUNDLED:
        x, y, extra = _bundled(source)
        spec_kwargs = {"task": task or extra.pop("task"), "kind": kind or extra.pop("kind"), **extra}
        if value_range is not None:
            spec_kwargs["value_range"] = value_range
        return from_arrays(x, y, name=name or source, source=source, options=options,
                           **{**common, **spec_kwargs})
    if source.startswith("tfds:"):
        from kerazoo.data.tfds import load_tfds

        return _with_range(load_tfds(source[5:], options=options, name=name, image_size=image_size,
                                     **common), value_range)
    if os.path.isdir(source):
        from kerazoo.data.files import load_image_folder

        return _with_range(load_image_folder(source, options=options, image_size=image_size, name=name,
                                             **common), value_range)
    if source.lower().endswith(".csv"):
        from kerazoo.data.files import load_csv

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

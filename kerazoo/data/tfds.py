"""The `tfds:<name>` source of `load_data`: a TensorFlow Datasets data set as pipelines and a spec.

The data set's own `train`, `test` (and `validation`) splits are used where it has
them; a missing split is carved from `train` with tfds split slicing
(`train[:72%]`, `train[72%:80%]`, `train[80%:]`), which is the same for every run.
The data does not in general fit in memory, so `Data.arrays` is None.
"""

from __future__ import annotations

import difflib

import numpy as np

from kerazoo.spec import DataSpec

__all__ = ["load_tfds", "split_names"]

_CACHE_LIMIT = 2 * 1024**3  # a prepared data set larger than this is not cached in memory
_SHUFFLE_BUFFER = 10_000
_DEFAULT_IMAGE_SIZE = (64, 64)


def load_tfds(
    tfds_name: str,
    *,
    options: dict | None = None,
    name: str | None = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    batch_size: int = 32,
    seed: int = 0,
    task: str | None = None,
    kind: str | None = None,
    image_size: tuple | None = None,
    data_dir: str | None = None,
):
    """Load a TensorFlow Datasets data set as batched pipelines and its `DataSpec`.

    The data set is downloaded and prepared on first use (this needs network
    access), or read from `data_dir` / `$TFDS_DATA_DIR` where it is already
    prepared. The number of classes, the class names and the input shape come
    from the data set's own features. Images keep their raw values (the spec's
    `value_range` says which) and are cast to float32 in the pipeline; images of
    varying size are resized to `image_size`. Pipelines cache (when the prepared
    data set is under 2 GiB), shuffle the training split with `seed`, batch and
    prefetch. Slices are taken in the data set's stored order, so they are not
    stratified.

    Args:
        tfds_name: the tfds name, optionally with a config and version
            (`"mnist"`, `"cifar10:3.0.2"`).
        options: the split and batch settings to record in `Data.options`.
            Defaults to None (none recorded).
        name: the data set's name in the spec. Defaults to `tfds_name`
            without its version.
        validation_split: the share of the training part held out for
            validation when the data set has no `validation` split.
            Defaults to 0.1.
        test_split: the share of `train` held out for testing when the data
            set has no `test` split. Defaults to 0.2.
        batch_size: the batch size. Defaults to 32.
        seed: the shuffle seed. Defaults to 0.
        task: override the task; classification needs a `ClassLabel` label.
            Defaults to `multiclass` (`binary` for two classes) for a
            `ClassLabel`, `regression` for a float label.
        kind: override the input kind. Defaults to `image` for images, else
            `tabular` (one axis) or `sequence` (two axes).
        image_size: `(height, width)` to resize images to. Defaults to None:
            images keep their size, and images of varying size become (64, 64).
        data_dir: where tfds keeps prepared data sets. Defaults to tfds' own
            (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).

    Returns:
        A `kerazoo.data.Data` bundle with `arrays=None`.

    Raises:
        ValueError: an unknown data set name (the closest names are listed), a
            text data set, inputs or labels the zoo cannot take, or an empty split.
        RuntimeError: the data set could not be downloaded or prepared.

    Example:
    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=8):  # fake data, no network
    ...     data = load_tfds("mnist", batch_size=4)
    >>> data.spec.summary(), data.spec.value_range
    ('mnist: image (28, 28, 1) -> multiclass, 10 classes', (0, 255))
    >>> x, y = next(iter(data.train))
    >>> x.shape, x.dtype.name, y.dtype.name
    (TensorShape([4, 28, 28, 1]), 'float32', 'int64')
    """
    from kerazoo.data.arrays import Data

    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImportError("'tfds:' sources need tensorflow-datasets: pip install tensorflow-datasets") from err

    name = name or tfds_name.split(":")[0]
    builder = _builder(tfds, tfds_name, data_dir)
    info = builder.info
    keys = info.supervised_keys
    if not keys or not all(isinstance(k, str) for k in keys[:2]):
        raise ValueError(f"tfds:{tfds_name} has no single (input, label) pair of features "
                         f"(supervised_keys is {keys!r}); only supervised data sets load this way")
    input_key, label_key = keys[0], keys[1]
    feature, label = info.features[input_key], info.features[label_key]
    spec_fields, resize = _input_fields(tfds, tfds_name, feature, kind, image_size)
    task, num_classes, class_names = _label_fields(tfds, tfds_name, label, task)

    try:
        builder.download_and_prepare()
    except Exception as err:
        raise _download_error(tfds_name, builder, err) from err
    splits = split_names(tfds_name, builder.info, validation_split, test_split)

    import tensorflow as tf

    size = int(getattr(builder.info, "dataset_size", 0) or 0)
    cache = size <= _CACHE_LIMIT  # 0 where unknown
    pipes = {}
    for split, instruction in splits.items():
        ds = builder.as_dataset(split=instruction, as_supervised=True, shuffle_files=False)
        count = int(ds.cardinality())
        if count == 0:
            raise ValueError(f"tfds:{tfds_name} ({split}): the split {instruction!r} holds no examples; "
                             f"lower validation_split/test_split or use a larger data set")
        pipes[split] = _pipeline(tf, ds, task=task, resize=resize, cache=cache, batch_size=batch_size,
                                 shuffle=split == "train", seed=seed, count=count)

    stats = {}
    if spec_fields["kind"] in ("tabular", "sequence") or task == "regression":
        stats = _statistics(pipes["train"], kind=spec_fields["kind"], task=task)
    spec = DataSpec(task=task, num_classes=num_classes, class_names=class_names, name=name,
                    **spec_fields, **stats)
    labels = _split_labels(tfds, builder, splits, input_key, label_key) \
        if cache and task in ("binary", "multiclass", "regression") else None
    return Data(train=pipes["train"], validation=pipes.get("validation"), test=pipes.get("test"),
                spec=spec, source=f"tfds:{tfds_name}", options=dict(options or {}), arrays=None, labels=labels)


def _split_labels(tfds, builder, splits: dict, input_key: str, label_key: str) -> dict:
    """Each split's labels, in the pipelines' order, read without decoding images: what `fit`'s small-split
    rules and baseline warning read (a data set small enough to cache; a larger one is not read twice)."""
    image = isinstance(builder.info.features[input_key], tfds.features.Image)
    decoders = {input_key: tfds.decode.SkipDecoding()} if image else None
    out = {}
    for split, instruction in splits.items():
        ds = builder.as_dataset(split=instruction, shuffle_files=False, decoders=decoders)
        out[split] = np.concatenate(list(tfds.as_numpy(ds.map(lambda ex: ex[label_key]).batch(4096))))
    return out


def _builder(tfds, tfds_name: str, data_dir: str | None):
    """`tfds.builder`, with an unknown name answered by the closest known names."""
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        pass
    except AssertionError as err:  # tfds' answer to an unknown version
        raise ValueError(f"tfds:{tfds_name}: {err}") from None
    base = tfds_name.split(":")[0].split("/")[0]
    known = tfds.list_builders(with_community_datasets=False)
    close = difflib.get_close_matches(base, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise ValueError(f"unknown tfds data set {tfds_name!r}; {hint}tfds.list_builders() lists the "
                     f"{len(known)} known names (https://www.tensorflow.org/datasets/catalog)")


def _download_error(tfds_name: str, builder, err: Exception) -> Exception:
    where = getattr(builder, "data_dir", None) or "its data_dir"
    if isinstance(err, ModuleNotFoundError) and err.name:
        return ImportError(
            f"tensorflow-datasets needs the package {err.name!r} to prepare tfds:{tfds_name}: "
            f"pip install {err.name.replace('_', '-')}")
    return RuntimeError(
        f"the tfds data set {tfds_name!r} could not be downloaded or prepared "
        f"({type(err).__name__}: {err}). 'tfds:' sources need network access the first time, or a "
        f"data set already prepared in TFDS_DATA_DIR or data_dir (tfds looked in {where}); "
        f"offline, use a bundled data set, (x, y) arrays, an image folder or a CSV file")


def _input_fields(tfds, tfds_name: str, feature, kind: str | None, image_size):
    """Spec fields of the input feature, and the size images are resized to (or None)."""
    import numpy as np

    if isinstance(feature, tfds.features.Text) or getattr(feature, "dtype", None) == "string":
        raise ValueError(
            f"tfds:{tfds_name}: text data sets (string features) are not supported yet; tokenize "
            f"the texts yourself and pass arrays of token ids: load_data((ids, labels), kind='tokens')")
    shape = getattr(feature, "shape", None)
    dtype = getattr(feature, "np_dtype", None)
    if shape is None or dtype is None or isinstance(shape, dict):
        raise ValueError(f"tfds:{tfds_name}: input feature {type(feature).__name__} is not a single "
                         f"tensor; the zoo takes images and fixed-size numeric features")
    shape = tuple(shape)
    if isinstance(feature, tfds.features.Image):
        resize = tuple(image_size) if image_size else None
        if resize is None and None in shape[:2]:
            resize = _DEFAULT_IMAGE_SIZE
        if resize is not None:
            shape = (*resize, shape[2])
        high = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
        high = int(high) if high.is_integer() else high
        return {"input_shape": shape, "kind": kind or "image", "value_range": (0, high)}, resize
    if image_size:
        raise ValueError(f"tfds:{tfds_name}: image_size is for images, but the input is "
                         f"{type(feature).__name__} of shape {shape}")
    if not shape or None in shape or not np.issubdtype(dtype, np.number):
        raise ValueError(f"tfds:{tfds_name}: inputs of shape {shape} and dtype {np.dtype(dtype)} "
                         f"are not supported; the zoo takes images and fixed-size numeric features")
    inferred = "tabular" if len(shape) == 1 else "image" if len(shape) == 3 else "sequence"
    return {"input_shape": shape, "kind": kind or inferred}, None


def _label_fields(tfds, tfds_name: str, label, task: str | None):
    """Task, number of classes (outputs) and class names of the label feature."""
    import numpy as np

    if isinstance(label, tfds.features.ClassLabel):
        n = int(label.num_classes)
        task = task or ("binary" if n == 2 else "multiclass")
        if task in ("binary", "multiclass"):
            if task == "binary" and n != 2:
                raise ValueError(f"tfds:{tfds_name}: task 'binary' needs 2 classes, the label has {n}")
            names = tuple(str(c) for c in label.names) if label.names else None
            return task, n, names
        if task == "regression":
            return task, 1, None
        raise ValueError(f"tfds:{tfds_name}: task {task!r} does not fit a class label")
    shape = tuple(getattr(label, "shape", ()) or ())
    dtype = getattr(label, "np_dtype", None)
    if dtype is not None and np.issubdtype(dtype, np.floating) and task in (None, "regression") \
            and len(shape) <= 1 and None not in shape:
        return "regression", (shape[0] if shape else 1), None
    raise ValueError(f"tfds:{tfds_name}: the label {type(label).__name__} (shape {shape}, dtype "
                     f"{dtype}) is not supported; the zoo takes a ClassLabel or float targets")


def split_names(tfds_name: str, info, validation_split: float, test_split: float) -> dict:
    """`{split: tfds split string}`: the data set's own splits, the missing ones carved from `train`.

    Where the splits are unknown (mocked data), `train` and `test` are assumed.

    Example:
    >>> from types import SimpleNamespace
    >>> split_names("mnist", SimpleNamespace(splits={"train": 0, "test": 0}), 0.1, 0.2)
    {'train': 'train[:90%]', 'validation': 'train[90%:100%]', 'test': 'test'}
    """
    own = set(info.splits.keys()) if info.splits else {"train", "test"}
    if "train" not in own:
        raise ValueError(f"tfds:{tfds_name} has no 'train' split (it has {sorted(own)})")
    test_share = 0.0 if "test" in own else test_split
    val_share = 0.0 if "validation" in own else validation_split
    test_from = 100.0 * (1.0 - test_share)
    val_from = test_from * (1.0 - val_share)

    def pct(v: float) -> str:
        return f"{round(v, 4):g}%"

    out = {"train": f"train[:{pct(val_from)}]" if val_share or test_share else "train"}
    if "validation" in own:
        out["validation"] = "validation"
    elif val_share:
        out["validation"] = f"train[{pct(val_from)}:{pct(test_from)}]"
    if "test" in own:
        out["test"] = "test"
    elif test_share:
        out["test"] = f"train[{pct(test_from)}:]"
    return out


def _pipeline(tf, ds, *, task: str, resize, cache: bool, batch_size: int, shuffle: bool, seed: int,
              count: int):
    """Resize, cache (raw values), shuffle, batch, cast to float32 and prefetch."""
    if resize is not None:
        ds = ds.map(lambda x, y: (tf.image.resize(x, resize), y), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        buffer = count if 0 < count <= _SHUFFLE_BUFFER else _SHUFFLE_BUFFER
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)

    def cast(x, y):
        if task == "multiclass":
            y = tf.cast(y, "int64")
        elif task == "binary":
            y = tf.reshape(tf.cast(y, "float32"), (-1, 1))
        else:
            y = tf.cast(y, "float32")
        return tf.cast(x, "float32"), y

    ds = ds.batch(batch_size).map(cast, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _statistics(ds, *, kind: str, task: str) -> dict:
    """Per-feature mean/variance (tabular, sequence) and target mean/std (regression), by `Normalization.adapt`."""
    import keras
    import numpy as np
    import tensorflow as tf

    def adapted(values) -> tuple:
        norm = keras.layers.Normalization(axis=-1)
        norm.adapt(values)
        return np.ravel(norm.mean).astype("float64"), np.ravel(norm.variance).astype("float64")

    out = {}
    if kind in ("tabular", "sequence"):  # every example (and step) a sample of each feature
        mean, variance = adapted(ds.map(lambda x, y: tf.cast(x, tf.float32)))
        out["mean"] = tuple(float(v) for v in mean)
        out["variance"] = tuple(float(max(v, 1e-12)) for v in variance)
    if task == "regression":
        mean, variance = adapted(ds.map(lambda x, y: tf.reshape(tf.cast(y, tf.float32), (tf.shape(y)[0], -1))))
        out["target_mean"] = tuple(float(v) for v in mean)
        out["target_std"] = tuple(float(max(max(v, 0.0) ** 0.5, 1e-12)) for v in variance)
    return out

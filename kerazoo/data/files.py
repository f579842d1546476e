"""File sources of `load_data`: a folder of images (one sub-folder a class) and a CSV file.

An image folder is listed, its file list split (stratified, with the seed) and read
by `tf.data` pipelines that decode and resize the images; it need not fit in memory.
A CSV file is read into arrays and goes through `kerazoo.data.from_arrays`, so
every check of the array path applies to it.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings

import numpy as np

log = logging.getLogger("kerazoo")

__all__ = ["load_image_folder", "load_csv", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_DEFAULT_IMAGE_SIZE = (64, 64)


def load_image_folder(
    path,
    *,
    options: dict | None = None,
    image_size: tuple | None = None,
    name: str | None = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    batch_size: int = 32,
    seed: int = 0,
    task: str | None = None,
    kind: str | None = None,
):
    """Load a folder of images, one sub-folder a class, as batched pipelines and a spec.

    Class names are the sorted names of the sub-folders that hold images (files
    ending in .png, .jpg, .jpeg, .bmp or .gif, searched recursively); sub-folders
    without images are skipped with a warning. The file list is split stratified
    by class with `seed`: `test_split` of the whole, then `validation_split` of
    the rest. Images are decoded, resized to `image_size` (bilinear) and keep
    their raw 0-255 values; a grayscale first image makes every image grayscale
    (1 channel), any other makes them RGB (3 channels, alpha dropped). Every
    image is decoded once while loading, so a damaged file is named here,
    before any training.
    Pipelines cache the decoded images, shuffle the training split, batch
    and prefetch.

    Args:
        path: the folder.
        options: the split and batch settings to record in `Data.options`.
            Defaults to None (none recorded).
        image_size: `(height, width)` every image is resized to.
            Defaults to (64, 64).
        name: the data set's name in the spec. Defaults to the folder's name.
        validation_split: the share of the training part held out for
            validation. Defaults to 0.1.
        test_split: the share of the whole held out for testing. Defaults to 0.2.
        batch_size: the batch size. Defaults to 32.
        seed: the split and shuffle seed. Defaults to 0.
        task: `"multiclass"` or `"binary"`. Defaults to `binary` for two
            classes, else `multiclass`.
        kind: only `"image"`. Defaults to `"image"`.

    Returns:
        A `kerazoo.data.Data` bundle with `arrays=None`.

    Raises:
        ValueError: a folder with no images or a single class, a split left
            empty, or images that do not decode (every image is decoded
            once while loading, and the bad ones are named).

    Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for label in ("cat", "dog", "fox"):
    ...     os.makedirs(os.path.join(root, label))
    ...     for i in range(5):
    ...         pixels = np.full((10, 12, 3), 40 * i, dtype="uint8")
    ...         Image.fromarray(pixels).save(os.path.join(root, label, f"{i}.png"))
    >>> data = load_image_folder(root, image_size=(16, 16), name="pets", batch_size=4)
    >>> data.spec.summary(), data.spec.class_names
    ('pets: image (16, 16, 3) -> multiclass, 3 classes', ('cat', 'dog', 'fox'))
    >>> x, y = next(iter(data.train))
    >>> x.shape, x.dtype.name
    (TensorShape([4, 16, 16, 3]), 'float32')
    """
    from kerazoo.data.arrays import Data, split_arrays
    from kerazoo.spec import DataSpec

    root = os.fspath(path)
    name = name or os.path.basename(os.path.normpath(os.path.abspath(root)))
    if kind not in (None, "image"):
        raise ValueError(f"{name}: an image folder holds images; kind must be 'image' or None, got {kind!r}")
    size = _image_size(image_size)
    files, labels, class_names = _list_images(root)
    n = len(class_names)
    task = task or ("binary" if n == 2 else "multiclass")
    if task not in ("binary", "multiclass") or (task == "binary" and n != 2):
        raise ValueError(f"{name}: an image folder with {n} classes is a 'multiclass'"
                         f"{' or binary' if n == 2 else ''} task, got task={task!r}")

    files, labels = np.asarray(files), np.asarray(labels, dtype="int64")
    splits = {}
    rest = (files, labels)
    for split, share in (("test", test_split), ("validation", validation_split)):
        if share:
            rest_x, held_x, rest_y, held_y = split_arrays(*rest, share, seed=seed, stratify=True,
                                                    name=name, split=split)
            splits[split] = (held_x, held_y)
            rest = (rest_x, rest_y)
    splits = {"train": rest, **{k: splits[k] for k in ("validation", "test") if k in splits}}

    _check_decodable(files, name=name)  # a bad file fails here, named, not mid-training
    channels = _channels(files)
    pipes = {split: _image_pipeline(fx, fy, size=size, channels=channels, task=task,
                                    batch_size=batch_size, shuffle=split == "train", seed=seed)
             for split, (fx, fy) in splits.items()}
    spec = DataSpec(input_shape=(*size, channels), task=task, num_classes=n, kind="image",
                    class_names=class_names, name=name, value_range=(0, 255))
    return Data(train=pipes["train"], validation=pipes.get("validation"), test=pipes.get("test"),
                spec=spec, source=root, options=dict(options or {}), arrays=None,
                labels={split: fy for split, (_, fy) in splits.items()})


def _image_size(image_size) -> tuple:
    size = tuple(image_size) if image_size is not None else _DEFAULT_IMAGE_SIZE
    if len(size) != 2 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in size):
        raise ValueError(f"image_size must be (height, width) of positive ints, got {image_size!r}")
    return tuple(int(d) for d in size)


def _list_images(root: str) -> tuple[list, list, tuple]:
    """Image files, their class ids and the class names of a folder of class sub-folders."""
    subdirs = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    found = {}
    for sub in subdirs:
        images = []
        for here, dirs, names in os.walk(os.path.join(root, sub)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            images += [os.path.join(here, f) for f in sorted(names)
                       if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
        if images:
            found[sub] = images
    what = ", ".join(IMAGE_EXTENSIONS)
    if not found:
        loose = [f for f in os.listdir(root) if f.lower().endswith(IMAGE_EXTENSIONS)]
        hint = (f"; its {len(loose)} images lie in the folder itself: move them into one sub-folder "
                f"per class") if loose else ""
        raise ValueError(f"image folder {root!r} has no images ({what}) in class sub-folders"
                         f"{hint}; expected {root}/<class>/<image>")
    empty = [s for s in subdirs if s not in found]
    if empty:
        warnings.warn(f"image folder {root!r}: sub-folders without images are skipped: {', '.join(empty)}",
                      stacklevel=3)
    if len(found) < 2:
        only = next(iter(found))
        raise ValueError(f"image folder {root!r} has a single class ({only!r}, {len(found[only])} images); "
                         f"a classifier needs at least two class sub-folders")
    class_names = tuple(found)
    files, labels = [], []
    for i, sub in enumerate(class_names):
        files += found[sub]
        labels += [i] * len(found[sub])
    return files, labels, class_names


GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")  # Pillow's modes without colour


def _check_decodable(files, *, name: str) -> None:
    """Decode every image once, in parallel, with the decoder the pipelines use; name the files that fail.

    Raises:
        ValueError: the files that do not decode (the first ten), and how many.
    """
    import tensorflow as tf

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return path, tf.shape(image)[0]

    paths = tf.data.Dataset.from_tensor_slices(np.asarray(files))
    decoded = paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    good = {p.decode() for p, _ in decoded.as_numpy_iterator()}
    bad = [str(f) for f in files if str(f) not in good]
    if bad:
        shown = ", ".join(bad[:10]) + (f", ... ({len(bad) - 10} more)" if len(bad) > 10 else "")
        raise ValueError(f"{name}: {len(bad)} of {len(files)} images do not decode (damaged, truncated or not "
                         f"an image): {shown}; remove or replace them")


def _channels(files) -> int:
    """3 if any file is in colour (by its header), else 1: a folder of colour photos with a grayscale one
    among them stays in colour."""
    from PIL import Image

    for path in files:
        try:
            with Image.open(path) as image:  # the header only
                if image.mode not in GRAY_MODES:
                    return 3
        except OSError:  # a format TensorFlow reads and Pillow does not: colour, as TensorFlow decodes it
            return 3
    return 1


def _image_pipeline(files, labels, *, size, channels, task, batch_size, shuffle, seed):
    """Read, decode and resize (cached as uint8), shuffle, batch, cast and prefetch."""
    import tensorflow as tf

    def load(path, label):
        # RGB decodes every format (a GIF only decodes so); grayscale is converted from it
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, size)
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image)
        image = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), "uint8")
        return tf.ensure_shape(image, (*size, channels)), label

    def cast(x, y):
        if task == "binary":
            y = tf.reshape(tf.cast(y, "float32"), (-1, 1))
        return tf.cast(x, "float32"), y

    ds = tf.data.Dataset.from_tensor_slices((files, labels))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(cast, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_csv(
    path,
    *,
    options: dict | None = None,
    label: str | None = None,
    name: str | None = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    batch_size: int = 32,
    seed: int = 0,
    task: str | None = None,
    kind: str | None = None,
):
    """Load a CSV file with a header row and a label column as pipelines and a spec.

    Every column but the label is a numeric feature; an empty cell becomes NaN,
    which the array checks then refuse. Labels that are not all numbers are
    class names: they map to class ids in sorted order. The arrays then go through
    `kerazoo.data.from_arrays` (the task inferred, classification splits
    stratified, the data checked). The delimiter (`,`, `;` or tab) is detected.

    Args:
        path: the `.csv` file.
        options: the split and batch settings to record in `Data.options`.
            Defaults to None (none recorded).
        label: the label column's name. Defaults to the last column.
        name: the data set's name in the spec. Defaults to the file's name
            without `.csv`.
        validation_split: the share of the training part held out for
            validation. Defaults to 0.1.
        test_split: the share of the whole held out for testing. Defaults to 0.2.
        batch_size: the batch size. Defaults to 32.
        seed: the split and shuffle seed. Defaults to 0.
        task: override the inferred task.
        kind: override the inferred input kind. Defaults to `"tabular"`.

    Returns:
        A `kerazoo.data.Data` bundle, with the arrays.

    Raises:
        ValueError: an empty file, an unknown label column (the columns are
            listed), a missing label, a non-numeric feature column, rows of the
            wrong length, or whatever `from_arrays` refuses.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "flowers.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("length,width,species\\n" + "".join(
    ...         f"{i % 7},{i % 3}.5,{'rose' if i % 2 else 'iris'}\\n" for i in range(20)))
    >>> data = load_csv(path, label="species", test_split=0.25)
    >>> data.spec.summary(), data.spec.class_names
    ('flowers: tabular (2,) -> binary', ('iris', 'rose'))
    >>> {k: len(v[0]) for k, v in data.arrays.items()}
    {'train': 13, 'validation': 2, 'test': 5}
    >>> load_csv(path, label="colour")
    Traceback (most recent call last):
    ...
    ValueError: flowers: no column 'colour'; the columns are: length, width, species
    """
    from kerazoo.data.arrays import from_arrays, names_to_ids

    path = os.fspath(path)
    name = name or os.path.splitext(os.path.basename(path))[0]
    header, rows, lines = _read_csv(path, name=name)
    if label is None:
        col = len(header) - 1
    elif label in header:
        col = header.index(label)
    else:
        raise ValueError(f"{name}: no column {label!r}; the columns are: {', '.join(header)}")
    if len(header) < 2:
        raise ValueError(f"{name}: a single column ({header[0]!r}); a CSV file needs feature "
                         f"columns and a label column")
    label_name = header[col]
    raw_y = [r[col].strip() for r in rows]
    missing = [i for i, v in enumerate(raw_y) if v == ""]
    if missing:
        where = ", ".join(str(lines[i]) for i in missing[:5])
        raise ValueError(f"{name}: the label column {label_name!r} is empty in {len(missing)} rows "
                         f"(lines {where}{', ...' if len(missing) > 5 else ''}); drop or fill them first")
    spec_fields = {}
    try:
        y = np.array([float(v) for v in raw_y])
    except ValueError:
        y, class_names, task = names_to_ids(raw_y, name=name, task=task, column=f"label column {label_name!r}")
        spec_fields["class_names"] = class_names
        if task == "multiclass":
            spec_fields["num_classes"] = len(class_names)
    features = [i for i in range(len(header)) if i != col]
    x = np.empty((len(rows), len(features)), dtype="float32")
    for j, c in enumerate(features):
        for i, row in enumerate(rows):
            cell = row[c].strip()
            try:
                x[i, j] = float(cell) if cell else np.nan
            except ValueError:
                raise ValueError(
                    f"{name}: the feature column {header[c]!r} is not numeric ({cell!r} on line {lines[i]}); "
                    f"encode it as numbers, drop it, or make it the label with label={header[c]!r}"
                ) from None
    return from_arrays(x, y, name=name, source=path, options=dict(options or {}),
                       validation_split=validation_split, test_split=test_split,
                       batch_size=batch_size, seed=seed, task=task, kind=kind, **spec_fields)


def _read_csv(path: str, *, name: str) -> tuple[list, list, list]:
    """The header, the data rows and their line numbers in a CSV file; blank lines are skipped."""
    if not os.path.isfile(path):
        raise ValueError(f"no such file {path!r}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(64 * 1024)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        lines = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    if not lines:
        raise ValueError(f"{name}: the file {path!r} is empty; expected a header row and data rows")
    header = [c.strip() for c in lines[0][1]]
    if all(_is_number(c) for c in header):  # no header row: the first line is data, not names
        header = [f"column {i + 1}" for i in range(len(header))]
        lines = [(0, header)] + lines
        log.info("kerazoo: %s: the first line holds numbers only, so the file has no header row: every line "
                 "is data, the columns are numbered", name)
    if not lines[1:]:
        raise ValueError(f"{name}: the file {path!r} has a header but no data rows")
    for line, row in lines[1:]:
        if len(row) != len(header):
            raise ValueError(f"{name}: line {line} has {len(row)} fields, the header {len(header)}")
    return header, [r for _, r in lines[1:]], [n for n, _ in lines[1:]]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True

"""`load_data` and its sources: bundled, arrays, tfds (mocked, no network), image folders, CSV.

Every test runs offline: tfds is exercised through `tfds.testing.mock_data`, and its
download failure through a mocked `download_and_prepare`.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest

from kerazoo.data import BUNDLED, load_data


def batch(ds):
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


def labels_of(ds):
    return np.concatenate([y.numpy().reshape(len(y), -1)[:, 0] for _, y in ds])


# --- bundled ---------------------------------------------------------------------------------

EXPECTED = {  # name: (input_shape, task, num_classes, kind, examples)
    "digits": ((8, 8, 1), "multiclass", 10, "image", 1797),
    "breast_cancer": ((30,), "binary", 2, "tabular", 569),
    "wine": ((13,), "multiclass", 3, "tabular", 178),
    "iris": ((4,), "multiclass", 3, "tabular", 150),
    "diabetes": ((10,), "regression", 1, "tabular", 442),
}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_shapes_and_specs(name):
    shape, task, classes, kind, total = EXPECTED[name]
    data = load_data(name, batch_size=16)
    spec = data.spec
    assert (spec.input_shape, spec.task, spec.num_classes, spec.kind, spec.name) == (
        shape, task, classes, kind, name)
    assert data.source == name and data.options["batch_size"] == 16
    sizes = {k: len(v[0]) for k, v in data.arrays.items()}
    assert sum(sizes.values()) == total
    assert sizes["test"] == math.ceil(0.2 * total)
    assert sizes["validation"] == math.ceil(0.1 * (total - sizes["test"]))
    x, y = batch(data.train)
    assert x.shape == (16, *shape) and x.dtype == np.float32
    if task == "multiclass":
        assert y.dtype == np.int64 and y.shape == (16,) and len(spec.class_names) == classes
    elif task == "binary":
        assert y.dtype == np.float32 and y.shape == (16, 1)
        assert spec.class_names == ("malignant", "benign")
    else:
        assert y.dtype == np.float32 and spec.target_mean is not None and spec.target_std is not None
    if kind == "tabular":
        assert len(spec.mean) == len(spec.variance) == shape[0]
    else:
        assert spec.value_range == (0, 16)


def test_bundled_splits_are_reproducible_and_seeded():
    a, b, c = (load_data("wine", seed=s) for s in (1, 1, 2))
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(a.arrays[split][0], b.arrays[split][0])
        np.testing.assert_array_equal(a.arrays[split][1], b.arrays[split][1])
    assert not np.array_equal(a.arrays["test"][0], c.arrays["test"][0])


def test_bundled_splits_are_stratified(digits):
    whole = np.concatenate([y for _, y in digits.arrays.values()])
    share = np.bincount(whole) / len(whole)
    for split, (_, y) in digits.arrays.items():
        counts = np.bincount(y, minlength=10)
        expected = share * len(y)
        assert np.all(np.abs(counts - expected) <= 1.0), (split, counts, expected)


def test_no_holdout_splits():
    data = load_data("iris", validation_split=0.0, test_split=0.0)
    assert data.validation is None and data.test is None
    assert list(data.arrays) == ["train"] and len(data.arrays["train"][0]) == 150


def test_importing_loaders_costs_no_tensorflow():
    code = ("import sys, kerazoo, kerazoo.data, kerazoo.data.tfds, kerazoo.data.files; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- arrays ----------------------------------------------------------------------------------


def test_arrays_with_explicit_validation_and_test_data():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)).astype("float32"), np.arange(40) % 3
    vx, vy, tx, ty = x[:7], y[:7], x[:9], y[:9]
    data = load_data((x, y), validation_data=(vx, vy), test_data=(tx, ty), name="toy")
    assert {k: len(v[0]) for k, v in data.arrays.items()} == {"train": 40, "validation": 7, "test": 9}
    np.testing.assert_array_equal(data.arrays["validation"][0], vx)
    np.testing.assert_array_equal(data.arrays["test"][1], ty)
    assert data.spec.summary() == "toy: tabular (5,) -> multiclass, 3 classes"
    np.testing.assert_allclose(data.spec.mean, x.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_one_hot_labels_are_read_as_class_ids_unless_multilabel_is_asked_for():
    """`keras.utils.to_categorical` labels: multiclass with the same splits as ids, not 3 independent labels."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 4)).astype("float32"), np.arange(120) % 3
    ids, one_hot = load_data((x, y), seed=0), load_data((x, np.eye(4)[y]), seed=0)  # a 4th class never occurs
    assert (one_hot.spec.task, one_hot.spec.num_classes) == ("multiclass", 4)
    for split in ("train", "validation", "test"):
        assert (one_hot.arrays[split][1] == ids.arrays[split][1]).all()
    assert load_data((x, np.eye(2)[y % 2])).spec.task == "binary"
    assert load_data((x, np.eye(3)[y]), task="multilabel").spec.task == "multilabel"
    given = load_data((x[:90], np.eye(3)[y[:90]]), test_data=(x[90:], np.eye(3)[y[90:]]))
    assert (given.arrays["test"][1] == y[90:]).all()
    with pytest.raises(ValueError, match=r"\(test\): the training labels are one-hot rows and these are not"):
        load_data((x[:90], np.eye(3)[y[:90]]), test_data=(x[90:], np.ones((30, 3))))


def test_class_names_in_arrays_become_class_ids_as_a_csv_label_column_does():
    """`load_data((x, df["species"].values))` was refused ("map class names to ids first")."""
    rng = np.random.default_rng(0)
    x, names = rng.normal(size=(90, 3)).astype("float32"), np.array(["setosa", "virginica", "versicolor"] * 30)
    data = load_data((x[:80], names[:80]), test_data=(x[80:], names[80:]), name="iris3")
    assert data.spec.summary() == "iris3: tabular (3,) -> multiclass, 3 classes"
    assert data.spec.class_names == ("setosa", "versicolor", "virginica")
    assert (data.arrays["test"][1] == [{"setosa": 0, "versicolor": 1, "virginica": 2}[n] for n in names[80:]]).all()
    assert load_data((x, names == "setosa")).spec.task == "binary"  # booleans stay numbers
    assert load_data((x, np.where(names == "setosa", "yes", "no"))).spec.class_names == ("no", "yes")


def test_class_ids_that_skip_some_are_named_in_a_warning(caplog):
    """Ratings 1-5 read as ids make 6 classes, class 0 never seen: a silent dead output before."""
    caplog.set_level(logging.WARNING, logger="kerazoo")
    x = np.random.default_rng(0).normal(size=(100, 2)).astype("float32")
    assert load_data((x, np.arange(100) % 5 + 1)).spec.num_classes == 6
    assert "class ids 0-5, and class 0 never occurs: the model keeps an output for each" in caplog.text
    caplog.clear()
    load_data((x, np.arange(100) % 3))
    assert "never occur" not in caplog.text
    load_data((x, np.arange(100) % 3 * 4))  # 0, 4, 8
    assert "class ids 0-8, and classes 1, 2, 3, 5, 6 and 1 more never occur" in caplog.text


def test_whole_number_targets_that_do_not_look_like_class_ids_are_regression(tmp_path, caplog):
    """Prices written as whole numbers made a classifier with 978,322 outputs (250M parameters) before."""
    caplog.set_level(logging.INFO, logger="kerazoo")
    rng = np.random.default_rng(0)
    area = rng.uniform(40, 250, 300)
    rows = "".join(f"{a:.1f},{round(a * 3000 + 50000)}.0\n" for a in area)
    data = load_data(write_csv(tmp_path / "houses.csv", "area,price\n" + rows))
    assert (data.spec.task, data.spec.num_classes) == ("regression", 1)
    assert "whole-number targets read as regression: 300 distinct values from" in caplog.text
    x = rng.normal(size=(300, 2)).astype("float32")
    for years_ages_counts in (rng.integers(1900, 2024, 300), rng.integers(18, 90, 300), rng.integers(0, 1000, 300)):
        assert load_data((x, years_ages_counts)).spec.task == "regression"
    prices = np.round(area * 3000)
    assert load_data((x, prices), task="multiclass").spec.num_classes == int(prices.max()) + 1  # asked for
    caplog.clear()
    assert load_data((x, np.arange(300) % 4 * 33)).spec.num_classes == 100  # a few ids of 100: still classes
    assert load_data((x, np.arange(300) % 50)).spec.num_classes == 50  # 50 ids from 0, 6 examples each
    assert "read as regression" not in caplog.text
    with pytest.raises(ValueError, match=r"found -2 \(for a numeric target, pass task='regression'\)"):
        load_data((x, np.arange(300) % 5 - 2))


def test_arrays_infer_images_and_regression():
    images = np.random.default_rng(0).integers(0, 256, size=(20, 6, 6), dtype=np.uint8)
    data = load_data((images, np.arange(20) % 4), test_split=0.0)
    assert data.spec.input_shape == (6, 6, 1) and data.spec.kind == "image"
    assert data.spec.value_range == (0, 255)
    data = load_data((np.random.rand(30, 3), np.random.rand(30) * 10), test_split=0.0)
    assert data.spec.task == "regression" and data.spec.num_outputs == 1


X = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
Y = np.arange(30) % 3
NAN_X = X.copy()
NAN_X[4, 2] = np.nan
INF_X = X.copy()
INF_X[7, 0] = np.inf


@pytest.mark.parametrize("source, kwargs, message", [
    ((X[:0], Y[:0]), {}, "no examples; the data is empty"),
    ((X, Y), {"task": "binary"}, r"labels must be integers in \[0, 2\) for 2 classes; found 2"),
    ((X, Y), {"test_data": (X[:5], Y[:5] + 3)}, r"arrays \(test\): labels must be integers in \[0, 3\)"),
    ((X, Y - 1), {}, "labels must be class ids 0, 1, 2, ...; found -1"),
    ((X, Y.astype("float32") + 0.5), {"task": "multiclass"}, "labels must be whole numbers; found 0.5"),
    ((X, np.array(["a", "b", "c"] * 10)), {"task": "regression"}, "the labels hold class names, so the task is"),
    ((X, np.array(["a", "b", "c"] * 10)), {"test_data": (X[:2], np.array(["a", "d"]))},
     r"arrays \(test\): labels 'd' are not among the training labels' classes \(a, b, c\)"),
    ((np.array(["a fine film", "dull"] * 15), Y), {}, "the inputs are strings; models here read numbers"),
    ((np.array([[1.5, "lyon"], [2.0, "nice"]] * 15, dtype=object), Y), {},
     r"feature column 1 holds strings \('lyon', ...\); encode categories as numbers"),
    ((NAN_X, Y), {}, "features hold 1 NaN or infinite values \\(first at example 4\\)"),
    ((INF_X, Y), {}, "features hold 1 NaN or infinite values \\(first at example 7\\)"),
    ((X, np.r_[np.random.rand(29), np.nan]), {"task": "regression"}, "regression targets hold NaN"),
    ((X, Y[:-1]), {}, "30 inputs but 29 labels; they must match one to one"),
    ((X, Y), {"validation_data": (X[:5, :3], Y[:5])}, r"inputs of shape \(3,\) differ from the training"),
    ((X, Y), {"test_data": (X[:5], Y[:4])}, "5 inputs but 4 labels"),
    ((X[:, 0], Y), {}, "inputs need a batch dimension"),
    ((X, Y), {"label": "y"}, "do not apply to \\(x, y\\) arrays"),
    ((X[:3], Y[:3]), {"test_split": 0.5, "validation_split": 0.5},
     "too few to hold out 0.5 of them for validation"),
])
def test_bad_data_is_refused_with_a_clear_error(source, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_data(source, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\), got 1.0"),
    ({"validation_split": -0.1}, r"validation_split must be in \[0, 1\)"),
    ({"test_split": 1.5}, r"test_split must be in \[0, 1\), got 1.5"),
    ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
    ({"batch_size": 8.0}, "batch_size must be a positive int"),
    ({"test_data": (X, Y)}, "validation_data and test_data go with an \\(x, y\\) array source"),
    ({"label": "species"}, "label names the label column of a .csv file"),
    ({"image_size": (32, 32)}, "image_size resizes the images of a folder or a tfds data set"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_data("iris", **kwargs)


@pytest.mark.parametrize("source, message", [
    ("digts", "unknown data source 'digts'; did you mean 'digits'\\? Bundled: digits"),
    ("wnie", "did you mean 'wine'"),
    ("no/such/folder", "no such file or folder 'no/such/folder'"),
    ("missing.csv", "no such file 'missing.csv'"),
])
def test_unknown_source_suggests(source, message):
    with pytest.raises(ValueError, match=message):
        load_data(source)


def test_source_of_the_wrong_type():
    with pytest.raises(TypeError, match="source must be a name, a path or a tuple"):
        load_data(42)


# --- tfds (mocked: no network) ---------------------------------------------------------------


@pytest.fixture
def tfds():
    import tensorflow_datasets

    return tensorflow_datasets


def test_tfds_mnist_mocked(tfds):
    with tfds.testing.mock_data(num_examples=20):
        data = load_data("tfds:mnist", batch_size=8, seed=3)
    spec = data.spec
    assert spec.summary() == "mnist: image (28, 28, 1) -> multiclass, 10 classes"
    assert spec.value_range == (0, 255) and len(spec.class_names) == 10
    assert data.source == "tfds:mnist" and data.arrays is None
    assert data.options == {"validation_split": 0.1, "test_split": 0.2, "batch_size": 8, "seed": 3}
    for split in (data.train, data.validation, data.test):
        x, y = batch(split)
        assert x.shape == (8, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int64
        assert 0 <= x.min() and x.max() <= 255
    assert int(data.train.cardinality()) == 3  # known length: fit can size its schedule



def test_tfds_split_labels_are_the_pipelines_labels(tfds):
    """What `fit`'s small-split rules and baseline warning read of a tfds source, without decoding images."""
    with tfds.testing.mock_data(num_examples=20):
        data = load_data("tfds:mnist", batch_size=8, seed=3)
        for split in ("validation", "test"):  # in order
            assert (data.split_labels(split) == np.concatenate([y for _, y in getattr(data, split)])).all(), split
        assert sorted(data.split_labels("train")) == sorted(np.concatenate([y for _, y in data.train]))  # shuffled


def test_tfds_cifar10_mocked_with_name_and_resize(tfds):
    with tfds.testing.mock_data(num_examples=6):
        data = load_data("tfds:cifar10", batch_size=3, name="tiny", image_size=(16, 16))
    assert data.spec.summary() == "tiny: image (16, 16, 3) -> multiclass, 10 classes"
    x, _ = batch(data.test)
    assert x.shape == (3, 16, 16, 3)


def test_tfds_tabular_mocked_gets_statistics(tfds):
    with tfds.testing.mock_data(num_examples=12):
        data = load_data("tfds:iris", batch_size=4)
    assert data.spec.kind == "tabular" and data.spec.input_shape == (4,)
    assert len(data.spec.mean) == 4 and all(v > 0 for v in data.spec.variance)
    x = np.concatenate([np.asarray(xb, "float64") for xb, _ in data.train])  # the statistics are the training split's
    np.testing.assert_allclose(data.spec.mean, x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(data.spec.variance, np.maximum(x.var(0), 1e-12), rtol=1e-3, atol=1e-5)


def test_tfds_split_names():
    from types import SimpleNamespace

    from kerazoo.data.tfds import split_names

    def info(*names):
        return SimpleNamespace(splits=dict.fromkeys(names))

    assert split_names("x", info("train", "test"), 0.1, 0.2) == {
        "train": "train[:90%]", "validation": "train[90%:100%]", "test": "test"}
    assert split_names("x", info("train"), 0.1, 0.2) == {
        "train": "train[:72%]", "validation": "train[72%:80%]", "test": "train[80%:]"}
    assert split_names("x", info("train", "validation", "test"), 0.1, 0.2) == {
        "train": "train", "validation": "validation", "test": "test"}
    assert split_names("x", info("train"), 0.0, 0.0) == {"train": "train"}
    assert split_names("x", info(), 0.1, 0.2)["test"] == "test"  # unknown (mocked): train and test
    with pytest.raises(ValueError, match="has no 'train' split"):
        split_names("x", info("test"), 0.1, 0.2)


def test_tfds_unknown_name_suggests_without_a_tfds_traceback():
    with pytest.raises(ValueError, match="unknown tfds data set 'mnsit'; did you mean 'mnist'") as info:
        load_data("tfds:mnsit")
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_tfds_text_is_not_supported_yet(tfds):
    with tfds.testing.mock_data(num_examples=4), \
            pytest.raises(ValueError, match="text data sets .* not supported yet.*token ids"):
        load_data("tfds:imdb_reviews")


def test_tfds_download_failure_is_explained(tfds, tmp_path):
    offline = ConnectionError("Failed to resolve 'storage.googleapis.com'")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=offline), \
            pytest.raises(RuntimeError) as info:
        from kerazoo.data.tfds import load_tfds

        load_tfds("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "'mnist' could not be downloaded" in message and "Failed to resolve" in message
    assert "network access" in message and "TFDS_DATA_DIR" in message and str(tmp_path) in message
    missing = ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=missing), \
            pytest.raises(ImportError, match="pip install importlib-resources"):
        load_data("tfds:mnist")


# --- image folders ---------------------------------------------------------------------------


def write_images(root, counts, *, size=(10, 12), mode="RGB", formats=("png",)):
    """`counts[class]` distinct tiny images per class sub-folder, cycling through `formats`."""
    from PIL import Image

    k = 0
    for label, n in counts.items():
        os.makedirs(root / label, exist_ok=True)
        for i in range(n):
            channels = 1 if mode == "L" else 3
            pixels = np.full((*size, channels), (k * 11) % 256, dtype="uint8").squeeze()
            ext = formats[k % len(formats)]
            Image.fromarray(pixels, mode=None).convert(mode).save(root / label / f"{i}.{ext}")
            k += 1
    return root


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("pets"), {"dog": 6, "cat": 6, "fox": 6},
                        formats=("png", "jpg", "bmp", "gif"))


def test_image_folder(pets):
    data = load_data(pets, batch_size=4, seed=0)
    spec = data.spec
    assert spec.summary() == f"{pets.name}: image (64, 64, 3) -> multiclass, 3 classes"
    assert spec.class_names == ("cat", "dog", "fox") and spec.value_range == (0, 255)
    assert data.arrays is None and data.source == str(pets)
    counts = {k: len(labels_of(getattr(data, k))) for k in ("train", "validation", "test")}
    assert counts == {"train": 12, "validation": 2, "test": 4}
    assert set(labels_of(data.test)) == {0, 1, 2}  # stratified: every class is tested
    x, y = batch(data.train)
    assert x.shape == (4, 64, 64, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0 <= x.min() and x.max() <= 255


def test_image_folder_split_is_stratified_and_seeded(pets):
    def test_pixels(seed):
        data = load_data(pets, image_size=(4, 4), seed=seed, validation_split=0.0, test_split=0.5)
        assert sorted(labels_of(data.test)) == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # stratified
        return sorted(x[0, 0, 0] for xs, _ in data.test for x in xs.numpy())

    assert test_pixels(1) == test_pixels(1)
    assert test_pixels(1) != test_pixels(2)


def test_image_folder_grayscale_binary_and_size(tmp_path):
    write_images(tmp_path, {"no": 5, "yes": 5}, mode="L")
    data = load_data(tmp_path, image_size=(8, 6), batch_size=4, name="gray")
    assert data.spec.summary() == "gray: image (8, 6, 1) -> binary"
    assert data.options["image_size"] == [8, 6]
    x, y = batch(data.train)
    assert x.shape == (4, 8, 6, 1) and y.shape == (4, 1) and y.dtype == np.float32


def test_a_colour_folder_whose_first_image_is_grayscale_stays_in_colour(tmp_path):
    """The channels came from the first file: one grayscale photo first made red-vs-green unlearnable."""
    from PIL import Image

    for c, colour in enumerate(("green", "red")):  # "green" sorts first, its first file grayscale
        os.makedirs(tmp_path / colour)
        for i in range(6):
            pixels = np.zeros((10, 10, 3), "uint8")
            pixels[..., 1 - c] = 200
            image = Image.fromarray(pixels)
            (image.convert("L") if c == 0 and i == 0 else image).save(tmp_path / colour / f"{i}.png")
    data = load_data(tmp_path, image_size=(4, 4), validation_split=0.0, test_split=0.0, batch_size=12)
    assert data.spec.input_shape == (4, 4, 3)
    x, y = batch(data.train)
    red = x[y.reshape(-1) == 1]
    assert (red[..., 0] == 200).all() and (red[..., 1] == 0).all()


def test_image_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"image folder '{empty}' has no images"):
        load_data(empty)
    loose = tmp_path / "loose"
    write_images(loose, {"a": 2})
    for f in os.listdir(loose / "a"):
        os.replace(loose / "a" / f, loose / f)
    with pytest.raises(ValueError, match="images lie in the folder itself"):
        load_data(loose)
    single = write_images(tmp_path / "single", {"cat": 4})
    with pytest.raises(ValueError, match=f"image folder '{single}' has a single class \\('cat', 4 images\\)"):
        load_data(single)
    (single / "dog").mkdir()
    with pytest.warns(UserWarning, match="sub-folders without images are skipped: dog"), \
            pytest.raises(ValueError, match="single class"):
        load_data(single)
    two = write_images(tmp_path / "two", {"a": 3, "b": 3})
    with pytest.raises(ValueError, match="kind must be 'image'"):
        load_data(two, kind="tabular")
    with pytest.raises(ValueError, match="image_size must be \\(height, width\\)"):
        load_data(two, image_size=(0, 8))
    with pytest.raises(ValueError, match="too few to hold out"):
        load_data(two, test_split=0.5, validation_split=0.9)
    (two / "a" / "0.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"two: 1 of 6 images do not decode .*: .*a/0.png; remove or replace"):
        load_data(two)


# --- CSV -------------------------------------------------------------------------------------


def write_csv(path, text):
    path.write_text(text)
    return path


def test_csv_numeric_label_last_column(tmp_path):
    rows = "".join(f"{i},{i % 5 * 0.5},{i % 3}\n" for i in range(30))
    data = load_data(write_csv(tmp_path / "toy.csv", "a,b,target\n" + rows), batch_size=5)
    assert data.spec.summary() == "toy: tabular (2,) -> multiclass, 3 classes"
    assert data.spec.class_names is None and data.source == str(tmp_path / "toy.csv")
    assert sum(len(v[0]) for v in data.arrays.values()) == 30
    x, y = batch(data.train)
    assert x.shape == (5, 2) and y.dtype == np.int64


def test_a_csv_without_a_header_row_keeps_its_first_example(tmp_path):
    """The first line of numbers was taken for column names: one example silently lost."""
    rows = "".join(f"{i},{i % 5 * 0.5},{i % 3}\n" for i in range(30))
    data = load_data(write_csv(tmp_path / "plain.csv", rows), test_split=0.0, validation_split=0.0)
    assert len(data.arrays["train"][0]) == 30 and data.spec.num_classes == 3
    assert 0.0 in data.arrays["train"][0][:, 0]  # the first line's example
    assert load_data(tmp_path / "plain.csv", label="column 1").spec.task == "regression"  # 30 values 0-29


def test_csv_string_label_by_name_and_delimiter(tmp_path):
    rows = "".join(f"{i};{['virginica', 'setosa', 'versicolor'][i % 3]};{i * 0.1}\n" for i in range(30))
    path = write_csv(tmp_path / "flowers.csv", "x1;species;x2\n" + rows)
    data = load_data(path, label="species", name="iris3")
    assert data.spec.class_names == ("setosa", "versicolor", "virginica")
    assert data.spec.summary() == "iris3: tabular (2,) -> multiclass, 3 classes"
    x, y = data.arrays["train"]
    expected = np.array([{0: 2, 1: 0, 2: 1}[int(round(v)) % 3] for v in x[:, 0]])
    np.testing.assert_array_equal(y, expected)  # 'virginica' -> 2, 'setosa' -> 0, ...
    assert data.options["label"] == "species"


def test_csv_binary_and_regression(tmp_path):
    rows = "".join(f"{i},{'yes' if i % 2 else 'no'}\n" for i in range(20))
    data = load_data(write_csv(tmp_path / "b.csv", "x,answer\n" + rows))
    assert data.spec.task == "binary" and data.spec.class_names == ("no", "yes")
    rows = "".join(f"{i},{i * 1.5 + 0.25}\n" for i in range(20))
    data = load_data(write_csv(tmp_path / "r.csv", "x,price\n" + rows))
    assert data.spec.task == "regression"


@pytest.mark.parametrize("text, kwargs, message", [
    ("", {}, "the file .* is empty"),
    ("\n\n", {}, "the file .* is empty"),
    ("a,b,c\n", {}, "has a header but no data rows"),
    ("a,b,c\n1,2,0\n3,4,1\n", {"label": "d"}, "no column 'd'; the columns are: a, b, c"),
    ("a,b,c\n1,2,0\n3,4,\n5,6,1\n", {}, r"the label column 'c' is empty in 1 rows \(lines 3\)"),
    ("a,b,c\n" + "1,,0\n3,4,1\n" * 5, {}, "features hold 5 NaN or infinite values"),
    ("a,b,c\n" + "1,nan,0\n3,4,1\n" * 5, {}, "features hold 5 NaN or infinite values"),
    ("a,colour,c\n1,red,0\n3,blue,1\n", {}, r"the feature column 'colour' is not numeric \('red' on line 2\)"),
    ("a,b,c\n1,2,0\n3,4\n", {}, "line 3 has 2 fields, the header 3"),
    ("a,b,c\n1,2,x\n3,4,x\n", {}, "holds one class only \\('x'\\)"),
    ("a,b,c\n1,2,x\n3,4,y\n", {"task": "regression"}, "holds class names, so the task"),
    ("a\n1\n2\n", {}, "a single column"),
])
def test_csv_errors(tmp_path, text, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_data(write_csv(tmp_path / "bad.csv", text), **kwargs)


# --- every loader's output trains ------------------------------------------------------------


def _loader_output(kind, tmp_path):
    if kind == "bundled":
        return load_data("iris", batch_size=32)
    if kind == "arrays":
        rng = np.random.default_rng(0)
        return load_data((rng.normal(size=(60, 3)), rng.normal(size=60)), batch_size=16)
    if kind == "folder":
        return load_data(write_images(tmp_path, {"a": 5, "b": 5, "c": 5}), image_size=(8, 8), batch_size=8)
    if kind == "csv":
        rows = "".join(f"{i % 7},{i % 4},{'ab'[i % 2]}\n" for i in range(40))
        return load_data(write_csv(tmp_path / "t.csv", "x,z,y\n" + rows), batch_size=8)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["bundled", "arrays", "tfds", "folder", "csv"])
def test_a_model_built_for_the_spec_trains_on_each_loader(kind, tmp_path, tfds):
    from kerazoo import build, fit

    if kind == "tfds":
        with tfds.testing.mock_data(num_examples=16):
            data = load_data("tfds:mnist", batch_size=8)
            result = fit(build("mlp", data.spec), data, epochs=1, verbose=0)
    else:
        data = _loader_output(kind, tmp_path)
        result = fit(build("mlp", data.spec), data, epochs=1, verbose=0)
    assert result.epochs == 1
    assert all(np.isfinite(v) for v in result.history["loss"])

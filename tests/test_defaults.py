"""Defaults that hold on the user's own data: short runs, arrays of any value range, small data sets.

Each test is a failure a user met with the earlier defaults, at a small budget:
a cnn at chance after a short run (batch-norm statistics lagging), float pixel
arrays squashed to nothing (a guessed value range), fifty examples trained for
twenty steps and early-stopped on five.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from kerazoo import build, fit, list_models, load_data, load_model
from kerazoo.diagnostics import batchnorm_layers

SMALL_CNN = {"filters": (16, 32, 64), "dense_units": 64}


@pytest.fixture(scope="module")
def digit_arrays():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images[..., None].astype("float32"), digits.target  # the user's own arrays, pixels 0-16


@pytest.fixture
def kerazoo_log(caplog):
    caplog.set_level(logging.INFO, logger="kerazoo")
    return caplog


def test_a_short_cnn_run_scores_at_inference_what_it_scored_in_training(digits):
    """Keras' momentum 0.99 left the cnn at ~50% after 8 epochs; the zoo's 0.9 keeps up in 3."""
    import keras

    keras.utils.set_random_seed(0)
    model = build("cnn", digits.spec, **SMALL_CNN)
    result = fit(model, digits, epochs=3, seed=0, verbose=0)
    assert result.metrics["test"]["accuracy"] >= 0.9, result.metrics


def test_a_lagging_batch_norm_is_named_in_a_warning(digits, kerazoo_log):
    import keras

    keras.utils.set_random_seed(0)
    model = build("cnn", digits.spec, bn_momentum=0.99, **SMALL_CNN)
    fit(model, digits, epochs=3, seed=0, verbose=0)
    warnings = [r.getMessage() for r in kerazoo_log.records if r.levelno == logging.WARNING]
    assert any("inference mode" in w and "BatchNormalization" in w and "0.99" in w for w in warnings), warnings


def test_the_training_examples_are_not_scored_again_when_validation_keeps_up(digits, monkeypatch):
    """The validation accuracy is an inference-mode score of the same weights: no second pass is needed."""
    import keras

    from kerazoo import diagnostics

    calls = []
    monkeypatch.setattr(diagnostics, "inference_gap", lambda *args: calls.append(args) or "")
    keras.utils.set_random_seed(0)
    model = build("mlp", digits.spec, width=32)
    result = fit(model, digits, epochs=2, seed=0, verbose=0)
    assert len(batchnorm_layers(model)) and len(digits.arrays["validation"][0]) >= 50
    assert abs(result.history["accuracy"][-1] - result.history["val_accuracy"][-1]) < diagnostics.GAP
    assert calls == []


@pytest.mark.parametrize("name", [n for n in list_models() if not n.startswith("gpt")])
def test_every_batch_norm_of_the_zoo_uses_the_short_run_momentum_and_keeps_it_saved(name, tmp_path):
    shape = (32, 32, 3) if name in list_models(tags="applications") else None
    model = build(name, input_shape=shape, compile=False) if shape else build(name, compile=False)
    norms = batchnorm_layers(model)
    assert all(layer.momentum == 0.9 for layer in norms), name
    if norms and name in ("cnn", "mobilenet_v2"):  # a flat model and one with a nested Keras backbone
        model.save(tmp_path / "m.keras")
        assert {layer.momentum for layer in batchnorm_layers(load_model(tmp_path / "m.keras"))} == {0.9}


def test_bn_momentum_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"resnet: bn_momentum must be in \[0, 1\), got 1.0"):
        build("resnet20", bn_momentum=1.0)


@pytest.mark.parametrize("scale, dtype, expected", [(1 / 16, "float32", (0, 1)), (1.0, "float32", (0, 16)),
                                                    (255 / 16, "uint8", (0, 255)), (1.0, "int64", (0, 16))])
def test_image_arrays_value_range_is_inferred_from_the_data(digit_arrays, scale, dtype, expected, kerazoo_log):
    x, y = digit_arrays
    data = load_data((np.round(x * scale).astype(dtype) if dtype != "float32" else x * scale, y))
    assert data.spec.value_range == expected
    model = build("cnn", data.spec, filters=(8,), dense_units=0, compile=False)
    scaled = model.get_layer("rescale")(data.arrays["train"][0]) if expected != (0, 1) else data.arrays["train"][0]
    assert 0.99 <= float(np.max(scaled)) <= 1.0  # the model sees [0, 1] whatever the arrays hold
    assert any(f"pixel values taken to range over {expected}" in r.getMessage() for r in kerazoo_log.records)


def test_value_range_can_be_stated_and_is_checked(digit_arrays):
    x, y = digit_arrays
    assert load_data((x, y), value_range=(0, 20)).spec.value_range == (0.0, 20.0)
    assert load_data((x, y), value_range=(0, 20)).options["value_range"] == [0.0, 20.0]
    with pytest.raises(ValueError, match="low < high"):
        load_data((x, y), value_range=(16, 0))
    with pytest.raises(ValueError, match="pixel range of images"):
        load_data("iris", value_range=(0, 1))


def test_auto_epochs_give_fifty_examples_enough_steps_and_no_early_stopping_on_five(digit_arrays, kerazoo_log):
    """50 examples: 45 train in 2 batches, 5 validate; `auto` trains 150 epochs, early stopping stays off."""
    import keras

    x, y = digit_arrays
    rng = np.random.default_rng(0)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), picked)
    keras.utils.set_random_seed(0)
    data = load_data((x[picked], y[picked]), test_data=(x[rest][:400], y[rest][:400]), seed=0)
    result = fit(build("mlp", data.spec, width=64), data, seed=0, verbose=0)
    assert result.epochs == 150
    assert result.metrics["test"]["accuracy"] >= 0.6, result.metrics  # chance is 0.1
    messages = " ".join(r.getMessage() for r in kerazoo_log.records)
    assert "150 epochs of 2 steps" in messages and "too few to steer" in messages
    assert "no better than" not in messages  # it learned: no baseline warning


def test_a_model_that_learned_nothing_says_so_and_names_its_short_budget(kerazoo_log, tmp_path, capsys):
    """Inputs that say nothing of their labels (70% of them class 0): the held-out score is the majority rule's.
    `kerazoo evaluate` of the run says so too (on a CSV of the same columns: arrays are not reloaded)."""
    import keras
    from conftest import run_cli

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 8)).astype("float32"), rng.choice(3, size=400, p=[0.7, 0.2, 0.1])
    keras.utils.set_random_seed(0)
    data = load_data((x, y), seed=0)
    fit(build("mlp", data.spec, width=16), data, epochs=2, seed=0, verbose=0, run_dir=tmp_path / "run")
    warnings = [r.getMessage() for r in kerazoo_log.records if r.levelno == logging.WARNING]
    assert any("on the test split, no better than" in w and "most common class" in w
               and "2 epochs of" in w and "that epochs='auto' trains here" in w for w in warnings), warnings
    rows = "".join(",".join(map(str, [*row, label])) + "\n" for row, label in zip(x, y))
    (tmp_path / "same.csv").write_text(",".join(f"x{i}" for i in range(8)) + ",label\n" + rows)
    kerazoo_log.clear()
    code, out, _ = run_cli(["evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "same.csv"), "--no-report"],
                           capsys)
    assert code == 0 and "accuracy" in out and "on the test split, no better than" in kerazoo_log.text


def test_an_image_folders_few_validation_images_do_not_stop_training_and_a_blind_run_warns(tmp_path, kerazoo_log):
    """A folder's splits were unknown to `fit`: 6 validation photos steered early stopping (at chance, epoch 3
    of 150 kept) and no baseline was compared. Here both classes hold the same image: nothing to learn."""
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(25):
            Image.fromarray(np.full((8, 8, 3), 90, "uint8")).save(tmp_path / label / f"{i}.png")
    data = load_data(tmp_path, image_size=(8, 8), seed=0)
    assert len(data.split_labels("validation")) == 4 and len(data.split_labels("test")) == 10
    fit(build("mlp", data.spec, width=8), data, epochs=3, seed=0, verbose=0)
    messages = [r.getMessage() for r in kerazoo_log.records]
    assert any("the validation split holds 4 examples, too few to steer training" in m for m in messages)
    assert any("AUC 0.500 on the test split, no better than 0.500 for always answering" in m for m in messages), messages


def test_few_shot_transfer_with_every_finetune_default_reaches_85_percent(tmp_path):
    """The transfer example runs defaults only: cnn pretrained on digits 0-4, 10 examples of each of 5-9."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "transfer_digits.py"
    spec = importlib.util.spec_from_file_location("transfer_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--finetune-only", "--json", str(tmp_path / "out.json")]) == 0
    (row,) = json.loads((tmp_path / "out.json").read_text())["seeds"]  # fit on 50 examples from scratch: the test above
    assert row["train_examples"] == 50 and row["test_examples"] > 800 and row["scratch"] is None
    assert row["finetune"] >= 0.85, row

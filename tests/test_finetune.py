"""Fine-tuning: from a run, a .keras file and a registered Applications backbone; freezing; offline weights.

Sources are tiny `cnn`s pretrained for two epochs on digits 0-4; the new task
is digits 5-9 (relabelled 0-4), so every test trains in seconds.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kerazoo import build, finetune, fit, load_data, load_model, load_run, model_info
from kerazoo.runs import check_run
from kerazoo.transfer import plan_finetune

ROOT = Path(__file__).resolve().parent.parent
TINY = {"filters": (8, 16), "dense_units": 16}


def digits_subset(digits, *, low: bool, limit: int | None = None, **options):
    x = np.concatenate([digits.arrays[s][0] for s in ("train", "validation", "test")])
    y = np.concatenate([digits.arrays[s][1] for s in ("train", "validation", "test")])
    keep = y < 5 if low else y >= 5
    x, y = x[keep][:limit], (y[keep] if low else y[keep] - 5)[:limit]
    data = load_data((x, y), kind="image", task="multiclass", name="digits0-4" if low else "digits5-9",
                     **options)
    return replace(data, spec=data.spec.with_(value_range=(0, 16)))


@pytest.fixture(scope="module")
def high(digits):
    return digits_subset(digits, low=False, limit=300, batch_size=32, validation_split=0.0)


@pytest.fixture(scope="module")
def source_run(digits, tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    data = digits_subset(digits, low=True, limit=400, batch_size=32, validation_split=0.0)
    run_dir = tmp_path_factory.mktemp("source") / "cnn-digits0-4"
    fit(build("cnn", data.spec, **TINY), data, epochs=2, run_dir=run_dir, seed=0, verbose=0, callbacks="minimal")
    return run_dir


def _weights_by_layer(model, skip=("predictions",)):
    from kerazoo.surgery import leaf_layers

    return {layer.name: [np.array(w) for w in layer.weights] for layer in leaf_layers(model)
            if layer.weights and layer.name not in skip}


@pytest.fixture(scope="module")
def tuned(source_run, high, tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned") / "ft"
    result = finetune(source_run, high, epochs=(1, 1), learning_rates=(1e-2, 1e-2), run_dir=out, seed=0,
                      verbose=0)
    return out, result


def test_from_a_run_directory_two_phases_are_recorded(source_run, high, tuned):
    out, result = tuned
    assert [p["phase"] for p in result.phases] == [1, 2]
    assert result.phases[0]["trainable_params"] < result.phases[1]["trainable_params"]
    assert result.history["phase"] == [1.0, 2.0]
    for folder in (out, out / "phase1", out / "phase2"):
        check_run(folder)  # each a complete run, hashes and all
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "cnn" and config["spec"]["name"] == "digits5-9"
    assert [p["learning_rate"] for p in config["finetune"]["phases"]] == [1e-2, 1e-2]
    assert config["finetune"]["source"] == str(source_run) and config["finetune"]["adaptation"] == []
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["phases"]) == 2 and metrics["test"] == pytest.approx(result.metrics["test"])
    run = load_run(out)
    assert run.history["phase"] == [1.0, 2.0]
    x = high.arrays["test"][0][:8]
    np.testing.assert_allclose(run.model.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-6)
    assert result.model.output_shape == (None, 5)


def test_freezing_keeps_frozen_weights_through_phase_one(source_run, tuned):
    out, _ = tuned
    source = _weights_by_layer(load_run(source_run).model)
    after_one = _weights_by_layer(load_run(out / "phase1").model)
    assert set(after_one) == set(source)
    for name, weights in source.items():  # kernels, biases and BatchNormalization statistics alike
        for before, after in zip(weights, after_one[name]):
            np.testing.assert_array_equal(before, after, err_msg=name)
    after_two = _weights_by_layer(load_run(out).model)
    assert not np.array_equal(source["conv0_0"][0], after_two["conv0_0"][0])  # phase two trains the backbone
    for name in (n for n in source if n.startswith("bn")):  # ... but BatchNormalization stays frozen
        for before, after in zip(source[name], after_two[name]):
            np.testing.assert_array_equal(before, after, err_msg=name)


def test_freeze_and_unfreeze_choose_layers(source_run, high):
    plan = plan_finetune(source_run, high, unfreeze=["conv1_*", "dense"])
    assert plan.trainable_layers(1) == ["predictions"]
    assert plan.trainable_layers(2) == ["conv1_0", "conv1_1", "dense", "predictions"]  # BatchNorm stays frozen
    plan = plan_finetune(source_run, high, unfreeze=3)  # the last 3 with weights: conv1_1, bn1_1, dense
    assert plan.trainable_layers(2) == ["conv1_1", "dense", "predictions"]
    plan = plan_finetune(source_run, high, freeze=4, phases=1)  # conv0_0, bn0_0, conv0_1, bn0_1
    assert plan.trainable_layers(1) == ["conv1_0", "conv1_1", "dense", "predictions"]
    plan = plan_finetune(source_run, high, train_batchnorm=True, features="global_pool", head={"units": 8})
    assert plan.trainable_layers(1) == ["head_dense", "predictions"]  # the source's dense layer is dropped
    assert "bn0_0" in plan.trainable_layers(2) and "dense" not in plan.trainable_layers(2)
    plan.apply(2)
    assert plan.model.get_layer("bn0_0").trainable
    assert plan.model.get_layer("head_dense").weights[0].shape[0] == 16  # global_pool's 16 channels
    with pytest.raises(ValueError, match="'nothing_\\*' matches no backbone layer; some are: conv0_0"):
        plan_finetune(source_run, high, freeze=["nothing_*"])
    with pytest.raises(ValueError, match="freeze=99: the backbone has 9 layers with weights"):
        plan_finetune(source_run, high, freeze=99)
    with pytest.raises(ValueError, match="freezes nothing"):
        plan_finetune(source_run, high, freeze=0)
    with pytest.raises(ValueError, match="features='nope': model 'cnn' has no such layer"):
        plan_finetune(source_run, high, features="nope")
    with pytest.raises(ValueError, match="learning_rates needs one value a phase"):
        finetune(source_run, high, learning_rates=(1e-3,), verbose=0)


def test_from_a_keras_file_with_a_kept_head(source_run, digits, tmp_path):
    path = tmp_path / "source.keras"
    load_run(source_run).model.save(path)
    low = digits_subset(digits, low=True, limit=200, validation_split=0.0)
    result = finetune(path, low, head="keep", phases=1, epochs=1, verbose=0, callbacks="none")
    assert result.adaptation == [] and result.model.output_shape == (None, 5)
    assert result.phases[0]["frozen_layers"] == 9 and result.phases[0]["trainable_params"] == 16 * 5 + 5
    with pytest.raises(ValueError, match="head='keep': the source outputs 5 values"):
        plan_finetune(path, load_data("digits"), head="keep")


def test_input_adaptation_resizes_maps_channels_and_value_range(source_run, high, tmp_path, caplog):
    import tensorflow as tf

    big = {split: (tf.image.resize(x, (16, 16)).numpy() * 255.0 / 16.0, y) for split, (x, y) in high.arrays.items()}
    rgb = {split: (np.repeat(x, 3, axis=-1), y) for split, (x, y) in big.items()}
    data = load_data(rgb["train"], kind="image", test_data=rgb["test"], validation_split=0.0)
    assert data.spec.input_shape == (16, 16, 3) and data.spec.value_range == (0, 255)
    with caplog.at_level(logging.INFO, logger="kerazoo"):
        result = finetune(source_run, data, phases=1, epochs=1, run_dir=tmp_path / "ft", verbose=0)
    assert result.model.input_shape == (None, 16, 16, 3)
    assert len(result.adaptation) == 3
    log = caplog.text
    assert "rescaled from (0, 255) to the source's (0, 16)" in log
    assert "resized from 16x16 to the source's 8x8" in log
    assert "3 channels averaged to the source's single channel" in log
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["finetune"]["adaptation"] == result.adaptation
    x = data.arrays["test"][0][:4]
    np.testing.assert_allclose(load_run(tmp_path / "ft").model.predict(x, verbose=0),
                               result.model.predict(x, verbose=0), atol=1e-6)


def test_non_image_shapes_are_refused(source_run):
    data = load_data("iris")
    with pytest.raises(ValueError, match="only images can be adapted"):
        plan_finetune(source_run, data)


@pytest.mark.slow  # MobileNetV2's training step takes 30-90 s to trace on 2 CPU cores
def test_from_a_registered_applications_backbone(digits, tmp_path, caplog):
    data = replace(digits, train=digits.train.take(2), validation=None, test=None)
    with caplog.at_level(logging.INFO, logger="kerazoo"):
        result = finetune("mobilenet_v2", data, overrides={"alpha": 0.35}, phases=1, epochs=1, verbose=0,
                          callbacks="none")
    assert "resizes 8x8 inputs to 32x32" in caplog.text and "gray" in caplog.text
    assert result.phases[0]["trainable_params"] == 1280 * 10 + 10  # the new head alone
    assert result.model.get_layer("preprocess").family == "mobilenet_v2"
    assert model_info(result.model)["model"] == "mobilenet_v2" and model_info(result.model)["overrides"] == {"alpha": 0.35}
    result.model.save(tmp_path / "tuned.keras")
    reloaded = load_model(tmp_path / "tuned.keras")  # safe mode: no Lambda layers in the model
    assert reloaded.get_layer("preprocess").family == "mobilenet_v2"
    for before, after in zip(result.model.get_weights(), reloaded.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_imagenet_weights_offline_fail_with_a_clear_message(monkeypatch, tmp_path):
    import keras.src.backend.config as keras_config
    import keras.src.utils.file_utils as file_utils

    from kerazoo.models.applications import WeightsUnavailableError

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)  # the network call Keras makes, refused
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))  # no weights cached from earlier
    with pytest.raises(WeightsUnavailableError) as caught:  # through finetune, as a user meets it
        finetune("mobilenet_v2", load_data("digits"), overrides={"weights": "imagenet", "alpha": 0.35}, verbose=0)
    message = str(caught.value)
    assert message.startswith("mobilenet_v2: the ImageNet weights could not be downloaded (URL fetch failure")
    assert "Temporary failure in name resolution" in message and "needs network access" in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5" in message
    assert str(tmp_path / "models") in message and "weights=None" in message


@pytest.fixture
def quiet_logger():
    """`cli.main` adds a stdout handler to the kerazoo logger: take it away after the test."""
    logger = logging.getLogger("kerazoo")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_cli_finetune_and_errors(source_run, tmp_path, capsys, quiet_logger):
    from kerazoo.cli import main

    out = tmp_path / "cli-ft"
    code = main(["finetune", str(source_run), "--data", "digits", "--epochs", "1,1", "--learning-rates",
                 "1e-3,1e-4", "--freeze", "backbone", "--head", "16", "--batch-size", "64", "--validation-split", "0",
                 "--task", "multiclass", "--out", str(out), "--verbose", "0"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "phase 1:" in printed and "phase 2:" in printed and f"run written to {out}" in printed
    check_run(out)
    config = load_run(out, load_model=False).config
    assert config["spec"]["num_classes"] == 10 and config["data"]["task"] == "multiclass"
    assert main(["finetune", "cnnn", "--data", "digits"]) == 2
    assert "did you mean: cnn?" in capsys.readouterr().err
    assert main(["finetune", str(source_run), "--data", "digits", "--set", "weights=imagenet"]) == 2
    assert "--set gives a registered model's arguments" in capsys.readouterr().err
    assert main(["finetune", str(source_run), "--data", "digits", "--epochs", "5,x"]) == 2
    assert "--epochs: expected positive numbers or auto, one a phase (5,10)" in capsys.readouterr().err

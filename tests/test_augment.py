"""Augmentation: presets per kind of data, applied in training only, never saved or exported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import small

from kerazoo import build, fit, load_data
from kerazoo.augment import (
    PRESETS,
    SETTINGS,
    Augmenter,
    augment_dataset,
    make_augmenter,
    preset_settings,
    random_layers,
)
from kerazoo.modelinfo import record_info

RANDOM_OPS = ("Random", "ImageProjectiveTransform", "Multinomial", "ParameterizedTruncatedNormal")


def _recorder_model(spec, batch: int):
    """A tiny model whose first layer keeps the last batch it saw in training."""
    import keras

    class Recorder(keras.layers.Layer):
        def build(self, input_shape):
            self.seen = self.add_weight(shape=(batch, *input_shape[1:]), initializer="zeros", trainable=False)

        def call(self, x, training=False):
            if training:
                self.seen.assign(x)
            return x

    inputs = keras.Input(spec.input_shape)
    x = keras.layers.Flatten()(Recorder(name="recorder")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(x))
    record_info(model, spec=spec.to_dict())
    return model


@pytest.mark.parametrize("augment_on", ["data", "model"])
def test_training_sees_augmented_batches(digits, augment_on):
    x, y = digits.arrays["train"]
    x, y = x[:32], y[:32]
    import tensorflow as tf

    from kerazoo.data import Data

    one = Data(train=tf.data.Dataset.from_tensors((x, y)), validation=None, test=None, spec=digits.spec)
    model = _recorder_model(digits.spec, 32)
    fit(model, one, epochs=1, callbacks="none", verbose=0, seed=0, augment="light", augment_on=augment_on)
    seen = model.get_layer("recorder").seen.numpy()
    assert seen.shape == x.shape and not np.allclose(seen, x)
    assert np.abs(seen - x).mean() > 0.1  # pixels 0-16: moved, not merely rounded


@pytest.mark.parametrize("preset", ["light", "medium", "heavy"])
def test_every_image_preset_changes_a_batch(digits, preset):
    x, y = next(iter(digits.train))
    aug = make_augmenter(preset, digits.spec)
    xa, ya = aug(x, y)
    assert tuple(xa.shape) == tuple(x.shape) and not np.allclose(xa, x)
    if preset == "heavy":  # MixUp: one-hot soft labels of the right width
        assert tuple(ya.shape) == (len(y), 10)
        np.testing.assert_allclose(np.asarray(ya).sum(axis=1), 1.0, atol=1e-5)


def test_no_preset_flips_and_flips_are_opt_in(digits):
    for kind, presets in PRESETS.items():
        for name, settings in presets.items():
            assert "flip" not in settings, (kind, name)
    assert "RandomFlip" not in make_augmenter("heavy", digits.spec).describe()["layers"]
    assert make_augmenter({"flip": "horizontal"}, digits.spec).describe()["layers"][0] == "RandomFlip"


def test_a_seeded_run_repeats_and_both_sides_draw_alike(digits):
    import keras

    histories = []
    for augment_on in ("data", "data", "model"):  # parallel map calls would race on the seed state
        keras.utils.set_random_seed(0)
        model = build("cnn", digits.spec, filters=(8,))
        result = fit(model, digits, epochs=2, seed=0, verbose=0, callbacks="none", augment="medium",
                     augment_on=augment_on)
        histories.append(result.history["loss"])
    assert histories[0] == histories[1]
    np.testing.assert_allclose(histories[0], histories[2], rtol=1e-5)


def test_inference_is_deterministic_after_augmented_training(digits):
    data = small(digits)
    for augment_on in ("data", "model"):
        model = build("cnn", data.spec, filters=(8, 16))
        fit(model, data, epochs=1, verbose=0, augment="medium", augment_on=augment_on)
        x = data.arrays["test"][0][:16]
        np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
        np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
        assert "train_step" not in vars(model)  # the model-side step is gone after fit


def test_run_saves_no_augmentation_and_records_the_preset(digits, tmp_path):
    import keras
    import tensorflow as tf

    from kerazoo import load_run

    data = small(digits)
    model = build("cnn", data.spec, filters=(8, 16))
    fit(model, data, epochs=1, verbose=0, run_dir=tmp_path / "run", augment="medium", augment_on="model")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["fit"]["augment"] == "medium" and config["fit"]["augment_on"] == "model"
    assert config["fit"]["augmentation"]["layers"][:3] == ["RandomTranslation", "RandomRotation", "RandomZoom"]
    run = load_run(tmp_path / "run")
    assert random_layers(run.model) == [] and random_layers(model) == []
    assert len(run.model.layers) == len(build("cnn", data.spec, filters=(8, 16)).layers)

    archive = keras.export.ExportArchive()  # and nothing random reaches an exported graph
    archive.track(run.model)
    archive.add_endpoint("serve", lambda x: run.model(x, training=False),
                         input_signature=[tf.TensorSpec((None, *data.spec.input_shape), tf.float32)])
    archive.write_out(str(tmp_path / "saved"), verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serve"]
    graph = serve.graph.as_graph_def()
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert not [op for op in ops if op.startswith(RANDOM_OPS)], sorted(ops)


def test_heavy_model_converts_to_tflite_with_builtin_ops_only(digits):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter  # a dependency: missing, the test fails

    data = small(digits, 3, 1)
    model = build("cnn", data.spec, filters=(8, 16))
    fit(model, data, epochs=1, verbose=0, augment="heavy")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flat = converter.convert()
    assert len(flat) > 1000
    interpreter = Interpreter(model_content=flat)
    interpreter.allocate_tensors()
    x = data.arrays["test"][0][:1]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize(("augment", "augment_on"), [({"preset": "none", "mixup": 0.2}, "data"),
                                                     ({"preset": "none", "cutmix": 1.0}, "model")])
def test_mixup_and_cutmix_soft_labels_train(digits, augment, augment_on):
    data = small(digits, 6, 2)
    x, y = next(iter(augment_dataset(data.train, make_augmenter(augment, data.spec))))
    y = np.asarray(y)
    assert y.shape == (len(x), 10) and ((y > 0) & (y < 1)).any()  # soft, one-hot wide
    model = build("cnn", data.spec, filters=(8, 16), compile={"learning_rate": 3e-3})
    result = fit(model, data, epochs=3, verbose=0, seed=0, augment=augment, augment_on=augment_on)
    loss = result.history["loss"]
    assert all(np.isfinite(loss)) and loss[-1] < loss[0]
    assert set(result.metrics["test"]) == {"accuracy", "f1", "loss"}


def test_binary_labels_mix_as_floats():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (64, 8, 8, 3)).astype("float32")
    data = load_data((x, (np.arange(64) % 2)), kind="image", test_split=0.0, batch_size=16)
    aug = make_augmenter({"preset": "none", "mixup": 0.4}, data.spec)
    xb, yb = next(iter(data.train))
    _, ya = aug(xb, yb)
    assert tuple(ya.shape) == (16, 1)
    model = build("cnn", data.spec, filters=(8,))
    assert np.isfinite(fit(model, data, epochs=1, verbose=0, augment={"mixup": 0.4}).history["loss"]).all()


def test_tabular_token_and_sequence_presets():
    wine = load_data("wine", seed=0)
    assert make_augmenter("medium", wine.spec).describe()["layers"] == ["FeatureNoise", "RandomMask"]
    result = fit(build("mlp", wine.spec, width=16), wine, epochs=2, verbose=0, augment="heavy",
                 augment_on="model")
    assert np.isfinite(result.history["loss"]).all()

    from kerazoo.spec import DataSpec

    tokens = DataSpec((12,), num_classes=2, task="binary", kind="tokens", vocab_size=50)
    ids = np.arange(1, 13, dtype="int32")[None].repeat(64, 0)
    xa, _ = make_augmenter("heavy", tokens)(ids, np.zeros((64, 1), "float32"))
    xa = np.asarray(xa)
    assert xa.dtype == np.int32 and (xa == 0).any() and xa.shape == ids.shape
    assert set(np.unique(xa)) <= set(range(13))

    seq = DataSpec((10, 3), num_classes=3, kind="sequence", mean=(5.0, 0.0, 1.0), variance=(4.0, 1.0, 1.0))
    x = np.full((32, 10, 3), 7.0, "float32")
    xa, _ = make_augmenter({"preset": "none", "mask": 0.5}, seq)(x, np.zeros(32))
    masked = np.asarray(xa)[np.asarray(xa)[..., 0] != 7.0]
    assert len(masked) and np.allclose(masked, [5.0, 0.0, 1.0])  # whole steps set to the mean
    xa, _ = make_augmenter("heavy", seq)(x, np.zeros(32))
    assert np.asarray(xa).shape == x.shape and not np.allclose(xa, x)


def test_a_list_of_keras_layers(digits):
    import keras

    data = small(digits, 2, 1)
    model = build("cnn", data.spec, filters=(8,))
    result = fit(model, data, epochs=1, verbose=0, augment=[keras.layers.RandomTranslation(0.1, 0.1),
                                                            keras.layers.MixUp(0.2)], augment_on="model")
    assert np.isfinite(result.history["loss"]).all() and random_layers(model) == []
    with pytest.raises(TypeError, match="expected Keras layers"):
        Augmenter(["flip"], spec=data.spec)


def test_bad_presets_and_settings_list_the_valid_ones(digits):
    data = small(digits, 1, 1)
    model = build("cnn", data.spec, filters=(8,))
    with pytest.raises(ValueError, match="unknown preset 'strong'; valid: none, light, medium, heavy"):
        fit(model, data, epochs=1, verbose=0, augment="strong")
    with pytest.raises(ValueError, match="unknown setting 'rotate' for image data .*valid: brightness, "
                                         "contrast, cutmix, erasing, fill_mode, flip"):
        fit(model, data, epochs=1, verbose=0, augment={"rotate": 0.1})
    with pytest.raises(ValueError, match=r"augment_on must be one of \['data', 'model'\], got 'gpu'"):
        fit(model, data, epochs=1, verbose=0, augment="light", augment_on="gpu")
    with pytest.raises(ValueError, match="unknown setting 'noise' for image data"):
        preset_settings({"noise": 0.1}, "image")
    with pytest.raises(ValueError, match="valid: dropout, noise"):
        preset_settings({"mask": 0.1}, "tabular")
    with pytest.raises(ValueError, match=r"flip must be one of \[None, 'horizontal'"):
        preset_settings({"flip": "sideways"}, "image")
    with pytest.raises(ValueError, match=r"erasing must be a number in \[0, 1\]"):
        preset_settings({"erasing": 2}, "image")
    assert set(SETTINGS) == set(PRESETS) == {"image", "tokens", "sequence", "tabular"}


def test_cli_augment_flag_and_config(tmp_path):
    from kerazoo.cli import main

    out = tmp_path / "run"
    code = main(["train", "cnn", "--data", "digits", "--epochs", "1", "--set", "filters=8", "--verbose", "0",
                 "--augment", '{"preset": "light", "rotation": 0.05}', "--augment-on", "model",
                 "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["fit"]["augment"] == {"preset": "light", "rotation": 0.05}
    assert config["fit"]["augment_on"] == "model" and config["fit"]["augmentation"]["settings"]["rotation"] == 0.05

    config["fit"]["augment"], config["fit"]["epochs"] = "medium", 1  # --config honours fit.augment
    (tmp_path / "c.json").write_text(json.dumps(config))
    assert main(["train", "--config", str(tmp_path / "c.json"), "--verbose", "0", "--out", str(tmp_path / "b")]) == 0
    again = json.loads((tmp_path / "b" / "config.json").read_text())["fit"]
    assert again["augment"] == "medium" and again["augment_on"] == "model"


def test_cli_bad_augment_is_a_usage_error(tmp_path, capsys):
    from kerazoo.cli import main

    code = main(["train", "cnn", "--epochs", "1", "--augment", "strong", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--augment: expected a preset (none, light, medium, heavy) or a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

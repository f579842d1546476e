"""The registry: names, overrides, duplicates, user builders, plug-ins, and no TensorFlow on import."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from unittest import mock

import pytest

from kerazoo import DataSpec, Int, build, describe, list_models, register


def test_unknown_name_lists_closest():
    with pytest.raises(KeyError, match=r"did you mean: resnet20"):
        build("resnet2O")


def test_unknown_name_without_close_match_lists_all():
    with pytest.raises(KeyError, match=r"known: .*cnn.*mlp"):
        build("zzzzzz")


def test_bad_override_lists_valid_keys():
    with pytest.raises(TypeError, match=r"unknown argument 'depthh'; valid arguments: .*depth"):
        build("mlp", depthh=3)


def test_none_override_keeps_default():
    model = build("mlp", input_shape=(4,), num_classes=3, width=None, compile=False)
    assert model._kerazoo["config"]["width"] == 256


def test_duplicate_registration_refused(registry_sandbox):
    with pytest.raises(ValueError, match="already registered.*replace=True"):
        register("cnn")(lambda spec: None)


def test_replace_allows_reregistration(registry_sandbox):
    def other(spec, *, units=4):
        import keras

        return keras.Sequential([keras.Input(spec.input_shape), keras.layers.Dense(spec.num_outputs)])

    register("mlp", replace=True, inputs="tabular")(other)
    assert list(describe("mlp")["defaults"]) == ["units"]


def test_space_key_must_be_an_argument(registry_sandbox):
    with pytest.raises(ValueError, match="'depth' is not a keyword argument"):
        register("bad_space", space={"depth": Int(1, 3)})(lambda spec, *, width=3: None)


def test_user_builder_registered_and_built_by_name(registry_sandbox):
    @register("user_linear", task=("regression",), inputs="tabular", tags=("user",),
              default_spec=DataSpec((3,), task="regression"), space={"units": Int(1, 8)})
    def user_linear(spec, *, units: int = 2):
        """A user's own builder."""
        import keras

        inputs = keras.Input(spec.input_shape)
        x = keras.layers.Dense(units)(inputs)
        return keras.Model(inputs, keras.layers.Dense(spec.num_outputs)(x))

    assert list_models(tags="user") == ["user_linear"]
    model = build("user_linear", units=5)
    assert model.input_shape == (None, 3) and model.layers[1].units == 5
    assert model.loss.name == "mean_squared_error"
    assert describe("user_linear")["space"]["units"]["max_value"] == 8


def test_list_models_wildcards_and_filters():
    everything = list_models()
    assert {"mlp", "cnn", "resnet", "resnet20", "transformer", "vit"} <= set(everything)
    assert list_models("resnet*") == ["resnet", "resnet20", "resnet50", "resnet56"]
    assert list_models("resnet*", exclude="resnet5*") == ["resnet", "resnet20"]
    assert "cnn" not in list_models(inputs="tabular")
    assert "mlp" in list_models(task="multilabel")


def test_describe_reports_defaults_space_and_doc():
    info = describe("resnet56")
    assert info["defaults"]["depth"] == 56
    assert info["default_input_shape"] == (32, 32, 3)
    assert "depth" not in info["space"]  # fixed by the variant's name
    assert "depth" in describe("resnet")["space"]
    assert info["doc"]


@pytest.mark.parametrize("name", ["cnn", "resnet20", "vit", "mlp", "transformer"])
def test_build_with_no_arguments(name):
    model = build(name)
    spec = describe(name)["default_input_shape"]
    assert model.input_shape[1:] == tuple(spec)


def test_task_and_input_kind_mismatch_explained():
    with pytest.raises(ValueError, match=r"takes image inputs.*tabular inputs of shape \(30,\).*mlp"):
        build("cnn", DataSpec((30,), task="binary", kind="tabular", name="breast_cancer"))


def test_entry_point_plugins_are_loaded(registry_sandbox):
    def plugin(spec, *, units=3):
        import keras

        return keras.Sequential([keras.Input(spec.input_shape), keras.layers.Dense(spec.num_outputs)])

    ep = mock.Mock()
    ep.name = "plugin_model"
    ep.load.return_value = plugin
    broken = mock.Mock()
    broken.name = "broken"
    broken.load.side_effect = ImportError("no such module")
    registry_sandbox._loaded = False
    with mock.patch("importlib.metadata.entry_points", return_value=[ep, broken]) as eps:
        assert "plugin_model" in list_models()
    eps.assert_called_once_with(group="kerazoo.models")
    assert "broken" not in list_models()


def test_import_and_models_command_do_not_import_tensorflow():
    code = ("import sys, kerazoo; from kerazoo.cli import main; main(['models']); "
            "main(['describe', 'cnn']); assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_models_command_under_a_second():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kerazoo.cli", "models"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0 and "resnet20" in out.stdout
    assert elapsed < 1.0, f"`kerazoo models` took {elapsed:.2f}s"


def test_training_defaults_reach_kerazoo_train_and_flags_win(registry_sandbox, tmp_path):
    from kerazoo.cli import main

    @registry_sandbox.register("tiny_trained_doc", task="multiclass", inputs="tabular",
                               training={"epochs": 2, "learning_rate": 3e-3})
    def tiny(spec, *, units=4):
        import keras

        inputs = keras.Input(spec.input_shape)
        return keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(inputs))

    assert describe("tiny_trained_doc")["training"] == {"epochs": 2, "learning_rate": 3e-3}
    assert main(["train", "tiny_trained_doc", "--data", "iris", "--out", str(tmp_path / "a"), "--verbose", "0"]) == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["fit"]["epochs"] == 2 and config["compile"]["learning_rate"] == 3e-3
    assert main(["train", "tiny_trained_doc", "--data", "iris", "--out", str(tmp_path / "b"), "--verbose", "0",
                 "--epochs", "1", "--learning-rate", "0.01"]) == 0
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["fit"]["epochs"] == 1 and config["compile"]["learning_rate"] == 0.01


def test_unknown_training_default_is_refused(registry_sandbox):
    with pytest.raises(ValueError, match="training takes epochs, min_epochs, min_steps, learning_rate"):
        registry_sandbox.register("bad_training_doc", training={"epoch": 3})(lambda spec: None)

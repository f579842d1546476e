"""The fidelity gate and the int8 recipes: quantized files keep the Keras model's answers, or no file.

A tabular mlp's plain int8 file agreed with Keras on ~61% of breast_cancer (its in-model
normalization gets one int8 scale for features from 1e-3 to 4e3); the export now keeps
the preprocessing and head in float and says so. A model built to lose in int8 stops the
export with exit code 1 and nothing written, unless --keep-failing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli

from export import FidelityError, export_model


@pytest.fixture(scope="module")
def tabular_run(tmp_path_factory):
    """The zoo's mlp (default settings) trained 5 epochs on breast_cancer: features from 1e-3 to 4e3."""
    import keras

    from kerazoo import build, fit, load_data

    data = load_data("breast_cancer", seed=0)
    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("tabular") / "run"
    fit(build("mlp", data.spec), data, epochs=5, run_dir=run_dir, seed=0, verbose=0)
    return run_dir


def _loser(spec):
    """A classifier built to lose in int8: its class is the sign of petal length - 3.5, carried as
    0.01 x (length - 3.5) in the same tensor as 100 x sepal length, so any one int8 scale for that
    tensor (~3 per step) rounds the deciding value to zero. No recipe keeps that tensor in float:
    it is neither preprocessing, nor head, nor normalization or attention, and each op's own
    rounding error is ordinary, so the debugger flags nothing."""
    import keras

    inputs = keras.Input(spec.input_shape, name="inputs")
    spread = keras.layers.Dense(2, name="spread", trainable=False)
    head = keras.layers.Dense(spec.num_classes, activation="softmax", name="predictions", trainable=False)
    model = keras.Model(inputs, head(spread(inputs)), name="loser")
    spread.set_weights([np.array([[100, 0], [0, 0], [0, 0.01], [0, 0]], "float32"), np.array([0, -0.035], "float32")])
    head.set_weights([np.array([[0.01, 0.01, 0.01], [1, 0, -1]], "float32"), np.zeros(3, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def loser_run(tmp_path_factory):
    import warnings

    from kerazoo import fit, load_data

    data = load_data("iris", seed=0)
    run_dir = tmp_path_factory.mktemp("loser") / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the model does not have any trainable weights": as built
        fit(_loser(data.spec), data, epochs=1, run_dir=run_dir, seed=0, verbose=0)
    return run_dir


def test_int8_of_a_tabular_mlp_keeps_its_answers_with_preprocessing_and_head_in_float(tabular_run, tmp_path):
    result = export_model(tabular_run, tmp_path, formats="tflite", quantize="int8")
    int8 = result["model_int8.tflite"]
    v = int8.verification
    assert v.status == "ok" and v.top1_agreement >= 0.98
    assert abs(v.held_out["value"] - v.held_out["keras"]) <= 0.01 and v.held_out["examples"] == 114
    assert int8.bytes <= 0.35 * result["model.tflite"].bytes
    q = int8.quantization
    plain, chosen = q["attempts"][0], q["attempts"][-1]
    assert plain["recipe"] == "all int8" and plain["top1_agreement"] < 0.9  # the finding, measured again
    assert plain["debugger_worst"][0]["tensor"].split(";")[0].endswith("normalize_1/truediv")  # the debugger's culprit
    assert q["recipe"] == chosen["recipe"] == "preprocessing and head in float"
    assert q["float_layers"] == ["normalize (Normalization)", "predictions (Dense)"]
    meta = json.loads((result.path / "metadata.json").read_text())
    recorded = next(a for a in meta["artifacts"] if a["file"] == "model_int8.tflite")
    assert recorded["quantization"]["float_layers"] == q["float_layers"]
    row = next(r for r in meta["fidelity"]["report"] if r["artifact"] == "model_int8.tflite")
    assert row["kept_in_float"] == q["float_layers"] and row["share_of_float32"] <= 0.35
    assert {"top1_agreement", "held_out", "latency_ms", "max_abs_diff"} <= set(row)
    assert meta["verification_inputs"] == ("the run's test split topped up with 46 validation examples and 140 "
                                           "training examples (300 examples)")
    card = (result.path / "MODEL_CARD.md").read_text()
    assert "## How `model_int8.tflite` was quantized" in card
    assert "Kept in float: normalize (Normalization), predictions (Dense)" in card


def test_int8_io_leaves_only_the_all_int8_recipe_and_says_so(tabular_run, tmp_path):
    with pytest.raises(FidelityError, match=r"int8 inputs and outputs \(int8_io\) leave only the all-int8 recipe"):
        export_model(tabular_run, tmp_path / "out", formats="tflite", quantize="int8", int8_io=True)
    assert not (tmp_path / "out").exists()


def test_a_model_built_to_lose_in_int8_stops_the_export_with_exit_1_and_no_file(loser_run, tmp_path, capsys):
    """In-process, through the console script's function (`kerazoo export` runs as a process in test_export)."""
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["export", str(loser_run), "--format", "tflite", "--quantize", "int8",
                                    "--out", str(out)], capsys)
    assert code == 1, stderr
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("kerazoo: error: model_int8.tflite (int8) does not keep the Keras model's answers: "
                            "top-1 agreement ")
    assert "(threshold >= 98%); tried all int8: " in error and "preprocessing and head in float: " in error
    assert "nothing was written. Pass keep_failing=True (--keep-failing)" in error
    assert "model_int8.tflite  int8" in stdout and "failed (>= 98%)" in stdout  # the figures, printed
    assert not out.exists()

    code, _, err = run_cli(["export", str(loser_run), "--format", "tflite", "--quantize", "int8", "--out", str(out),
                            "--keep-failing"], capsys)
    assert code == 0, err
    assert "kerazoo: warning: model_int8.tflite (int8) kept though outside its threshold" in err
    meta = json.loads((out / "loser" / "1" / "metadata.json").read_text())
    int8 = next(a for a in meta["artifacts"] if a["file"] == "model_int8.tflite")
    assert int8["verification"]["status"] == "kept" and int8["verification"]["top1_agreement"] < 0.98
    assert (out / "loser" / "1" / "model_int8.tflite").stat().st_size == int8["bytes"]
    assert "kept because the export was asked to" in (out / "loser" / "1" / "MODEL_CARD.md").read_text()


def test_the_agreement_threshold_is_overridable(loser_run, tmp_path):
    with pytest.raises(FidelityError):
        export_model(loser_run, tmp_path / "strict", formats="tflite", quantize="int8")
    result = export_model(loser_run, tmp_path / "lenient", formats="tflite", quantize="int8", min_agreement=0.5)
    v = result["model_int8.tflite"].verification
    assert v.status == "ok" and 0.5 <= v.top1_agreement < 0.98 and v.threshold["min"] == 0.5
    assert result.metadata["fidelity"]["threshold"]["min"] == 0.5


def test_regression_files_are_held_to_the_relative_error_and_dynamic_files_too(tmp_path):
    from kerazoo import build, load_data

    data = load_data("diabetes", seed=0)
    model = build("mlp", data.spec)
    x, y = data.arrays["test"]
    result = export_model(model, tmp_path / "ok", formats="tflite", quantize="dynamic", verify_data=(x, y))
    v = result["model_dynamic.tflite"].verification
    assert v.status == "ok" and v.top1_agreement is None and 0 < v.relative_error <= 0.02
    assert v.threshold == {"metric": "relative_error", "max": 0.02, "label": "relative error"}
    assert v.held_out["metric"] == "mae" and v.held_out["examples"] == len(x)
    with pytest.raises(FidelityError, match=r"model_dynamic.tflite \(dynamic\) does not keep the Keras model's "
                                            r"answers: relative error .* \(threshold <= 1e-07%\).*"
                                            r"max_relative_error= \(--max-relative-error\)"):
        export_model(model, tmp_path / "strict", formats="tflite", quantize="dynamic", verify_data=(x, y),
                     max_relative_error=1e-9)
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("args,message", [
    (["--min-agreement", "98"], "kerazoo: error: min_agreement must be a share in [0, 1] (0.98 for 98%), got 98.0"),
    (["--max-relative-error", "0.05"], "kerazoo: error: max_relative_error applies to regression models; this "
                                       "model is multiclass: set min_agreement instead"),
])
def test_cli_bad_thresholds_exit_2(loser_run, tmp_path, capsys, args, message):
    code, _, err = run_cli(["export", str(loser_run), "--out", str(tmp_path / "out"), "--quantize", "int8", *args],
                           capsys)  # in-process: the export command runs as a process above
    assert code == 2 and err.strip().startswith(message), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_calibration_takes_every_class_in_turn():
    from export.source import balanced_examples

    x = np.arange(100)
    y = np.array([0] * 90 + [1] * 8 + [2] * 2)  # the rare classes sit at the end
    picked = balanced_examples(x, y, 12)
    assert sorted(picked) == list(picked) and len(picked) == 12
    assert set(y[picked]) == {0, 1, 2} and list(y[picked]).count(2) == 2 and list(y[picked]).count(1) == 5

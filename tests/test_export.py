"""The `export` package: every format and quantization mode from a trained digits model,
each reloaded by its real consumer, plus the failure paths that must leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import run_cli

from export import ConversionError, VerificationError, export_model, tflite_ops

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
MODES = (None, "dynamic", "float16", "int8")


def tree(path: Path) -> dict:
    """Every file and folder under `path`, with each file's SHA-256: a folder's state."""
    path = Path(path)
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(path.rglob("*"))}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    """The zoo's cnn (default settings) trained on digits (~99% test accuracy), its run and the data.

    The default filters (32, 64, 128) rather than a smaller cnn: a TFLite file has a fixed
    overhead (graph, tensor names, quantization parameters), so int8's size ratio only
    approaches a quarter for a model of some size (26.8% here; 33.8% for filters=(16, 32)).
    """
    import keras

    from kerazoo import build, fit

    keras.utils.set_random_seed(0)
    model = build("cnn", digits.spec)
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = fit(model, digits, epochs=4, run_dir=run_dir, seed=0, verbose=0)  # 99.4% after 4 (batch norm 0.9)
    assert result.metrics["test"]["accuracy"] > 0.95
    x_test = digits.arrays["test"][0]
    return SimpleNamespace(model=model, run_dir=run_dir, data=digits, x=x_test,
                           reference=model.predict(x_test, verbose=0))


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The run exported once in every format and quantization mode."""
    out = tmp_path_factory.mktemp("exports")
    return export_model(trained.run_dir, out, quantize=("dynamic", "float16", "int8"))


def test_layout_is_tensorflow_servings(exported):
    assert exported.path == exported.path.parent.parent / "cnn" / "1"
    assert exported.model_name == "cnn" and exported.version == 1
    names = {p.name for p in exported.path.iterdir()}
    assert {"saved_model.pb", "variables", "model.tflite", "model_dynamic.tflite", "model_float16.tflite",
            "model_int8.tflite", "metadata.json", "MODEL_CARD.md"} <= names
    assert not [p for p in exported.path.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_savedmodel_serves_raw_inputs_with_named_outputs(exported, trained):
    import tensorflow as tf

    serve = tf.saved_model.load(str(exported.path)).signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.name == "inputs" and spec.shape.as_list() == [None, 8, 8, 1] and spec.dtype == tf.float32
    out = serve(inputs=tf.constant(trained.x))
    assert set(out) == {"probabilities", "classes"} and out["classes"].dtype == tf.int64
    diff = float(np.abs(out["probabilities"].numpy() - trained.reference).max())
    agree = float((out["classes"].numpy() == trained.reference.argmax(-1)).mean())
    assert diff < 1e-4 and agree == 1.0
    recorded = exported["saved_model.pb"].verification
    assert recorded.consumer == "tf.saved_model.load" and recorded.examples == len(trained.x) == 360
    assert recorded.status == "ok" and recorded.max_abs_diff == pytest.approx(diff, abs=1e-6)
    assert recorded.top1_agreement == agree
    for n in (1, 7):  # the batch dimension is free
        assert serve(inputs=tf.constant(trained.x[:n]))["probabilities"].shape == (n, 10)


def test_saved_model_cli_reads_it_and_lists_serving_default(exported):
    cli = Path(sys.executable).with_name("saved_model_cli")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    res = subprocess.run([*cmd, "show", "--dir", str(exported.path), "--all"], capture_output=True, text=True,
                         env=ENV, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "signature_def['serving_default']" in res.stdout
    assert "inputs['inputs']" in res.stdout and "outputs['probabilities']" in res.stdout
    assert "outputs['classes']" in res.stdout


def test_warmup_records_parse_as_prediction_logs_the_signature_accepts(exported, trained):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = exported.path / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in tf.data.TFRecordDataset(str(path)).as_numpy_iterator()]
    assert len(logs) == 5 and {log.WhichOneof("log_type") for log in logs} == {"predict_log"}
    serve = tf.saved_model.load(str(exported.path)).signatures["serving_default"]
    spec = serve.structured_input_signature[1]["inputs"]
    for i, log in enumerate(logs):
        request = log.predict_log.request
        assert (request.model_spec.name, request.model_spec.signature_name) == ("cnn", "serving_default")
        assert list(request.inputs) == ["inputs"]
        x = tf.make_ndarray(request.inputs["inputs"])
        assert x.dtype == spec.dtype.as_numpy_dtype and spec.shape.is_compatible_with(x.shape)
        np.testing.assert_array_equal(x[0], trained.x[i])  # held-out examples: the test split's first
        assert serve(inputs=tf.constant(x))["probabilities"].shape == (1, 10)
    assert exported.metadata["serving"]["warmup"] == {"file": "assets.extra/tf_serving_warmup_requests",
                                                      "records": 5, "consumer": "tf.saved_model.load",
                                                      "status": "ok"}


def test_a_warmup_record_the_signature_refuses_fails_the_check(tmp_path):
    from export import VerificationError, write_savedmodel
    from export.warmup import check_warmup, write_warmup
    from kerazoo import build

    write_savedmodel(build("mlp", input_shape=(4,), num_classes=3, width=8, depth=1), tmp_path)
    write_warmup(tmp_path, np.ones((2, 4), "int32"), model_name="mlp")  # the signature takes float32
    with pytest.raises(VerificationError, match=r"record 0 input 'inputs' is int32 \(1, 4\); the signature takes float32"):
        check_warmup(tmp_path)
    write_warmup(tmp_path, np.ones((2, 4), "float32"), model_name="mlp", input_name="x")
    with pytest.raises(VerificationError, match=r"record 0 gives inputs \['x'\]; signature 'serving_default' takes"):
        check_warmup(tmp_path)


def test_serving_manifest_is_read_from_the_saved_signature(exported, trained):
    manifest = json.loads((exported.path / "serving.json").read_text())
    sig = manifest["signatures"]["serving_default"]
    assert sig["inputs"] == {"inputs": {"dtype": "float32", "shape": [-1, 8, 8, 1], "tensor": "serving_default_inputs:0"}}
    assert {k: (v["dtype"], v["shape"]) for k, v in sig["outputs"].items()} == {
        "probabilities": ("float32", [-1, 10]), "classes": ("int64", [-1])}
    body = json.loads((exported.path / "request.json").read_text())
    assert body == manifest["rest"]["body"] and body["signature_name"] == "serving_default"
    np.testing.assert_array_equal(np.asarray(body["instances"], "float32"), trained.x[:1])
    assert manifest["rest"]["predict_url"] == "http://localhost:8501/v1/models/cnn:predict"
    assert manifest["rest"]["curl"].endswith("-d @request.json http://localhost:8501/v1/models/cnn:predict")
    assert "-e MODEL_NAME=cnn" in manifest["docker"] and "tensorflow/serving" in manifest["docker"]
    compile(manifest["python"], "client.py", "exec")  # run against a server in tests/test_serving.py
    card = (exported.path / "MODEL_CARD.md").read_text()
    assert "## Serving" in card and "-e MODEL_NAME=cnn -t tensorflow/serving" in card and "`serving.json`" in card


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m or "float32")
def test_each_tflite_mode_is_reloaded_by_litert_and_verified(exported, trained, mode):
    from ai_edge_litert.interpreter import Interpreter

    file = exported.path / ("model.tflite" if mode is None else f"model_{mode}.tflite")
    runner = Interpreter(model_path=str(file)).get_signature_runner("serving_default")
    out = runner(inputs=trained.x)
    diff = float(np.abs(out["probabilities"] - trained.reference).max())
    agree = float((out["classes"] == trained.reference.argmax(-1)).mean())
    recorded = exported[file.name].verification
    assert recorded.consumer == "ai_edge_litert.interpreter.Interpreter"
    assert recorded.precision == (mode or "float32") and recorded.examples == 360
    assert recorded.max_abs_diff == pytest.approx(diff, abs=1e-6) and recorded.top1_agreement == agree
    if mode is None:
        assert recorded.status == "ok" and diff <= recorded.tolerance and recorded.threshold is None
    else:  # quantized files are held to the classification threshold, not to an element-wise tolerance
        assert recorded.status == "ok" and recorded.tolerance is None
        assert recorded.threshold == {"metric": "top1_agreement", "min": 0.98, "label": "top-1 agreement"}
    assert agree >= 0.98
    assert recorded.held_out["metric"] == "accuracy" and recorded.held_out["examples"] == 360
    assert recorded.held_out["keras"] == float((trained.reference.argmax(-1) == trained.data.arrays["test"][1]).mean())
    assert abs(recorded.held_out["value"] - recorded.held_out["keras"]) <= 0.01
    assert recorded.latency_ms > 0
    assert not [op for op in tflite_ops(file) if op.startswith("Flex")]  # builtin ops only


def test_int8_is_small_and_agrees_with_the_float_model(exported, trained):
    from export import run_tflite

    float_size = (exported.path / "model.tflite").stat().st_size
    int8_size = (exported.path / "model_int8.tflite").stat().st_size
    assert int8_size <= 0.30 * float_size, (int8_size, float_size)
    classes = run_tflite(exported.path / "model_int8.tflite", trained.x)["classes"]
    agreement = float((classes == trained.reference.argmax(-1)).mean())
    assert len(trained.x) == 360 and agreement >= 0.98


def test_metadata_and_model_card(exported):
    meta = json.loads((exported.path / "metadata.json").read_text())
    assert meta["model"] == "cnn" and meta["version"] == 1 and meta["task"] == "multiclass"
    assert meta["config"]["filters"] == [32, 64, 128]
    assert meta["inputs"] == {"inputs": {"shape": [None, 8, 8, 1], "dtype": "float32"}}
    assert meta["outputs"]["classes"]["dtype"] == "int64"
    assert meta["class_names"] == [str(i) for i in range(10)]
    assert "[0, 16]" in meta["preprocessing"] and "rescales" in meta["preprocessing"]
    assert {"kerazoo", "tensorflow", "keras", "ai_edge_litert"} <= set(meta["versions"])
    assert meta["verification_inputs"] == "the run's test split (360 examples)"
    assert meta["source"]["metrics"]["test"]["accuracy"] > 0.95
    files = {a["file"]: a for a in meta["artifacts"]}
    assert set(files) == {"saved_model.pb", "model.tflite", "model_dynamic.tflite", "model_float16.tflite",
                          "model_int8.tflite"}
    for name, a in files.items():
        assert a["verification"]["examples"] == 360 and a["bytes"] > 0 and len(a["sha256"]) == 64
        if name.endswith(".tflite"):
            assert a["bytes"] == (exported.path / name).stat().st_size
    card = (exported.path / "MODEL_CARD.md").read_text()
    assert card.startswith("# cnn, version 1") and "| `model_int8.tflite` | int8 | " in card


def test_versions_count_up_and_an_existing_version_is_not_overwritten(tmp_path):
    from kerazoo import build

    model = build("mlp", input_shape=(4,), num_classes=3)
    kwargs = dict(formats="tflite", verify_data=np.ones((8, 4), "float32"))
    first = export_model(model, tmp_path, **kwargs)
    second = export_model(model, tmp_path, **kwargs)
    assert (first.version, second.version) == (1, 2)
    assert first.path == tmp_path / "mlp" / "1" and second.path == tmp_path / "mlp" / "2"
    before = tree(tmp_path)
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        export_model(model, tmp_path, version=1, **kwargs)
    assert tree(tmp_path) == before
    again = export_model(model, tmp_path, version=1, overwrite=True, formats="savedmodel", verify=False)
    assert again.version == 1 and sorted(p.name for p in (tmp_path / "mlp").iterdir()) == ["1", "2"]
    assert (again.path / "saved_model.pb").exists() and not (again.path / "model.tflite").exists()
    assert again["saved_model.pb"].verification is None
    assert tree(tmp_path / "mlp" / "2") == {k[len("mlp/2/"):]: v for k, v in before.items()
                                                if k.startswith("mlp/2/")}


def _inverse_model():
    """A model with an op (MatrixInverse) that TFLite's builtin op set lacks."""
    import keras
    import tensorflow as tf

    class Inverse(keras.layers.Layer):
        def call(self, x):
            return tf.reshape(tf.linalg.inv(tf.reshape(x, (-1, 2, 2)) + 3.0 * tf.eye(2)), (-1, 4))

    inputs = keras.Input((4,), name="inputs")
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(Inverse()(inputs)), name="inv")


def test_a_failing_conversion_leaves_the_output_folder_as_it_was(tmp_path):
    model = _inverse_model()
    (tmp_path / "inv" / "1").mkdir(parents=True)
    (tmp_path / "inv" / "1" / "model.tflite").write_bytes(b"an earlier export")
    before = tree(tmp_path)
    with pytest.raises(ConversionError, match=r"builtin set lacks \(MatrixInverse\); pass select_ops=True"):
        export_model(model, tmp_path, verify_data=np.ones((4, 4), "float32"))
    assert tree(tmp_path) == before
    with pytest.raises(ConversionError):
        export_model(model, tmp_path / "new" / "tree", verify=False)
    assert not (tmp_path / "new").exists()


def test_select_ops_only_when_asked_with_a_warning(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    with pytest.warns(UserWarning, match="Flex delegate"):
        result = export_model(_inverse_model(), tmp_path, select_ops=True, verify_data=x)
    assert "FlexMatrixInverse" in result["model.tflite"].ops
    assert result["saved_model.pb"].verification.status == "ok"
    check = result["model.tflite"].verification
    assert check.status == "skipped" and "Flex delegate" in check.note


def test_a_failing_verification_leaves_nothing(tmp_path, monkeypatch):
    import export.verify
    from kerazoo import build

    real = export.verify.run_tflite
    monkeypatch.setattr(export.verify, "run_tflite",
                        lambda path, x, **kw: {k: v + 0.1 if k == "probabilities" else v
                                               for k, v in real(path, x, **kw).items()})
    with pytest.raises(VerificationError, match=r"model.tflite \(float32\) failed verification.*tolerance"):
        export_model(build("mlp", input_shape=(4,), num_classes=3), tmp_path / "out",
                     verify_data=np.ones((8, 4), "float32"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs,message", [
    (dict(quantize="int4"), "quantize must be None or one or more of 'dynamic', 'float16', 'int8'; got 'int4'"),
    (dict(quantize="int8"), "needs representative data to calibrate activations; pass representative_data="),
    (dict(formats="coreml,tflite"), "unknown format 'coreml'"),
    (dict(formats="savedmodel", quantize="float16"), "applies to TFLite files; add 'tflite' to formats"),
    (dict(int8_io=True), "int8_io (int8 inputs and outputs) needs quantize='int8'"),
    (dict(version=0), "version must be a positive int"),
    (dict(model_name="a/b"), "model_name must be a folder name"),
])
def test_bad_options_are_clear_errors(kwargs, message, tmp_path):
    from kerazoo import build

    with pytest.raises(ValueError) as info:
        export_model(build("mlp", input_shape=(4,), num_classes=3), tmp_path / "out", **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_int8_io_tflite_only_and_representative_data_for_a_bare_model(trained, tmp_path):
    result = export_model(trained.model, tmp_path, formats="tflite", quantize="int8", int8_io=True,
                          representative_data=trained.data.train, verify_data=trained.x)
    assert sorted(p.name for p in result.path.iterdir()) == ["MODEL_CARD.md", "metadata.json", "model.tflite",
                                                             "model_int8.tflite"]  # no SavedModel left
    io = result["model_int8.tflite"].io
    assert io["inputs"]["inputs"]["dtype"] == "int8" and "scale" in io["inputs"]["inputs"]
    assert io["outputs"]["probabilities"]["dtype"] == "int8" and io["outputs"]["classes"]["dtype"] == "int64"
    assert result.metadata["artifacts"][1]["io"] == io
    assert result["model_int8.tflite"].verification.top1_agreement >= 0.98


def test_a_mixed_precision_model_exports_with_builtin_ops(tmp_path):
    import keras

    from kerazoo import build

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build("cnn", input_shape=(8, 8, 1), filters=(8, 16), compile=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = np.random.default_rng(0).uniform(0, 255, (16, 8, 8, 1)).astype("float32")
    result = export_model(model, tmp_path, formats="tflite", verify_data=x)
    assert result["model.tflite"].verification.status == "ok"
    assert "float32 copy" in result.metadata["reference"]


def test_a_random_layer_inside_the_model_is_inert_in_the_export(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 1), name="inputs")
    x = keras.layers.RandomRotation(0.2)(inputs)
    x = keras.layers.RandomTranslation(0.2, 0.2)(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 1)).astype("float32")
    result = export_model(model, tmp_path, verify_data=x)
    assert all(a.verification.status == "ok" for a in result.artifacts)  # deterministic, as Keras inference
    assert not [op for op in result["model.tflite"].ops if op.startswith("Flex")]


def test_a_model_trained_with_augmentation_exports_to_tflite_with_builtin_ops(digits, tmp_path):
    from conftest import small

    from kerazoo import build, fit

    model = build("cnn", digits.spec, filters=(8, 16))
    fit(model, small(digits, train_batches=2, eval_batches=1), epochs=1, run_dir=tmp_path / "run", verbose=0, augment="heavy",
        augment_on="model")  # augmentation inside the training step: the closest it comes to the model
    result = export_model(tmp_path / "run", tmp_path / "out", formats="tflite")
    ops = result["model.tflite"].ops
    assert ops and all(op.isupper() for op in ops) and not [op for op in ops if op.startswith("Flex")]
    assert result["model.tflite"].verification.status == "ok"


@pytest.mark.parametrize("source", ["diabetes", "breast_cancer"])
def test_regression_and_binary_outputs(source, tmp_path):
    from kerazoo import build, load_data

    data = load_data(source)
    result = export_model(build("mlp", data.spec), tmp_path, verify_data=data.arrays["test"][0])
    outputs = result.metadata["outputs"]
    if source == "diabetes":
        assert set(outputs) == {"values"} and result["model.tflite"].verification.top1_agreement is None
    else:
        assert set(outputs) == {"probabilities", "classes"} and outputs["classes"]["shape"] == [None]
    assert "normalizes" in result.metadata["preprocessing"]
    assert all(a.verification.status == "ok" for a in result.artifacts)


def test_onnx_through_tf2onnx_verified_with_onnxruntime(trained, tmp_path):
    import onnxruntime  # the test extra installs the onnx extra's packages: missing, this fails

    result = export_model(trained.model, tmp_path, formats="onnx", verify_data=trained.x)
    assert sorted(p.name for p in result.path.iterdir()) == ["MODEL_CARD.md", "metadata.json", "model.onnx"]
    check = result["model.onnx"].verification
    assert check.consumer == "onnxruntime.InferenceSession" and check.status == "ok"
    assert check.top1_agreement == 1.0 and check.examples == 360
    session = onnxruntime.InferenceSession(str(result.path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["inputs"]
    assert {o.name for o in session.get_outputs()} == {"probabilities", "classes"}


def test_onnx_without_its_packages_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from export import onnx_available
    from kerazoo import build

    find_spec = importlib.util.find_spec  # a machine without tf2onnx, whatever this one has
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else find_spec(name, *a))
    assert not onnx_available()
    with pytest.raises(ValueError, match=r"needs tf2onnx and onnxruntime.*kerazoo\[onnx\]"):
        export_model(build("mlp", input_shape=(4,), num_classes=3), tmp_path / "out", formats="onnx")
    assert not (tmp_path / "out").exists()


def kerazoo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kerazoo", *args], capture_output=True, text=True, env=ENV,
                          cwd=cwd, timeout=600)


def test_cli_export(trained, tmp_path, capsys):
    res = kerazoo("export", str(trained.run_dir), "--format", "tflite", "--quantize", "float16",
                  "--out", str(tmp_path), "--version", "3")
    assert res.returncode == 0, res.stderr
    assert "model_float16.tflite  float16" in res.stdout and "ok (>= 98%)" in res.stdout
    header = next(line for line in res.stdout.splitlines() if line.startswith("artifact"))
    assert header.split() == ["artifact", "precision", "size", "max", "|diff|", "agreement", "held-out", "accuracy",
                              "latency", "check"]
    assert res.stdout.startswith("Keras model: held-out accuracy ") and " ms " in res.stdout
    assert f"exported to {tmp_path / 'cnn' / '3'}" in res.stdout
    assert (tmp_path / "cnn" / "3" / "model_float16.tflite").exists()
    code, _, err = run_cli(["export", str(trained.run_dir), "--format", "tflite", "--out", str(tmp_path),
                            "--version", "3"], capsys)  # in-process: the command ran as a process above
    assert code == 2 and err.strip().splitlines() == [
        f"kerazoo: error: export '{tmp_path / 'cnn' / '3'}' already exists; pass overwrite=True (--overwrite) "
        f"to replace it, or another version"]


@pytest.mark.parametrize("args,message", [
    (["--quantize", "int4"], "kerazoo: error: quantize must be None or one or more of"),
    (["--format", "coreml"], "kerazoo: error: formats: unknown format 'coreml'"),
    (["--int8-io"], "kerazoo: error: int8_io (int8 inputs and outputs) needs quantize='int8'"),
])
def test_cli_bad_values_exit_2_with_one_line(trained, tmp_path, capsys, args, message):
    # in-process: test_cli_export runs the command as a process
    code, _, err = run_cli(["export", str(trained.run_dir), "--out", str(tmp_path / "out"), *args], capsys)
    assert code == 2 and err.strip().startswith(message) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_cli_missing_run_exits_2(tmp_path, capsys):
    code, _, err = run_cli(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "no run directory" in err


def test_importing_export_costs_no_tensorflow():
    code = "import sys, kerazoo, export; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], env=ENV).returncode == 0

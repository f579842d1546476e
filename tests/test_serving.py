"""`kerazoo serve`: TensorFlow Serving's REST API over exported SavedModels, called with a real HTTP client.

One server process for the module, on a free loopback port, always terminated. It serves three exports
(a classifier, a regression model, a gpt's logits); untrained weights are enough, since what is tested is
that the server answers what the SavedModel computes (and the Keras model, within the export tolerance).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = pytest.mark.multiprocess

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
SEQ_LEN = 16


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Three models exported (SavedModel only) under one export root, with the inputs to call them on."""
    import keras

    from export import export_model
    from export.lm import export_lm
    from kerazoo import build, load_data

    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("exports")
    models = {}
    for name, source in (("classifier", "iris"), ("regressor", "diabetes")):
        data = load_data(source)
        x = data.arrays["test"][0][:8]
        model = build("mlp", data.spec, width=8, depth=1)
        export_model(model, root, formats="savedmodel", verify_data=data.arrays["test"], model_name=name)
        models[name] = SimpleNamespace(model=model, x=x, data=data)
    gpt = build("gpt-nano", num_layers=1, dim=32, num_heads=2)
    windows = np.random.default_rng(0).integers(0, 256, (6, SEQ_LEN)).astype("int32")
    export_lm(gpt, root, formats="savedmodel", seq_len=SEQ_LEN, verify_data=windows, model_name="lm")
    models["lm"] = SimpleNamespace(model=gpt, x=windows[:3])
    return SimpleNamespace(root=root, models=models)


@pytest.fixture(scope="module")
def server(exports):
    from export.server import server_process

    with server_process(exports.root, args=("--poll-seconds", "0.2", "--max-body-mb", "1"), env=ENV) as (url, proc):
        yield SimpleNamespace(url=url, proc=proc)


def call(url: str, body=None, *, raw: bytes | None = None) -> tuple[int, dict]:
    """A GET (no body) or a POST through urllib: (status, JSON answer), errors included."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def savedmodel_outputs(root: Path, name: str, x, version: int = 1) -> dict:
    from export.verify import run_savedmodel

    return run_savedmodel(root / name / str(version), x)


@pytest.mark.parametrize("name", ["classifier", "regressor", "lm"])
def test_predictions_equal_the_savedmodels_and_the_keras_models(server, exports, name):
    from export import TOLERANCES

    entry = exports.models[name]
    status, answer = call(f"{server.url}/v1/models/{name}:predict", {"instances": entry.x.tolist()})
    assert status == 200, answer
    rows = answer["predictions"]
    assert len(rows) == len(entry.x)
    expected = savedmodel_outputs(exports.root, name, entry.x)
    main = {"classifier": "probabilities", "regressor": "values", "lm": "logits"}[name]
    got = np.asarray([row[main] for row in rows] if isinstance(rows[0], dict) else rows, dtype="float32")
    np.testing.assert_array_equal(got, expected[main])  # the artifact's own numbers, exactly
    if name == "classifier":
        assert [row["classes"] for row in rows] == expected["classes"].tolist()
    keras_out = np.asarray(entry.model(entry.x, training=False), dtype="float32")
    tol = TOLERANCES["float32"]
    np.testing.assert_allclose(got, keras_out, atol=tol, rtol=tol)


def test_row_and_columnar_formats_answer_alike(server, exports):
    x = exports.models["classifier"].x
    url = f"{server.url}/v1/models/classifier/versions/1:predict"
    _, rows = call(url, {"instances": x.tolist()})
    _, named_rows = call(url, {"signature_name": "serving_default", "instances": [{"inputs": r} for r in x.tolist()]})
    status, columns = call(url, {"inputs": x.tolist()})
    assert status == 200 and rows == named_rows
    assert set(columns["outputs"]) == {"probabilities", "classes"}
    assert columns["outputs"]["probabilities"] == [r["probabilities"] for r in rows["predictions"]]
    assert columns["outputs"]["classes"] == [r["classes"] for r in rows["predictions"]]
    x = exports.models["regressor"].x
    status, single = call(f"{server.url}/v1/models/regressor:predict", {"inputs": {"inputs": x.tolist()}})
    assert status == 200 and np.asarray(single["outputs"]).shape == (8, 1)  # one output: its value itself


def test_status_and_metadata_as_tensorflow_serving_gives_them(server):
    status, answer = call(f"{server.url}/v1/models/lm")
    assert status == 200 and answer == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    status, meta = call(f"{server.url}/v1/models/lm/metadata")
    assert status == 200 and meta["model_spec"] == {"name": "lm", "signature_name": "", "version": "1"}
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["inputs"]["dtype"] == "DT_INT32" and sig["outputs"]["logits"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["inputs"]["tensor_shape"]["dim"]] == ["-1", str(SEQ_LEN)]


def test_bad_requests_get_their_4xx_and_the_server_keeps_serving(server, exports):
    url = f"{server.url}/v1/models/classifier:predict"
    good = {"instances": exports.models["classifier"].x[:2].tolist()}
    cases = [
        (url, dict(raw=b'{"instances": [[1, 2'), 400, "JSON Parse error"),
        (url, dict(raw=b"\xff\xfe"), 400, "not UTF-8"),
        (url, dict(body={"instances": [[1.0, 2.0]]}), 400, "input 'inputs': expected shape (-1, 4)"),
        (url, dict(body={"instances": [[1.0, 2.0, 3.0, 4.0], [1.0]]}), 400, "ragged"),
        (url, dict(body={"instances": [["a", 2, 3, 4]]}), 400, "expected float32 values (numbers), got \"a\""),
        (f"{server.url}/v1/models/lm:predict", dict(body={"instances": [[0.5] * SEQ_LEN]}), 400,
         "expected int32 values (whole numbers"),
        (url, dict(body={"examples": []}), 400, "exactly one of 'instances'"),
        (url, dict(body={**good, "signature_name": "nope"}), 400, 'Serving signature name: "nope" not found'),
        (f"{server.url}/v1/models/nope:predict", dict(body=good), 404, "Servable not found for request: Latest(nope)"),
        (f"{server.url}/v1/models/classifier/versions/9:predict", dict(body=good), 404,
         "Servable not found for request: Specific(classifier, 9)"),
        (url, dict(raw=b" " * (1 << 20) + b"{}"), 413, "this server takes at most 1048576"),
        (f"{server.url}/v2/anything", dict(body=good), 400, "Malformed request: POST /v2/anything"),
    ]
    for target, kwargs, code, message in cases:
        status, answer = call(target, **kwargs)
        assert (status, set(answer)) == (code, {"error"}), (message, status, answer)
        assert message in answer["error"], answer
        status, answer = call(url, good)  # and the next good request is served
        assert status == 200 and len(answer["predictions"]) == 2
    assert server.proc.poll() is None


def test_the_manifests_python_client_runs_against_the_server(server, exports):
    folder = exports.root / "classifier" / "1"
    manifest = json.loads((folder / "serving.json").read_text())
    code = manifest["python"].replace("http://localhost:8501", server.url)
    run = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    expected = savedmodel_outputs(exports.root, "classifier", np.asarray(manifest["rest"]["body"]["instances"],
                                                                         "float32"))
    printed = json.loads(run.stdout.replace("'", '"'))
    assert printed["classes"] == int(expected["classes"][0])


def test_a_new_version_folder_is_served_without_a_restart(server, exports):
    import keras

    from export import export_model
    from kerazoo import build

    entry = exports.models["regressor"]
    keras.utils.set_random_seed(1)
    newer = build("mlp", entry.data.spec, width=8, depth=1)  # other weights: other answers
    export_model(newer, exports.root, formats="savedmodel", verify_data=entry.x, model_name="regressor")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        _, answer = call(f"{server.url}/v1/models/regressor")
        if answer.get("model_version_status", [{}])[0].get("version") == "2":
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"version 2 was not picked up in 90 s: {answer}")
    status, answer = call(f"{server.url}/v1/models/regressor:predict", {"instances": entry.x.tolist()})
    assert status == 200
    np.testing.assert_array_equal(np.asarray(answer["predictions"], "float32"),
                                  savedmodel_outputs(exports.root, "regressor", entry.x, version=2)["values"])
    assert call(f"{server.url}/v1/models/regressor/versions/1:predict", {"instances": entry.x.tolist()})[0] == 404


def test_serve_refuses_bad_flags_a_missing_or_empty_root_and_a_taken_port(tmp_path, capsys, exports):
    import socket

    from conftest import run_cli

    code, _, err = run_cli(["serve", str(exports.root), "--port", "70000"], capsys)
    assert code == 2 and "--port: expected an int in [0, 65535] (0: any free port), got 70000" in err
    code, _, err = run_cli(["serve", str(exports.root), "--max-body-mb", "0"], capsys)
    assert code == 2 and "--max-body-mb: expected a positive number, got 0.0" in err
    code, _, err = run_cli(["serve", str(tmp_path / "missing")], capsys)
    assert code == 2 and "serve: EXPORT_ROOT" in err and "is not a folder" in err
    code, _, err = run_cli(["serve", str(tmp_path)], capsys)
    assert code == 2 and "serve: no SavedModel under" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(["serve", str(exports.root), "--port", str(port)], capsys)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err

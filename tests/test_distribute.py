"""tf.distribute for real on CPU: MirroredStrategy over logical devices, two localhost workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kerazoo import build, fit, load_data
from kerazoo.distribute import is_chief, resolve_precision, resolve_strategy, tf_config

HERE = Path(__file__).parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}  # CPU replicas, on any machine


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


@pytest.mark.slow
@pytest.mark.multiprocess
def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    subprocess.run([sys.executable, str(HERE / "_dist_worker.py"), "mirrored", str(out)], env=ENV,
                   check=True, timeout=600, capture_output=True)
    result = json.loads(out.read_text())
    assert "error" not in result, result["error"]
    assert result["distribution"]["strategy"] == "MirroredStrategy"
    assert result["distribution"]["replicas"] == 2

    import keras

    keras.utils.set_random_seed(0)
    data = load_data("digits", seed=0)
    single = fit(build("mlp", data.spec, width=128), data, epochs=result["epochs"], seed=0, verbose=0,
                 callbacks="none")
    assert result["test"]["accuracy"] > 0.9
    assert abs(result["test"]["accuracy"] - single.metrics["test"]["accuracy"]) < 0.04


def _two_workers(tmp_path, make_args):
    ports = _free_ports(2)
    procs = [subprocess.Popen(make_args(i), env={**ENV, "TF_CONFIG": _tf_config(ports, i)}, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=600))
        finally:
            p.kill()
    return procs, outputs


@pytest.mark.slow
@pytest.mark.multiprocess
def test_multi_worker_fit_through_the_cli(tmp_path):
    """Fails if the keras-team/keras#20585 workaround in kerazoo.distribute is removed."""
    run_dir = tmp_path / "run"
    procs, outputs = _two_workers(tmp_path, lambda i: [
        sys.executable, "-m", "kerazoo", "train", "mlp", "--data", "iris", "--epochs", "3",
        "--strategy", "multi_worker", "--out", str(run_dir), "--verbose", "0"])
    for p, (stdout, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr[-2000:]
        assert "global batch 64" in stdout  # 32 per replica x 2 replicas
    chief_out, worker_out = outputs[0][0], outputs[1][0]
    assert "run written to" in chief_out and "written by the chief worker" in worker_out
    # Both workers trained the same replicated model: the same metrics.
    table = [li for li in chief_out.splitlines() if li.startswith(("accuracy", "loss"))]
    assert table == [li for li in worker_out.splitlines() if li.startswith(("accuracy", "loss"))]
    # The chief wrote the run; the other worker wrote nothing into it (nor beside it).
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.json", "history.csv", "logs", "manifest.json", "metrics.json", "model.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["distribution"]["strategy"] == "MultiWorkerMirroredStrategy20585"
    assert config["distribution"]["replicas"] == 2 and config["distribution"]["workers"] == 2
    assert config["distribution"]["global_batch_size"] == 64


@pytest.mark.slow
@pytest.mark.multiprocess
def test_upstream_multi_worker_fit_still_breaks(tmp_path):
    """When this fails, keras-team/keras#20585 is fixed: remove MultiWorkerMirroredStrategy20585."""
    procs, outputs = _two_workers(tmp_path, lambda i: [
        sys.executable, str(HERE / "_dist_worker.py"), "plain_multi_worker", str(tmp_path / f"w{i}.json")])
    results = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    errors = [r.get("error", "") for r in results]
    assert all(errors), results
    assert any("PerReplica" in e or "reduction dimension" in e for e in errors), errors


def test_mixed_bfloat16_trains_on_cpu_with_float32_output():
    data = load_data("iris", seed=0)
    model = build("mlp", data.spec, precision="mixed_bfloat16", width=16)
    assert model.get_layer("dense_0").compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    result = fit(model, data, epochs=3, verbose=0)
    assert model.predict(data.arrays["test"][0], verbose=0).dtype == "float32"
    assert result.history["loss"][-1] < result.history["loss"][0]
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was


def test_bad_strategy_and_precision_names():
    with pytest.raises(ValueError, match="did you mean 'mirrored'"):
        resolve_strategy("mirorred")
    with pytest.raises(ValueError, match="precision must be one of"):
        build("mlp", input_shape=(4,), num_classes=3, precision="fp8")


def _fake_gpus(monkeypatch, capabilities):
    """Make TensorFlow report one GPU per compute capability given (none: a CPU-only machine)."""
    import tensorflow as tf

    real = tf.config.list_physical_devices
    gpus = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(len(capabilities))]
    details = {g.name: {"compute_capability": c} for g, c in zip(gpus, capabilities)}
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else real(kind))
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: details[device.name])


@pytest.mark.parametrize("capabilities,expected", [
    ((), "float32"),  # a CPU
    (((6, 1),), "float32"),  # a GPU without fast float16 (Pascal)
    (((7, 0),), "mixed_float16"),
    (((6, 1), (8, 0)), "mixed_float16"),
])
def test_auto_precision_follows_the_gpus(monkeypatch, capabilities, expected):
    _fake_gpus(monkeypatch, capabilities)
    assert resolve_precision("auto") == expected
    assert resolve_precision("float32") == "float32" and resolve_precision(None) == expected


def test_auto_strategy_mirrors_over_several_gpus_only():
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")  # this machine's, whatever it has
    strategy = resolve_strategy("auto")
    assert strategy.num_replicas_in_sync == (len(gpus) if len(gpus) > 1 else 1)
    assert isinstance(strategy, tf.distribute.MirroredStrategy) == (len(gpus) > 1)


@pytest.mark.parametrize("raw,message", [
    ("{not json", "does not parse as JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', "needs a 'cluster' and a 'task'"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not a member"),
])
def test_bad_tf_config(monkeypatch, raw, message):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ValueError, match=message):
        tf_config()
    with pytest.raises(ValueError, match=message):
        resolve_strategy("multi_worker")


def test_multi_worker_without_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        resolve_strategy("multi_worker")


def test_chief_rules(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 1))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 0))
    assert is_chief()


def test_cli_rejects_bad_strategy(tmp_path):
    res = subprocess.run([sys.executable, "-m", "kerazoo", "train", "mlp", "--data", "iris",
                          "--strategy", "gpus"], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert res.returncode == 2 and "--strategy: expected one of" in res.stderr
    res = subprocess.run([sys.executable, "-m", "kerazoo", "train", "mlp", "--data", "iris"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={**ENV, "TF_CONFIG": "{oops"})
    assert res.returncode == 2 and "TF_CONFIG does not parse as JSON" in res.stderr

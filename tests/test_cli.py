"""The `kerazoo` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def kerazoo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kerazoo", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def test_train_then_evaluate_end_to_end(tmp_path):
    out = tmp_path / "run"
    res = kerazoo("train", "mlp", "--data", "iris", "--epochs", "3", "--set", "width=16",
                  "--set", "batch_norm=false", "--out", str(out), "--verbose", "0")
    assert res.returncode == 0, res.stderr
    assert "run written to" in res.stdout and "accuracy" in res.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["overrides"] == {"width": 16, "batch_norm": False}
    assert config["fit"]["epochs"] == 3 and config["data"]["source"] == "iris"
    res = kerazoo("evaluate", str(out))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    line = next(li for li in res.stdout.splitlines() if li.startswith("accuracy"))
    assert float(line.split()[1]) == pytest.approx(metrics["test"]["accuracy"], abs=1e-4)

    again = tmp_path / "again"  # --config reproduces the run
    res = kerazoo("train", "--config", str(out / "config.json"), "--out", str(again), "--verbose", "0")
    assert res.returncode == 0, res.stderr
    assert json.loads((again / "metrics.json").read_text())["test"] == pytest.approx(metrics["test"], rel=1e-4)


def test_default_out_dir_is_under_runs(tmp_path):
    res = kerazoo("train", "mlp", "--data", "wine", "--epochs", "1", "--verbose", "0", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("mlp-") and (run / "manifest.json").exists()


@pytest.mark.parametrize("args,message", [
    (["train", "cnnn"], "unknown model 'cnnn'; did you mean: cnn?"),
    (["train", "cnn", "--set", "widht=3"], "--set widht: not an argument of this model"),
    (["train", "cnn", "--set", "dropout=high"], "--set dropout=high: expected a number"),
    (["train", "cnn", "--set", "dropout"], "expected key=value"),
    (["train", "cnn", "--epochs", "0"], "--epochs: expected a positive int"),
    (["train", "mlp", "--data", "digts"], "did you mean 'digits'?"),
    (["train", "cnn", "--data", "iris", "--epochs", "1"], "takes image inputs"),
    (["train", "--config", "/no/such.json"], "--config /no/such.json"),
    (["evaluate", "/no/such/run"], "no run directory"),
    (["describe", "vitt"], "did you mean: vit"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    res = kerazoo(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [li for li in res.stderr.splitlines() if li.startswith("kerazoo")]
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_existing_out_dir_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    res = kerazoo("train", "mlp", "--data", "iris", "--out", str(tmp_path))
    assert res.returncode == 2 and "already exists and is not empty" in res.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_version_and_help():
    res = kerazoo("--version")
    assert res.returncode == 0 and res.stdout.startswith("kerazoo ")
    res = kerazoo("--help")
    assert res.returncode == 0 and "train" in res.stdout and "exit codes" in res.stdout
    assert kerazoo().returncode == 2  # no command: help and a usage exit

"""Tuning across processes: a search killed mid-trial and resumed, a chief with two workers,
and each trial in a fresh process. Each starts `kerazoo tune` processes as a user would;
searches are tiny and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
JOB = """\
model: mlp
data: iris
space: {{depth: 1, width: [8, 16, 32], batch_size: 36, batch_norm: false, l2: 0.0}}
tuner: random
budget: {{max_trials: {trials}, epochs: {epochs}}}
tensorboard: false
output: {output}
winner: {{retrain: false}}
"""


def tune(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kerazoo", "tune", *map(str, args), "--verbose", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)


def finish(proc: subprocess.Popen, timeout: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"kerazoo tune did not finish in {timeout} s:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    return out


def statuses(search_dir: Path) -> dict[str, str]:
    out = {}
    for path in search_dir.glob("trial_*/trial.json"):
        try:
            out[path.parent.name] = json.loads(path.read_text())["status"]
        except (ValueError, KeyError, OSError):
            pass  # being written
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_search_killed_mid_trial_resumes_with_exactly_max_trials(tmp_path, capsys):
    out = tmp_path / "out"
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(trials=3, epochs=3, output=out))
    proc = tune(job)
    deadline = time.monotonic() + 240
    try:
        while True:  # kill once a trial has finished and the next one is running
            s = statuses(out / "search")
            if "COMPLETED" in s.values() and "RUNNING" in s.values():
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no trial ran while the search was alive: {s}\n{proc.stdout.read()[-3000:]}")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = {k for k, v in statuses(out / "search").items() if v == "RUNNING"}
    assert killed and not (out / "trials.json").exists()

    code, out_text, err = run_cli(["tune", str(job), "--verbose", "0"], capsys)  # the same command again (in-process:
    assert code == 0, err  # the kill above needed a process; the resume reads only what it left on disk)
    assert "resuming the search" in out_text + err
    trials = json.loads((out / "trials.json").read_text())["trials"]
    ids = [t["trial_id"] for t in trials]
    assert sorted(ids) == ["0", "1", "2"] and len(set(ids)) == 3
    assert all(t["status"] == "COMPLETED" for t in trials)
    resumed = {f"trial_{t['trial_id']}" for t in trials if t["starts"] == 2}
    assert resumed == killed  # the killed trial ran again under its own id; no finished trial did
    assert len({json.dumps(t["hyperparameters"], sort_keys=True) for t in trials}) == 3


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """Read the process's output until a line holding `text`; what was read."""
    import selectors

    seen, end = [], time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < end:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if not line:
                    pytest.fail(f"the process ended (rc {proc.wait()}) before {text!r}:\n{''.join(seen)[-3000:]}")
                seen.append(line)
                if text in line:
                    return "".join(seen)
    pytest.fail(f"no {text!r} in {timeout} s:\n{''.join(seen)[-3000:]}")


def test_a_chief_and_two_workers_share_a_search(tmp_path):
    out = tmp_path / "out"
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(trials=6, epochs=2, output=out))
    address = f"127.0.0.1:{free_port()}"
    # The chief first, then both workers once it serves: started all at once on 2 cores, the three
    # TensorFlow imports and gRPC's growing reconnect backoff let one worker take every trial before
    # the other asked. Now both connect on their first try, and their start differs by an import's jitter.
    chief = tune(job, "--chief", "--address", address)
    workers = []
    try:
        serving = wait_for_line(chief, f"serving the search on {address}", timeout=240)
        workers = [tune(job, "--worker", w, "--address", address) for w in ("w1", "w2")]
        logs = [finish(p, timeout=300) for p in workers] + [serving + finish(chief, timeout=300)]
    finally:
        for p in (chief, *workers):
            if p.poll() is None:
                p.kill()
    assert all(f"worker {w}: asking the chief at {address}" in log for w, log in zip(("w1", "w2"), logs))
    assert all("no trials left" in log for log in logs[:2])
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert len(trials) == 6 and all(t["status"] == "COMPLETED" for t in trials)
    assert {t["tuner"] for t in trials} == {"w1", "w2"}  # both workers ran trials
    assert (out / "best.json").exists()


def test_trials_in_fresh_processes(tmp_path):
    from kerazoo import load_data
    from tuning import search

    result = search("mlp", load_data("iris"), tuner="random", max_trials=2, epochs=2, directory=tmp_path / "s",
                    space={"depth": 1, "width": [8, 16], "batch_size": 36}, isolate_trials=True,
                    tensorboard=True, log=None)
    assert [t["status"] for t in result.trials] == ["COMPLETED", "COMPLETED"]
    tuner = result._tuner
    assert set(tuner.trial_peaks) == {"0", "1"} and all(v > 0 for v in tuner.trial_peaks.values())
    assert result.best_model.count_params() > 0  # its checkpoint was written by the trial's process
    assert list((tmp_path / "s" / "tensorboard").rglob("events.out.tfevents.*"))

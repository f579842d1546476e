"""Tuning across processes: a search killed mid-trial and resumed, a chief with two workers,
recycled trial workers (replaced after their trial limit; one killed mid-trial). Each starts `kerazoo tune` processes as a user would;
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
    proc = tune(job)  # its trials in a worker process
    deadline = time.monotonic() + 240
    try:
        while True:  # kill once a trial has finished and the next one is running
            s = statuses(out / "search")
            workers = children(proc.pid)
            if "COMPLETED" in s.values() and "RUNNING" in s.values() and workers:
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
    end = time.monotonic() + 30
    while any(alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers)  # the worker died with its search: nothing trains on

    # the same command again, its trials in this process (the kill above needed processes; the resume
    # reads only what they left on disk)
    code, out_text, err = run_cli(["tune", str(job), "--verbose", "0", "--in-process"], capsys)
    assert code == 0, err
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
    try:  # w2 runs its trials in a recycled trial worker, as by default; w1 in its own process (one import less)
        serving = wait_for_line(chief, f"serving the search on {address}", timeout=240)
        workers = [tune(job, "--worker", "w1", "--address", address, "--in-process"),
                   tune(job, "--worker", "w2", "--address", address)]
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


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


SMALL = {"depth": 1, "width": [8, 16, 32], "batch_size": 36, "batch_norm": False, "l2": 0.0}


def test_a_worker_is_replaced_after_its_trial_limit_and_the_search_ends_with_max_trials(tmp_path):
    from kerazoo import load_data
    from tuning import search

    data = load_data("iris", seed=0)
    settings = dict(tuner="random", max_trials=3, epochs=2, space=SMALL, seed=0, log=None)
    result = search("mlp", data, directory=tmp_path / "s", trials_per_worker=2, tensorboard=True, **settings)
    tuner = result._tuner
    assert tuner.workers.started == 2  # trials 0 and 1 in the first worker, trial 2 in its replacement
    pids = tuner.trial_workers
    assert pids["0"] == pids["1"] != pids["2"] and not any(alive(p) for p in pids.values())
    assert [t["trial_id"] for t in result.trials] == ["0", "1", "2"]
    assert [(t["status"], t["starts"]) for t in result.trials] == [("COMPLETED", 1)] * 3
    assert len({json.dumps(t["hyperparameters"], sort_keys=True) for t in result.trials}) == 3
    assert all(v > 0 for v in tuner.trial_peaks.values())
    assert result.best_model.count_params() > 0  # its checkpoint was written by the worker
    assert list((tmp_path / "s" / "tensorboard").rglob("events.out.tfevents.*"))
    here = search("mlp", data, directory=tmp_path / "here", isolate_trials=False, tensorboard=False, **settings)
    assert [t["score"] for t in here.trials] == pytest.approx([t["score"] for t in result.trials], rel=1e-4)


def test_a_worker_killed_mid_trial_costs_that_trial_once_and_nothing_else(tmp_path):
    import threading

    from kerazoo import load_data
    from tuning import search

    lines, outcome = [], {}

    def run():
        try:
            outcome["result"] = search("mlp", load_data("iris", seed=0), tuner="random", max_trials=3, epochs=3,
                                       space=SMALL, directory=tmp_path / "s", tensorboard=False,
                                       log=lines.append)
        except BaseException as err:  # noqa: BLE001  (reported below)
            outcome["error"] = err

    searching = threading.Thread(target=run, daemon=True)
    searching.start()
    deadline, victim = time.monotonic() + 240, None
    while victim is None:  # kill the worker once a trial has finished and the next one is running
        s = statuses(tmp_path / "s" / "search")
        workers = children(os.getpid())
        if list(s.values()).count("COMPLETED") == 1 and "RUNNING" in s.values() and workers:
            victim = workers[0]
            running = next(k for k, v in s.items() if v == "RUNNING")
        elif not searching.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"no second trial ran while the search was alive: {s} {outcome}")
        time.sleep(0.02)
    os.kill(victim, signal.SIGKILL)
    searching.join(timeout=240)
    assert not searching.is_alive() and "error" not in outcome, outcome
    trials = outcome["result"].trials
    assert [(t["trial_id"], t["status"]) for t in trials] == [("0", "COMPLETED"), ("1", "COMPLETED"),
                                                               ("2", "COMPLETED")]
    assert {f"trial_{t['trial_id']}": t["starts"] for t in trials} == {"trial_0": 1, "trial_1": 1, "trial_2": 1,
                                                                       running: 2}
    assert outcome["result"]._tuner.workers.started == 2  # the replacement ran the rest
    assert [li for li in lines if "fresh worker" in li] == [
        f"trial {running[len('trial_'):]}: the trial worker was killed (SIGKILL); running it again in a fresh worker"]

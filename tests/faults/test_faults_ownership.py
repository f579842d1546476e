"""Nothing the user made is lost or silently replaced: folders, concurrent writers, resumes, bad images."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _faultkit import ENV, nan_at

CSV_MESSAGE = "has a header but no data rows"
TRAIN = ["train", "mlp", "--set", "width=8", "--verbose", "0"]


@pytest.fixture
def header_only(tmp_path) -> Path:
    path = tmp_path / "header_only.csv"
    path.write_text("a,b,label\n")
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kerazoo: error: ") and "Traceback" not in err, err
    return err


def _snapshot(folder: Path) -> dict:
    """Every file under a folder: its bytes and its modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["empty folder", "symlink to a folder", "the current folder"])
def test_a_failed_run_keeps_the_folder_the_user_made_and_reports_the_real_error(kind, header_only, tmp_path,
                                                                                 capsys, monkeypatch):
    from kerazoo.cli import main

    mine = tmp_path / "mine"
    mine.mkdir()
    out = str(mine)
    if kind == "symlink to a folder":
        (tmp_path / "link").symlink_to(mine, target_is_directory=True)
        out = str(tmp_path / "link")
    elif kind == "the current folder":
        monkeypatch.chdir(mine)
        out = "."
    assert main([*TRAIN, "--data", str(header_only), "--out", out]) == 2
    assert CSV_MESSAGE in _one_line(capsys)  # the CSV's own message, not the clean-up's
    assert mine.is_dir() and os.listdir(mine) == []  # kept, as it was: not even a lock file left
    if kind == "symlink to a folder":
        assert (tmp_path / "link").is_symlink()


def test_a_failed_run_removes_the_folders_it_made_and_nothing_else(header_only, tmp_path, capsys, monkeypatch):
    from kerazoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([*TRAIN, "--data", str(header_only), "--out", "new/deep/run"]) == 2
    assert main([*TRAIN, "--data", str(header_only)]) == 2  # the default runs/<name>-<time>/
    capsys.readouterr()
    assert sorted(os.listdir(tmp_path)) == ["header_only.csv"]  # neither new/ nor runs/ is left


@pytest.mark.multiprocess
def test_two_trainings_into_one_out_the_second_is_refused_and_the_first_is_intact(tmp_path):
    from kerazoo.runs import check_run, load_run

    out = tmp_path / "same"
    first = subprocess.Popen([sys.executable, "-m", "kerazoo", *TRAIN, "--data", "digits", "--epochs", "3",
                              "--batch-size", "16", "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        end = time.monotonic() + 60
        while not (out / ".kerazoo.lock").exists():  # the first owns the folder (before TensorFlow loads)
            assert first.poll() is None and time.monotonic() < end, first.stdout.read()
            time.sleep(0.02)
        second = subprocess.run([sys.executable, "-m", "kerazoo", "train", "mlp", "--data", "iris", "--epochs", "1",
                                 "--set", "width=16", "--out", str(out)],
                                capture_output=True, text=True, env=ENV, timeout=120)
        assert first.poll() is None, "the first training ended before the second started: the test proves nothing"
        assert second.returncode == 2, second.stderr
        lines = [li for li in second.stderr.splitlines() if li.strip()]
        assert len(lines) == 1 and f"run directory {str(out)!r} is in use: process {first.pid} on " in lines[0]
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert "run written to" in first.stdout.read()
    check_run(out)  # every file as the first one wrote it
    run = load_run(out, load_model=False)
    assert run.config["model"] == "mlp" and run.config["data"]["source"] == "digits"
    assert run.config["overrides"] == {"width": 8} and len(run.history["loss"]) == 3
    assert not (out / ".kerazoo.lock").exists()


def _holder(run_dir: Path, then: str) -> subprocess.Popen:
    """A real process that takes the run directory's lock, says so, then `then` ("sleep" or "die")."""
    code = ("import os, signal, sys, time\n"
            "from kerazoo.runlock import hold\n"
            "with hold(sys.argv[1]):\n"
            "    print('held', flush=True)\n"
            "    if sys.argv[2] == 'die':\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir), then], stdout=subprocess.PIPE, text=True,
                            env=ENV)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.multiprocess
def test_fit_from_python_is_refused_while_another_process_writes_the_run(tmp_path):
    from kerazoo import build, fit, load_data
    from kerazoo.runlock import RunDirInUse

    run = tmp_path / "run"
    holder = _holder(run, "sleep")
    try:
        (run / "theirs.txt").write_text("the other writer's file")
        before = _snapshot(run)
        data = load_data("iris", batch_size=16)
        with pytest.raises(RunDirInUse, match=f"is in use: process {holder.pid} on "):
            fit(build("mlp", data.spec, width=8), data, epochs=1, run_dir=run, verbose=0)
        assert _snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.multiprocess
def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, caplog):
    from kerazoo import build, fit, load_data
    from kerazoo.runs import check_run

    run = tmp_path / "run"
    holder = _holder(run, "die")
    assert holder.wait(timeout=60) == -signal.SIGKILL
    stale = json.loads((run / ".kerazoo.lock").read_text())
    assert stale["pid"] == holder.pid  # left behind: nobody released it

    data = load_data("iris", batch_size=16)
    with caplog.at_level("INFO", logger="kerazoo"):
        fit(build("mlp", data.spec, width=8), data, epochs=1, run_dir=run, verbose=0)
    assert f"left locked by process {holder.pid} on " in caplog.text and "taking it over" in caplog.text
    check_run(run)
    assert not (run / ".kerazoo.lock").exists()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> Path:
    """An iris run that diverged in epoch 2: a checkpoint after epoch 1, resumable."""
    from kerazoo import build, fit, load_data
    from kerazoo.resume import TrainingDiverged, checkpoint_epoch

    data = load_data("iris", batch_size=16, seed=0)
    run = tmp_path_factory.mktemp("runs") / "failed"
    model = build("mlp", data.spec, width=8)
    with pytest.raises(TrainingDiverged):
        fit(model, data, epochs=2, run_dir=run, verbose=0, seed=0, callbacks=["default", nan_at(1, 0)])
    assert checkpoint_epoch(run) == 1
    return run


@pytest.mark.parametrize("flags,named", [
    (["cnn", "--data", "digits"], "model 'cnn' (the run's is 'mlp'); --data digits (the run's is iris)"),
    (["--set", "width=16"], "--set width=16 (the run's is 8)"),
    (["--data", "wine"], "--data wine (the run's is iris)"),
    (["--test-split", "0.3", "--seed", "4"], "--test-split 0.3 (the run's is 0.2); --seed 4 (the run's is 0)"),
    (["--task", "regression"], "--task regression (the run's is the default)"),
])
def test_a_mismatched_resume_changes_no_file_and_names_the_difference(failed_run, tmp_path, capsys, flags, named):
    import shutil

    from kerazoo.cli import main

    run = Path(shutil.copytree(failed_run, tmp_path / "run"))
    before = _snapshot(run)
    name, rest = (flags[:1], flags[1:]) if not flags[0].startswith("-") else ([], flags)
    assert main(["train", *name, "--resume", "--out", str(run), *rest, "--verbose", "0"]) == 2
    err = _one_line(capsys)
    assert f"--resume --out {run}: not the same run: {named}" in err
    assert _snapshot(run) == before and sorted(os.listdir(run)) == sorted(os.listdir(failed_run))


def test_the_run_still_resumes_after_a_refused_resume(failed_run, tmp_path, capsys):
    import shutil

    from kerazoo.cli import main
    from kerazoo.runs import load_run

    run = Path(shutil.copytree(failed_run, tmp_path / "run"))
    assert main(["train", "cnn", "--data", "digits", "--resume", "--out", str(run)]) == 2
    assert main(["train", "--resume", "--out", str(run), "--set", "width=8", "--data", "iris", "--verbose", "0"]) == 0
    done = load_run(run, load_model=False)
    assert done.metrics["resumed_at_epoch"] == 1 and done.metrics["epochs"] == 2


def test_resume_of_a_folder_that_does_not_exist_stops(tmp_path, capsys, monkeypatch):
    from kerazoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "mlp", "--data", "iris", "--resume", "--out", "runs/typo"]) == 2
    assert "--resume --out runs/typo: there is no run there (no such folder)" in _one_line(capsys)
    assert os.listdir(tmp_path) == []


@pytest.fixture
def images_with_a_bad_file(tmp_path) -> tuple[Path, list[Path]]:
    import numpy as np
    from PIL import Image

    root = tmp_path / "photos"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8, 3), 30 * i, "uint8")).save(root / label / f"{i}.png")
    bad = [root / "dog" / "cut.png", root / "cat" / "notes.jpg"]
    bad[0].write_bytes((root / "dog" / "1.png").read_bytes()[:40])  # a truncated PNG
    bad[1].write_bytes(b"not an image at all")
    return root, bad


def test_a_corrupt_image_is_named_before_training(images_with_a_bad_file, tmp_path, capsys):
    from kerazoo import load_data
    from kerazoo.cli import main

    root, bad = images_with_a_bad_file
    with pytest.raises(ValueError, match=r"photos: 2 of 14 images do not decode .*: .*notes.jpg, .*cut.png"):
        load_data(str(root), image_size=(8, 8))
    out = tmp_path / "run"
    assert main(["train", "cnn", "--data", str(root), "--epochs", "1", "--out", str(out), "--verbose", "0"]) == 2
    err = _one_line(capsys)
    assert str(bad[0]) in err and str(bad[1]) in err
    assert not out.exists()  # nothing was written: no config.json, history.csv or checkpoint/

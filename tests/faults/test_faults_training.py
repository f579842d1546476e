"""Faults during training: a SIGKILL mid-epoch, then `--resume`; a loss that turns NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _faultkit import kerazoo, kill_when, nan_at

TRAIN = ["train", "mlp", "--data", "digits", "--epochs", "3", "--batch-size", "8", "--verbose", "0"]


def _checkpointed(run: Path, epochs: int):
    def ready() -> bool:
        try:
            return json.loads((run / "checkpoint" / "training_metadata.json").read_text())["epoch"] >= epochs
        except (OSError, ValueError, KeyError):
            return False
    return ready


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    from kerazoo.cli import main
    from kerazoo.runs import RunError, check_run, load_run

    run = tmp_path / "killed"
    # killed a moment into epoch 2, after epoch 1's checkpoint
    kill_when([*TRAIN, "--out", str(run)], _checkpointed(run, 1), delay=0.3)
    with pytest.raises(RunError, match="unfinished .* after epoch 1 .* --resume --out"):
        check_run(run)
    assert not (run / "model.keras").exists() and not (run / "manifest.json").exists()
    assert main(["evaluate", str(run)]) == 2  # an unfinished run is refused, in one line
    assert capsys.readouterr().err.count("\n") == 1
    # what the killed run wrote when it started is what an uninterrupted run writes: its settings and columns
    started = json.loads((run / "config.json").read_text())["fit"]
    columns = (run / "history.csv").read_text().splitlines()[0].split(",")

    res = kerazoo(*TRAIN[:2], "--resume", "--out", str(run), "--verbose", "0")
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = load_run(run, load_model=False)
    assert resumed.metrics["resumed_at_epoch"] == 1
    assert not (run / "checkpoint").exists()  # a complete run has nothing left to resume
    assert resumed.metrics["epochs"] == started["epochs"] == 3
    assert list(resumed.history) == [c for c in columns if c != "epoch"] and "val_loss" in columns
    assert {len(v) for v in resumed.history.values()} == {3}
    assert resumed.config["fit"] == started
    assert main(["train", "--resume", "--out", str(run)]) == 2  # a complete run: nothing to resume
    assert "already complete" in capsys.readouterr().err


@pytest.mark.multiprocess
def test_ctrl_c_mid_training_exits_130_and_keeps_a_run_that_resumes(tmp_path, capsys):
    """SIGINT, as a terminal sends on Ctrl-C, to a real `kerazoo train` a moment into epoch 2."""
    import signal

    from kerazoo.cli import main
    from kerazoo.runlock import LOCK_NAME
    from kerazoo.runs import RunError, check_run, load_run

    run = tmp_path / "run"
    # batches of 2: epoch 2 lasts ~650 steps, longer than a busy machine can delay this process's wake-up (with
    # batches of 8 it could end, and the run complete, before the signal came)
    out = kill_when([*TRAIN[:4], "--epochs", "2", "--batch-size", "2", "--verbose", "0", "--out", str(run)],
                    _checkpointed(run, 1), delay=0.3, sig=signal.SIGINT, exit_code=130)
    assert out.rstrip().endswith("kerazoo: interrupted") and "Traceback" not in out
    with pytest.raises(RunError, match="unfinished .* after epoch 1 .* --resume --out"):
        check_run(run)
    assert {"config.json", "history.csv", "checkpoint"} <= {p.name for p in run.iterdir()}
    assert not (run / "model.keras").exists() and not (run / LOCK_NAME).exists()  # the lock is let go
    assert len((run / "history.csv").read_text().splitlines()) == 2  # a header and epoch 1

    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--verbose", "0"]) == 0
    assert "taking it over" not in capsys.readouterr().out  # nothing stale to take over
    resumed = load_run(run, load_model=False)
    assert resumed.metrics["resumed_at_epoch"] == 1 and {len(v) for v in resumed.history.values()} == {2}


def test_nan_from_a_huge_learning_rate_fails_the_run_with_exit_1(tmp_path, capsys):
    from kerazoo.cli import main
    from kerazoo.runs import RunError, load_run

    run = tmp_path / "run"
    code = main(["train", "mlp", "--data", "iris", "--epochs", "3", "--optimizer", "sgd",
                 "--learning-rate", "1e12", "--out", str(run), "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("kerazoo: error: training diverged: the loss became nan at "
                                                   "epoch 1, step ")
    assert "marked failed" in err and "Traceback" not in err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "epoch 1, step" in manifest["reason"]
    assert not (run / "model.keras").exists()
    with pytest.raises(RunError, match="status 'failed': training diverged"):
        load_run(run)


def test_nan_mid_training_keeps_the_last_good_checkpoint_and_resumes_from_it(tmp_path):
    from kerazoo import build, fit, load_data
    from kerazoo.resume import TrainingDiverged, checkpoint_epoch
    from kerazoo.runs import load_run

    data = load_data("iris", batch_size=16, seed=0)
    run = tmp_path / "run"
    model = build("mlp", data.spec, width=8)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 4 \(of 3 epochs\); run .* is "
                                               r"marked failed; the last good checkpoint \(after epoch 1\)"):
        fit(model, data, epochs=3, run_dir=run, verbose=0, callbacks=["default", nan_at(1, 3)])
    assert checkpoint_epoch(run) == 1
    from kerazoo.io import dir_mode, file_mode

    kept = [run / "checkpoint", *(run / "checkpoint").rglob("*")]  # readable by others, as the run is
    assert {oct(p.stat().st_mode & 0o777) for p in kept if p.is_file()} == {oct(file_mode())}
    assert {oct(p.stat().st_mode & 0o777) for p in kept if p.is_dir()} == {oct(dir_mode())}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["diverged"] == {"epoch": 2, "step": 4}

    result = fit(build("mlp", data.spec, width=8), data, epochs=3, run_dir=run, verbose=0)  # resume: lr fixed
    assert result.epochs == 3
    done = load_run(run, load_model=False)
    assert done.metrics["resumed_at_epoch"] == 1
    assert all(len(v) == 3 and all(x == x for x in v) for v in done.history.values())  # the NaN row is gone


def test_short_epochs_save_the_checkpoint_every_few_epochs_and_keep_the_last_saved(tmp_path, monkeypatch):
    """Saves made slow (20 ms) against iris' epochs of a few steps: the first epoch is saved, then only
    once saving costs at most a tenth of the time since the last save; a NaN keeps the last one saved."""
    import time

    from kerazoo import build, fit, load_data
    from kerazoo.resume import RunBackup, TrainingDiverged, checkpoint_epoch

    saved, spans = [], []  # the epoch each save holds; (start, end) of each
    real = RunBackup._save_model

    def slow_save(self):
        start = time.monotonic()
        time.sleep(0.02)
        real(self)
        saved.append(self._current_epoch)
        spans.append((start, time.monotonic()))

    monkeypatch.setattr(RunBackup, "_save_model", slow_save)
    data = load_data("iris", seed=0)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"at epoch 31, step 1 \(of 40 epochs\).*last good checkpoint "
                                               r"\(after epoch (\d+)\)") as err:
        fit(build("mlp", data.spec, width=8), data, epochs=40, run_dir=run, verbose=0,
            callbacks=["default", nan_at(30, 0)])
    assert saved[0] == 1 and 2 <= len(saved) < 30, saved  # 30 good epochs, a few saves
    for (before, after), (start, _) in zip(spans, spans[1:]):  # each save waited ten times the one before
        assert start - after >= 10 * (after - before), spans
    assert checkpoint_epoch(run) == saved[-1] == int(err.value.args[0].split("after epoch ")[1].split(")")[0])


def test_resume_with_a_lower_learning_rate_after_a_nan_finishes_the_run(tmp_path, capsys, monkeypatch):
    """The README's advice after a NaN, as a user types it: `kerazoo train --resume --out RUN --learning-rate LR`."""
    import kerazoo.train
    from kerazoo.cli import main
    from kerazoo.runs import load_run

    real = kerazoo.train.make_callbacks
    monkeypatch.setattr(kerazoo.train, "make_callbacks", lambda *a, **k: [*real(*a, **k), nan_at(1, 3)])
    run = tmp_path / "run"
    assert main(["train", "mlp", "--data", "iris", "--epochs", "3", "--set", "width=8", "--learning-rate", "0.05",
                 "--out", str(run), "--verbose", "0"]) == 1
    assert "loss became nan at epoch 2, step 4" in capsys.readouterr().err
    monkeypatch.setattr(kerazoo.train, "make_callbacks", real)

    assert main(["train", "--resume", "--out", str(run), "--learning-rate", "0.01", "--verbose", "0"]) == 0
    done = load_run(run)  # complete: the failed status is gone, the model is written
    assert done.metrics["resumed_at_epoch"] == 1 and done.metrics["epochs"] == 3
    assert done.config["compile"]["learning_rate"] == 0.01  # the new rate, recorded
    schedule = done.model.optimizer.get_config()["learning_rate"]  # and trained with: the cosine schedule's peak
    assert schedule["class_name"] == "CosineDecay" and schedule["config"]["initial_learning_rate"] == 0.01
    assert all(len(v) == 3 and all(x == x for x in v) for v in done.history.values())  # the NaN row is gone
    assert done.config["overrides"] == {"width": 8} and done.config["data"]["source"] == "iris"


def test_nan_without_a_run_dir_stops_with_a_warning(caplog):
    from kerazoo import build, fit, load_data

    data = load_data("iris", batch_size=16, seed=0)
    result = fit(build("mlp", data.spec, width=8), data, epochs=3, verbose=0, callbacks=["none", nan_at(0, 2)])
    assert result.epochs == 1
    assert "loss became nan at epoch 1, step 3" in caplog.text


def test_a_ctrl_c_in_training_is_held_to_the_end_of_the_step_and_a_second_one_acts_at_once():
    """The command's SIGINT handler: inside training a first Ctrl-C waits for the step's end, never inside
    TensorFlow's native code (an interrupt there once ended a run with a segmentation fault, not exit 130)."""
    import os
    import signal

    from kerazoo.console import interrupts_between_steps, raise_if_interrupted, training_interrupts

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (xdist ignores it)
    try:
        with interrupts_between_steps() as installed:
            assert installed
            with training_interrupts():
                os.kill(os.getpid(), signal.SIGINT)  # mid-step: held
                with pytest.raises(KeyboardInterrupt):
                    raise_if_interrupted()  # ... to the step's end
                raise_if_interrupted()  # nothing left pending
                os.kill(os.getpid(), signal.SIGINT)  # held again
                with pytest.raises(KeyboardInterrupt):
                    os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C: at once
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)  # outside training: at once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, previous)

"""Surviving faults during training: an epoch checkpoint to resume from, and a NaN guard.

`fit(..., run_dir=...)` keeps `RUN/checkpoint/` (Keras' `BackupAndRestore`:
the weights with the optimizer state, and the number of finished epochs),
saved atomically at the end of an epoch: every epoch, unless epochs are so
short that saving would take more than a tenth of the training time (a small
data set's epochs of a step or two); then every few epochs (`backup_due`). A
killed run is continued from the last saved epoch by calling `fit` on the same
run directory again (`kerazoo train --resume --out RUN`); the checkpoint is
removed once the run is complete. `NaNGuard` stops training at the first NaN
or infinite loss and remembers where; `fit` then marks the run failed and
keeps the last checkpoint saved before it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from pathlib import Path

import keras

from kerazoo.compat import check_backup_and_restore
from kerazoo.console import raise_if_interrupted
from kerazoo.errors import TrainingDiverged

__all__ = ["NaNGuard", "StopOnInterrupt", "RunBackup", "TrainingDiverged", "CHECKPOINT", "SAVE_SHARE", "backup_due",
           "checkpoint_epoch", "history_before", "joined_history"]

CHECKPOINT = "checkpoint"  # the folder inside a run directory
SAVE_SHARE = 0.1  # the checkpoint may take at most this share of the training time


def backup_due(seconds_since_save: float, save_seconds: float | None, share: float = SAVE_SHARE) -> bool:
    """Whether an epoch's end saves the checkpoint: the first time, then once saving takes at most `share`
    of the time since the last save (a kill loses one epoch, or about 1/share saves' worth of training
    when epochs are shorter).

    Example: a save of 0.5 s after epochs of 8 s each (every one saved), and of 1 s (every fifth).
    >>> backup_due(3.0, None), backup_due(8.0, 0.5), backup_due(1.0, 0.5), backup_due(5.0, 0.5)
    (True, True, False, True)
    """
    return save_seconds is None or seconds_since_save * share >= save_seconds


def checkpoint_epoch(run_dir: str | os.PathLike) -> int | None:
    """The number of finished epochs the run's checkpoint holds, or None without one.

    Example:
    >>> import tempfile
    >>> checkpoint_epoch(tempfile.mkdtemp()) is None
    True
    """
    meta = Path(run_dir) / CHECKPOINT / "training_metadata.json"
    weights = Path(run_dir) / CHECKPOINT / "latest.weights.h5"
    try:
        epoch = json.loads(meta.read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(epoch) if isinstance(epoch, int) and weights.exists() else None


class StopOnInterrupt(keras.callbacks.Callback):
    """Raise a held Ctrl-C at the end of a step (`kerazoo.console.interrupts_between_steps`).

    Example:
    >>> StopOnInterrupt().on_train_batch_end(0)
    """

    def on_train_batch_end(self, batch, logs=None):
        raise_if_interrupted()

    def on_test_batch_end(self, batch, logs=None):
        raise_if_interrupted()

    def on_epoch_end(self, epoch, logs=None):
        raise_if_interrupted()


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """Stop training at the first NaN or infinite loss, and remember the epoch and step.

    Attributes:
        diverged: None, or `(epoch, step, loss)` (0-based) where the loss went bad.

    Example:
    >>> guard = NaNGuard()
    >>> guard.on_epoch_begin(2); guard.on_train_batch_end(6, {"loss": float("nan")})
    >>> guard.diverged, guard.where()
    ((2, 6, nan), 'epoch 3, step 7')
    """

    def __init__(self):
        super().__init__()
        self.diverged: tuple | None = None
        self.epoch = 0

    def on_train_begin(self, logs=None):
        self.diverged = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged is not None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.diverged = (self.epoch, int(batch), loss)
            if getattr(self, "_model", None) is not None:
                self.model.stop_training = True

    def where(self) -> str:
        """Where training diverged, 1-based as Keras' progress bar counts: `"epoch 3, step 7"`."""
        if self.diverged is None:
            return ""
        epoch, step, _ = self.diverged
        return f"epoch {epoch + 1}, step {step + 1}"


class RunBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` in `RUN/checkpoint/`, saved atomically, never saving a diverged state.

    Differences from Keras' callback: the weights and the epoch count are each
    written to a temporary file and renamed into place (a kill while saving
    leaves the previous checkpoint whole); an epoch's end saves only when
    `backup_due` (every epoch, unless epochs are shorter than ten saves); nothing
    is saved once `guard` has seen a NaN loss; and the checkpoint is kept at the
    end of training (`fit` removes it once the run is complete).

    Args:
        run_dir: the run directory.
        guard: the `NaNGuard` of the same training, if any.
    """

    def __init__(self, run_dir: str | os.PathLike, guard: NaNGuard | None = None):
        super().__init__(str(Path(run_dir) / CHECKPOINT), save_freq="epoch", delete_checkpoint=False)
        check_backup_and_restore(self)  # the atomic save below overrides a private method of Keras'
        self.guard = guard
        self._saved_at, self._save_seconds = time.monotonic(), None  # when the last save ended, and its seconds

    def on_train_begin(self, logs=None):
        self._saved_at, self._save_seconds = time.monotonic(), None
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as err:
            from kerazoo.runs import RunError

            raise RunError(f"the checkpoint in {self.backup_dir!r} does not load ({err}); remove that folder "
                           f"to train the run from the start") from None

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.diverged is not None:
            return  # the last good checkpoint stays
        start = time.monotonic()
        if not backup_due(start - self._saved_at, self._save_seconds):
            return  # a short epoch: the checkpoint of an earlier one stays, until saving costs its share
        super().on_epoch_end(epoch, logs)
        self._saved_at = time.monotonic()
        self._save_seconds = self._saved_at - start

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        tmp_weights = os.path.join(self.backup_dir, ".saving.weights.h5")
        self.model.save_weights(tmp_weights, overwrite=True)
        os.replace(tmp_weights, self._weights_path)
        tmp_meta = os.path.join(self.backup_dir, ".saving.json")
        with open(tmp_meta, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
        os.replace(tmp_meta, self._training_metadata_path)


def history_before(path: str | os.PathLike, epoch: int) -> dict[str, list[float]]:
    """The history rows of epochs before `epoch` (0-based), cutting the CSV file to them.

    A run killed after logging an epoch but before its checkpoint, or one that
    diverged, has rows the resumed run writes again: they are dropped, so the
    file stays one row per epoch. `epoch=0` removes the file.

    Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> _ = p.write_text("epoch,loss\\n0,0.9\\n1,0.5\\n2,nan\\n")
    >>> history_before(p, 2), p.read_text().splitlines()
    ({'loss': [0.9, 0.5]}, ['epoch,loss', '0,0.9', '1,0.5'])
    """
    path = Path(path)
    if not epoch:
        path.unlink(missing_ok=True)
        return {}
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = [r for r in reader if r and r[0].strip().isdigit() and int(r[0]) < epoch]
    except (OSError, StopIteration):
        return {}
    rows = list({int(r[0]): r for r in rows}.values())  # one row an epoch, the last written
    tmp = path.with_name(f".{path.name}.cut")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    os.replace(tmp, path)
    return {k: [float(r[i]) if i < len(r) and r[i] else math.nan for r in rows]
            for i, k in enumerate(header) if k != "epoch"}


def joined_history(earlier: dict, later: dict) -> dict[str, list[float]]:
    """The history of a resumed run: the epochs before the kill, then the resumed ones.

    Example:
    >>> joined_history({"loss": [0.9, 0.5]}, {"loss": [0.4], "val_loss": [0.6]})
    {'loss': [0.9, 0.5, 0.4], 'val_loss': [nan, nan, 0.6]}
    """
    if not earlier:
        return later
    n = len(next(iter(earlier.values()), []))
    if not later:
        return earlier
    return {k: list(earlier.get(k, [math.nan] * n)) + list(v) for k, v in later.items()}


def diverged(guard: NaNGuard, run_dir: Path | None, history: dict, epochs: int) -> TrainingDiverged:
    """The error for a diverged training; with a run directory, the run is first marked failed.

    The run keeps `config.json`, `history.csv` (the bad epoch's row shows the
    NaN), `metrics.json` with the reason, the checkpoint of the last good epoch,
    and a manifest with `"status": "failed"`: `load_run` refuses it, saying why.
    """
    epoch, step, loss = guard.diverged
    message = f"training diverged: the loss became {loss} at {guard.where()} (of {epochs} epochs)"
    if run_dir is None:
        return TrainingDiverged(message + "; training stopped there")
    from kerazoo import io, runs

    kept = checkpoint_epoch(run_dir)
    if kept:
        note = (f"the last good checkpoint (after epoch {kept}) is kept in {run_dir / CHECKPOINT}; lower the "
                f"learning rate and continue: kerazoo train --resume --out {run_dir} --learning-rate LR")
    else:
        note = "no epoch finished, so there is no checkpoint; lower the learning rate and train again"
    runs.write_history(run_dir / "history.csv", history)
    io.write_json(run_dir / "metrics.json", {"epochs": len(next(iter(history.values()), [])),
                                               "failed": message, "diverged": {"epoch": epoch + 1,
                                                                               "step": step + 1}})
    runs.finish_run(run_dir, status="failed", reason=message)
    return TrainingDiverged(f"{message}; run {run_dir} is marked failed; {note}")


def remove_checkpoint(run_dir: str | os.PathLike) -> None:
    """Remove a complete run's checkpoint (nothing is left to resume)."""
    shutil.rmtree(Path(run_dir) / CHECKPOINT, ignore_errors=True)

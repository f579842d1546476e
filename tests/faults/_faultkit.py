"""Shared pieces of the fault-injection tests: the CLI in a subprocess, and killing it at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def kerazoo(*args: str, cwd: str | Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m kerazoo ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "kerazoo", *args], capture_output=True, text=True, env=ENV,
                          cwd=cwd, timeout=timeout)


def _as_from_a_terminal() -> None:
    """In the child before it starts: SIGINT as a terminal leaves it. A process inherits an ignored SIGINT, and
    Python then never turns Ctrl-C into KeyboardInterrupt: the test process may ignore it by the time this runs
    (a library of an earlier test set it so)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_when(args: list[str], ready: Callable[[], bool], *, cwd: str | Path | None = None,
              timeout: float = 180, delay: float = 0.0, sig: int = signal.SIGKILL, exit_code: int | None = None) -> str:
    """Start `python -m kerazoo ARGS`, send it `sig` (SIGKILL) `delay` seconds after `ready()` holds; its output.

    Fails the test if the process ends on its own before the signal, or with another exit code than
    `exit_code` (for SIGKILL, -SIGKILL).
    """
    proc = subprocess.Popen([sys.executable, "-m", "kerazoo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV, cwd=cwd, preexec_fn=_as_from_a_terminal)
    try:
        end = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"the process ended (rc {proc.returncode}) before the fault: "
                                     f"{proc.stdout.read()[-2000:]}")
            if time.monotonic() > end:
                raise AssertionError("the moment to kill never came")
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, "the process ended before it could be killed"
        proc.send_signal(sig)
        proc.wait(timeout=60)
        output = proc.stdout.read()
        assert proc.returncode == (-sig if exit_code is None else exit_code), (proc.returncode, output[-2000:])
        return output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def nan_at(epoch: int, step: int):
    """A callback that puts a NaN into the first kernel before step `step` of epoch `epoch` (0-based)."""
    import keras
    import numpy as np

    class Poison(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.epoch = e

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == epoch and batch == step:
                kernel = next(w for w in self.model.trainable_weights if len(w.shape) == 2)
                value = np.array(kernel.numpy())
                value[0, 0] = np.nan
                kernel.assign(value)

    return Poison()

"""Recycled trial workers: long-lived processes that run a search's trials, replaced as they age.

Memory grows across trials in one process whatever Keras clears (keras-tuner
#395, #873, #1031); a fresh process per trial cures it but pays a TensorFlow
import and a data load every trial. A worker here (`python -m tuning.trial`)
pays them once, then runs trial after trial sent down its stdin, each answered
with one JSON line on a pipe of its own (its stdout stays free for Keras'
progress). Like a process pool's task limit per child, the searching process
retires a worker after `trials_per_worker` trials, or as soon as its resident
memory passes `worker_memory` MiB, and starts a fresh one for the next trial:
memory stays bounded and the start-up cost is shared by many trials.

A worker that dies in the middle of a trial (killed, out of memory) costs that
trial one more start in a fresh worker, and nothing else; a trial whose second
worker dies too fails alone, as any failing trial does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile

__all__ = ["TrialWorkers", "WorkerDied", "should_retire", "isolation_problem", "DEFAULT_TRIALS_PER_WORKER"]

#: Trials a worker runs before it is replaced (a process pool's task limit per child).
DEFAULT_TRIALS_PER_WORKER = 16


class WorkerDied(RuntimeError):
    """A trial worker ended without answering (killed, out of memory, crashed)."""


def should_retire(trials_run: int, rss_kb: int, *, trials_per_worker: int, worker_memory: float | None) -> bool:
    """Whether a worker that has run `trials_run` trials and holds `rss_kb` KiB is due for replacement.

    Example:
    >>> should_retire(3, 900_000, trials_per_worker=10, worker_memory=None)
    False
    >>> should_retire(10, 900_000, trials_per_worker=10, worker_memory=None)  # its trial limit
    True
    >>> should_retire(3, 900_000, trials_per_worker=10, worker_memory=800)  # past 800 MiB
    True
    """
    if trials_run >= trials_per_worker:
        return True
    return worker_memory is not None and rss_kb > worker_memory * 1024


def isolation_problem(model_name: str, data) -> str | None:
    """Why the trials of `model_name` on `data` cannot run in worker processes, or None when they can.

    A worker rebuilds the data from arrays and the model from its registered
    family, so the data must be held in memory and the family's builder defined
    at the top level of an importable module (a worker imports it).

    Example:
    >>> from kerazoo import load_data
    >>> isolation_problem("mlp", load_data("iris")) is None
    True
    """
    from kerazoo.registry import get_entry

    if not data.arrays or "train" not in data.arrays:
        return "the data streams from tf.data (workers need data held in memory: bundled sets, arrays, .csv, folders)"
    fn = get_entry(model_name).fn
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        where = "in __main__" if module == "__main__" else "inside a function"
        return (f"model {model_name!r} is registered {where}, so a worker process cannot import it "
                f"(define it at the top level of a module)")
    return None


def _python_path() -> str:
    """This process's import path, so that a worker imports what it imports (a script's own folder too)."""
    paths = [p or os.getcwd() for p in sys.path]
    extra = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*dict.fromkeys(paths), *([extra] if extra else [])])


class TrialWorkers:
    """The worker processes of one searching process: one at a time, replaced as it ages.

    Args:
        data_file: the `.npz` of the training and validation arrays (from `search`).
        modules: modules a worker imports before its first trial (the model family's).
        trials_per_worker: trials before a worker is replaced. Defaults to 16
            (1: a fresh process per trial).
        worker_memory: replace a worker whose resident memory passes this many
            MiB after a trial. Defaults to None (the trial limit alone).
        verbose: let the workers' training output through. Defaults to False.
        log: where a line goes when a worker dies. Defaults to None (silent).
    """

    def __init__(self, data_file: str, *, modules: tuple = (), trials_per_worker: int = DEFAULT_TRIALS_PER_WORKER,
                 worker_memory: float | None = None, verbose: bool = False, log=None):
        self.data_file = data_file
        self.modules = tuple(modules)
        self.trials_per_worker = trials_per_worker
        self.worker_memory = worker_memory
        self.verbose = verbose
        self.log = log or (lambda *a, **k: None)
        self.proc: subprocess.Popen | None = None
        self.started = 0  # workers started so far
        self.trials_run = 0  # by the current worker
        self._answers = None
        self._stderr = None

    # -- one worker ---------------------------------------------------------------------------

    def _start(self) -> None:
        read, write = os.pipe()
        self._stderr = tempfile.TemporaryFile(mode="w+", prefix="kerazoo-worker-")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
               "PYTHONPATH": _python_path()}
        command = [sys.executable, "-m", "tuning.trial", "--data", self.data_file, "--answers", str(write)]
        for module in self.modules:
            command += ["--import", module]
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, text=True, env=env, pass_fds=(write,),
                                         stdout=None if self.verbose else subprocess.DEVNULL, stderr=self._stderr)
        finally:
            os.close(write)
        self._answers = os.fdopen(read, "r")
        self.started += 1
        self.trials_run = 0

    def _error_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = [li.strip() for li in self._stderr.read().splitlines() if li.strip()]
        return lines[-1] if lines else ""

    def stop(self, *, timeout: float = 30.0) -> None:
        """End the current worker (asked to finish; killed if it does not within `timeout` seconds)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                try:
                    proc.stdin.close()  # end of input: the worker's loop ends
                except OSError:
                    pass
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            for f in (self._answers, self._stderr, proc.stdin):
                try:
                    f.close()
                except (OSError, AttributeError):
                    pass
            self._answers = self._stderr = None

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None between workers)."""
        return self.proc.pid if self.proc is not None else None

    def _ask(self, request: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.stop()
            self._start()
        try:
            self.proc.stdin.write(json.dumps(request, default=float) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the answer below is empty
        line = self._answers.readline()
        if not line:
            code = self.proc.wait()
            tail = self._error_tail() if code > 0 else ""
            self.stop()
            how = f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited with {code}"
            raise WorkerDied(f"the trial worker {how}" + (f": {tail}" if tail else ""))
        return json.loads(line)

    # -- what the tuner calls -----------------------------------------------------------------

    def run(self, request: dict, *, trial_id: str = "?") -> dict:
        """Run one trial execution in a worker; its answer (`history`, or `failed`/`error`, and memory).

        The answer also says which worker ran it (`worker_pid`) and whether it
        had to start again in a fresh worker (`restarted`).

        A worker that dies mid-trial is replaced and the trial sent once more;
        a second death raises `WorkerDied`.
        """
        restarted = False
        try:
            answer = self._ask(request)
        except WorkerDied as err:
            self.log(f"trial {trial_id}: {err}; running it again in a fresh worker")
            restarted = True
            answer = self._ask(request)
        self.trials_run += 1
        answer.update(worker_pid=self.pid, restarted=restarted)
        if should_retire(self.trials_run, answer.get("rss_kb", 0), trials_per_worker=self.trials_per_worker,
                         worker_memory=self.worker_memory):
            self.stop()
        return answer

    def close(self) -> None:
        """End the current worker (at the end of the search)."""
        self.stop()

    def __del__(self) -> None:  # pragma: no cover - a safety net; `close` is the way
        try:
            self.stop(timeout=1.0)
        except Exception:
            pass


"""The progress of a whole search: trial k of N, the best so far and its hyperparameters, time left.

One line a finished trial, e.g.

    trial 3/10 done (val_loss 0.4123) | best val_loss 0.3811, trial 1: width=16 learning_rate=0.003 | 1m02s elapsed, about 2m05s left

On a terminal the line is rewritten in place (the last one stays); elsewhere
(a log file, a pipe, a notebook's captured output) each is a line of its own.
The time left is the mean time of the trials finished in this session times
the trials still to run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from kerazoo.console import format_duration

__all__ = ["SearchProgress", "progress_line"]


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "-".join(map(str, value))
    return str(value)


def progress_line(*, done: int, total: int, trial_id: str, status: str, score: float | None,
                  objective: tuple[str, str], best: dict | None, elapsed: float, left: float | None,
                  family: str | None = None) -> str:
    """One progress line (see the module docstring); in a search across families, the trial's family first.

    Example:
    >>> progress_line(done=3, total=10, trial_id="2", status="COMPLETED", score=0.41234,
    ...               objective=("val_loss", "min"),
    ...               best={"trial_id": "1", "score": 0.38111, "values": {"width": 16, "learning_rate": 0.003}},
    ...               elapsed=62, left=125)
    'trial 3/10 done (val_loss 0.4123) | best val_loss 0.3811, trial 1: width=16 learning_rate=0.003 | 1m02s elapsed, about 2m05s left'
    >>> progress_line(done=1, total=4, trial_id="0", status="COMPLETED", score=0.9, objective=("val_accuracy", "max"),
    ...               best={"trial_id": "0", "score": 0.9, "values": {"model": "vit"}}, elapsed=5, left=15,
    ...               family="vit")
    'trial 1/4 done (vit, val_accuracy 0.9) | best val_accuracy 0.9, trial 0: model=vit | 5s elapsed, about 15s left'
    """
    name = objective[0]
    what = f"{name} {score:.4g}" if status == "COMPLETED" and score is not None else status.lower()
    what = f"{family}, {what}" if family else what
    parts = [f"trial {done}/{total} done ({what})"]
    if best is not None:
        values = " ".join(f"{k}={_value(v)}" for k, v in best["values"].items())
        parts.append(f"best {name} {best['score']:.4g}, trial {best['trial_id']}" + (f": {values}" if values else ""))
    timing = f"{format_duration(elapsed)} elapsed"
    if left is not None and done < total:
        timing += f", about {format_duration(left)} left"
    parts.append(timing)
    return " | ".join(parts)


class SearchProgress:
    """Reports each finished trial of a search (see the module docstring).

    Args:
        total: the search's `max_trials`.
        objective: `(name, direction)`.
        done: trials finished before this session (a resumed search). Defaults to 0.
        log: where lines go. Defaults to `print`.
        tty: rewrite one line in place. Defaults to whether `log` is `print`
            and standard output is a terminal.
        clock: the time source. Defaults to `time.monotonic`.

    Example:
    >>> lines = []
    >>> progress = SearchProgress(2, ("val_loss", "min"), log=lines.append, clock=iter([0, 30, 60]).__next__)
    >>> progress.trial_done("0", "COMPLETED", 0.5, best={"trial_id": "0", "score": 0.5, "values": {"width": 8}})
    >>> progress.trial_done("1", "COMPLETED", 0.7, best={"trial_id": "0", "score": 0.5, "values": {"width": 8}})
    >>> lines[-1]
    'trial 2/2 done (val_loss 0.7) | best val_loss 0.5, trial 0: width=8 | 1m00s elapsed'
    """

    def __init__(self, total: int, objective: tuple[str, str], *, done: int = 0, log: Callable | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.objective = objective
        self.done = self.start_done = done
        self.log = log or print
        self.tty = (self.log is print and sys.stdout.isatty()) if tty is None else tty
        self.clock = clock
        self.start = clock()
        self.width = 0

    def trial_done(self, trial_id: str, status: str, score: float | None, *, best: dict | None,
                   family: str | None = None) -> None:
        """Report a finished trial; `best` is `{"trial_id", "score", "values"}` of the best so far.

        `family`: the trial's model family, in a search across families.
        """
        self.done += 1
        elapsed = self.clock() - self.start
        ran = self.done - self.start_done
        left = elapsed / ran * max(0, self.total - self.done) if ran else None
        line = progress_line(done=self.done, total=self.total, trial_id=trial_id, status=status, score=score,
                             objective=self.objective, best=best, elapsed=elapsed, left=left, family=family)
        if not self.tty:
            self.log(line)
            return
        end = "\n" if self.done >= self.total else ""
        sys.stdout.write("\r" + line.ljust(self.width) + end)
        sys.stdout.flush()
        self.width = 0 if end else len(line)

    def close(self) -> None:
        """End a line left open on a terminal (a search that stopped before N of N)."""
        if self.tty and self.width:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.width = 0

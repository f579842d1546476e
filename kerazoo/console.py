"""What the command prints besides its own lines: TensorFlow's native start-up logs and Keras' progress display.

TensorFlow 2.21 writes its C++ logs through absl. `TF_CPP_MIN_LOG_LEVEL`
(which `import kerazoo` sets to 2 unless it is set) filters them once absl
logging is initialized, but the lines written while its shared libraries load
come before that and ignore it: the banner `WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR` (once per library that
carries its own absl, twice here), the oneDNN note and, on a machine without
a CUDA driver, `Could not find cuda drivers on your machine`; the first
device query then logs `failed call to cuInit` as an error. No environment
variable turns those off (measured: `TF_CPP_MIN_LOG_LEVEL=3`,
`TF_CPP_MAX_VLOG_LEVEL`, `ABSL_MIN_LOG_LEVEL`, `GLOG_minloglevel`), and
hiding devices (`CUDA_VISIBLE_DEVICES=""`) would be wrong on a GPU machine.

So the command loads TensorFlow with the process's native stderr (file
descriptor 2) sent to a temporary file, then writes back what matters:
every line at or above `TF_CPP_MIN_LOG_LEVEL`'s severity, with two kinds
dropped, the banner, and the cuInit error when this machine has no CUDA
driver library at all (so nothing could have used a GPU). On a GPU machine
the cuInit line, like any other error, is shown.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator

__all__ = ["filter_native_log", "native_stderr_filtered", "quiet_tensorflow_import", "progress_verbose",
           "interrupts_between_steps", "training_interrupts", "raise_if_interrupted",
           "text_table", "format_number", "format_duration"]

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_RECORD = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [\w.\-/]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def _cuda_driver_present() -> bool:
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def filter_native_log(text: str, *, min_level: int | None = None, driver: bool | None = None) -> str:
    """The lines of TensorFlow's native start-up log worth showing.

    Args:
        text: what TensorFlow wrote to stderr while loading.
        min_level: the lowest severity kept (0 info, 1 warning, 2 error, 3
            fatal). Defaults to `TF_CPP_MIN_LOG_LEVEL`, else 0.
        driver: whether a CUDA driver library is present. Defaults to
            looking (only when a cuInit error is there to judge).

    Returns:
        The kept lines, each with its line end.

    Example:
    >>> log = (BANNER + "\\n"
    ...        "I0000 00:00:17.1   42 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n"
    ...        "E0000 00:00:17.2   42 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\\n"
    ...        "E0000 00:00:17.3   42 other.cc:9] something real\\n")
    >>> filter_native_log(log, min_level=2, driver=False)
    'E0000 00:00:17.3   42 other.cc:9] something real\\n'
    >>> filter_native_log(log, min_level=2, driver=True).count("cuInit")  # a GPU machine keeps it
    1
    """
    if min_level is None:
        try:
            min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
        except ValueError:
            min_level = 0
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        record = _RECORD.match(line)
        if line.rstrip("\r\n") == BANNER:
            dropping = False
            continue
        if record:
            dropping = _SEVERITY[record.group(1)] < min_level
            if not dropping and "failed call to cuInit" in line:
                if driver is None:
                    driver = _cuda_driver_present()
                dropping = not driver
        if not dropping:  # a line that is not a record continues the record before it
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def native_stderr_filtered(keep: Callable[[str], str] = filter_native_log) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block; then write back what `keep(text)` returns.

    Example:
    >>> with native_stderr_filtered(keep=lambda text: ""):  # everything written to fd 2 is dropped
    ...     _ = os.write(2, b"native chatter\\n")
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (an embedding host): leave it alone
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = keep(tmp.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of `tensorflow` with native stderr filtered, then queries devices (the cuInit line)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with native_stderr_filtered():
            self.loader.exec_module(module)
            with contextlib.suppress(Exception):
                module.config.list_physical_devices()  # the first device query logs cuInit: inside the filter
        module.__loader__ = self.loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self.loader


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # one shot
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Make the process's first `import tensorflow` filter TensorFlow's native start-up log.

    Does nothing once TensorFlow is imported, or when the hook is in place.
    The `kerazoo` command calls it; a library user keeps TensorFlow's own
    behaviour.
    """
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())


def progress_verbose(verbose: int | str | None) -> int:
    """Keras' `verbose` for a setting: `"auto"`/None is a progress bar on a terminal, one line an epoch otherwise.

    Keras' bar redraws itself with carriage returns, backspaces and colour
    codes, which a log file or a pipe keeps as they are; its `verbose=2` form
    prints one plain line per epoch. A notebook gets the bar.

    Example:
    >>> progress_verbose(0), progress_verbose(2)
    (0, 2)
    """
    if verbose in ("auto", None):
        if "ipykernel" in sys.modules:  # a notebook draws the bar in place
            return 1
        try:
            return 1 if sys.stdout.isatty() else 2
        except (AttributeError, ValueError):
            return 2
    return int(verbose)


def text_table(rows: list) -> list[str]:
    """Rows as aligned text lines, the first row a header underlined with dashes.

    Example:
    >>> for line in text_table([("metric", "test"), ("accuracy", "0.9944")]):
    ...     print(line)
    metric    test
    --------  ------
    accuracy  0.9944
    """
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def format_number(value: object) -> str:
    """A metric as a table shows it: floats to 4 places (`nan` as such), anything else as text.

    Example:
    >>> format_number(0.99444), format_number(float("nan")), format_number(7)
    ('0.9944', 'nan', '7')
    """
    import math

    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def format_duration(seconds: float) -> str:
    """A duration as a progress line shows it: `42s`, `3m05s`, `2h07m`.

    Example:
    >>> format_duration(42.4), format_duration(185), format_duration(7620)
    ('42s', '3m05s', '2h07m')
    """
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


_TRAINING: list = []  # depth of `training_interrupts` blocks
_PENDING: list = []  # a Ctrl-C that came while training, waiting for the next step's end


def _on_sigint(signum, frame) -> None:
    if _TRAINING and not _PENDING:
        _PENDING.append(signum)  # training: stop where Python has the hand, not inside TensorFlow's native code
        return
    raise KeyboardInterrupt  # outside training, or a second Ctrl-C: at once


@contextlib.contextmanager
def interrupts_between_steps() -> Iterator[bool]:
    """For the command line: a Ctrl-C during training stops it at the end of the current step.

    Python turns SIGINT into a KeyboardInterrupt wherever the main thread is,
    also between two native calls of TensorFlow that must not be parted (seen:
    a segmentation fault instead of exit 130). Inside this block a first Ctrl-C
    during `fit` is held until the step ends (`raise_if_interrupted`, from a
    callback), a second one acts at once. Yields whether the handler was
    installed: not when SIGINT is ignored (a background job) or already handled.

    Example:
    >>> with interrupts_between_steps() as installed:
    ...     pass
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield False
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
        _PENDING.clear()


@contextlib.contextmanager
def training_interrupts() -> Iterator[None]:
    """Mark a training loop: a Ctrl-C inside it waits for `raise_if_interrupted` (see `interrupts_between_steps`).

    Example:
    >>> with training_interrupts():
    ...     raise_if_interrupted()  # nothing pending: returns
    """
    _TRAINING.append(True)
    try:
        yield
    finally:
        _TRAINING.pop()


def raise_if_interrupted() -> None:
    """Raise the KeyboardInterrupt a held Ctrl-C stands for (a training callback calls this at each step's end).

    Example:
    >>> raise_if_interrupted()
    """
    if _PENDING:
        _PENDING.clear()
        raise KeyboardInterrupt

"""Who owns a run directory: a lock held while a run is written, and a clean-up that keeps what the user made.

A process writing a run directory (`fit(..., run_dir=...)`, `finetune`,
`kerazoo train`) holds an exclusive `fcntl.flock` on `RUN/.kerazoo.lock` for as
long as it writes. A second writer is refused at once with `RunDirInUse`,
naming the owner, and the first one's files are left alone. The kernel drops
the lock when its process ends, however it ends (exit, exception, SIGKILL,
power cut), so a lock file left behind by a crash is stale by construction:
the next writer takes it over and says whose it was. The lock file is removed
on release, so a run holds none once written.

Holding is per thread and nests: `kerazoo train` claims the folder, then
`fit` inside it holds the same lock again for free.

`claim` is the command line's entry: it creates the folder (and any missing
parents), takes the lock, checks that the folder is empty, and if the command
then fails before writing anything, removes what it created and nothing else:
a folder the user made, `.` or a symlink survive a failed run.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kerazoo.errors import RunDirInUse
from kerazoo.io import make_dirs
from kerazoo.runs import RunError

__all__ = ["LOCK_NAME", "RunDirInUse", "hold", "holds_run_dir", "claim", "run_path", "user_entries"]

log = logging.getLogger("kerazoo")

LOCK_NAME = ".kerazoo.lock"
_held: dict[str, tuple[int, int, int]] = {}  # real path -> (thread id, depth, lock file descriptor)
_guard = threading.Lock()


def user_entries(path: str | os.PathLike) -> list[str]:
    """The names in a folder, the zoo's lock file left out.

    Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / LOCK_NAME).write_text("{}")
    >>> user_entries(d)
    []
    """
    return sorted(n for n in os.listdir(path) if n != LOCK_NAME)


def _owner_text(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    return f"process {info['pid']} on {info.get('host', '?')} (since {info.get('started', '?')})"


def _acquire(path: Path) -> int:
    """Lock `path/LOCK_NAME` for this process; its descriptor, or -1 where the file system has no locks."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (not POSIX)
        log.warning("kerazoo: no file locks on this platform: %s is not protected against a second writer", path)
        return -1
    lock = path / LOCK_NAME
    for _ in range(20):  # the holder may remove the file between our open and our lock: open it again
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise RunError(f"run directory {str(path)!r} is not writable: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            owner = _owner_text(fd)
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirInUse(f"run directory {str(path)!r} is in use: {owner} is writing it; wait for it "
                                  f"to end or write elsewhere (its files are left as they are)") from None
            log.warning("kerazoo: %s cannot be locked (%s): it is not protected against a second writer",
                        path, err.strerror)
            return -1
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # released and removed by its holder after we opened it
            os.close(fd)
            continue
        previous = _owner_text(fd)
        if previous != "another process":
            log.info("kerazoo: %s was left locked by %s, which has ended: taking it over", path, previous)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, record)
        return fd
    raise RunDirInUse(f"run directory {str(path)!r} keeps changing hands; write elsewhere")  # pragma: no cover


def _release(path: Path, fd: int) -> None:
    if fd < 0:
        return
    with contextlib.suppress(OSError):
        os.unlink(path / LOCK_NAME)  # first, while still held: a newcomer then sees a new file
    with contextlib.suppress(OSError):
        os.close(fd)  # closing drops the lock


@contextlib.contextmanager
def hold(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold a run directory's lock for the block (creating the folder if need be).

    Args:
        run_dir: the run directory.

    Yields:
        The run directory as a `Path`.

    Raises:
        RunDirInUse: another process or thread holds it.

    Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp()) / "run"
    >>> with hold(run):
    ...     with hold(run):  # the same thread: nested, free
    ...         (run / LOCK_NAME).exists()
    True
    >>> (run / LOCK_NAME).exists()  # released and removed
    False
    """
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    me = threading.get_ident()
    with _guard:
        owner = _held.get(key)
        if owner is not None:
            if owner[0] != me:
                raise RunDirInUse(f"run directory {str(path)!r} is in use: another thread of this process "
                                  f"is writing it")
            _held[key] = (me, owner[1] + 1, owner[2])
        else:
            _held[key] = (me, 1, _acquire_or_forget(key, path))
    try:
        yield path
    finally:
        with _guard:
            thread, depth, fd = _held[key]
            if depth > 1:
                _held[key] = (thread, depth - 1, fd)
            else:
                del _held[key]
                _release(path, fd)


def _acquire_or_forget(key: str, path: Path) -> int:
    try:
        return _acquire(path)
    except BaseException:
        _held.pop(key, None)
        raise


def holds_run_dir(fn: Callable) -> Callable:
    """Decorate a function taking `run_dir=`: it runs holding that directory's lock (on the chief worker).

    Example:
    >>> @holds_run_dir
    ... def write(*, run_dir=None):
    ...     return run_dir is not None and (Path(run_dir) / LOCK_NAME).exists()
    >>> import tempfile
    >>> write(run_dir=tempfile.mkdtemp()), write()
    (True, False)
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        run_dir = kwargs.get("run_dir")
        from kerazoo.distribute import is_chief

        if run_dir is None or not is_chief():  # a worker other than the chief writes nothing
            return fn(*args, **kwargs)
        with hold(run_dir):
            return fn(*args, **kwargs)

    return wrapper


def run_path(model_name: str, out: str | os.PathLike | None = None, *, root: str | os.PathLike = "runs") -> Path:
    """The folder a new run goes to: `out`, or a fresh `root/<name>-<timestamp>`.

    Raises:
        FileExistsError: `out` is a file, not a folder.

    Example:
    >>> run_path("mlp", "runs/a")
    PosixPath('runs/a')
    """
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"--out {str(path)!r} is a file, not a folder; a run directory is a folder: "
                                  f"give a new or empty folder")
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{model_name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{model_name}-{stamp}-{n}"
    return path


@contextlib.contextmanager
def claim(path: str | os.PathLike, *, fresh: bool = True) -> Iterator[Path]:
    """Make, lock and own a run directory for a command; on failure, remove only what this made.

    Args:
        path: the run directory (see `run_path`).
        fresh: refuse a folder that holds anything. Defaults to True (False:
            a run being resumed).

    Yields:
        The run directory, locked.

    Raises:
        FileExistsError: `fresh` and the folder holds files.
        RunDirInUse: another process is writing it.

    Example:
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> try:
    ...     with claim(base / "new" / "run"):
    ...         raise ValueError("bad data")
    ... except ValueError:
    ...     pass
    >>> os.listdir(base)  # both folders it made are gone
    []
    >>> (base / "mine").mkdir()
    >>> try:
    ...     with claim(base / "mine"):
    ...         raise ValueError("bad data")
    ... except ValueError:
    ...     pass
    >>> os.listdir(base), os.listdir(base / "mine")  # the user's folder stays, as it was
    (['mine'], [])
    """
    path = Path(path)
    try:
        created = make_dirs(path)
    except OSError as err:
        raise RunError(f"cannot create the run directory {str(path)!r}: {err.strerror}") from None
    ok = False
    try:
        with hold(path):
            if fresh and user_entries(path):
                raise FileExistsError(f"run directory {str(path)!r} already exists and is not empty; "
                                      f"choose another --out, or pass --resume to continue it")
            yield path
            ok = True
    finally:
        if not ok:
            for folder in reversed(created):  # innermost first, each only if nothing was written into it
                with contextlib.suppress(OSError):
                    folder.rmdir()

"""Files the zoo writes: atomically, with the permissions the user's umask gives, and folders put in place whole.

Every writer of the zoo (runs, checkpoints, tokenizers, adapters, tuning
results, exports) goes through here. A file is written to a temporary name in
its own folder and renamed into place, so a reader never sees half of it and
a kill leaves the previous version whole. `tempfile.mkstemp` and `mkdtemp`
create 0600 files and 0700 folders whatever the umask; a file renamed into
place would keep that mode, and another user (a TensorFlow Serving process, a
teammate) could not read it. So each file and folder made here gets the mode
an ordinary `open()` or `mkdir()` would have given it: 0644 and 0755 under the
usual umask 022.

Importing this module costs no TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["umask", "file_mode", "dir_mode", "atomic_write", "write_json", "write_text", "read_json",
           "make_dirs", "temp_dir", "apply_modes", "replace_dir", "jsonable"]


def umask() -> int:
    """The process's umask, read without changing it for longer than a call.

    Example:
    >>> 0 <= umask() <= 0o777
    True
    """
    try:  # Linux shows it without touching it
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0o666 less the umask.

    Example:
    >>> oct(file_mode()) == oct(0o666 & ~umask())
    True
    """
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode `mkdir` gives a new folder: 0o777 less the umask.

    Example:
    >>> oct(dir_mode()) == oct(0o777 & ~umask())
    True
    """
    return 0o777 & ~umask()


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> None:
    """Write `path` through `write(temporary_path)`, then rename it into place with the umask's mode.

    The temporary file sits beside `path` (same folder, so the rename is
    atomic); on any failure it is removed and `path` is left as it was.

    Args:
        path: the file to write; its folder is created when missing.
        write: a function that writes the whole file at the path it is given.

    Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, lambda tmp: pathlib.Path(tmp).write_text("hello"))
    >>> p.read_text(), oct(p.stat().st_mode & 0o777) == oct(file_mode())
    ('hello', True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def jsonable(value):
    """`json.dump`'s `default`: NumPy scalars and arrays, tuples, sets and paths as JSON values."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically.

    Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_json(p, {"a": (1, 2)}); read_json(p)
    {'a': [1, 2]}
    """
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, default=jsonable)
            f.write("\n")

    atomic_write(path, write)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text, atomically.

    Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.md"
    >>> write_text(p, "# title\\n"); p.read_text()
    '# title\\n'
    """
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file.

    Example:
    >>> read_json("no/such.json")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: 'no/such.json'
    """
    with open(path) as f:
        return json.load(f)


def make_dirs(path: str | os.PathLike) -> list[Path]:
    """Create `path` and its missing parents; return the folders this call created, outermost first.

    A folder that another process creates meanwhile is theirs, not listed. A
    caller that fails later removes only what is listed, so a folder the user
    made is never removed.

    Raises:
        OSError: a folder could not be created (permissions, a file in the way).

    Example:
    >>> import tempfile, pathlib
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> [p.relative_to(base).as_posix() for p in make_dirs(base / "a" / "b")], make_dirs(base / "a")
    (['a', 'a/b'], [])
    """
    path = Path(path)
    missing = []
    here = path
    while not here.exists() and not here.is_symlink():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
            created.append(folder)
        except FileExistsError:  # made by someone else meanwhile: theirs
            pass
    return created


def temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new hidden build folder inside `parent`, with the umask's folder mode (mkdtemp alone gives 0700).

    Example:
    >>> import tempfile
    >>> d = temp_dir(tempfile.mkdtemp(), ".partial-")
    >>> d.name.startswith(".partial-"), oct(d.stat().st_mode & 0o777) == oct(dir_mode())
    (True, True)
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, dir_mode())
    return path


def apply_modes(root: str | os.PathLike) -> None:
    """Give every folder and file under `root` (itself included) the umask's modes, executables kept executable.

    For trees that other libraries wrote through temporary files of their own.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "a.txt").write_text("x"); os.chmod(root / "a.txt", 0o600)
    >>> apply_modes(root); oct((root / "a.txt").stat().st_mode & 0o777) == oct(file_mode())
    True
    """
    root = Path(root)
    files, folders = file_mode(), dir_mode()
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            os.chmod(path, folders)
        elif stat.S_ISREG(mode):
            os.chmod(path, folders if mode & 0o100 else files)


def replace_dir(tmp: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Rename the finished folder `tmp` to `target`; with `overwrite`, an existing `target` is replaced.

    The old folder is first moved aside to `.replaced-<name>-<hex>` beside it
    and removed only once the new one is in place; if the rename fails, the
    old one is put back. A reader sees the old folder or the new one, never a
    mix.

    Raises:
        FileExistsError: `target` exists and `overwrite` is False.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> new = root / ".partial"; new.mkdir(); _ = (new / "v").write_text("2")
    >>> old = root / "1"; old.mkdir(); _ = (old / "v").write_text("1")
    >>> replace_dir(new, old, overwrite=True); (old / "v").read_text(), sorted(p.name for p in root.iterdir())
    ('2', ['1'])
    """
    tmp, target = Path(tmp), Path(target)
    aside = None
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"{str(target)!r} already exists (it appeared meanwhile); not replaced")
        aside = target.with_name(f".replaced-{target.name}-{uuid.uuid4().hex[:8]}")
        os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        if aside is not None:
            os.rename(aside, target)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)

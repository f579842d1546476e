"""The export tree: TensorFlow Serving's `<out>/<model_name>/<version>/`, built aside and put in place whole.

An export builds in a hidden `.partial-<version>-<pid>-<hex>` folder beside the
version folders (with the umask's folder mode, so a serving process running
as another user can read it) and renames it into place once every artifact is
verified (`kerazoo.io.replace_dir`). A kill leaves only that hidden folder,
which the next export removes once its process is gone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["next_version", "refuse_existing", "partial_prefix", "clean_stale"]


def next_version(root: str | os.PathLike) -> int:
    """The next version number in a model's folder: one more than the highest, else 1.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "1").mkdir(); (root / "7").mkdir()
    >>> next_version(root), next_version(root / "missing")
    (8, 1)
    """
    root = Path(root)
    if not root.is_dir():
        return 1
    numbers = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(numbers, default=0) + 1


def refuse_existing(target: str | os.PathLike):
    """Raise the error for an existing version folder that `overwrite` does not allow replacing.

    Example:
    >>> refuse_existing("exports/cnn/1")
    Traceback (most recent call last):
    ...
    FileExistsError: export 'exports/cnn/1' already exists; pass overwrite=True (--overwrite) to replace it, or another version
    """
    raise FileExistsError(f"export {str(target)!r} already exists; pass overwrite=True (--overwrite) to "
                          f"replace it, or another version")


def partial_prefix(version: int) -> str:
    """The name prefix of this process's hidden build folder for `version`.

    Example:
    >>> partial_prefix(3) == f".partial-3-{os.getpid()}-"
    True
    """
    return f".partial-{version}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid: leave it be
    return True


def clean_stale(root: str | os.PathLike) -> list[str]:
    """Remove what killed exports left in a model's folder; return the names removed.

    A SIGKILL (or a power cut) mid-export leaves its hidden `.partial-<version>-<pid>-*`
    build folder, never a version folder. Folders of processes no longer running
    are removed; those of live exports (another export running beside this one)
    are left alone. A `.replaced-<version>-*` folder (the old version, moved aside
    by `overwrite` just before the kill) is put back if its version is missing,
    and removed otherwise.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / ".partial-1-999999999-abc").mkdir(); (root / f".partial-2-{os.getpid()}-def").mkdir()
    >>> clean_stale(root), sorted(p.name for p in root.iterdir())
    (['.partial-1-999999999-abc'], ['.partial-2-...-def'])
    """
    root = Path(root)
    removed = []
    if not root.is_dir():
        return removed
    for folder in sorted(root.iterdir()):
        parts = folder.name.split("-")
        if folder.name.startswith(".partial-") and folder.is_dir():
            pid = int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None  # .partial-V-PID-xxx
            if pid is not None and _pid_alive(pid):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        elif folder.name.startswith(".replaced-") and folder.is_dir() and len(parts) >= 3:
            target = root / "-".join(parts[1:-1])  # .replaced-<version>-<hex>
            if not target.exists():
                os.rename(folder, target)
            else:
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed

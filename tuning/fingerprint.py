"""The search directory's fingerprint: resume the same search, refuse a changed one.

KerasTuner resumes any directory it finds, silently keeping the old space, even
when the job changed. The zoo writes `fingerprint.json` (a hash of the model,
the resolved space, the data, the objective, the tuner and the epochs) in the
directory when a search starts; running again resumes when it matches, and is
refused, naming what changed, when it does not, unless `overwrite` starts over.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["FINGERPRINT", "fingerprint", "prepare_directory", "data_digest"]

FINGERPRINT = "fingerprint.json"


def data_digest(data) -> dict:
    """What identifies a data bundle: its source, split options, spec and array hash.

    Example:
    >>> from kerazoo import load_data
    >>> d = data_digest(load_data("iris"))
    >>> d["source"], d["sizes"], len(d["sha256"])
    ('iris', {'train': 108, 'validation': 12, 'test': 30}, 64)
    """
    spec = data.spec
    out: dict[str, Any] = {"source": str(data.source), "options": dict(data.options),
                           "spec": {"input_shape": list(spec.input_shape), "task": spec.task,
                                    "num_classes": spec.num_classes, "kind": spec.kind}}
    if data.arrays:
        h = hashlib.sha256()
        for split in sorted(data.arrays):
            for a in data.arrays[split]:
                h.update(split.encode())
                h.update(str(a.shape).encode() + str(a.dtype).encode())
                h.update(memoryview(a.tobytes()))
        out["sizes"] = {k: int(len(v[0])) for k, v in data.arrays.items()}
        out["sha256"] = h.hexdigest()
    return out


def fingerprint(**parts: Any) -> dict:
    """The parts with their hash under `"hash"`.

    Example:
    >>> fp = fingerprint(model="mlp", epochs=3)
    >>> fp["model"], len(fp["hash"])
    ('mlp', 64)
    >>> fingerprint(model="mlp", epochs=3)["hash"] == fp["hash"]
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return {**json.loads(text), "hash": hashlib.sha256(text.encode()).hexdigest()}


def _changed(old: dict, new: dict) -> list[str]:
    keys = sorted((set(old) | set(new)) - {"hash"})
    out = []
    for k in keys:
        if old.get(k) == new.get(k):
            continue
        if isinstance(old.get(k), dict) and isinstance(new.get(k), dict):
            inner = sorted(j for j in set(old[k]) | set(new[k]) if old[k].get(j) != new[k].get(j))
            out.append(f"{k} ({', '.join(inner)})")
        else:
            out.append(f"{k} ({old.get(k)!r} -> {new.get(k)!r})")
    return out


def prepare_directory(directory: str | Path, fp: dict, *, overwrite: bool = False,
                      worker: bool = False) -> bool:
    """Make `directory` ready for the search that `fp` describes.

    Args:
        directory: the search's directory.
        fp: from `fingerprint`.
        overwrite: remove an earlier search there and start over. Defaults to False.
        worker: a distributed worker (never removes anything). Defaults to False.

    Returns:
        True when an earlier run of the same search is resumed.

    Raises:
        ValueError: the directory holds a different search (naming what changed)
            and `overwrite` is False, or holds files that are not a search.

    Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "search"
    >>> prepare_directory(d, fingerprint(model="mlp")), prepare_directory(d, fingerprint(model="mlp"))
    (False, True)
    >>> prepare_directory(d, fingerprint(model="cnn"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../search holds a different search (changed: model ('mlp' -> 'cnn')); pass --overwrite (overwrite=True) to start over, or choose another output directory
    """
    directory = Path(directory)
    path = directory / FINGERPRINT
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        if overwrite and not worker:
            shutil.rmtree(directory)
        elif old.get("hash") == fp["hash"]:
            return True
        else:
            raise ValueError(f"{directory} holds a different search (changed: {'; '.join(_changed(old, fp))}); "
                             f"pass --overwrite (overwrite=True) to start over, or choose another output "
                             f"directory")
    elif directory.exists() and any(not p.name.startswith(".") for p in directory.iterdir()):
        raise ValueError(f"{directory} exists and is not a kerazoo search directory (no {FINGERPRINT}); "
                         f"choose another output directory")
    directory.mkdir(parents=True, exist_ok=True)
    from kerazoo.io import write_json

    write_json(path, fp)
    return False

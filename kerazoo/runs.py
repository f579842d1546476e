"""The run directory: what a training run leaves on disk, and reading it back.

A run directory holds `config.json` (model, overrides, data, training settings,
versions), `history.csv`, `metrics.json`, `model.keras` and, written last,
`manifest.json` with each file's SHA-256. Every file is written to a temporary
name and renamed into place, and a run without its manifest is unfinished:
`load_run` refuses it, and refuses a file whose hash no longer matches.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerazoo.errors import ModelFileError, RunError
from kerazoo.io import atomic_write, write_json
from kerazoo.spec import DataSpec

__all__ = ["load_run", "load_model", "Run", "new_run_dir", "finish_run", "versions", "save_model",
           "write_history", "read_history"]

MANIFEST = "manifest.json"
RUN_FILES = ("config.json", "history.csv", "metrics.json", "model.keras")


def save_model(model, path: str | os.PathLike) -> None:
    """Save a Keras model as `.keras`, atomically."""
    atomic_write(path, lambda tmp: model.save(_keras_name(tmp)) or os.replace(_keras_name(tmp), tmp))


def _keras_name(tmp: str) -> str:
    return tmp + ".keras"  # Keras insists on the extension


def write_history(path: str | os.PathLike, history: dict) -> None:
    """Write a history dict (metric -> per-epoch values) as CSV, atomically."""
    keys = list(history)
    rows = zip(*(history[k] for k in keys))

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", *keys])
            for i, row in enumerate(rows):
                w.writerow([i, *(f"{float(v):.6g}" for v in row)])

    atomic_write(path, write)


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows] for k in keys}


def versions() -> dict:
    """The versions a run was made with."""
    from kerazoo._version import __version__

    out = {"kerazoo": __version__, "python": platform.python_version()}
    try:
        import keras
        import tensorflow as tf

        out.update(tensorflow=tf.__version__, keras=keras.__version__)
    except ImportError:  # pragma: no cover
        pass
    return out


def new_run_dir(model_name: str, out: str | os.PathLike | None = None, *, root: str = "runs") -> Path:
    """Create a fresh run directory: `out`, or `runs/<name>-<timestamp>/`.

    The folder is not locked: a command that writes a run claims it with
    `kerazoo.runlock.claim`, and `fit` holds it while writing.

    Raises:
        FileExistsError: `out` already holds files, or is a file.

    Example:
    >>> import tempfile
    >>> d = new_run_dir("cnn", root=tempfile.mkdtemp())
    >>> d.name.startswith("cnn-") and d.is_dir()
    True
    """
    from kerazoo.runlock import run_path, user_entries

    path = run_path(model_name, out, root=root)
    if out is not None and path.is_dir() and user_entries(path):
        raise FileExistsError(f"run directory {str(path)!r} already exists and is not empty; "
                              f"choose another --out, or pass --resume to continue it")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def finish_run(run_dir: str | os.PathLike, status: str = "complete", reason: str | None = None) -> dict:
    """Write the manifest last: the run's files with their hashes, and its status (and why, if failed)."""
    run_dir = Path(run_dir)
    files = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
             for p in sorted(run_dir.iterdir())
             if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")}
    manifest = {"status": status, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": files,
                **({"reason": reason} if reason else {})}
    write_json(run_dir / MANIFEST, manifest)
    return manifest


def check_run(run_dir: str | os.PathLike) -> dict:
    """The run's manifest, after checking every file it lists against its hash.

    Raises:
        RunError: the folder is not a run, is unfinished, or a file is damaged.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {str(run_dir)!r}")
    manifest_path = run_dir / MANIFEST
    if not manifest_path.exists():
        if (run_dir / "config.json").exists():
            try:  # the epoch checkpoint fit keeps (kerazoo.resume), read without importing Keras
                kept = json.loads((run_dir / "checkpoint" / "training_metadata.json").read_text())["epoch"]
            except (OSError, ValueError, KeyError, TypeError):
                kept = None
            where = f" after epoch {kept}" if kept else ""
            raise RunError(f"run {str(run_dir)!r} is unfinished (no {MANIFEST}): training stopped{where} "
                           f"before the end; continue it with `kerazoo train --resume --out {run_dir}`")
        raise RunError(f"{str(run_dir)!r} is not a kerazoo run directory (no {MANIFEST} or config.json)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise RunError(f"run {str(run_dir)!r}: {MANIFEST} is damaged (not the JSON kerazoo wrote)") from None
    if manifest.get("status") != "complete":
        why = f": {manifest['reason']}" if manifest.get("reason") else ""
        raise RunError(f"run {str(run_dir)!r} did not complete: status {manifest.get('status')!r}{why}")
    for name, info in files.items():
        path = run_dir / name
        if not path.exists():
            raise RunError(f"run {str(run_dir)!r} is damaged: {name} is missing")
        if _sha256(path) != info.get("sha256"):
            raise RunError(f"run {str(run_dir)!r} is damaged: {name} changed since the run wrote it "
                           f"(its SHA-256 no longer matches {MANIFEST})")
    return manifest


@dataclass
class Run:
    """A finished run read back from disk."""

    path: Path
    config: dict
    metrics: dict
    history: dict
    model: Any = field(repr=False, default=None)

    @property
    def spec(self) -> DataSpec:
        return DataSpec.from_dict(self.config["spec"])

    @property
    def model_name(self) -> str:
        return self.config["model"]


def load_run(path: str | os.PathLike, *, safe_mode: bool = True, load_model: bool = True) -> Run:
    """Read a finished run directory back: its config, metrics, history and model.

    Args:
        path: the run directory.
        safe_mode: load `model.keras` with Keras' safe mode (no Lambda layers or
            arbitrary code). Defaults to True.
        load_model: load the model too. Defaults to True.

    Returns:
        A `Run` with `.model`, `.config`, `.metrics`, `.history` and `.spec`.

    Raises:
        RunError: the run is missing, unfinished, or a file no longer matches
            its recorded hash.

    Example:
    >>> load_run("no/such/run")
    Traceback (most recent call last):
    ...
    kerazoo.errors.RunError: no run directory at 'no/such/run'
    """
    path = Path(path)
    check_run(path)
    try:
        config = json.loads((path / "config.json").read_text())
        metrics = json.loads((path / "metrics.json").read_text())
    except (OSError, ValueError) as err:
        raise RunError(f"run {str(path)!r}: cannot read its JSON files: {err}") from None
    history = read_history(path / "history.csv") if (path / "history.csv").exists() else {}
    run = Run(path=path, config=config, metrics=metrics, history=history)
    if load_model:
        try:
            if not (path / "model.keras").exists() and (path / "adapter.json").exists():
                # a LoRA run saved as its adapter alone: the base run's model plus the adapter, merged
                from kerazoo.lm.finetune import load_adapter_run

                run.model = load_adapter_run(path, config, safe_mode=safe_mode)
            else:
                run.model = _load_keras_file(path / "model.keras", safe_mode=safe_mode)
        except Exception as err:
            raise RunError(f"run {str(path)!r}: model.keras does not load: {err}") from None
        run.model._kerazoo = {k: config[k] for k in ("model", "overrides", "config", "spec") if k in config}
    return run


def load_model(path: str | os.PathLike, *, safe_mode: bool = True):
    """Load a `.keras` file written by the zoo (or any Keras model file).

    Keras finds the zoo's own layers, losses and metrics only once their modules
    are imported; this imports them, then calls `keras.saving.load_model`.

    Args:
        path: a `.keras` file.
        safe_mode: refuse Lambda layers and other code in the file. Defaults to True.

    Returns:
        The Keras model.

    Example:
    >>> import tempfile, pathlib
    >>> from kerazoo import build
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "vit.keras"
    >>> build("vit", input_shape=(8, 8, 1), patch_size=4, num_layers=1).save(path)
    >>> load_model(path).name
    'vit'
    """
    return _load_keras_file(path, safe_mode=safe_mode)


def _load_keras_file(path, *, safe_mode: bool):
    import zipfile

    import keras

    import kerazoo.layers  # noqa: F401  (registers the zoo's layers for deserialization)
    import kerazoo.lm.metrics  # noqa: F401  (language-model metrics)
    import kerazoo.objectives  # noqa: F401

    if not os.path.exists(path):
        raise ModelFileError(f"no such file {str(path)!r}")
    if str(path).endswith(".keras") and not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise ModelFileError(f"{str(path)!r} is damaged: a .keras file is a zip archive and this one does not "
                             f"open as one (truncated, or another format); save the model again")
    try:
        return keras.saving.load_model(path, safe_mode=safe_mode)
    except Exception as err:  # one line naming the file, whatever Keras, zipfile or h5py raised
        text = " ".join(str(err).split())
        if safe_mode and "safe_mode" in text:
            raise ModelFileError(f"{str(path)!r} holds code that would run on loading (a Lambda layer or "
                                 f"another Python function) and safe mode refuses it; load it only if you "
                                 f"trust its source: --unsafe (safe_mode=False)") from None
        raise ModelFileError(f"{str(path)!r} is not a loadable .keras file ({type(err).__name__}: "
                             f"{text[:300]})") from None

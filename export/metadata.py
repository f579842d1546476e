"""Metadata beside the artifacts: `metadata.json` and a short Markdown model card.

`metadata.json` says what the files are and how to feed them: the model's name
and config, the input's name, shape and dtype, the outputs, class names, the
preprocessing the model does itself, versions, and per artifact its size,
SHA-256, ops (TFLite), verification figures and, for int8, what was kept in
float; `fidelity` holds the threshold and the report table's rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

__all__ = ["preprocessing_note", "environment", "file_info", "model_card", "write_metadata",
           "read_metadata"]


def preprocessing_note(spec: dict | None) -> str:
    """What a caller must do to inputs (nothing: the model preprocesses itself), in words.

    Args:
        spec: a `DataSpec` as a dict (`spec.to_dict()`), or None.

    Returns:
        One sentence.

    Example:
    >>> preprocessing_note({"kind": "image", "value_range": [0, 16]})
    'raw pixel values in [0, 16]; the model rescales them to [0, 1] itself (layer "rescale")'
    """
    if not spec:
        return "as the Keras model takes them"
    kind = spec.get("kind")
    if kind == "image" and spec.get("value_range"):
        low, high = spec["value_range"]
        if (float(low), float(high)) == (0.0, 1.0):
            return "pixel values in [0, 1], used as they are"
        return (f"raw pixel values in [{low:g}, {high:g}]; the model rescales them to [0, 1] itself "
                f'(layer "rescale")')
    if kind in ("tabular", "sequence") and spec.get("mean") is not None:
        return ("raw feature values; the model normalizes them with the training split's mean and "
                'variance itself (layer "normalize")')
    if kind == "tokens":
        return f"integer token ids in [0, {spec.get('vocab_size')})"
    return "raw inputs, used as they are"


def environment() -> dict:
    """The versions an export was made with.

    Example:
    >>> sorted(environment())[:3]
    ['ai_edge_litert', 'keras', 'kerazoo']
    """
    from importlib import metadata

    from kerazoo._version import __version__

    out = {"kerazoo": __version__, "python": platform.python_version()}
    for dist, key in (("tensorflow", "tensorflow"), ("keras", "keras"), ("ai-edge-litert", "ai_edge_litert")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return dict(sorted(out.items()))


def file_info(path: str | os.PathLike) -> dict:
    """Size and SHA-256 of a file, or total size and a combined SHA-256 of a folder's files.

    Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> file_info(p)["bytes"], file_info(p)["sha256"][:8]
    (3, 'ba7816bf')
    """
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    size = 0
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        size += f.stat().st_size
    return {"bytes": size, "sha256": digest.hexdigest()}


def human_size(n: int) -> str:
    """A byte count as KiB or MiB.

    Example:
    >>> human_size(1536), human_size(3 << 20)
    ('1.5 KiB', '3.00 MiB')
    """
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.2f} MiB"


def model_card(metadata: dict) -> str:
    """A short human-readable model card in Markdown, from `metadata.json`'s content.

    Example:
    >>> card = model_card({"model": "mlp", "version": 1, "task": "multiclass", "artifacts": [],
    ...                    "inputs": {"inputs": {"shape": [None, 4], "dtype": "float32"}}, "outputs": {}})
    >>> card.splitlines()[0]
    '# mlp, version 1'
    """
    lines = [f"# {metadata['model']}, version {metadata['version']}", ""]
    spec = metadata.get("spec") or {}
    task = metadata.get("task")
    what = f"A {task} model" + (f" for {spec['name']!r} data" if spec.get("name") else "")
    lines += [f"{what}, exported by kerazoo {metadata.get('versions', {}).get('kerazoo', '')} "
              f"on {metadata.get('created', '')}.".replace("  ", " "), ""]
    lines += ["## Inputs and outputs", ""]
    for name, info in metadata.get("inputs", {}).items():
        lines.append(f"- input `{name}`: shape {_shape(info['shape'])}, {info['dtype']}; "
                     f"{metadata.get('preprocessing', '')}")
    for name, info in metadata.get("outputs", {}).items():
        lines.append(f"- output `{name}`: shape {_shape(info['shape'])}, {info['dtype']}")
    if metadata.get("class_names"):
        names = ", ".join(map(str, metadata["class_names"]))
        lines.append(f"- classes (index order): {names}")
    lines.append("")
    metrics = (metadata.get("source") or {}).get("metrics", {}).get("test")
    if metrics:
        lines += ["## Test metrics of the Keras model", "",
                  ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())), ""]
    artifacts = metadata.get("artifacts", [])
    fidelity = metadata.get("fidelity") or {}
    rows = fidelity.get("report") or []
    from export.report import render_markdown

    lines += ["## Artifacts", "", render_markdown(rows), "",
              "Figures compare each file, reloaded by its real consumer, with the Keras model "
              f"on {metadata.get('verification_inputs', 'real inputs')}."]
    t = fidelity.get("threshold")
    if t:
        bound = f"at least {100 * t['min']:g}%" if "min" in t else f"at most {100 * t['max']:g}%"
        kept = any(r.get("status") == "kept" for r in rows)
        lines.append(f"Quantized files (dynamic, float16, int8) must have a {t['label']} of {bound}; "
                     + ("one outside it was kept because the export was asked to (`--keep-failing`)." if kept
                        else "each one here does."))
    lines.append("")
    for a in artifacts:
        q = a.get("quantization")
        if not q:
            continue
        kept = ", ".join(q["float_layers"]) if q["float_layers"] else "nothing (every op is int8)"
        ops = f" ({q['float_ops']} ops)" if q.get("float_ops") else ""
        lines += [f"## How `{a['file']}` was quantized", "", f"Recipe: {q['recipe']}. Kept in float: {kept}{ops}.", ""]
        if len(q.get("attempts", [])) > 1:
            lines += ["| recipe tried | fidelity | size |", "| --- | --- | --- |"]
            for t in q["attempts"]:
                value = t.get("relative_error", t.get("top1_agreement"))
                lines.append(f"| {t['recipe']} | {'-' if value is None else f'{100 * value:.2f}%'} | "
                             f"{human_size(t['bytes'])} |")
            lines.append("")
    lines += ["## Loading", "", "```python",
              "import tensorflow as tf  # SavedModel (TensorFlow Serving loads this folder too)",
              "serve = tf.saved_model.load(FOLDER).signatures['serving_default']",
              "",
              "from ai_edge_litert.interpreter import Interpreter  # TFLite",
              "runner = Interpreter(model_path=FOLDER + '/model.tflite').get_signature_runner()",
              "```", ""]
    serving = metadata.get("serving")
    if serving:
        name = metadata["model"]
        lines += ["## Serving", "",
                  f"TensorFlow Serving loads this folder (`docker run -p 8501:8501 --mount type=bind,"
                  f"source=$(pwd)/{name},target=/models/{name} -e MODEL_NAME={name} -t tensorflow/serving`, from "
                  f"the export root); `kerazoo serve EXPORT_ROOT` answers the same REST API for development. "
                  f"Warm-up records: `{serving['warmup_file']}`. Signatures, a request body (`{serving['request']}`), "
                  f"a curl command and a Python client: `{serving['manifest']}`.", ""]
    return "\n".join(lines)


def _shape(shape: list) -> str:
    dims = ["batch" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def write_metadata(folder: str | os.PathLike, metadata: dict) -> None:
    """Write `metadata.json` and `MODEL_CARD.md` into an export folder.

    Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_metadata(folder, {"model": "mlp", "version": 1, "artifacts": []})
    >>> sorted(p.name for p in folder.iterdir())
    ['MODEL_CARD.md', 'metadata.json']
    """
    from kerazoo.io import write_json, write_text

    folder = Path(folder)
    metadata = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), **metadata}
    write_json(folder / "metadata.json", metadata)
    write_text(folder / "MODEL_CARD.md", model_card(metadata))


def read_metadata(folder: str | os.PathLike) -> dict:
    """Read an export folder's `metadata.json`.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_metadata(folder, {"model": "mlp", "version": 3, "artifacts": []})
    >>> read_metadata(folder)["version"]
    3
    """
    return json.loads((Path(folder) / "metadata.json").read_text())


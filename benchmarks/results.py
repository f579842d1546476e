"""Saved benchmark results: every figure the README quotes comes from one of these files.

A benchmark script ends with `save("name", result)`: it writes
`benchmarks/results/<name>.json` (the result, the exact command, the date and
the machine) and prints it. A script also defines `render(saved) -> str`, the
Markdown the documentation shows; `python scripts/figures.py --write` puts
each rendering between the `<!-- figure:NAME -->` and `<!-- /figure:NAME -->`
markers of README.md and docs/, and a test fails when a page drifts from its
saved result.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the figures were measured on."""
    out = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        import keras
        import tensorflow as tf

        out.update(tensorflow=tf.__version__, keras=keras.__version__,
                   gpus=len(tf.config.list_physical_devices("GPU")))
    except ImportError:  # pragma: no cover
        pass
    return out


def save(name: str, result: dict, *, note: str = "") -> Path:
    """Write `results/<name>.json` with the command that produced it, and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    script = Path(sys.argv[0])
    command = " ".join(["python", f"benchmarks/{script.name}", *sys.argv[1:]])
    saved = {"benchmark": name, "command": command, "date": time.strftime("%Y-%m-%d"),
             "machine": machine(), **({"note": note} if note else {}), "result": result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(saved, indent=2, default=float) + "\n")
    print(json.dumps(result, indent=2, default=float))
    print(f"saved to {path.relative_to(RESULTS.parent.parent)}")
    return path


def load(name: str) -> dict:
    """A saved result, as `save` wrote it."""
    return json.loads((RESULTS / f"{name}.json").read_text())

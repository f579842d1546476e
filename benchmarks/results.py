"""Saved benchmark results: every figure the README quotes comes from one of these files.

A benchmark script ends with `save("name", result)`: it writes
`benchmarks/results/<name>.json` (the result, the exact command, the date and
the machine) and prints it. A script also defines `render(saved) -> str`, the
Markdown the documentation shows (and `render_PART(saved)` for a block that
shows one part of it); `python scripts/figures.py --write` puts each rendering
between the `<!-- figure:NAME -->` and `<!-- /figure:NAME -->` markers of
README.md and docs/, and a test fails when a page drifts from its saved result.

A timing taken while other jobs share the machine is not a figure: save it with
`--note "taken under load"` (`options`), and the rendering says so (`footer`).
"""

from __future__ import annotations

import argparse
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


def command() -> str:
    """The command that is running this benchmark, less `--note`: what measures again."""
    return " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *_without_note(sys.argv[1:])])


def record(name: str, result: dict, *, note: str = "") -> dict:
    """What `save` writes: the result with the command that produced it, the date, the machine and the note."""
    return {"benchmark": name, "command": command(), "date": time.strftime("%Y-%m-%d"),
            "machine": machine(), **({"note": note} if note else {}), "result": result}


def _without_note(argv: list[str]) -> list[str]:
    """The arguments less `--note TEXT` (saved apart): the command that measures again.

    Example:
    >>> _without_note(["--epochs", "3", "--note", "under load", "--note=x", "--quick"])
    ['--epochs', '3', '--quick']
    """
    out, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            out.append(arg)
    return out


def save(name: str, result: dict, *, note: str = "") -> Path:
    """Write `results/<name>.json` with the command that produced it, and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = record(name, result, note=note)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(saved, indent=2, default=float) + "\n")
    print(json.dumps(result, indent=2, default=float))
    print(f"saved to {path.relative_to(RESULTS.parent.parent)}")
    return path


def load(name: str) -> dict:
    """A saved result, as `save` wrote it."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options every benchmark takes: `--note` (saved and rendered) and `--no-save`."""
    parser.add_argument("--note", default="", help="saved with the result and shown with it, e.g. "
                        "'taken under load: other jobs shared the cores'")
    parser.add_argument("--no-save", action="store_true", help="print the rendering; do not write "
                        "benchmarks/results/")
    return parser


def publish(name: str, result: dict, args: argparse.Namespace, render) -> None:
    """`save` the result, or with `--no-save` print what `render` makes of it."""
    if args.no_save:
        print(render(record(name, result, note=args.note)))
        return
    save(name, result, note=args.note)


def footer(saved: dict) -> str:
    """The end of a rendered block: the command, the date, the machine's cores, and the note if any.

    Example:
    >>> footer({"command": "python benchmarks/x.py", "date": "2026-01-02", "machine": {"cpus": 2},
    ...         "note": "taken under load"})
    'Command: `python benchmarks/x.py` (2026-01-02, 2 CPU cores). Taken under load.'
    """
    note = saved.get("note", "")
    cpus = saved.get("machine", {}).get("cpus")
    where = f", {cpus} CPU cores" if cpus else ""
    gpus = saved.get("machine", {}).get("gpus")
    where += f", {gpus} GPU{'s' if gpus > 1 else ''}" if gpus else ""
    return (f"Command: `{saved['command']}` ({saved['date']}{where})."
            + (f" {note[0].upper()}{note[1:].rstrip('.')}." if note else ""))

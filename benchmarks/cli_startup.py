"""How fast the `kerazoo` command answers when it needs no TensorFlow: `kerazoo models`, `kerazoo --help`.

Each command runs `--repeats` times in a fresh Python process (`python -m
kerazoo ...`, as the `kerazoo` entry point does), beside Python's own start-up
(`python -c pass`) and the import of TensorFlow alone, for scale; the figure is
the median wall time. Each command's process also reports whether TensorFlow was
imported.

    python benchmarks/cli_startup.py
    python benchmarks/cli_startup.py --repeats 3 --no-save
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

COMMANDS = {"kerazoo models": ["models"], "kerazoo --help": ["--help"]}
PROBE = ("import runpy, sys; sys.argv = ['kerazoo', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('kerazoo', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('tensorflow' in sys.modules, file=sys.stderr)")


def _median_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def render(saved: dict) -> str:
    """The README's lines: each command's median time and whether it imported TensorFlow."""
    r = saved["result"]
    lines = ["| command | median wall time | imports TensorFlow |", "| --- | ---: | --- |"]
    for row in r["rows"]:
        imported = {True: "yes", False: "no", None: "-"}[row["tensorflow"]]
        lines.append(f"| `{row['command']}` | {row['seconds']:.2f} s | {imported} |")
    lines += ["", f"A fresh process each time, the median of {r['repeats']}. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = options(parser).parse_args(argv)
    rows = []
    for label, rest in COMMANDS.items():
        probe = subprocess.run([sys.executable, "-c", PROBE, *rest], capture_output=True, text=True, check=True)
        imported = probe.stderr.strip().splitlines()[-1] == "True"
        rows.append({"command": label, "seconds": _median_seconds([sys.executable, "-m", "kerazoo", *rest],
                                                                  args.repeats), "tensorflow": imported})
    rows.append({"command": "python -c pass", "seconds": _median_seconds([sys.executable, "-c", "pass"],
                                                                         args.repeats), "tensorflow": False})
    rows.append({"command": "python -c 'import tensorflow'", "tensorflow": True,
                 "seconds": _median_seconds([sys.executable, "-c", "import tensorflow"], max(1, args.repeats // 3))})
    for row in rows:
        print(f"{row['command']}: {row['seconds']:.2f} s", flush=True)
    publish("cli_startup", {"repeats": args.repeats, "rows": rows}, args, render)


if __name__ == "__main__":
    main()

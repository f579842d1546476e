"""Render the documentation's figures from the benchmarks' saved results.

Every `<!-- figure:NAME -->` ... `<!-- /figure:NAME -->` block in README.md and
docs/**/*.md is replaced by `render(load(NAME))` of `benchmarks/NAME.py` (its
saved result is `benchmarks/results/NAME.json`). A block may name the script
and the result apart, `<!-- figure:SCRIPT/RESULT -->`, when one script saves
several results, and one part of a result, `<!-- figure:NAME.PART -->`, which
`render_PART(saved)` of the script renders.

    python scripts/figures.py            # list the blocks and whether each is current
    python scripts/figures.py --write    # rewrite them

tests/test_readme.py fails when a page differs from what this writes.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- figure:([\w/.-]+) -->\n)(.*?)(<!-- /figure:\2 -->)", re.S)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _script(name: str):
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def render(block: str) -> str:
    """The Markdown for one block name, from its saved result."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from results import load
    finally:
        sys.path.pop(0)
    name, _, part = block.partition(".")
    script, _, result = name.partition("/")
    module = _script(script)
    return getattr(module, f"render_{part}" if part else "render")(load(result or script)).rstrip("\n") + "\n"


def rendered(text: str) -> str:
    """`text` with every figure block re-rendered."""
    return BLOCK.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(4), text)


def blocks(text: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(text)]


if __name__ == "__main__":
    for page in pages():
        text = page.read_text()
        new = rendered(text)
        for name in blocks(text):
            print(f"{page.relative_to(ROOT)}: {name}")
        if new != text:
            if "--write" in sys.argv:
                page.write_text(new)
                print(f"rewrote {page.relative_to(ROOT)}")
            else:
                print(f"{page.relative_to(ROOT)} is out of date: python scripts/figures.py --write")

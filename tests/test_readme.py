"""README.md is the front door (the manual is docs/): its generated table, commands and links must stay true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_model_table_matches_registry():
    sys.path.insert(0, str(ROOT / "scripts"))
    from model_table import readme_with_table

    assert readme_with_table(README) == README, "run: python scripts/model_table.py --write"


def test_ci_runs_the_readme_test_command():
    out = subprocess.run(["awk", r"/<!-- test-command -->/{f=1;next} /<!-- \/test-command -->/{f=0} f && /^[^`]/",
                          str(ROOT / "README.md")], capture_output=True, text=True).stdout.strip()
    assert out.startswith("python3 -m venv") and "pytest" in out
    assert "bash -c \"$cmd\"" in (ROOT / ".ci" / "run").read_text()


def test_readme_is_at_most_10_kb():
    size = len(README.encode("utf-8"))
    assert size <= 10 * 1024, f"README.md is {size:,} bytes; the manual belongs in docs/"


def test_readme_links_into_the_docs_resolve():
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", README)
    assert len({page for page, _ in links}) >= 10, "README.md links to too few docs pages"
    for page, anchor in links:
        path = ROOT / page
        assert path.is_file(), f"README.md links to {page}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
            slugs = {re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", h.replace("`", "")).strip().lower())
                     for h in headings}
            assert anchor in slugs, f"README.md links to {page}#{anchor}, a heading that does not exist"


def test_every_figure_block_matches_its_saved_result():
    sys.path.insert(0, str(ROOT / "scripts"))
    from figures import pages, rendered

    for page in pages():
        text = page.read_text()
        assert rendered(text) == text, f"{page.name}: run python scripts/figures.py --write"


def _figures():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import figures
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return figures


def _changed(value):
    """`value` with every number in it changed (booleans and text kept)."""
    if isinstance(value, dict):
        return {k: _changed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_changed(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return value * 3 + 7 if isinstance(value, int) else value * 1.37 + 0.11


def test_a_figure_typed_over_by_hand_is_caught():
    figures = _figures()
    text = next(t for t in (page.read_text() for page in figures.pages()) if figures.blocks(t))
    name = figures.blocks(text)[0]
    start = text.index(f"<!-- figure:{name} -->")
    digit = next(i for i in range(start + len(name) + 16, len(text)) if text[i].isdigit())
    typed = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:]
    assert figures.rendered(text) == text
    assert figures.rendered(typed) != typed


def test_every_figure_block_changes_when_its_saved_figures_change(monkeypatch):
    """Each block is rendered from its JSON, not typed into the script: other figures, another block."""
    figures = _figures()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import results
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    load = results.load
    names = [name for page in figures.pages() for name in figures.blocks(page.read_text())]
    assert names
    for name in names:
        monkeypatch.setattr(results, "load", load)
        real = figures.render(name)
        monkeypatch.setattr(results, "load", lambda result: {**load(result), "result": _changed(load(result)["result"])})
        assert figures.render(name) != real, f"{name}: its block does not change with benchmarks/results' figures"


def test_every_saved_result_is_shown_and_every_benchmark_has_a_saved_result():
    figures = _figures()
    shown = {name.partition(".")[0].split("/")[-1] for page in figures.pages() for name in figures.blocks(page.read_text())}
    saved = {path.stem for path in (ROOT / "benchmarks" / "results").glob("*.json")}
    assert saved <= shown, f"saved but shown on no page: {sorted(saved - shown)}"
    commands = [json.loads(path.read_text())["command"] for path in (ROOT / "benchmarks" / "results").glob("*.json")]
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        if script.stem != "results":
            code = script.read_text()
            assert re.search(r"\b(publish|save)\(", code) and "def render(" in code, \
                f"{script.name} saves no result or renders none"
            assert any(f"benchmarks/{script.name}" in command.split() for command in commands), \
                f"{script.name}: no result in benchmarks/results/ was made by it"

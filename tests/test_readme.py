"""README.md is the user's manual: its generated table and its commands must stay true."""

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


def test_every_cli_command_is_documented():
    from kerazoo.cli import make_parser

    parser = make_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        assert f"kerazoo {name}" in README, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"kerazoo {name} {flag} is not in README.md"


def test_every_public_function_is_documented():
    import kerazoo

    for name in kerazoo.__all__:
        if name.startswith("_") or name in ("Data", "FitResult", "Run"):
            continue
        assert re.search(rf"`{name}\b", README), f"{name} is not documented in README.md"


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
    name = figures.blocks(README)[0]
    start = README.index(f"<!-- figure:{name} -->")
    digit = next(i for i in range(start + len(name) + 16, len(README)) if README[i].isdigit())
    typed = README[:digit] + str((int(README[digit]) + 1) % 10) + README[digit + 1:]
    assert figures.rendered(README) == README
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

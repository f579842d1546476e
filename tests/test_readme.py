"""README.md is the user's manual: its generated table and its commands must stay true."""

from __future__ import annotations

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

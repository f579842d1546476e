"""README.md is the front door (the manual is docs/): its generated table, commands and links must stay true."""

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

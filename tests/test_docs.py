"""The documentation site: it builds strictly, its generated pages match their sources, and it covers the API."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.M)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _resolve(path: str):
    """The object a `::: path` directive names, imported for real."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _documented() -> dict[str, object]:
    """Every `::: path` of the API reference pages -> the object it renders."""
    paths = [p for page in sorted(REFERENCE.glob("*.md")) for p in DIRECTIVE.findall(page.read_text())]
    return {p: _resolve(p) for p in paths}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built by `mkdocs build --strict` into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 0, "mkdocs build --strict failed:\n" + res.stderr[-5000:]
    return out


def test_mkdocs_build_strict_is_clean(site):
    for page in ("index.html", "models/index.html", "cli/index.html", "reference/kerazoo/index.html",
                 "architecture/index.html", "benchmarks/index.html"):
        assert (site / page).stat().st_size > 0, page
    architecture = re.sub(r"<[^>]+>", "", (site / "architecture" / "index.html").read_text())  # text, not highlighting
    assert "def lenet(" in architecture, "the model-family example is not included in the architecture page"


def test_api_reference_renders_every_public_name(site):
    import export
    import kerazoo
    import kerazoo.errors
    import kerazoo.io
    import tuning

    documented = _documented()
    html = "".join(p.read_text() for p in (site / "reference").rglob("*.html"))
    for package in (kerazoo, tuning, export, kerazoo.io, kerazoo.errors):
        whole = documented.get(package.__name__) is package  # `::: kerazoo.io` renders its members
        for name in package.__all__:
            if name.startswith("_"):
                continue
            obj = getattr(package, name)
            paths = [p for p, o in documented.items() if o is obj and p.rsplit(".", 1)[-1] == name]
            paths += [f"{package.__name__}.{name}"] if whole else []
            if whole and isinstance(obj, (int, str)):  # a constant: griffe renders no heading for it
                assert f"<code>{name}</code>" in html, f"{package.__name__}.{name} is not in docs/reference/"
                continue
            assert paths, f"{package.__name__}.{name} is not in docs/reference/ (add `::: ...{name}`)"
            assert any(f'id="{p}"' in html for p in paths), f"{paths} did not render"


def test_every_cli_flag_is_in_the_cli_reference():
    from kerazoo.cli import make_parser

    page = (DOCS / "cli.md").read_text()
    commands = _script("docs_pages")._subcommands(make_parser())
    assert commands, "no commands found in the parser"
    for name, (sub, _) in commands.items():
        assert f"### `kerazoo {name}`" in page, f"kerazoo {name} has no section in docs/cli.md"
        section = page.split(f"### `kerazoo {name}`")[1].split("\n### ")[0]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in section, f"kerazoo {name} {flag} is not in docs/cli.md"


def test_generated_pages_match_the_registry_and_the_parser():
    pages = _script("docs_pages")
    blocks = []
    for page in pages.pages():
        text = page.read_text()
        blocks += pages.BLOCK.findall(text)
        assert pages.rendered(text) == text, f"{page.name}: run python scripts/docs_pages.py --write"
    assert {b[1] for b in blocks} == set(pages.BLOCKS), "a generated block is missing from docs/"


def test_models_page_has_every_model_and_argument():
    from kerazoo import describe, list_models

    page = (DOCS / "models.md").read_text()
    for name in list_models():
        section = page.split(f"### `{name}`\n")[1].split("\n### ")[0]
        for argument in describe(name)["defaults"]:
            assert f"| `{argument}` |" in section, f"{name}: argument {argument} missing from docs/models.md"
    mlp = page.split("### `mlp`\n")[1].split("\n### ")[0]
    assert re.search(r"\| `l1` \| `0.0` \| - \| kernel regularization strengths", mlp), \
        "an Args entry naming two arguments (l1, l2) describes each"


def test_griffe_extension_renders_unindented_examples_as_code():
    rewrite = _script("griffe_examples").indent_examples
    assert rewrite("Summary.\n\nExample:\n>>> 1 + 1\n2") == "Summary.\n\nExamples:\n    >>> 1 + 1\n    2"
    already = "Summary.\n\nExample:\n    >>> 1 + 1\n    2"
    assert rewrite(already) == already
    assert rewrite("Args:\n    x: a value.\n\nReturns:\n    y.") == "Args:\n    x: a value.\n\nReturns:\n    y."


def test_model_family_example_is_a_zoo_model(registry_sandbox, digits, tmp_path):
    from conftest import small

    from kerazoo import build, describe, fit, list_models
    from tuning import resolve_space

    path = ROOT / "examples" / "model_family.py"
    spec = importlib.util.spec_from_file_location("model_family_example", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))

    assert "lenet" in list_models(tags=["example"])
    info = describe("lenet")
    assert info["defaults"]["filters"] == (6, 16) and set(info["space"]) == {"filters", "dense_units", "dropout"}
    assert {"filters", "dense_units", "dropout", "learning_rate"} <= set(resolve_space("lenet").entries)
    model = build("lenet", digits.spec, filters=(4, 8), dense_units=16)
    result = fit(model, small(digits), epochs=1, verbose=0, callbacks="none")
    assert result.epochs == 1
    probabilities = model.predict(next(iter(digits.test))[0], verbose=0)
    assert probabilities.shape[1] == 10 and abs(float(probabilities[0].sum()) - 1.0) < 1e-4
    section = "\n".join(_script("docs_pages")._model_section("lenet", info, {}, None))
    assert "| `dense_units` | `84` | one of [84, 128, 256] | the dense layer before the head." in section


def test_architecture_layer_table_names_every_module_and_only_those():
    page = (DOCS / "architecture.md").read_text()
    table = page.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    named = {name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[2])}
    package = ROOT / "kerazoo"
    modules = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    modules -= {"__init__", "__main__", "_version"}
    assert modules - named == set(), f"kerazoo modules missing from the layer table in docs/architecture.md: {modules - named}"
    unknown = {n for n in named - modules if not (ROOT / n / "__init__.py").exists()}
    assert unknown == set(), f"docs/architecture.md's layer table names modules that do not exist: {unknown}"


@pytest.mark.parametrize("picture, source", [
    ("export-size-latency", "benchmarks/results/int8_fidelity.json"),
    ("lm-compressors", "docs/images/lm-compressors.json"),
    ("tuning-trials", "docs/images/tuning-trials.json"),
])
def test_picture_matches_the_numbers_it_is_drawn_from(picture, source, tmp_path, monkeypatch):
    images = _script("docs_images")
    monkeypatch.setattr(images, "IMAGES", tmp_path)
    if picture == "export-size-latency":
        images.export_picture()
    else:
        draw = {"lm-compressors": images.lm_picture, "tuning-trials": images.tuning_picture}[picture]
        draw(images.json.loads((ROOT / source).read_text()))
    drawn = (tmp_path / f"{picture}.png").read_bytes()
    assert drawn == (DOCS / "images" / f"{picture}.png").read_bytes(), \
        f"docs/images/{picture}.png differs from what {source} draws: run python scripts/docs_images.py --redraw"

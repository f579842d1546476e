"""The house's layers: the import contract in `.importlinter` holds, can fail, and covers every module."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kerazoo", "tuning", "export")
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]


def _layers() -> list[list[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    text = config["importlinter:contract:layers"]["layers"]
    return [[m.strip() for m in line.replace("|", ":").split(":")] for line in text.split("\n") if line.strip()]


def _modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(LINT, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_layer_contract_holds():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_the_contract_fails_when_a_lower_layer_imports_a_higher_one(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "kerazoo" / "spec.py", "a") as f:  # a bottom-layer module reaching up, inside a function
        f.write("\n\ndef _reaches_up():\n    from kerazoo.train import fit\n\n    return fit\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "kerazoo.spec is not allowed to import kerazoo.train" in done.stdout


def test_every_module_sits_in_a_layer():
    layered = [m for layer in _layers() for m in layer]
    gathering = {"kerazoo", "kerazoo.lm"}  # package __init__ files that only gather their layers' modules
    loose = [m for m in _modules() if m not in gathering and m not in PACKAGES
             and not any(m == top or m.startswith(top + ".") for top in layered)]
    assert not loose, f"modules in no layer of .importlinter: {loose}"


def test_tuning_and_export_sit_above_kerazoo_and_the_cli_on_top():
    layers = _layers()
    assert layers[0][0] == "kerazoo.cli"
    assert layers[1] == ["tuning", "export"]


def _python_files(*roots: str) -> list[Path]:
    return [p for root in roots for p in sorted((ROOT / root).rglob("*.py"))]


def test_no_module_holds_more_than_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _python_files(*PACKAGES)
            if (n := len(p.read_text().splitlines())) > 500}
    assert not long, f"modules over 500 lines (split them by concept): {long}"


def test_no_underscore_name_is_imported_from_another_module_of_the_project():
    import ast

    ours = (*PACKAGES, "tests", "benchmarks")
    found = []
    for path in _python_files(*PACKAGES, "tests", "benchmarks", "scripts", "examples"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ours:
                parts = [p for p in node.module.split(".") if p not in ("_version", "__main__")]
                names = [a.name for a in node.names if a.name != "__version__"]
                private = [p for p in parts if p.startswith("_")] + [n for n in names if n.startswith("_")]
            elif isinstance(node, ast.Import):
                private = [a.name for a in node.names if a.name.split(".")[0] in PACKAGES
                           and any(p.startswith("_") and p not in ("_version", "__main__") for p in a.name.split("."))]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in private]
    assert not found, f"private names imported across modules (make them public where they belong): {found}"

"""Every example runs, with tiny settings, in a subprocess, so none can rot.

An example without an entry in QUICK fails here: add its smallest settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUICK = {  # example -> (arguments, a line its output must contain)
    "dense_digits.py": (["--epochs", "1"], "test accuracy"),
    "cnn_images.py": (["--epochs", "1"], "test accuracy"),
    "binary_breast_cancer.py": (["--epochs", "2"], "AUC"),
    "regression_diabetes.py": (["--epochs", "2"], "test MAE"),
    "xor_mlp.py": ([], "solved"),
    "transformer_text.py": (["--quick", "--epochs", "1"], "test accuracy"),
    "transfer_digits.py": None,  # run in-process by tests/test_defaults.py, whose assertion it carries
    "gpt_pydoc.py": (["--quick", "--out", "example-run"], "example done"),
    "export_mobile_and_serving.py": (["--epochs", "1", "--out", "export-run"], "agrees with the SavedModel"),
    "model_family.py": (["--epochs", "1"], "test accuracy"),
}


def test_every_example_has_quick_settings():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts, "no examples"
    missing = [s for s in scripts if s not in QUICK]
    assert not missing, f"add quick settings for {missing} to tests/test_examples.py"


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(k for k, v in QUICK.items() if v is not None))
def test_example_runs(script, tmp_path):
    args, expected = QUICK[script]
    res = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert expected in res.stdout, res.stdout[-2000:]
    if script == "xor_mlp.py":
        assert "not solved" not in res.stdout


def test_every_example_says_what_it_shows_and_how_to_run():
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), f"{path.name}: starts with a docstring"
        assert f"python examples/{path.name}" in text, f"{path.name}: its docstring shows how to run it"

"""Every example runs, with tiny settings, so none can rot.

One runs as the user runs it, `python examples/X.py` in a fresh process; the others run their
`main(argv)` in this process (the same code; a subprocess would only add a TensorFlow import each).
An example without an entry in QUICK fails here: add its smallest settings.
"""

from __future__ import annotations

import importlib.util
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
AS_A_PROCESS = "dense_digits.py"


def test_every_example_has_quick_settings():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts, "no examples"
    missing = [s for s in scripts if s not in QUICK]
    assert not missing, f"add quick settings for {missing} to tests/test_examples.py"


def test_an_example_runs_as_a_script(tmp_path):
    args, expected = QUICK[AS_A_PROCESS]
    res = subprocess.run([sys.executable, str(EXAMPLES / AS_A_PROCESS), *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert expected in res.stdout, res.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(k for k, v in QUICK.items() if v is not None and k != AS_A_PROCESS))
def test_example_runs(script, tmp_path, monkeypatch, capsys, registry_sandbox):  # an example may register a family
    args, expected = QUICK[script]
    monkeypatch.chdir(tmp_path)  # an example writes where it runs, as from the user's shell
    spec = importlib.util.spec_from_file_location(f"example_{script[:-3]}", EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    returned = module.main(args)
    out = capsys.readouterr().out
    if "exit(main())" in (EXAMPLES / script).read_text():  # what main() returns is the script's exit status
        assert returned in (None, 0), returned
    assert expected in out, out[-2000:]
    if script == "xor_mlp.py":
        assert "not solved" not in out


def test_every_example_says_what_it_shows_and_how_to_run():
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), f"{path.name}: starts with a docstring"
        assert f"python examples/{path.name}" in text, f"{path.name}: its docstring shows how to run it"
        assert 'if __name__ == "__main__":\n    ' in text and "main()" in text.split('if __name__ == "__main__":')[1], \
            f"{path.name}: runs main() as a script"

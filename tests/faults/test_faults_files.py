"""Damaged, truncated, unsafe and half-written files: refused in one line, never loaded, never left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _faultkit import kill_when


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    from kerazoo import build, fit, load_data

    data = load_data("iris", batch_size=16, seed=0)
    run = tmp_path_factory.mktemp("runs") / "iris"
    fit(build("mlp", data.spec, width=8), data, epochs=1, run_dir=run, verbose=0)
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith("kerazoo: error: "), captured.err
    return captured.err


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize("damage,message", [
    (lambda run: _truncate(run / "model.keras"), "model.keras changed since the run wrote it"),
    (lambda run: (run / "config.json").write_text('{"model": "mlp", '), "config.json changed since"),
    (lambda run: (run / "manifest.json").unlink(), "is unfinished (no manifest.json)"),
    (lambda run: (run / "manifest.json").write_text("{"), "manifest.json is damaged"),
    (lambda run: (run / "model.keras").unlink(), "model.keras is missing"),
])
@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_damaged_run_is_refused_in_one_line_with_exit_2(run_copy, tmp_path, capsys, damage, message, command):
    from kerazoo.cli import main

    damage(run_copy)
    extra = ["--out", str(tmp_path / "exports")] if command == "export" else []
    assert main([command, str(run_copy), *extra]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "exports").exists()  # nothing half-written


@pytest.mark.parametrize("damage,message", [
    (lambda run: _truncate(run / "model.keras"), "model.keras does not load: .* is damaged: a .keras file is a zip"),
    (lambda run: (run / "model.keras").write_bytes(b"not a zip"), "is damaged: a .keras file is a zip archive"),
    (lambda run: (run / "config.json").write_text('{"model": "mlp", '), "cannot read its JSON files"),
])
def test_damaged_file_under_a_matching_manifest_still_fails_cleanly(run_copy, capsys, damage, message):
    """A file damaged before the manifest was written (its hash matches): the loader names it."""
    from kerazoo.cli import main
    from kerazoo.runs import RunError, finish_run, load_run

    damage(run_copy)
    finish_run(run_copy)
    with pytest.raises(RunError, match=message):
        load_run(run_copy)
    assert main(["evaluate", str(run_copy), "--no-report"]) == 2
    _one_line_error(capsys)


def test_a_truncated_keras_file_is_reported_damaged_not_missing(finished_run, tmp_path, capsys):
    from kerazoo.cli import main
    from kerazoo.runs import ModelFileError, load_model

    path = tmp_path / "cut.keras"
    path.write_bytes((finished_run / "model.keras").read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="cut.keras' is damaged: a .keras file is a zip archive and this one "
                                             "does not open as one"):
        load_model(path)
    assert main(["finetune", str(path), "--data", "iris", "--epochs", "1", "--out", str(tmp_path / "ft")]) == 2
    err = _one_line_error(capsys)
    assert "is damaged" in err and "not found" not in err.lower()
    assert not (tmp_path / "ft").exists()  # the folder the command made is gone again


@pytest.fixture(scope="module")
def lambda_run(tmp_path_factory) -> Path:
    import keras

    from kerazoo import fit, load_data

    data = load_data("iris", batch_size=16, seed=0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2.0),
                              keras.layers.Dense(3, activation="softmax")], name="doubler")
    run = tmp_path_factory.mktemp("runs") / "lambda"
    fit(model, data, epochs=1, run_dir=run, verbose=0, callbacks="none")
    return run


def test_a_lambda_layer_is_refused_by_default_and_loads_with_the_explicit_flag(lambda_run, capsys):
    from kerazoo.cli import main
    from kerazoo.runs import ModelFileError, RunError, load_model, load_run

    with pytest.raises(ModelFileError, match=r"holds code that would run on loading .* --unsafe"):
        load_model(lambda_run / "model.keras")
    with pytest.raises(RunError, match="safe mode refuses it"):
        load_run(lambda_run)
    assert main(["evaluate", str(lambda_run)]) == 2
    assert "--unsafe" in _one_line_error(capsys)

    assert load_model(lambda_run / "model.keras", safe_mode=False).name == "doubler"
    assert main(["evaluate", str(lambda_run), "--unsafe", "--no-report"]) == 0
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.multiprocess
def test_sigkill_mid_export_leaves_no_partial_artifact_and_the_next_export_succeeds(finished_run, tmp_path):
    from export import export_model

    out = tmp_path / "exports"
    root = out / "mlp"

    def building() -> bool:  # the SavedModel is written into the hidden build folder: kill now
        return root.is_dir() and any((p / "saved_model.pb").exists() for p in root.glob(".partial-*"))

    kill_when(["export", str(finished_run), "--out", str(out)], building)
    assert [p.name for p in root.iterdir() if not p.name.startswith(".partial-")] == []  # no version folder
    assert len(list(root.glob(".partial-*"))) == 1  # the killed export's build folder, hidden

    result = export_model(finished_run, out)
    assert result.version == 1 and result.path == root / "1"
    assert sorted(p.name for p in root.iterdir()) == ["1"]  # the stale build folder was cleaned
    assert {"saved_model.pb", "model.tflite", "metadata.json"} <= {p.name for p in result.path.iterdir()}
    assert json.loads((result.path / "metadata.json").read_text())["version"] == 1

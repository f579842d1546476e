"""Everything the zoo writes gets the permissions the user's umask gives ordinary files, and lands whole.

`tempfile.mkstemp`/`mkdtemp` make 0600 files and 0700 folders whatever the
umask; a run or an export renamed into place from them could not be read by
another user (a TensorFlow Serving process, a teammate).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from kerazoo.io import atomic_write, replace_dir, write_json


@pytest.fixture(params=[0o022, 0o027])
def mask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix() or ".": stat.S_IMODE(p.stat().st_mode)
            for p in [root, *root.rglob("*")]}


def test_atomic_writes_take_the_umask_modes(tmp_path, mask):
    write_json(tmp_path / "a.json", {"x": 1})
    atomic_write(tmp_path / "sub" / "b.bin", lambda tmp: Path(tmp).write_bytes(b"\0"))
    found = modes(tmp_path)
    assert found["a.json"] == found["sub/b.bin"] == 0o666 & ~mask
    assert found["sub"] == 0o777 & ~mask
    assert not [p for p in tmp_path.rglob(".*.tmp")]  # no temporary file left behind


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "a.txt").write_text("old")

    def fail(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "a.txt", fail)
    assert (tmp_path / "a.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_replace_dir_refuses_an_existing_target_unless_told(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "1").mkdir()
    with pytest.raises(FileExistsError):
        replace_dir(tmp_path / "new", tmp_path / "1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "new"]


def test_a_run_directory_is_readable_by_others(tmp_path, mask):
    from kerazoo import build, fit, load_data

    data = load_data("iris", batch_size=64)
    fit(build("mlp", data.spec, width=8, depth=1), data, epochs=1, run_dir=tmp_path / "run", verbose=0)
    found = modes(tmp_path / "run")
    files = {k: v for k, v in found.items() if (tmp_path / "run" / k).is_file()}
    folders = {k: v for k, v in found.items() if (tmp_path / "run" / k).is_dir()}
    assert {"config.json", "history.csv", "metrics.json", "model.keras", "manifest.json"} <= set(files)
    assert set(files.values()) == {0o666 & ~mask}, files
    assert set(folders.values()) == {0o777 & ~mask}, folders


def test_an_export_version_folder_is_readable_by_others(tmp_path, mask):
    from export import export_model
    from kerazoo import build

    model = build("mlp", input_shape=(4,), num_classes=3, width=8, depth=1)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    result = export_model(model, tmp_path / "exports", verify_data=x, formats="savedmodel,tflite")
    found = modes(result.path)
    assert found["."] == found["variables"] == found["assets.extra"] == 0o777 & ~mask
    for name in ("saved_model.pb", "model.tflite", "metadata.json", "MODEL_CARD.md", "serving.json", "request.json",
                 "assets.extra/tf_serving_warmup_requests"):
        assert found[name] == 0o666 & ~mask, (name, oct(found[name]))

"""kerazoo.model_info: one public record of what the zoo knows of a model, kept inside its .keras file."""

import zipfile
from pathlib import Path

from kerazoo import build, fit, load_data, load_model, load_run, model_info
from kerazoo.modelinfo import INFO_FILE

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_keeps_the_record_in_its_keras_file_and_load_model_gives_it_back(tmp_path):
    data = load_data("iris", seed=0)
    model = build("mlp", data.spec, width=16, depth=1)
    fit(model, data, epochs=1, run_dir=tmp_path / "run", verbose=0)
    built = model_info(model)
    assert built["model"] == "mlp" and built["config"]["width"] == 16 and built["overrides"]["depth"] == 1
    assert built["compile"]["optimizer"] == "adamw"
    assert INFO_FILE in zipfile.ZipFile(tmp_path / "run" / "model.keras").namelist()
    loaded = model_info(load_model(tmp_path / "run" / "model.keras"))  # the bare file, no run around it
    assert {k: loaded[k] for k in ("model", "config", "overrides", "spec")} == \
        {k: built[k] for k in ("model", "config", "overrides", "spec")}
    assert "compile" not in loaded  # Keras keeps the compiled state in its own form
    assert model_info(load_run(tmp_path / "run").model)["spec"]["task"] == "multiclass"


def test_the_record_is_a_copy_and_a_plain_keras_model_has_none():
    import keras

    model = build("mlp", input_shape=(4,), num_classes=3)
    model_info(model)["model"] = "changed"
    assert model_info(model)["model"] == "mlp"
    assert model_info(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])) == {}


def test_only_kerazoo_modelinfo_touches_the_attribute_the_record_travels_on():
    users = [str(p.relative_to(ROOT)) for package in ("kerazoo", "tuning", "export", "tests", "benchmarks", "examples")
             for p in sorted((ROOT / package).rglob("*.py"))
             if p.name not in ("modelinfo.py", "test_modelinfo.py") and "_kerazoo" in p.read_text().replace(
                 "_kerazoo_", "")]
    assert not users, f"use kerazoo.model_info / kerazoo.modelinfo.record_info instead of the attribute: {users}"

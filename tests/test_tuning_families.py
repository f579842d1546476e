"""Searches across model families (`model: auto` or a list), and the model card of a job.

One real family search (the cnn and the mlp on the digits, every value pinned so a grid
runs one trial of each, one epoch, in this process) carries the end-to-end checks; the
choice of families and the errors need no training.
"""

from __future__ import annotations

import csv
import json

import pytest

# Everything fixed but the family: a grid runs exactly one trial per family.
PINNED = {"cnn": {"filters": [8], "dense_units": 16, "dropout": 0.0, "l2": 0.0, "pooling": "avg"},
          "mlp": {"depth": 1, "width": 32, "dropout": 0.0, "batch_norm": False, "l2": 0.0},
          "learning_rate": 3e-3, "weight_decay": 0.0, "batch_size": 64, "augment": None}


@pytest.fixture(scope="module")
def family_job(tmp_path_factory):
    from tuning import run_job

    out = tmp_path_factory.mktemp("families") / "tune"
    job = {"model": ["cnn", "mlp"], "data": "digits", "tuner": "grid", "objective": "val_accuracy",
           "space": PINNED, "budget": {"max_trials": 2, "epochs": 1}, "tensorboard": False,
           "isolate_trials": False, "output": str(out), "winner": {"rescore_folds": 2}}
    lines: list[str] = []
    result = run_job(job, verbose=1, log=lines.append)
    return job, result, lines, out


def test_a_family_search_names_each_trials_family_in_trials_csv_the_table_and_the_progress(family_job):
    job, result, lines, out = family_job
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["model"] for r in rows) == ["cnn", "mlp"]  # one trial of each family, named
    for r in rows:  # a family's entries are filled in its own trials only
        other = "mlp" if r["model"] == "cnn" else "cnn"
        assert r[f"{r['model']}/dropout"] != "" and all(v == "" for k, v in r.items() if k.startswith(other + "/"))
    table = result.search.table().splitlines()
    assert table[0].split()[5] == "model" and {ln[2:].split()[5] for ln in table[2:]} == {"cnn", "mlp"}
    progress = [ln for ln in lines if ln.startswith("trial ")]
    assert [ln.split(", ")[0] for ln in progress] in (["trial 1/2 done (cnn", "trial 2/2 done (mlp"],
                                                      ["trial 1/2 done (mlp", "trial 2/2 done (cnn"])
    assert f"model={result.search.best_family}" in progress[-1]


def test_best_json_of_a_family_search_names_its_family_and_retrain_reproduces_the_winner(family_job, tmp_path):
    from tuning.run import retrain

    job, result, lines, out = family_job
    best = json.loads((out / "best.json").read_text())
    assert best["model"] == result.search.best_family in ("cnn", "mlp")
    assert best["tuning"]["families"] == ["cnn", "mlp"]
    pinned = PINNED[best["model"]]
    assert {k: v for k, v in best["overrides"].items()} == {k: v for k, v in pinned.items()}  # un-prefixed
    again = retrain(best, tmp_path / "again")
    winner = json.loads((out / "winner.json").read_text())["metrics"]["test"]
    assert again.metrics["test"] == pytest.approx(winner, rel=1e-4)


def test_the_model_card_holds_the_search_summary(family_job):
    job, result, lines, out = family_job
    card = json.loads((out / "model_card.json").read_text())
    assert card["search"]["families"] == ["cnn", "mlp"] and card["search"]["trials"] == 2
    assert set(card["search"]["space"]) == {"cnn", "mlp", "training"}
    assert card["search"]["space"]["cnn"]["filters"]["values"] == [[8]]
    assert set(card["search"]["per_family"]) == {"cnn", "mlp"}
    assert card["winner"]["model"] == result.search.best_family and card["winner"]["overrides"]
    assert card["cv"]["folds"] == 2 and len(card["cv"]["scores"]) == 2
    assert set(card["cv"]["mean"]) == set(card["cv"]["std"]) >= {"accuracy"}
    assert set(card["test"]) >= {"accuracy"} and card["test"] == result.metrics["test"]
    assert card["data"]["source"] == "digits" and card["data"]["sizes"]["test"] > 0
    assert card["created"][:2] == "20" and {"kerazoo", "tensorflow", "keras"} <= set(card["versions"])
    text = (out / "model_card.md").read_text()
    for needle in ("## Search", "| cnn | 1 | 1 |", "## Winner", "Cross-validated (2 folds", "Test split",
                   "kerazoo train --config"):
        assert needle in text, needle


def test_a_family_search_resumes_and_refuses_another_family_list(family_job):
    from tuning import run_job

    job, result, lines, out = family_job
    again: list[str] = []
    assert len(run_job(job, log=again.append).search.trials) == 2
    assert any("already retrained" in ln for ln in again) and not [ln for ln in again if ln.startswith("trial ")]
    with pytest.raises(ValueError, match=r"holds a different search \(changed: model \(\['cnn', 'mlp'\] -> "
                                         r"\['cnn', 'mlp', 'vit'\]\); space"):
        run_job({**job, "model": ["cnn", "mlp", "vit"]}, log=None)


def test_auto_picks_fitting_families_trainable_from_scratch_and_tabular_data_keeps_tabular_ones():
    from kerazoo import load_data
    from kerazoo.registry import get_entry
    from tuning.families import auto_families

    tabular = auto_families(load_data("iris").spec)
    assert tabular == ("mlp", "transformer") and all("tabular" in get_entry(n).inputs for n in tabular)
    images = auto_families(load_data("digits").spec)
    assert images == ("cnn", "mlp", "resnet", "transformer", "vit")  # no Applications, no resnet20 / resnet56


def test_auto_on_a_tabular_set_searches_only_tabular_families(tmp_path):
    from tuning import run_job

    lines: list[str] = []
    run_job({"model": "auto", "data": "iris", "output": str(tmp_path / "t")}, check=True, log=lines.append)
    assert "ok. families mlp, transformer on" in lines[0]
    assert {ln.split("/")[0].strip() for ln in lines[1:] if "/" in ln.split(":")[0]} == {"mlp", "transformer"}


@pytest.mark.parametrize("model,message", [
    (["mlp", "cnn"], "job: model: family 'cnn' cannot take part: model 'cnn' takes image inputs, but the data "
                     "'iris' has tabular inputs of shape (4,)"),
    ("cnn", "job: model: model 'cnn' takes image inputs, but the data 'iris' has tabular inputs"),
    (["mlp", "vitt"], "job: model: unknown model 'vitt'; did you mean: vit?"),
])
def test_a_family_that_does_not_fit_or_does_not_exist_fails_with_one_line(model, message, tmp_path):
    from tuning import JobError, run_job

    out = tmp_path / "out"
    with pytest.raises(JobError) as err:
        run_job({"model": model, "data": "iris", "output": str(out)}, log=None)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)
    assert not out.exists()


def test_search_refuses_a_family_that_does_not_fit_and_a_space_key_of_no_family(tmp_path):
    from kerazoo import load_data
    from tuning import search

    iris = load_data("iris")
    with pytest.raises(ValueError, match="^model: family 'cnn' cannot take part: model 'cnn' takes image"):
        search(["mlp", "cnn"], iris, directory=tmp_path / "a", log=None)
    with pytest.raises(ValueError, match="^space: 'width' is neither a family of this search"):
        search(["mlp", "transformer"], iris, space={"width": 8}, directory=tmp_path / "b", log=None)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_bad_rescore_folds_fails_with_one_line():
    from tuning import JobError, load_job

    with pytest.raises(JobError, match="^job: winner.rescore_folds: expected an int >= 2, got 1$"):
        load_job({"model": "mlp", "data": "iris", "winner": {"rescore_folds": 1}})


def test_the_family_search_benchmark_renders_each_family_and_both_test_accuracies():
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "benchmarks"
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location("_bench_family_search", bench / "family_search.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(bench))
    trials = [{"family": "cnn", "val_accuracy": 0.97, "seconds": 20.0}, {"family": "vit", "val_accuracy": 0.9,
                                                                         "seconds": 60.0}]
    saved = {"command": "python benchmarks/family_search.py", "date": "2026-12-07", "machine": {"cpus": 2},
             "result": {"tuner": "bayesian", "epochs": 3, "test_rows": 360, "same_test_rows": True,
                        "search": {"families": ["cnn", "mlp", "vit"], "trials": trials, "families_tried": ["cnn", "vit"],
                                   "search_seconds": 80.0, "rescore": None,
                                   "winner": {"model": "cnn", "overrides": {"dropout": 0.1}, "compile": {},
                                              "batch_size": 32, "test_accuracy": 0.99, "retrain_seconds": 30.0}},
                        "cnn_defaults": {"test_accuracy": 0.9917, "seconds": 31.0}}}
    text = module.render(saved)
    assert "| `cnn` | 1 | 97.00% | 20 |" in text and "| `mlp` | 0 | - | - |" in text
    assert "| search winner (`cnn`), retrained on train + validation | 99.00% | 30 |" in text
    assert "(defaults) | 99.17% | 31 |" in text and "2 families tried" in text

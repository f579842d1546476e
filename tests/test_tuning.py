"""The `tuning` package: spaces -> KerasTuner, searches with each tuner, resume, jobs, results.

Tiny searches (an mlp on iris, one or two epochs) keep this file fast; the tests
that start processes (SIGKILL and resume, chief and workers, a fresh process per
trial) are in test_tuning_processes.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
# A space where trials differ a lot: a learning rate that barely moves in two epochs, or one that does.
# Batches of 36 split iris' 108 training examples evenly: one trace of the training step a trial.
CONTRAST = {"depth": 1, "width": [8, 32], "learning_rate": [1e-5, 3e-2], "dropout": 0.0, "batch_norm": False,
            "l2": 0.0, "weight_decay": 0.0, "batch_size": 36}


@pytest.fixture(scope="module")
def iris():
    from kerazoo import load_data

    return load_data("iris", seed=0)


def kerazoo(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "kerazoo", *args], capture_output=True, text=True, env=ENV,
                          cwd=cwd, timeout=timeout)


# -- the space ---------------------------------------------------------------------------------


def test_declarations_map_to_keras_tuner_types_and_tuples_round_trip(iris):
    import keras_tuner as kt

    from kerazoo import load_data
    from tuning import ZooHyperModel

    digits = load_data("digits")
    hm = ZooHyperModel("cnn", digits, space={"filters": [[8, 16], [16, 32]]})
    hp = kt.HyperParameters()
    values = hm.values(hp)
    kinds = {p.name: type(p).__name__ for p in hp.space}
    assert kinds["filters"] == "Choice" and kinds["dropout"] == "Float" and kinds["learning_rate"] == "Float"
    assert hp.space[0].values == ["8-16", "16-32"]  # tuples travel as strings...
    assert values["filters"] == (8, 16)  # ...and come back as tuples
    assert values["dropout"] == 0.3 and values["pooling"] == "avg"  # the builder's defaults start the search
    hp.values["filters"] = "16-32"
    model = hm.build(hp)
    assert [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"][-1] == 32

    mlp = ZooHyperModel("mlp", iris)
    hp = kt.HyperParameters()
    mlp.values(hp)
    assert {p.name: type(p).__name__ for p in hp.space}["batch_norm"] == "Boolean"
    assert {p.name: type(p).__name__ for p in hp.space}["depth"] == "Int"


def test_overrides_narrow_widen_fix_add_and_drop():
    from tuning import resolve_space

    space = resolve_space("mlp", {
        "depth": {"max_value": 6},                 # widen
        "dropout": {"max_value": 0.2},             # narrow
        "width": 64,                               # fix
        "activation": ["relu", "gelu"],            # add an argument the model does not declare
        "batch_size": None,                        # drop: not tuned
        "weight_decay": [0, 1e-5],                 # ints and floats become floats
    }, kind="tabular")
    e = space.entries
    assert (e["depth"].min_value, e["depth"].max_value) == (1, 6)
    assert e["dropout"].max_value == 0.2 and e["dropout"].step == 0.1
    assert e["width"].values == (64,) and e["activation"].values == ("relu", "gelu")
    assert "batch_size" not in e and e["weight_decay"].values == (0.0, 1e-5)
    assert space.split({"width": 64, "learning_rate": 0.1}) == ({"width": 64}, {"learning_rate": 0.1})
    cnn = resolve_space("cnn", {"filters": [16, 32]})  # a flat list fixes a tuple-valued argument
    assert cnn.entries["filters"].values == ((16, 32),)


@pytest.mark.parametrize("space,message", [
    ({"widht": [8]}, "unknown key 'widht' for model 'mlp'; did you mean 'width'?"),
    ({"depth": {"type": "int", "min_value": 5, "max_value": 1}}, "space entry 'depth': Int: min_value 5 > max_value 1"),
    ({"depth": {"maximum": 3}}, "space entry 'depth': unknown field(s) ['maximum']"),
    ({"width": {"values": [8], "when": {"depth": [9]}}}, "'when' lists [9] for 'depth'"),
])
def test_bad_space_entries_are_named(space, message):
    from tuning import resolve_space

    with pytest.raises(ValueError) as err:
        resolve_space("mlp", space)
    assert message in str(err.value) and "\n" not in str(err.value)


def _register_conditional(registry):
    from kerazoo.models.common import head, inputs_and_preprocessing
    from kerazoo.space import Int
    from kerazoo.spec import DataSpec

    @registry.register("cond_net", task="multiclass", inputs="tabular", replace=True,
                       default_spec=DataSpec((4,), num_classes=3, kind="tabular"),
                       space={"blocks": Int(1, 2), "width2": Int(4, 8, step=4, when={"blocks": [2]})})
    def cond_net(spec, *, blocks=1, width2=4):
        import keras

        if width2 == 8 and blocks == 2:
            raise ValueError("width2=8 with two blocks is refused (a configuration that cannot work)")
        inputs, x = inputs_and_preprocessing(spec)
        x = keras.layers.Dense(8, activation="relu")(x)
        if blocks == 2:
            x = keras.layers.Dense(width2, activation="relu")(x)
        return keras.Model(inputs, head(x, spec), name="cond_net")


def test_conditional_entries_use_conditional_scopes_and_bad_configs_fail_alone(registry_sandbox, iris,
                                                                               tmp_path):
    import keras_tuner as kt

    from tuning import ZooHyperModel, search

    _register_conditional(registry_sandbox)
    hm = ZooHyperModel("cond_net", iris, space={"batch_size": 32, "weight_decay": 0.0})
    hp = kt.HyperParameters()
    assert "width2" not in hm.values(hp)  # blocks starts at 1: width2 is inactive
    width2 = next(p for p in hp.space if p.name == "width2")
    assert [(c.name, c.values) for c in width2.conditions] == [("blocks", [2])]
    hp.values["blocks"] = 2
    hp.ensure_active_values()  # as the oracle does for every trial
    assert hm.values(hp)["width2"] in (4, 8)

    settings = dict(tuner="grid", max_trials=4, epochs=1, tensorboard=False,
                    space={"batch_size": 36, "weight_decay": 0.0, "learning_rate": 1e-3})
    with pytest.raises(ValueError, match="^isolate_trials=True: model 'cond_net' is registered inside a function"):
        search("cond_net", iris, directory=tmp_path / "w", isolate_trials=True, log=None, **settings)
    notes = []  # by default, a family no worker can import runs its trials in this process
    result = search("cond_net", iris, directory=tmp_path / "s", log=notes.append, **settings)
    assert any(n.startswith("trials run in this process: model 'cond_net' is registered inside") for n in notes)
    seen = {(r["hyperparameters"]["blocks"], r["hyperparameters"].get("width2")): r["status"]
            for r in result.trials}
    assert seen == {(1, None): "COMPLETED", (2, 4): "COMPLETED", (2, 8): "FAILED"}
    assert result.best_hyperparameters["blocks"] in (1, 2)


# -- searches --------------------------------------------------------------------------------


@pytest.mark.parametrize("tuner", ["random", "bayesian", "grid", "hyperband"])
def test_each_tuner_finds_a_best_trial_that_beats_the_worst(tuner, iris, tmp_path):
    from tuning import search

    result = search("mlp", iris, tuner=tuner, max_trials=3, epochs=2, space=CONTRAST, directory=tmp_path / "s",
                    seed=0, hyperband_factor=2, tensorboard=tuner == "random", isolate_trials=False, log=None)
    assert [r["status"] for r in result.trials] == ["COMPLETED"] * 3
    scores = [r["score"] for r in result.trials]
    assert result.best_score == min(scores) < max(scores)
    assert result.objective == ("val_loss", "min")
    best = json.loads((tmp_path / "s" / "best.json").read_text())
    assert best["model"] == "mlp" and best["compile"]["learning_rate"] in (1e-5, 3e-2)
    assert best["overrides"]["width"] in (8, 32) and best["fit"]["seed"] == 0
    table = json.loads((tmp_path / "s" / "trials.json").read_text())
    assert table["best_trial"] == result.best_trial_id and len(table["trials"]) == len(result.trials)
    with open(tmp_path / "s" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.trials) and {"trial_id", "status", "val_loss", "learning_rate"} <= set(rows[0])
    if tuner == "random":  # TensorBoard logs with the hparams plugin's data, one folder per trial
        events = list((tmp_path / "s" / "tensorboard").rglob("events.out.tfevents.*"))
        assert events and any(b"hparams" in p.read_bytes() for p in events)
        assert result.best_model.count_params() > 0  # the best trial's checkpoint loads
    if tuner == "hyperband":
        assert {r["hyperparameters"]["epochs"] for r in result.trials} <= {1, 2}


def test_folds_score_each_trial_as_cross_validate_does_and_rank_by_the_mean(iris, tmp_path):
    from dataclasses import replace

    from kerazoo.crossval import cross_validate
    from tuning import ZooHyperModel, search

    space = {**CONTRAST, "batch_size": 32}
    result = search("mlp", iris, tuner="random", objective={"name": "val_accuracy", "folds": 2}, max_trials=2,
                    epochs=1, space=space, directory=tmp_path / "s", tensorboard=False, isolate_trials=False,
                    log=None)
    with open(tmp_path / "s" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[2:4] == ["val_accuracy", "val_accuracy_std"]  # the mean over the folds, its spread
    best = max(result.trials, key=lambda t: t["score"])
    assert result.best_trial_id == best["trial_id"]  # ranked by the mean
    values = best["hyperparameters"]
    train_only = replace(iris, validation=None, arrays={"train": iris.arrays["train"]})  # no validation, no test
    cv = cross_validate("mlp", train_only, 2, epochs=1, seed=0, validation_split=0.0, callbacks="none",
                        overrides={k: values[k] for k in ("depth", "width", "dropout", "batch_norm", "l2")},
                        compile={"learning_rate": values["learning_rate"], "weight_decay": 0.0})
    assert best["score"] == pytest.approx(cv.mean["accuracy"], abs=1e-6)
    assert best["score_std"] == pytest.approx(cv.std["accuracy"], abs=1e-6)
    assert [best["metrics"][f"val_accuracy_fold{i}"] for i in (1, 2)] == pytest.approx(
        [s["accuracy"] for s in cv.scores], abs=1e-6)
    row = next(r for r in rows if r["trial_id"] == best["trial_id"])
    assert float(row["val_accuracy_std"]) == pytest.approx(cv.std["accuracy"], abs=1e-6)
    with pytest.raises(RuntimeError, match=r"^best_model: a cross-validated search \(folds=2\) keeps no trial model"):
        _ = result.best_model
    hm = ZooHyperModel("mlp", iris, folds=2)  # a worker process gets the folds with the hypermodel
    assert ZooHyperModel.from_config(hm.get_config(), iris).folds == 2


@pytest.mark.parametrize("folds,message", [
    (1, "folds must be an int of at least 2 (the k of k-fold cross-validation), got 1"),
    ("5", "folds must be an int of at least 2 (the k of k-fold cross-validation), got '5'"),
    (60, "folds=60: class 'setosa' has"),
])
def test_a_bad_folds_value_fails_with_one_line_before_anything_is_written(folds, message, iris, tmp_path):
    from tuning import JobError, load_job, search

    with pytest.raises(ValueError) as err:
        search("mlp", iris, objective={"name": "val_accuracy", "folds": folds}, directory=tmp_path / "s", log=None)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="^folds=3: Hyperband continues a trial's model"):
        search("mlp", iris, tuner="hyperband", folds=3, directory=tmp_path / "s", log=None)
    with pytest.raises(JobError, match="^job: objective.folds: expected an int >= 2, got 1$"):
        load_job({"model": "mlp", "data": "iris", "objective": {"name": "val_accuracy", "folds": 1}})


@pytest.mark.parametrize("setting,message", [
    ({"trials_per_worker": 0}, "trials_per_worker must be a positive int, got 0"),
    ({"worker_memory": -1}, "worker_memory must be a positive number of MiB or None, got -1"),
    ({"isolate_trials": "yes"}, "isolate_trials must be True, False or None (workers where they can run), got 'yes'"),
])
def test_bad_worker_settings_fail_with_one_line_before_anything_is_written(setting, message, iris, tmp_path):
    from tuning import JobError, load_job, search

    with pytest.raises(ValueError) as err:
        search("mlp", iris, directory=tmp_path / "s", log=None, **setting)
    assert str(err.value) == message and not (tmp_path / "s").exists()
    name, value = next(iter(setting.items()))
    with pytest.raises(JobError, match=f"^job: {name}: expected "):
        load_job({"model": "mlp", "data": "iris", name: value})


def test_seed_zero_is_a_seed():
    import keras_tuner as kt

    from tuning.tuners import make_oracle

    def first_values(seed):
        oracle = make_oracle("random", ("val_loss", "min"), max_trials=3, seed=seed)
        hp = kt.HyperParameters()
        hp.Float("lr", 1e-4, 1e-1, sampling="log")
        hp.Int("units", 1, 100)
        oracle.update_space(hp)
        return oracle.populate_space("0")["values"]

    assert first_values(0) == first_values(0) != first_values(1)


def test_resume_continues_extends_and_refuses_a_changed_search(iris, tmp_path):
    from tuning import search

    kw = dict(tuner="random", epochs=1, space=CONTRAST, directory=tmp_path / "s", tensorboard=False,
              isolate_trials=False, log=None)
    first = search("mlp", iris, max_trials=1, **kw)
    from kerazoo.io import dir_mode, file_mode  # every file of the search is readable by others

    written = [tmp_path / "s", *(tmp_path / "s").rglob("*")]
    assert {"trials.json", "trials.csv", "fingerprint.json", "oracle.json"} <= {p.name for p in written}
    assert {oct(p.stat().st_mode & 0o777) for p in written if p.is_file()} == {oct(file_mode())}
    assert {oct(p.stat().st_mode & 0o777) for p in written if p.is_dir()} == {oct(dir_mode())}
    lines = []
    again = search("mlp", iris, max_trials=2, **{**kw, "log": lines.append})  # resumes: trial 0 is not run again
    assert [r["trial_id"] for r in again.trials] == ["0", "1"]
    assert [li.split(" done")[0] for li in lines if li.startswith("trial ")] == ["trial 2/2"]  # counts the first
    assert again.trials[0]["starts"] == 1 and again.trials[0]["score"] == first.trials[0]["score"]
    changed = {**CONTRAST, "width": [8, 64]}
    with pytest.raises(ValueError, match=r"holds a different search \(changed: space \(width\)\); pass --overwrite"):
        search("mlp", iris, max_trials=2, **{**kw, "space": changed})
    with pytest.raises(ValueError, match=r"changed: objective"):
        search("mlp", iris, max_trials=2, objective="val_accuracy", **kw)
    fresh = search("mlp", iris, max_trials=1, overwrite=True, **{**kw, "space": changed})
    assert [r["trial_id"] for r in fresh.trials] == ["0"]


def test_a_trial_killed_before_its_start_was_counted_counts_two_starts_when_run_again(iris, tmp_path):
    from tuning.hypermodel import ZooHyperModel
    from tuning.tuners import make_oracle, make_tuner

    def tuner():
        hm = ZooHyperModel("mlp", iris, space={"width": [8, 16]})
        return make_tuner("random", make_oracle("random", ("val_loss", "min"), max_trials=2), hm,
                          directory=str(tmp_path), project_name="search")

    searching = tuner()
    searching.save()  # as a search does before its first trial
    first = searching.oracle.create_trial("tuner0")
    state_file = tmp_path / "search" / "oracle.json"  # the kill lands between KerasTuner's save and the zoo's:
    state = json.loads(state_file.read_text())  # the trial is RUNNING on disk, its start not yet counted
    del state["zoo_trials"][first.trial_id]
    state_file.write_text(json.dumps(state))
    again = tuner().oracle
    assert again.create_trial("tuner0").trial_id == first.trial_id
    assert again.zoo_trials[first.trial_id]["starts"] == 2


def test_precision_survives_keras_tuners_clear_session(iris):
    import keras
    import keras_tuner as kt

    from tuning import ZooHyperModel

    hm = ZooHyperModel("mlp", iris, precision="mixed_bfloat16", space={"depth": 1})
    keras.backend.clear_session()  # what KerasTuner does before every build: resets the policy
    model = hm.build(kt.HyperParameters())
    assert model.get_layer("dense_0").dtype_policy.name == "mixed_bfloat16"
    assert model.layers[-1].dtype_policy.name == "float32"  # the output stays float32
    assert keras.config.dtype_policy().name == "float32"


def test_objective_must_be_a_metric_the_trials_report():
    from tuning import resolve_objective

    assert resolve_objective({"name": "val_f1", "direction": "max"}, "multiclass") == ("val_f1", "max")
    assert resolve_objective(None, "regression", validation=False) == ("loss", "min")
    with pytest.raises(ValueError, match="'val_mae' is not a metric of this search; multiclass trials report"):
        resolve_objective("val_mae", "multiclass")
    with pytest.raises(ValueError, match="no validation split"):
        resolve_objective("val_loss", "multiclass", validation=False)


# -- jobs --------------------------------------------------------------------------------------


JOB = """\
model: mlp
data: iris
space: {depth: 1, width: [8, 16], batch_size: 36, batch_norm: false, l2: 0.0}
tuner: random
objective: val_accuracy
budget: {max_trials: 2, epochs: 2}
tensorboard: false
isolate_trials: false
winner: {epochs: 3}
"""


@pytest.mark.parametrize("text,message", [
    ("model: mlp\ndata: iris\nspace: {width: [8, 16]\n", "not valid YAML at line 4"),
    ("model: mlpp\ndata: iris\n", "model: unknown model 'mlpp'; did you mean: mlp?"),
    ("model: mlp\ndata: iris\nspace: {widht: [8]}\n", "space: unknown key 'widht' for model 'mlp'; did you mean 'width'?"),
    ("model: mlp\ndata: iris\nbudget: {max_trial: 3}\n", "budget: unknown budget field 'max_trial'; did you mean 'max_trials'?"),
    ("model: mlp\ndata: iris\nbudget: {epochs: 0}\n", "budget.epochs: expected an int >= 1, got 0"),
    ("model: mlp\ndata: iris\ntuner: hyperbnd\n", "tuner: 'hyperbnd' is not one of random, bayesian, hyperband, grid; did you mean 'hyperband'?"),
    ("model: mlp\ndata: {source: iris, seed: 3}\n", "data.seed: the top-level `seed` seeds the splits too"),
    ("model: mlp\n", "data: missing"),
    ("- model: mlp\n", "expected a mapping of job fields"),
    ("model: mlp\ndata: iris\nobjective: {name: val_loss, direction: down}\n", "objective.direction: 'down' is not one of min, max"),
    ("model: mlp\ndata: iris\nwinner: {retrain: false, export: {formats: [tflite]}}\n", "winner.export: exporting needs the retrained winner"),
])
def test_bad_jobs_fail_with_one_line_naming_the_field(text, message, tmp_path):
    from tuning import JobError, load_job

    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(JobError) as err:
        load_job(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_reads_exponents_as_numbers_and_nothing_unsafe(tmp_path):
    from tuning import JobError, load_job

    path = tmp_path / "job.yaml"
    path.write_text("model: mlp\ndata: iris\nspace: {learning_rate: [1e-4, 3e-3]}\n")
    assert load_job(path).space["learning_rate"] == [1e-4, 3e-3]
    path.write_text("model: !!python/object/apply:os.system [echo hacked]\ndata: iris\n")
    with pytest.raises(JobError, match="not valid YAML"):
        load_job(path)


def test_export_of_the_winner_needs_the_export_package(monkeypatch):
    import tuning.job
    from tuning import JobError, load_job

    monkeypatch.setattr(tuning.job, "export_available", lambda: False)
    with pytest.raises(JobError, match="winner.export: the `export` package with export_model"):
        load_job({"model": "mlp", "data": "iris", "winner": {"export": {"formats": "savedmodel"}}})


def test_an_objective_no_metric_produces_fails_before_anything_is_written(tmp_path):
    from tuning import JobError, run_job

    out = tmp_path / "out"
    job = {"model": "mlp", "data": "iris", "objective": "val_auc", "output": str(out)}
    with pytest.raises(JobError, match="job: objective 'val_auc' is not a metric of this search"):
        run_job(job, log=None)
    assert not out.exists()


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    from kerazoo.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: mlp\ndata: iris\nspace: {width: [8, 16]\n")
    res = kerazoo("tune", str(bad))  # as a user runs it: fails before TensorFlow loads
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"kerazoo: error: {bad}: not valid YAML")
    assert main(["tune", str(bad), "--chief", "--worker", "w1"]) == 2
    assert "--chief and --worker exclude each other" in capsys.readouterr().err
    job = tmp_path / "job.yaml"
    job.write_text(JOB.replace("objective: val_accuracy", "objective: val_auc"))
    assert main(["tune", str(job), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"kerazoo: error: {job}: objective 'val_auc' is not a metric of this "
                                       f"search; multiclass trials report: loss, accuracy, f1, val_loss, "
                                       f"val_accuracy, val_f1\n")
    assert not (tmp_path / "out").exists()
    assert main(["tune", str(job), "--worker", "chief-2", "--address", "127.0.0.1:1", "--out",
                 str(tmp_path / "out")]) == 2
    assert "must not contain 'chief'" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_job_end_to_end_and_best_json_reproduces_with_kerazoo_train(tmp_path):
    from tuning import run_job

    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    out = tmp_path / "tune"
    lines = []
    result = run_job(path, out=out, verbose=1, log=lines.append)
    assert len(result.search.trials) == 2 and "* " in "\n".join(lines)  # the table, best marked
    progress = [li for li in lines if li.startswith("trial ")]  # one line a trial, ending at N of N
    assert [li.split(" done")[0] for li in progress] == ["trial 1/2", "trial 2/2"]
    best = result.search.best_trial_id
    assert re.fullmatch(rf"trial 2/2 done \(val_accuracy [\d.]+\) \| best val_accuracy [\d.]+, trial {best}: "
                        r"width=(8|16) dropout=[\d.]+ learning_rate=\S+ weight_decay=\S+ \| \d+s elapsed",
                        progress[-1]), progress
    assert "about" in progress[0] and "left" in progress[0]  # the time left, from the trials so far
    from matplotlib.image import imread

    picture = imread(out / "search.png")  # the search plot, beside trials.csv
    assert picture.shape[0] > 200 and picture.shape[1] > 400
    best = json.loads((out / "best.json").read_text())
    assert best["data"]["validation_split"] == 0.0 and best["fit"]["epochs"] == 3  # train + validation
    winner = json.loads((out / "winner" / "metrics.json").read_text())
    assert (out / "winner" / "manifest.json").exists() and set(result.metrics) == {"test"}

    from kerazoo.cli import main

    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "best.json"), "--out", str(again), "--verbose", "0"]) == 0
    assert json.loads((again / "metrics.json").read_text())["test"] == pytest.approx(winner["test"], rel=1e-4)

    lines.clear()  # running the finished job again repeats nothing
    result = run_job(path, out=out, verbose=1, log=lines.append)
    assert any("already retrained" in li for li in lines) and len(result.search.trials) == 2
    assert not [li for li in lines if li.startswith("trial ")]


def test_progress_on_a_terminal_rewrites_one_line_and_ends_it_at_n_of_n(capsys):
    from tuning.progress import SearchProgress

    progress = SearchProgress(3, ("val_loss", "min"), done=1, tty=True, clock=iter([0, 10, 20]).__next__)
    best = {"trial_id": "0", "score": 0.5, "values": {"width": 8}}
    progress.trial_done("1", "COMPLETED", 0.6, best=best)
    progress.trial_done("2", "FAILED", None, best=best)
    out = capsys.readouterr().out
    assert out.count("\r") == 2 and out.count("\n") == 1 and out.endswith("\n")  # rewritten, then ended
    first, last = out.split("\r")[1:]
    assert first.startswith("trial 2/3 done (val_loss 0.6)") and "10s elapsed, about 10s left" in first
    assert last.rstrip() == "trial 3/3 done (failed) | best val_loss 0.5, trial 0: width=8 | 20s elapsed"
    assert len(last.rstrip("\n")) >= len(first)  # padded over the longer line it replaces


def test_importing_tuning_and_validating_a_job_import_no_tensorflow(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    code = ("import sys, tuning; job = tuning.load_job(sys.argv[1]); "
            "assert 'tensorflow' not in sys.modules and 'keras_tuner' not in sys.modules, 'imported'; "
            "print(job.model, job.max_trials)")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=ENV,
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "mlp 2", res.stderr


def test_example_job_is_valid():
    from tuning import load_job

    job = load_job(Path(__file__).resolve().parent.parent / "examples" / "tuning" / "digits_cnn.yaml")
    assert job.model == "cnn" and job.space["filters"] == [[16, 32], [32, 64], [16, 32, 64]]

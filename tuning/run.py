"""`run_job`: a search job from start to winner (what `kerazoo tune JOB.yaml` runs).

1. Load the data and check the space and the objective against it.
2. Search (resuming the job's directory when it holds the same search).
3. Print the trials table; write `trials.csv`, `trials.json` and `search.png`.
4. The winner: `best.json` (the winner's training config, which
   `kerazoo train --config best.json` reproduces), retrained from scratch on
   train + validation into the run directory `winner/` (never a half-trained trial
   model), tested on the test split, and optionally exported into `export/`.
5. Its cross-validated score: the search's own folds when the objective has
   them, else `winner.rescore_folds` folds of train + validation (off by default).
6. `model_card.md` and `model_card.json`: the search and its winner in one page.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning.job import Job, JobError, load_job

__all__ = ["run_job", "JobResult", "retrain", "rescore"]


@dataclass
class JobResult:
    """What `run_job` returns.

    Attributes:
        search: the `SearchResult`.
        best_config: the content of `best.json`.
        best_path: where `best.json` is.
        winner_dir: the retrained winner's run directory (None without retraining).
        metrics: the winner's test (and validation) metrics.
        export_dir: where the winner was exported (None without export).
        cv: the winner's cross-validated scores (`{"folds", "from", "mean", "std", "scores"}`), or None.
        card_path: the model card (`model_card.md`; None without retraining).
    """

    search: Any
    best_config: dict
    best_path: Path
    winner_dir: Path | None = None
    metrics: dict | None = None
    export_dir: Path | None = None
    cv: dict | None = None
    card_path: Path | None = None


def _load(config: dict):
    from kerazoo.data import load_data

    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in config["data"].items() if k != "source"}
    return load_data(config["data"]["source"], **opts)


def _model_args(config: dict) -> tuple[dict, dict]:
    """A `best.json` config's builder arguments (lists back to tuples) and its compile settings (None left out)."""
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in config["overrides"].items()}
    return overrides, {k: v for k, v in config["compile"].items() if v is not None}


def retrain(config: dict, run_dir: str | Path, *, verbose: int | str = 0):
    """Train a `best.json` config from scratch into a run directory, as `kerazoo train --config` does.

    The same steps in the same order (seed, data, build, fit), so the run and
    `kerazoo train --config best.json` give the same model and metrics.

    Returns:
        `kerazoo.fit`'s `FitResult`.
    """
    import keras

    from kerazoo.registry import build
    from kerazoo.train import fit

    fit_cfg = config["fit"]
    keras.utils.set_random_seed(fit_cfg["seed"])
    data = _load(config)
    overrides, compile_cfg = _model_args(config)
    model = build(config["model"], data.spec, compile=compile_cfg or True, **overrides)
    extra = {"augment": fit_cfg["augment"]} if fit_cfg.get("augment") is not None else {}
    return fit(model, data, epochs=fit_cfg["epochs"], run_dir=run_dir, seed=fit_cfg["seed"],
               patience=fit_cfg["patience"], verbose=verbose, **extra)


def rescore(config: dict, folds: int, *, verbose: int | str = 0) -> dict:
    """Cross-validate a `best.json` config on the data it trains on (the test split left out).

    `kerazoo.crossval.cross_validate` with the config's model, arguments,
    training settings, epochs and seed, on its training split (train +
    validation when the config merges them): `folds` trainings, each on
    (folds - 1)/folds of it, scored on the rest.

    Returns:
        `{"folds", "from": "rescore", "mean", "std", "scores"}`, metric name -> value.

    Example:
    >>> cfg = {"model": "mlp", "overrides": {"depth": 1, "width": 8}, "compile": {}, "fit": {"epochs": 1, "seed": 0},
    ...        "data": {"source": "iris", "seed": 0, "validation_split": 0.0}}
    >>> cv = rescore(cfg, 2)
    >>> cv["folds"], len(cv["scores"]), sorted(cv["mean"])
    (2, 2, ['accuracy', 'f1', 'loss'])
    """
    from dataclasses import replace

    from kerazoo.crossval import cross_validate

    data = _load(config)
    data = replace(data, test=None, arrays={k: v for k, v in data.arrays.items() if k != "test"})
    overrides, compile_cfg = _model_args(config)
    fit_cfg = config["fit"]
    cv = cross_validate(config["model"], data, folds, epochs=fit_cfg["epochs"], seed=fit_cfg["seed"],
                        overrides=overrides, compile=compile_cfg or True, validation_split=0.0, callbacks="none",
                        augment=fit_cfg.get("augment"), verbose=verbose)
    return {"folds": folds, "from": "rescore", "mean": cv.mean, "std": cv.std, "scores": cv.scores}


def _search_cv(result, folds: int) -> dict:
    """The winner's cross-validated scores as the search measured them (an objective with folds)."""
    from tuning.objective import base_metric

    name = result.objective[0]
    metric = base_metric(name)
    row = next(r for r in result.trials if r["trial_id"] == result.best_trial_id)
    scores = [{metric: row["metrics"].get(f"{name}_fold{i + 1}")} for i in range(folds)]
    return {"folds": folds, "from": "search", "mean": {metric: row["score"]},
            "std": {metric: row.get("score_std")}, "scores": scores}


def _digest(config: dict) -> str:
    core = {k: v for k, v in config.items() if k != "tuning"}
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()


def _winner_done(directory: Path, digest: str) -> dict | None:
    """The earlier winner's record when it was trained from this same config and is intact."""
    from kerazoo.runs import RunError, check_run

    record = directory / "winner.json"
    if not record.exists():
        return None
    try:
        info = json.loads(record.read_text())
        check_run(directory / "winner")
    except (ValueError, RunError, OSError):
        return None
    return info if info.get("config_sha256") == digest else None


def run_job(
    job: Job | str | Path | dict,
    *,
    overwrite: bool = False,
    role: str | None = None,
    tuner_id: str | None = None,
    address: str | None = None,
    max_trials: int | None = None,
    out: str | Path | None = None,
    verbose: int = 1,
    check: bool = False,
    isolate_trials: bool | None = None,
    log=print,
) -> JobResult | None:
    """Run a search job: search, results, and the winner retrained, tested and exported.

    Args:
        job: a `Job`, a YAML file, or the job as a dict.
        overwrite: start the search over. Defaults to False (resume).
        role: "chief" or "worker" for distributed tuning. Defaults to None.
        tuner_id: the worker's id.
        address: the chief's `HOST:PORT`.
        max_trials: overrides the job's `budget.max_trials` (raise it to extend a search).
        out: overrides the job's `output` directory.
        verbose: 0 quiet, 1 KerasTuner's trial summaries, 2 also epochs. Defaults to 1.
        check: validate the job against its data, print the space and stop.
        isolate_trials: overrides the job's `isolate_trials` (False: the
            trials in this process, for debugging).
        log: where progress lines go. Defaults to `print`.

    Returns:
        A `JobResult`; None on a worker or with `check`.

    Raises:
        JobError: a bad job (naming the field), an objective no trial reports.
        ValueError: the output holds a different search and `overwrite` is False.

    Example:
    >>> import tempfile, io, contextlib
    >>> job = {"model": "mlp", "data": "iris", "tuner": "random", "tensorboard": False,
    ...        "space": {"depth": 1, "width": [8, 16], "batch_size": 32},
    ...        "budget": {"max_trials": 1, "epochs": 1}, "output": tempfile.mkdtemp() + "/t",
    ...        "isolate_trials": False}
    >>> result = run_job(job, verbose=0, log=None)
    >>> sorted(p.name for p in result.best_path.parent.iterdir() if not p.name.startswith("."))
    ['best.json', 'fingerprint.json', 'model_card.json', 'model_card.md', 'search', 'search.png', 'trials.csv', 'trials.json', 'winner', 'winner.json']
    >>> result.best_config["data"]["validation_split"], sorted(result.metrics)
    (0.0, ['test'])
    """
    from kerazoo.data import load_data
    from kerazoo.io import write_json
    from kerazoo.registry import fit_problem
    from tuning.distributed import check_role
    from tuning.families import is_family_search, resolve_families, resolve_search_space
    from tuning.objective import check_folds, objective_folds, resolve_objective
    from tuning.searching import search

    log = log or (lambda *a, **k: None)
    check_role(role, tuner_id, address)
    if not isinstance(job, Job):
        job = load_job(job)
    if max_trials is not None:
        if not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"--max-trials: expected a positive int, got {max_trials!r}")
        job.max_trials = max_trials
    output = Path(out if out is not None else job.output)
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in job.data.items() if k != "source"}
    try:
        data = load_data(job.data["source"], seed=job.seed, **opts)
    except (ValueError, TypeError) as err:
        raise JobError(f"{job.path}: data: {err}") from None
    try:
        if is_family_search(job.model):
            families = resolve_families(job.model, data.spec)
            model = list(families) if len(families) > 1 else families[0]
        else:
            problem = fit_problem(job.model, data.spec)
            if problem is not None:
                raise ValueError(f"model: {problem}")
            model = job.model
        space = resolve_search_space(model, job.space, kind=data.spec.kind)
    except ValueError as err:
        raise JobError(f"{job.path}: {err}") from None
    try:
        wanted, folds = objective_folds(job.objective)
        check_folds(folds, data, tuner=job.tuner)
        objective = resolve_objective(wanted, data.spec.task, validation=data.validation is not None or bool(folds))
    except ValueError as err:
        raise JobError(f"{job.path}: {err}") from None
    if check:
        what = f"families {', '.join(space.families)}" if len(space.families) > 1 else space.model
        log(f"{job.path}: ok. {what} on {data.describe()}; {job.tuner} search of {job.max_trials} trials "
            f"x {job.epochs} epochs for {objective[1]} {objective[0]}; output {output}")
        for line in space.describe():
            log(f"  {line}")
        return None
    result = search(model, data, tuner=job.tuner, objective={"name": objective[0], "direction": objective[1]},
                    folds=folds,
                    max_trials=job.max_trials, executions_per_trial=job.executions_per_trial, epochs=job.epochs,
                    space=space, directory=output, seed=job.seed, overwrite=overwrite, patience=job.patience,
                    precision=job.precision, isolate_trials=job.isolate_trials if isolate_trials is None
                    else isolate_trials, trials_per_worker=job.trials_per_worker, worker_memory=job.worker_memory,
                    tensorboard=job.tensorboard,
                    hyperband_factor=job.hyperband_factor, role=role, tuner_id=tuner_id, address=address,
                    verbose=verbose, log=log)
    if result is None:  # a worker
        return None
    log("")
    log(result.table())
    log(f"\ntrials: {output / 'trials.csv'}, {output / 'trials.json'}, {output / 'search.png'}")
    if not job.retrain:
        log(f"best:   {output / 'best.json'}  (kerazoo train --config {output / 'best.json'})")
        return JobResult(search=result, best_config=result.best_config, best_path=output / "best.json")

    from tuning.results import best_config

    config = best_config(space, result.best_hyperparameters, data=data, epochs=job.winner_epochs or job.epochs,
                         seed=job.seed, patience=job.winner_patience, merge_validation=job.merge_validation,
                         tuning=result.best_config.get("tuning"))
    best_path = output / "best.json"
    write_json(best_path, config)
    digest = _digest(config)
    winner_dir = output / "winner"
    done = _winner_done(output, digest)
    if done is not None:
        metrics = done.get("metrics")
        log(f"winner: already retrained from this best.json in {winner_dir}")
        cv = done.get("cv")
    else:
        if winner_dir.exists():
            shutil.rmtree(winner_dir)
        (output / "winner.json").unlink(missing_ok=True)
        what = "train + validation" if job.merge_validation else "train"
        log(f"winner: retraining trial {result.best_trial_id}'s configuration from scratch on {what} "
            f"({config['fit']['epochs']} epochs)")
        fitted = retrain(config, winner_dir, verbose=2 if verbose >= 2 else 0)
        metrics = fitted.metrics
        cv = None
        if folds:
            cv = _search_cv(result, folds)
        elif job.rescore_folds:
            log(f"winner: cross-validating it on {job.rescore_folds} folds of the data it trained on")
            cv = rescore(config, job.rescore_folds, verbose=2 if verbose >= 2 else 0)
        write_json(output / "winner.json", {"config_sha256": digest, "run_dir": str(winner_dir),
                                           "trial_id": result.best_trial_id, "metrics": metrics, "cv": cv})
    for split, values in (metrics or {}).items():
        log(f"winner {split}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(values.items())))
    export_dir = None
    if job.export is not None:
        import export

        export_dir = output / "export"
        if done is None or not export_dir.exists():
            if export_dir.exists():
                shutil.rmtree(export_dir)
            quantize = job.export.get("quantize")
            exported = export.export_model(winner_dir, export_dir, formats=tuple(job.export["formats"]),
                                           quantize=tuple(quantize) if quantize else None)
            export_dir = Path(getattr(exported, "path", export_dir))
        log(f"export: {export_dir}")
    if cv is not None:
        log(f"winner {cv['folds']}-fold: " + ", ".join(f"{k} {v:.4f} ± {cv['std'][k] or 0:.4f}"
                                                       for k, v in sorted(cv["mean"].items())))
    from tuning.card import card_data, write_model_card

    card = card_data(result, config, data=data, job=job, metrics=metrics, cv=cv, winner_dir=winner_dir,
                     export_dir=export_dir)
    card_path = write_model_card(output, card)["md"]
    log(f"best:   {best_path}  (kerazoo train --config {best_path} reproduces the winner)")
    log(f"winner: {winner_dir}")
    log(f"card:   {card_path}")
    return JobResult(search=result, best_config=config, best_path=best_path, winner_dir=winner_dir,
                     metrics=metrics, export_dir=export_dir, cv=cv, card_path=card_path)

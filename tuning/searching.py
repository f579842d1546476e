"""`search`: a KerasTuner search over a zoo model's space, resumable and distributable."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuning import results as results_mod
from tuning.families import is_family_search, resolve_families
from tuning.fingerprint import data_digest, fingerprint, prepare_directory
from tuning.objective import check_folds, objective_folds, resolve_objective
from tuning.progress import SearchProgress
from tuning.spaces import ResolvedSpace
from tuning.workers import DEFAULT_TRIALS_PER_WORKER

__all__ = ["search", "SearchResult", "PROJECT"]

#: The KerasTuner project folder inside a search directory.
PROJECT = "search"


@dataclass
class SearchResult:
    """What `search` returns.

    Attributes:
        best_hyperparameters: the best trial's values, as the builder and
            `compile_model` take them (tuples for tuple-valued arguments).
        best_score: the best trial's objective value.
        objective: `(metric name, "min" or "max")`.
        trials: the results table, one dict per trial (see `tuning.results.trial_rows`).
        best_config: the best trial as a `kerazoo train --config` file (`best.json`).
        directory: the search directory.
        space: the resolved search space (a `tuning.families.FamilySpace` across families).
        best_trial_id: the best trial's id.
        best_family: the model family of the best trial (the model, without families).
    """

    best_hyperparameters: dict
    best_score: float
    objective: tuple
    trials: list[dict]
    best_config: dict
    directory: Path
    space: ResolvedSpace = field(repr=False)
    best_trial_id: str = ""
    best_family: str = ""
    _tuner: Any = field(default=None, repr=False)
    _best_model: Any = field(default=None, repr=False)

    @property
    def best_model(self):
        """The best trial's model with the weights of its best epoch (loaded on first use).

        To deploy, retrain the best configuration from scratch instead
        (`kerazoo train --config best.json`, or a job's `winner`).
        """
        folds = getattr(self._tuner.hypermodel, "folds", None)
        if folds:
            raise RuntimeError(f"best_model: a cross-validated search (folds={folds}) keeps no trial model; "
                               f"retrain the best configuration: kerazoo train --config {self.directory / 'best.json'}")
        if self._best_model is None:
            self._best_model = self._tuner.get_best_models(1)[0]
        return self._best_model

    def table(self, limit: int | None = None) -> str:
        """The trials as a text table, best first."""
        return results_mod.format_table(self.trials, self.objective, limit=limit)


def _write_data_file(path: Path, data) -> str:
    import os

    import numpy as np

    meta = {"spec": data.spec.to_dict(), "source": str(data.source), "options": dict(data.options)}
    arrays = {}
    for split in ("train", "validation"):
        if split in data.arrays:
            arrays[f"{split}_x"], arrays[f"{split}_y"] = data.arrays[split]
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # distributed tuners write it side by side
    np.savez(tmp, meta=np.array(json.dumps(meta, default=list)), **arrays)
    tmp.replace(path)
    return str(path)


def _default_directory(model: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"tune-{model}-{stamp}"


def search(
    model_name: str | list[str],
    data: Any,
    *,
    tuner: str = "bayesian",
    objective: Any = None,
    folds: int | None = None,
    max_trials: int = 10,
    executions_per_trial: int = 1,
    epochs: int = 10,
    space: dict | None = None,
    directory: str | Path | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    patience: int | None = None,
    compile: dict | None = None,
    precision: str | None = None,
    isolate_trials: bool | None = None,
    trials_per_worker: int = DEFAULT_TRIALS_PER_WORKER,
    worker_memory: float | None = None,
    tensorboard: bool = True,
    hyperband_factor: int = 3,
    role: str | None = None,
    tuner_id: str | None = None,
    address: str | None = None,
    verbose: int = 1,
    log=print,
) -> SearchResult | None:
    """Search a zoo model's hyperparameters (and training settings) with KerasTuner.

    The space is the model's declared one plus learning rate, weight decay and
    batch size (and augmentation for images where `kerazoo.augment` exists),
    changed by `space`. Trials train on the training split and report on the
    validation split; the test split is never touched. The search directory
    holds KerasTuner's state (`search/`), `fingerprint.json`, `trials.csv`,
    `trials.json`, `best.json` and TensorBoard hparams logs (`tensorboard/`).
    Running the same search on the same directory resumes it (finished trials
    are not run again; a larger `max_trials` extends it); a changed search is
    refused unless `overwrite=True`.

    Args:
        model_name: a registered model (`kerazoo.list_models()`), or a search
            across families: a list of them, or `"auto"` (the registry's
            families that fit the data and train from scratch on small
            inputs; see `tuning.families`). The family is then a
            hyperparameter (`model`) and each family's entries are named
            `family/argument`.
        data: `load_data()`'s result, a source name (`"digits"`) or `(x, y)`.
        tuner: "bayesian", "random", "hyperband" or "grid". Defaults to "bayesian".
        objective: a metric name (`"val_accuracy"`) or `{name, direction,
            folds}`. Defaults to `val_loss` (`loss` without validation data).
        folds: score each trial by stratified k-fold cross-validation on the
            training split (`kerazoo.crossval.cross_validate`; `val_accuracy`
            is then the held-out folds' accuracy) and rank by the mean; the
            validation and test splits are not used. k trainings a trial.
            Defaults to None (the validation split).
        max_trials: trials to run (for Hyperband, a cap). Defaults to 10.
        executions_per_trial: trainings per trial, averaged. Defaults to 1.
        epochs: epochs per trial (Hyperband's maximum). Defaults to 10.
        space: overrides of the space, see `tuning.spaces.resolve_space`
            (for families, a mapping per family and the shared training
            settings: `tuning.families.resolve_search_space`).
        directory: the search directory. Defaults to `runs/tune-<model>-<time>/`.
        seed: seeds the oracle and every trial's weights and shuffling (0 is a
            seed, too). Defaults to the data's split seed.
        overwrite: discard an earlier search in `directory`. Defaults to False.
        patience: stop a trial after this many epochs without improving the
            objective. Defaults to None.
        compile: fixed `compile_model` arguments (tuned ones win).
        precision: the dtype policy trials build in. Defaults to the global one.
        isolate_trials: run the trials in recycled worker processes (memory
            stays bounded; a TensorFlow import and a data load per worker, not
            per trial); False runs them in this process (for debugging).
            Defaults to None: workers wherever they can run (data held in
            memory, a model family a process can import), else this process.
        trials_per_worker: trials a worker runs before a fresh one replaces
            it (1: a fresh process per trial). Defaults to 16.
        worker_memory: also replace a worker whose resident memory passes
            this many MiB after a trial. Defaults to None (no ceiling).
        tensorboard: write TensorBoard logs with hparams. Defaults to True.
        hyperband_factor: Hyperband's reduction factor. Defaults to 3.
        role: "chief" or "worker" for distributed tuning (see
            `tuning.distributed`). Defaults to None (one process).
        tuner_id: a worker's id.
        address: the chief's `HOST:PORT` (the chief binds 127.0.0.1:8000 by default).
        verbose: 0 quiet, 1 a progress line a trial (trial k of N, the best
            so far, time left), 2 KerasTuner's own summaries and the epochs.
            Defaults to 1.
        log: where progress lines go. Defaults to `print`.

    Returns:
        A `SearchResult` (None on a worker: the chief holds the results).

    Raises:
        KeyError: an unknown model.
        ValueError: an unknown space key or tuner, a family that does not fit the data, an objective the trials do
            not report, a bad `folds`, a directory holding a different search,
            `isolate_trials=True` where workers cannot run.
        RuntimeError: no trial completed, or the search stopped on failures.

    Example:
    >>> import tempfile
    >>> from kerazoo import load_data
    >>> result = search("mlp", load_data("iris"), tuner="random", max_trials=2, epochs=1,
    ...                 space={"depth": 1, "width": [8, 16], "batch_size": 32},
    ...                 directory=tempfile.mkdtemp(), tensorboard=False, isolate_trials=False, log=None)
    >>> len(result.trials), sorted(result.best_hyperparameters)[:3]
    (2, ['batch_norm', 'batch_size', 'depth'])
    >>> result.best_config["model"], result.objective
    ('mlp', ('val_loss', 'min'))
    """
    from tuning import distributed
    from tuning.hypermodel import ZooHyperModel, as_data
    from tuning.tuners import TUNERS, make_oracle, make_tuner

    log = log or (lambda *a, **k: None)
    if tuner not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}, got {tuner!r}")
    for name, value in (("max_trials", max_trials), ("executions_per_trial", executions_per_trial),
                        ("epochs", epochs), ("hyperband_factor", hyperband_factor),
                        ("trials_per_worker", trials_per_worker)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if worker_memory is not None and (isinstance(worker_memory, bool) or not isinstance(worker_memory, (int, float))
                                      or worker_memory <= 0):
        raise ValueError(f"worker_memory must be a positive number of MiB or None, got {worker_memory!r}")
    if isolate_trials not in (None, True, False):
        raise ValueError(f"isolate_trials must be True, False or None (workers where they can run), "
                         f"got {isolate_trials!r}")
    if tuner == "hyperband" and hyperband_factor < 2:
        raise ValueError(f"hyperband_factor must be 2 or more, got {hyperband_factor}")
    if role is None:
        role, env_id, env_address = distributed.role_from_environment()
        tuner_id, address = tuner_id or env_id, address or env_address
    if role == "worker" and overwrite:
        raise ValueError("--overwrite belongs to the chief; a worker never removes the search")
    distributed.check_role(role, tuner_id, address)
    data = as_data(data)
    if is_family_search(model_name):
        families = resolve_families(model_name, data.spec)
        model_name = list(families) if len(families) > 1 else families[0]
    if seed is None:
        seed = int(data.options.get("seed", 0))
    objective, folds = objective_folds(objective, folds)
    folds = check_folds(folds, data, tuner=tuner)
    hypermodel = ZooHyperModel(model_name, data, space=space, epochs=epochs, seed=seed, patience=patience,
                               compile=compile, precision=precision, folds=folds)
    obj = resolve_objective(objective, data.spec.task, validation=data.validation is not None or bool(folds))
    hypermodel.objective = obj
    directory = Path(directory) if directory is not None else _default_directory(hypermodel.model_name)
    fp = fingerprint(model=model_name, space=hypermodel.space.to_dict(), data=data_digest(data),
                     objective=list(obj), tuner=tuner, epochs=epochs, executions_per_trial=executions_per_trial,
                     patience=patience, compile=hypermodel.compile, precision=hypermodel.precision,
                     hyperband_factor=hyperband_factor if tuner == "hyperband" else None,
                     **({"folds": folds} if folds else {}))
    resumed = prepare_directory(directory, fp, overwrite=overwrite, worker=role == "worker")
    if resumed and role != "worker":
        log(f"resuming the search in {directory}")
    workers = None
    if role != "chief":
        workers = _workers(hypermodel.space.families, data, directory, isolate_trials=isolate_trials,
                           trials_per_worker=trials_per_worker, worker_memory=worker_memory,
                           verbose=verbose >= 2, log=log)
    callbacks = []
    if tensorboard:
        import keras

        callbacks.append(keras.callbacks.TensorBoard(str(directory / "tensorboard"), write_graph=False,
                                                     profile_batch=0))
    with distributed.environment(role, tuner_id, address) as where:
        if role == "worker":
            log(f"worker {tuner_id}: asking the chief at {where[0]}:{where[1]} for trials (waiting for it to start)")
        oracle = make_oracle(tuner, obj, max_trials=max_trials, seed=seed, epochs=epochs,
                             hyperband_factor=hyperband_factor)
        zoo_tuner = make_tuner(tuner, oracle, hypermodel, directory=str(directory), project_name=PROJECT,
                               executions_per_trial=executions_per_trial, workers=workers)
        shown = verbose if verbose >= 2 and role != "worker" else 0  # KerasTuner's own display: verbose 2
        zoo_tuner.oracle.verbose = shown
        if verbose >= 1 and role is None:
            zoo_tuner.progress = SearchProgress(max_trials, obj, done=_finished(zoo_tuner.oracle), log=log,
                                                tty=False if verbose >= 2 or log is not print else None)
        try:
            if role == "chief":
                distributed.serve(zoo_tuner, *where, log=log)
            else:
                zoo_tuner.save()  # so that a run killed in its first trial resumes too
                zoo_tuner.search(callbacks=callbacks, verbose=shown)
        except RuntimeError as err:
            raise RuntimeError(_short(err)) from None
        except Exception as err:
            if type(err).__module__.startswith("grpc"):
                raise RuntimeError(f"tuner {tuner_id or 'chief'}: the chief at {where[0]}:{where[1]} did not "
                                   f"answer ({getattr(err, 'code', lambda: '?')()})") from None
            raise
        finally:
            zoo_tuner.close_workers()
            if zoo_tuner.progress is not None:
                zoo_tuner.progress.close()
    if role == "worker":
        log(f"worker {tuner_id}: no trials left; the chief holds the results")
        return None
    return _collect(zoo_tuner, hypermodel, obj, directory, data=data, epochs=epochs, seed=seed,
                    patience=patience, log=log)


def _finished(oracle) -> int:
    return sum(t.status in ("COMPLETED", "FAILED") for t in oracle.trials.values())


def _workers(families: tuple, data, directory: Path, *, isolate_trials, trials_per_worker, worker_memory,
             verbose, log):
    """The recycled trial workers for this search, or None to run the trials in this process."""
    from tuning.workers import TrialWorkers, isolation_problem

    if isolate_trials is False:
        return None
    problem = next(filter(None, (isolation_problem(name, data) for name in families)), None)
    if problem is not None:
        if isolate_trials:
            raise ValueError(f"isolate_trials=True: {problem}")
        log(f"trials run in this process: {problem}")
        return None
    from kerazoo.registry import get_entry

    directory.mkdir(parents=True, exist_ok=True)
    data_file = _write_data_file(directory / ".trial_data.npz", data)
    modules = tuple(dict.fromkeys(get_entry(name).fn.__module__ for name in families))
    return TrialWorkers(data_file, modules=modules,
                        trials_per_worker=trials_per_worker, worker_memory=worker_memory, verbose=verbose, log=log)


def _short(err: Exception) -> str:
    """KerasTuner's failure messages end with a whole traceback: keep the head and the last line."""
    lines = [li for li in str(err).splitlines() if li.strip()]
    if not lines:
        return type(err).__name__
    head = lines[0]
    if "consecutive failures" in head and len(lines) > 1:
        return f"the search stopped: {head[0].lower()}{head[1:]} (trials failed in a row); last error: " \
               f"{lines[-1].strip()}"
    return head if len(lines) == 1 else f"{head} ... {lines[-1].strip()}"


def _collect(zoo_tuner, hypermodel, obj, directory: Path, *, data, epochs, seed, patience, log) -> SearchResult:
    rows = results_mod.trial_rows(zoo_tuner.oracle, hypermodel.space)
    results_mod.write_results(directory, rows, obj)
    from kerazoo.plots import plot_search

    plot_search(rows, obj, directory / "search.png")
    best = results_mod.best_row(rows, obj[1])
    if best is None:
        raise RuntimeError(f"no trial of the search in {directory} completed; see trials.json for their errors")
    values = {k: v for k, v in best["hyperparameters"].items() if k in hypermodel.space.entries}
    config = results_mod.best_config(
        hypermodel.space, values, data=data, epochs=epochs, seed=seed, patience=patience or 10,
        compile=hypermodel.compile,
        tuning={"objective": {"name": obj[0], "direction": obj[1]}, "score": best["score"],
                "trial_id": best["trial_id"], "directory": str(directory),
                **({"families": list(hypermodel.space.families)} if len(hypermodel.space.families) > 1 else {})})
    from kerazoo.io import write_json

    write_json(directory / "best.json", config)
    family = config["model"]
    of = f", {family}" if len(hypermodel.space.families) > 1 else ""
    log(f"search done: {len(rows)} trials; best {obj[0]} {best['score']:.4g} (trial {best['trial_id']}{of})")
    return SearchResult(best_hyperparameters=values, best_score=best["score"], objective=obj, trials=rows,
                        best_config=config, directory=directory, space=hypermodel.space,
                        best_trial_id=best["trial_id"], best_family=family, _tuner=zoo_tuner)

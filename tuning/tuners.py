"""KerasTuner's tuners and oracles, with the zoo's repairs.

- State files (`oracle.json`, each `trial.json`, the tuner's file) are written to
  a temporary name and renamed into place, so a process killed mid-write leaves
  the previous state, not half a file.
- On reload, a trial left RUNNING by a killed process is sent for retry under its
  own id, and one that finished just before the kill is not run again: a resumed
  search ends with exactly `max_trials` trials and no repeated trial id.
- The oracle records which tuner ran each trial, how long it took and how many
  times it started (shown in the results table).
- The space is declared without building a model (`declare_hyperparameters`
  covers conditional entries), so a chief never builds one.
- The seed: KerasTuner reads `seed=0` as "no seed"; the zoo gives the oracle
  `seed + 1`, so every seed, 0 included, repeats.
- Trials run in recycled worker processes (`tuning.workers`), the cure for
  memory that grows across trials, or in this process (for debugging).
"""

from __future__ import annotations

import functools
import gc
import math
import os
import time

import keras_tuner as kt

from kerazoo.compat import check_tuner_overrides, retry_queue, tuner_utils
from kerazoo.io import write_json
from tuning import TUNERS
from tuning.workers import TrialWorkers, WorkerDied

__all__ = ["TUNERS", "make_oracle", "make_tuner", "oracle_seed", "ZooTuner"]


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc's `malloc_trim`).

    Each trial's graphs, datasets and tensors are freed by `clear_session`, but
    glibc keeps the freed pages in its arenas, fragmented, so the process's RSS
    climbs trial after trial although nothing is alive. Returns False where the
    C library has no `malloc_trim` (not glibc).

    Example:
    >>> import platform
    >>> release_freed_memory() == (platform.libc_ver()[0] == "glibc")  # True on glibc, False elsewhere
    True
    """
    try:
        libc = _libc()
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library, found once: `find_library` runs `ldconfig` in a child process (a fork of a large process)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"))


def oracle_seed(seed: int | None) -> int | None:
    """The seed to give a KerasTuner oracle (which reads 0 as no seed).

    Example:
    >>> oracle_seed(0), oracle_seed(41), oracle_seed(None)
    (1, 42, None)
    """
    return None if seed is None else int(seed) + 1


class _ZooOracle:
    """Mixin for KerasTuner oracles: atomic state files, trial bookkeeping, repair on reload."""

    def _zoo_init(self) -> None:
        self.zoo_trials: dict[str, dict] = {}

    @kt.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == "RUNNING":
            info = self.zoo_trials.setdefault(trial.trial_id, {})
            info.update(tuner=tuner_id, started=time.time(), starts=info.get("starts", 0) + 1)
            self.save()
        return trial

    @kt.synchronized
    def end_trial(self, trial):
        info = self.zoo_trials.setdefault(trial.trial_id, {})
        if "started" in info:
            info["seconds"] = round(time.time() - info["started"], 3)
        super().end_trial(trial)

    def get_state(self):
        state = super().get_state()
        state["zoo_trials"] = self.zoo_trials
        return state

    def set_state(self, state):
        super().set_state(state)
        self.zoo_trials = dict(state.get("zoo_trials", {}))

    def save(self):
        write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())

    def reload(self):
        super().reload()
        ended = set(self.end_order)
        retrying = retry_queue(self)
        for trial_id in list(retrying):  # finished, but killed before oracle.json was saved
            trial = self.trials.get(trial_id)
            done = trial is not None and (trial.status == "FAILED" or (
                trial.status == "COMPLETED" and trial.score is not None))
            if done:
                retrying.remove(trial_id)
                if trial_id not in ended:
                    self.end_order.append(trial_id)
        for trial_id, trial in self.trials.items():  # started, but killed before oracle.json knew it
            if trial.status in ("RUNNING", "IDLE") and trial_id not in retrying:
                retrying.append(trial_id)
                if trial_id not in self.start_order:
                    self.start_order.append(trial_id)
        for trial_id in retrying:  # it started once, even if killed before its start was counted
            info = self.zoo_trials.setdefault(trial_id, {})
            info["starts"] = max(info.get("starts", 0), 1)


_ORACLES: dict[str, type] = {}


def _oracle_class(kind: str) -> type:
    base = {"random": kt.oracles.RandomSearchOracle, "bayesian": kt.oracles.BayesianOptimizationOracle,
            "hyperband": kt.oracles.HyperbandOracle, "grid": kt.oracles.GridSearchOracle}[kind]
    if kind not in _ORACLES:
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self._zoo_init()

        _ORACLES[kind] = type(f"Zoo{base.__name__}", (_ZooOracle, base), {"__init__": __init__})
    return _ORACLES[kind]


def make_oracle(
    kind: str,
    objective: tuple[str, str],
    *,
    max_trials: int,
    seed: int | None = 0,
    epochs: int = 10,
    hyperband_factor: int = 3,
):
    """A KerasTuner oracle of a kind, with the zoo's repairs.

    Args:
        kind: "random", "bayesian", "hyperband" or "grid".
        objective: `(metric name, "min" or "max")`.
        max_trials: the number of trials (for Hyperband, a cap on its brackets).
        seed: the search's seed (0 included). Defaults to 0.
        epochs: Hyperband's `max_epochs`. Defaults to 10.
        hyperband_factor: Hyperband's reduction factor. Defaults to 3.

    Returns:
        A `keras_tuner.Oracle`.

    Example:
    >>> oracle = make_oracle("random", ("val_loss", "min"), max_trials=3, seed=0)
    >>> type(oracle).__name__, oracle.seed, oracle.max_trials
    ('ZooRandomSearchOracle', 1, 3)
    """
    if kind not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}, got {kind!r}")
    obj = kt.Objective(*objective)
    cls = _oracle_class(kind)
    common = dict(objective=obj, seed=oracle_seed(seed))
    if kind == "hyperband":
        oracle = cls(max_epochs=epochs, factor=hyperband_factor, **common)
        oracle.max_trials = max_trials  # the base oracle stops creating trials past it
        return oracle
    return cls(max_trials=max_trials, **common)


check_tuner_overrides()  # the methods ZooTuner and the oracles override or call are private to KerasTuner


class ZooTuner(kt.Tuner):
    """A KerasTuner `Tuner` with atomic state files, and trials in recycled worker processes.

    Args:
        oracle: from `make_oracle`.
        hypermodel: a `ZooHyperModel`.
        workers: the `tuning.workers.TrialWorkers` that run the trials.
            Defaults to None (each trial in this process).
        progress: a `tuning.progress.SearchProgress` told of each finished
            trial. Defaults to None.
        **kwargs: `keras_tuner.Tuner`'s arguments (directory, project_name,
            executions_per_trial, overwrite).
    """

    def __init__(self, oracle, hypermodel, *, workers: TrialWorkers | None = None, progress=None, **kwargs):
        self.workers = workers
        self.progress = progress
        self.trial_peaks: dict[str, int] = {}
        self.trial_workers: dict[str, int | None] = {}
        kt.Tuner.__init__(self, oracle, hypermodel, **kwargs)

    def _populate_initial_space(self):
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)  # every entry, conditional ones included
        self.oracle.update_space(hp)

    def _try_build(self, hp):
        """KerasTuner's, with one garbage collection a trial instead of two.

        `keras.backend.clear_session()` already collects (its `free_memory`);
        KerasTuner collects again right after it, which costs as much.
        """
        import keras

        keras.backend.clear_session()
        release_freed_memory()
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise kt.errors.FatalTypeError(f"HyperModel.build() must return a Keras model, got {type(model)}")
        size = sum(math.prod(w.shape) for w in model.trainable_weights)
        if self.max_model_size and size > self.max_model_size:
            raise kt.errors.FailedTrialError(f"Oversized model: {size} parameters. Skip model.")
        return model

    def search(self, *fit_args, **fit_kwargs):
        """KerasTuner's search, with the objects alive before it frozen out of garbage collection.

        TensorFlow's import leaves millions of objects that every full collection
        walks (about 0.7 s each here); `gc.freeze()` sets them aside for the
        search, so the collection between trials only walks the trials' own.
        """
        gc.freeze()
        try:
            return super().search(*fit_args, **fit_kwargs)
        finally:
            gc.unfreeze()

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state())

    def _build_and_fit_model(self, trial, *args, **kwargs):
        if self.workers is None and getattr(self.hypermodel, "folds", None):
            return self.hypermodel.cross_validate(trial.hyperparameters)
        if self.workers is None:
            return super()._build_and_fit_model(trial, *args, **kwargs)
        return self._fit_in_worker(trial, kwargs)

    def on_search_end(self):
        self.close_workers()
        super().on_search_end()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.progress is not None:
            family = trial.hyperparameters.values.get("model") if len(self.hypermodel.space.families) > 1 else None
            self.progress.trial_done(trial.trial_id, trial.status, trial.score, best=self.best_so_far(),
                                     family=family)

    def best_so_far(self) -> dict | None:
        """`{"trial_id", "score", "values"}` of the best finished trial (its searched values), or None."""
        from tuning.results import trial_values

        best = self.oracle.get_best_trials(1)
        if not best or best[0].score is None:
            return None
        return {"trial_id": best[0].trial_id, "score": best[0].score,
                "values": trial_values(best[0], self.hypermodel.space, searched_only=True)}

    def close_workers(self) -> None:
        """End the trial worker (the search is over, or stopped)."""
        if self.workers is not None:
            self.workers.close()

    def _fit_in_worker(self, trial, kwargs):
        """Run one execution of a trial in a recycled worker process (`tuning.workers`)."""
        import keras

        hp = trial.hyperparameters
        callbacks = kwargs.get("callbacks") or []
        checkpoint = next((c for c in callbacks if isinstance(c, tuner_utils().SaveBestEpoch)), None)
        board = next((c for c in callbacks if type(c).__name__ == "TensorBoard"), None)
        previous = hp.values.get("tuner/trial_id")
        request = {
            "hypermodel": self.hypermodel.get_config(),
            "hyperparameters": hp.get_config(), "values": hp.values, "trial_id": trial.trial_id,
            "epochs": kwargs.get("epochs"), "initial_epoch": kwargs.get("initial_epoch"),
            "checkpoint": checkpoint.filepath if checkpoint else None,
            "best_value": checkpoint.best_value if checkpoint else None,
            "objective": [self.oracle.objective.name, self.oracle.objective.direction],
            "tensorboard": str(board.log_dir) if board is not None else None,
            "load_weights": self._get_checkpoint_fname(previous) if previous else None,
            "verbose": kwargs.get("verbose", 0),
        }
        try:
            result = self.workers.run(request, trial_id=trial.trial_id)
        except WorkerDied as err:
            raise RuntimeError(f"trial {trial.trial_id}: {err} twice") from None
        if result.get("restarted"):
            info = getattr(self.oracle, "zoo_trials", {}).get(trial.trial_id)
            if info is not None:
                info["starts"] = info.get("starts", 1) + 1
        if result.get("failed"):
            raise kt.errors.FailedTrialError(result["failed"])
        if "history" not in result:
            raise RuntimeError(f"trial {trial.trial_id}: {result.get('error') or 'the worker gave no history'}")
        if checkpoint is not None and result.get("best_value") is not None:
            checkpoint.best_value = result["best_value"]
        self.trial_peaks[trial.trial_id] = result.get("peak_rss_kb", 0)
        self.trial_workers[trial.trial_id] = result.get("worker_pid")
        history = keras.callbacks.History()
        history.history = result["history"]
        return history


class ZooHyperband(ZooTuner, kt.Hyperband):
    """Hyperband's trial logic (epochs per bracket, weights carried over) on `ZooTuner`."""


def make_tuner(kind: str, oracle, hypermodel, **kwargs) -> ZooTuner:
    """The zoo's tuner for an oracle of `kind` (see `ZooTuner` for the arguments).

    Example:
    >>> import tempfile
    >>> from kerazoo import load_data
    >>> from tuning.hypermodel import ZooHyperModel
    >>> hm = ZooHyperModel("mlp", load_data("iris"), space={"width": [8, 16]})
    >>> tuner = make_tuner("grid", make_oracle("grid", ("val_loss", "min"), max_trials=2), hm,
    ...                    directory=tempfile.mkdtemp(), project_name="search")
    >>> sorted(hp.name for hp in tuner.oracle.get_space().space)
    ['batch_norm', 'batch_size', 'depth', 'dropout', 'l2', 'learning_rate', 'weight_decay', 'width']
    """
    cls = ZooHyperband if kind == "hyperband" else ZooTuner
    return cls(oracle, hypermodel, **kwargs)

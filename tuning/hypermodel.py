"""`ZooHyperModel`: a KerasTuner `HyperModel` over a zoo model's search space.

Each declaration maps to its KerasTuner counterpart (`Int` -> `hp.Int`, `Float` ->
`hp.Float`, `Choice` -> `hp.Choice`, `Bool` -> `hp.Boolean`, a choice of one ->
`hp.Fixed`); tuple values travel as strings ("32-64-128") and come back as tuples;
a conditional entry is declared inside `hp.conditional_scope`. `build` builds and
compiles the model through `kerazoo.build` (seeded, in the precision recorded when
the hypermodel was made, since KerasTuner's `clear_session` resets the global
policy); `fit` trains it through `kerazoo.fit` on the data re-batched to the
trial's batch size, passing the tuner's callbacks through.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import keras_tuner as kt

from kerazoo.space import Bool, Choice, Float, Int
from tuning.objective import base_metric
from tuning.spaces import (
    COMPILE_KEYS,
    ResolvedSpace,
    choice_values,
    decode_value,
    parent_values,
)

__all__ = ["ZooHyperModel", "as_data"]


def as_data(data: Any):
    """`load_data()`'s bundle for a bundle, a source name or an `(x, y)` tuple."""
    from kerazoo.data import Data, load_data

    if isinstance(data, Data):
        return data
    if isinstance(data, (str, tuple)) or hasattr(data, "__fspath__"):
        return load_data(data)
    raise TypeError(f"data must be load_data()'s result, a source name or a tuple (x, y), "
                    f"got {type(data).__name__}")


class ZooHyperModel(kt.HyperModel):
    """A KerasTuner hypermodel for a registered zoo model and its training settings.

    Args:
        model: a registered model name.
        data: `load_data()`'s result (or a source name); trials train on its
            training split and report on its validation split; its test split
            is never used while searching.
        space: overrides of the search space (see `tuning.spaces.resolve_space`),
            or a `ResolvedSpace`. Defaults to the model's declared space plus
            learning rate, weight decay and batch size.
        epochs: epochs each trial trains (Hyperband's maximum). Defaults to 10.
        seed: seeds weights, shuffling and dropout of every trial, so trials
            differ only by their hyperparameters. Defaults to 0.
        patience: stop a trial early after this many epochs without improving
            the objective. Defaults to None (no early stopping).
        compile: fixed `compile_model` arguments (tuned ones win).
        precision: the dtype policy each trial builds in. Defaults to the global
            policy when the hypermodel is made.
        objective: `(name, direction)` that early stopping watches. Defaults to
            `("val_loss", "min")`.
        folds: score each trial by stratified k-fold cross-validation on the
            training split (`cross_validate`) instead of the validation split.
            Defaults to None.

    Example:
    >>> import keras_tuner as kt
    >>> from kerazoo import load_data
    >>> hm = ZooHyperModel("mlp", load_data("iris"), space={"depth": 1, "width": [8, 16]})
    >>> hp = kt.HyperParameters()
    >>> hm.values(hp)["width"], type(hp.space[1]).__name__
    (8, 'Choice')
    >>> hm.build(hp).count_params() > 0
    True
    """

    def __init__(
        self,
        model: str | list[str],
        data: Any,
        *,
        space: Any = None,
        epochs: int = 10,
        seed: int = 0,
        patience: int | None = None,
        compile: dict | None = None,
        precision: str | None = None,
        objective: tuple[str, str] = ("val_loss", "min"),
        folds: int | None = None,
    ):
        from tuning.families import FamilySpace, resolve_search_space

        self.folds = folds
        self.data = as_data(data)
        self.space = space if isinstance(space, (ResolvedSpace, FamilySpace)) else resolve_search_space(
            model, space, kind=self.data.spec.kind)
        self.model_name = self.space.model
        super().__init__(name=self.model_name, tunable=True)
        self.epochs = epochs
        self.seed = seed
        self.patience = patience
        self.compile = dict(compile or {})
        if precision is None:
            import keras

            precision = keras.config.dtype_policy().name
        self.precision = precision
        self.objective = objective

    # -- the space ---------------------------------------------------------------------------

    def _default(self, name: str) -> Any:
        if name == "batch_size":
            return self.data.options.get("batch_size", 32)
        if name == "augment":
            return "none"
        return self.space.defaults.get(name)

    def _declare(self, hp: kt.HyperParameters, name: str, decl) -> Any:
        default = self._default(name)
        if isinstance(decl, Choice):
            values = choice_values(decl)
            if len(values) == 1:
                return hp.Fixed(name, values[0])
            start = values[decl.values.index(default)] if decl.contains(default) else None
            return hp.Choice(name, values, default=start)
        start = default if decl.contains(default) else None
        if isinstance(decl, Int):
            return hp.Int(name, decl.min_value, decl.max_value, step=decl.step, sampling=decl.sampling,
                          default=start)
        if isinstance(decl, Float):
            return hp.Float(name, decl.min_value, decl.max_value, step=decl.step, sampling=decl.sampling,
                            default=start)
        if isinstance(decl, Bool):
            return hp.Boolean(name, default=bool(start) if start is not None else False)
        raise TypeError(f"space entry {name!r}: unknown declaration {decl!r}")

    def values(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """Declare every entry on `hp` and return the active ones' values, as the builder takes them."""
        out: dict[str, Any] = {}
        for name, decl in self.space.entries.items():
            with contextlib.ExitStack() as stack:
                for parent, vals in (decl.when or {}).items():
                    stack.enter_context(hp.conditional_scope(
                        parent, parent_values(self.space.entries[parent], vals)))
                value = self._declare(hp, name, decl)
            if value is not None:
                out[name] = decode_value(decl, value)
        return out

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        self.values(hp)

    # -- build and fit -----------------------------------------------------------------------

    def build(self, hp: kt.HyperParameters):
        """Build and compile the model for the trial's values (seeded, in the recorded precision)."""
        import keras

        from kerazoo.registry import build

        values = self.values(hp)
        family = self.space.family(values)
        model_kwargs, training = self.space.split(values)
        compile_kwargs = {**self.compile, **{k: v for k, v in training.items() if k in COMPILE_KEYS}}
        keras.utils.set_random_seed(self.seed)
        extra = {"precision": self.precision} if self.precision not in (None, "float32") else {}
        try:
            return build(family, self.data.spec, compile=compile_kwargs or True, **extra, **model_kwargs)
        except (ValueError, TypeError) as err:  # a configuration the builder refuses: skip the trial
            raise kt.errors.FailedTrialError(f"{family} with {values}: {err}") from err

    def trial_data(self, batch_size: int | None = None):
        """The data a trial trains on: no test split, the training split in `batch_size` batches."""
        data = replace(self.data, test=None)
        batch_size = batch_size or data.options.get("batch_size", 32)
        if batch_size == data.options.get("batch_size", 32):
            return data
        if data.arrays and "train" in data.arrays:  # kerazoo.fit re-batches from the arrays when seeded
            return replace(data, options={**data.options, "batch_size": batch_size})
        return replace(data, train=data.train.unbatch().batch(batch_size))

    def fit(self, hp: kt.HyperParameters, model, *args, **kwargs):
        """Train the trial's model with `kerazoo.fit`; returns a `keras.callbacks.History`."""
        import keras

        from kerazoo.train import fit

        _, training = self.space.split(self.values(hp))
        epochs = int(kwargs.get("epochs") or self.epochs)
        initial = int(kwargs.get("initial_epoch") or 0)
        callbacks = list(kwargs.get("callbacks") or [])
        if self.patience:
            name, direction = self.objective
            callbacks.append(keras.callbacks.EarlyStopping(monitor=name, mode=direction,
                                                           patience=self.patience))
        extra = {"augment": training["augment"]} if training.get("augment") is not None else {}
        verbose = 2 if (kwargs.get("verbose") or 0) in (2, "2") else 0
        result = fit(model, self.trial_data(training.get("batch_size")), epochs=max(1, epochs - initial),
                     callbacks=["none", *callbacks], seed=self.seed, verbose=verbose, **extra)
        history = keras.callbacks.History()
        history.history = result.history
        history.set_model(model)
        return history

    def cross_validate(self, hp: kt.HyperParameters):
        """Score the trial's values by k-fold cross-validation on the training split; a `keras.callbacks.History`.

        Exactly `kerazoo.crossval.cross_validate(model, training split, folds,
        epochs=epochs, seed=seed, overrides=..., compile=..., validation_split=0,
        callbacks="none")`: each fold's model trains on the other folds and is
        scored on its own. The history holds one step: the objective's mean
        over the folds (`val_accuracy` is the held-out folds' `accuracy`), its
        spread (`<objective>_std`) and each fold's value (`<objective>_fold<i>`).
        """
        import keras

        from kerazoo.crossval import cross_validate

        values = self.values(hp)
        family = self.space.family(values)
        model_kwargs, training = self.space.split(values)
        compile_kwargs = {**self.compile, **{k: v for k, v in training.items() if k in COMPILE_KEYS}}
        data = self.trial_data(training.get("batch_size"))
        train_only = replace(data, validation=None, arrays={"train": data.arrays["train"]})
        try:
            cv = cross_validate(family, train_only, self.folds, epochs=self.epochs, seed=self.seed,
                                overrides=model_kwargs, compile=compile_kwargs or True, validation_split=0.0,
                                callbacks="none", augment=training.get("augment"))
        except (ValueError, TypeError) as err:  # a configuration the builder refuses: skip the trial
            raise kt.errors.FailedTrialError(f"{family} with {values}: {err}") from err
        name = self.objective[0]
        metric = base_metric(name)
        history = keras.callbacks.History()
        history.history = {name: [cv.mean[metric]], f"{name}_std": [cv.std[metric]],
                           **{f"{name}_fold{i + 1}": [s[metric]] for i, s in enumerate(cv.scores)}}
        return history

    # -- a trial in a fresh process ------------------------------------------------------------

    def get_config(self) -> dict:
        """What a fresh process needs to make the same hypermodel (data excluded)."""
        return {"model": self.model_name, "families": list(self.space.families),
                "space": self.space.to_dict(), "epochs": self.epochs,
                "seed": self.seed, "patience": self.patience, "compile": self.compile,
                "precision": self.precision, "objective": list(self.objective), "folds": self.folds}

    @classmethod
    def from_config(cls, config: dict, data: Any) -> ZooHyperModel:
        """The hypermodel `get_config` describes, over `data`."""
        from tuning.families import FamilySpace
        from tuning.spaces import ResolvedSpace

        families = config.get("families") or [config["model"]]
        space = (FamilySpace.from_dict(families, config["space"]) if len(families) > 1
                 else ResolvedSpace.from_dict(families[0], config["space"]))
        return cls(config["model"], data, space=space, epochs=config["epochs"], seed=config["seed"],
                   patience=config["patience"], compile=config["compile"], precision=config["precision"],
                   objective=tuple(config["objective"]), folds=config.get("folds"))

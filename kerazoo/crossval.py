"""Cross-validation: a zoo model trained on k (stratified) folds, each metric's mean and spread."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerazoo.console import format_number, text_table
from kerazoo.tasks import get_task

__all__ = ["cross_validate", "CrossValidation"]

log = logging.getLogger("kerazoo")


@dataclass
class CrossValidation:
    """What `cross_validate` returns.

    Attributes:
        scores: one dict of test-fold metrics a fold.
        mean, std: each metric's mean and (population) standard deviation.
        k: the number of folds.
        stratified: whether the folds keep the class proportions.
    """

    scores: list
    mean: dict
    std: dict
    k: int
    stratified: bool = True

    def table(self) -> str:
        """Each metric's mean and standard deviation over the folds, and each fold's value."""
        rows = [("metric", "mean", "std", *(f"fold {i + 1}" for i in range(self.k)))]
        rows += [(m, format_number(self.mean[m]), format_number(self.std[m]), *(format_number(s[m]) for s in self.scores))
                 for m in self.mean]
        return "\n".join(text_table(rows))

    def to_dict(self) -> dict:
        """The result as JSON-ready data."""
        return {"k": self.k, "stratified": self.stratified, "mean": self.mean, "std": self.std,
                "scores": self.scores}


def cross_validate(
    model_name: str,
    data: Any,
    k: int = 5,
    *,
    epochs: int | str = "auto",
    seed: int = 0,
    overrides: dict | None = None,
    compile: bool | dict = True,
    validation_split: float = 0.1,
    patience: int = 10,
    callbacks: str | list = "default",
    augment: Any = None,
    verbose: int | str = 0,
) -> CrossValidation:
    """Train a zoo model on k folds and score each held-out fold: mean and std of each metric.

    The folds cover every example of the data (all its splits together) and
    are stratified for multiclass and binary data (plain shuffled folds
    otherwise), seeded. Each fold trains a fresh model on the other k - 1
    folds, with `validation_split` of them held out for early stopping, and
    the in-model preprocessing statistics (tabular mean and variance,
    regression targets) come from that fold's training part only.

    Args:
        model_name: a registered model.
        data: `load_data()`'s result, a source name, or a tuple `(x, y)`.
        k: the number of folds (at least 2). Defaults to 5.
        epochs: most epochs a fold, or "auto" (as in `fit`). Defaults to "auto".
        seed: seeds the folds, and fold i's weights and shuffling (seed + i).
            Defaults to 0.
        overrides: the builder's arguments.
        compile: `build`'s compile argument. Defaults to True.
        validation_split: the share of each fold's training part held out
            for early stopping; 0 for none. Defaults to 0.1.
        patience: early stopping's patience. Defaults to 10.
        callbacks: `fit`'s callbacks. Defaults to "default".
        augment: `fit`'s augmentation. Defaults to None (none).
        verbose: Keras' progress display. Defaults to 0.

    Returns:
        A `CrossValidation`: `scores` (k dicts), `mean`, `std`; `.table()`.

    Raises:
        ValueError: k below 2, or a class with fewer than k examples.

    Example:
    >>> cv = cross_validate("mlp", "iris", k=2, epochs=1, validation_split=0.0, overrides={"depth": 1})
    >>> len(cv.scores), sorted(cv.mean)
    (2, ['accuracy', 'f1', 'loss'])
    """
    import keras
    from sklearn.model_selection import KFold, StratifiedKFold

    from kerazoo.data import Data, from_arrays, load_data
    from kerazoo.registry import build
    from kerazoo.train import fit

    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int of at least 2, got {k!r}")
    if not isinstance(data, Data):
        data = load_data(data) if isinstance(data, (str, os.PathLike)) else load_data(data, test_split=0.0)
    spec = data.spec
    parts = [data.arrays[s] for s in ("train", "validation", "test") if data.arrays and s in data.arrays]
    if not parts:
        raise ValueError(f"cross_validate needs in-memory data; {data.source!r} has no arrays")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    stratified = get_task(spec.task).one_label
    labels = y.reshape(len(y), -1)[:, 0].astype("int64") if stratified else None
    if stratified:
        ids, counts = np.unique(labels, return_counts=True)
        if counts.min() < k:
            name = (spec.class_names or [str(i) for i in range(spec.num_classes)])[int(ids[counts.argmin()])]
            raise ValueError(f"class {name!r} has {counts.min()} examples; {k} stratified folds need at "
                             f"least {k} of each class; lower k")
        folds = StratifiedKFold(k, shuffle=True, random_state=seed).split(x, labels)
    else:
        folds = KFold(k, shuffle=True, random_state=seed).split(x)
    keep = {f: getattr(spec, f) for f in ("value_range", "class_names", "vocab_size")
            if getattr(spec, f) is not None}
    if spec.task in ("multiclass", "multilabel"):
        keep["num_classes"] = spec.num_classes
    batch_size = data.options.get("batch_size", 32)
    scores = []
    for i, (train_idx, test_idx) in enumerate(folds):
        fold = from_arrays(x[train_idx], y[train_idx], name=f"{spec.name}-fold{i + 1}", source=data.source,
                           options={**data.options, "fold": i + 1, "k": k}, validation_split=validation_split,
                           test_split=0.0, batch_size=batch_size, seed=seed, task=spec.task, kind=spec.kind,
                           test_data=(x[test_idx], y[test_idx]), **keep)
        keras.utils.set_random_seed(seed + i)
        model = build(model_name, fold.spec, compile=compile, **(overrides or {}))
        extra = {"augment": augment} if augment is not None else {}
        result = fit(model, fold, epochs=epochs, seed=seed + i, patience=patience, callbacks=callbacks,
                     verbose=verbose, **extra)
        scores.append(result.metrics["test"])
        log.info("kerazoo: fold %d/%d: %s", i + 1, k,
                 ", ".join(f"{m} {v:.4f}" for m, v in result.metrics["test"].items()))
    metrics = list(scores[0])
    mean = {m: float(np.mean([s[m] for s in scores])) for m in metrics}
    std = {m: float(np.std([s[m] for s in scores])) for m in metrics}
    return CrossValidation(scores=scores, mean=mean, std=std, k=k, stratified=stratified)

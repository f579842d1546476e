"""The objective of a search: a metric the trials produce, and whether to minimize it.

The metrics a trial produces are those `compile_model` picks for the data's task
(`loss`, `accuracy`, `f1`, `auc`, `mae`, ...), and with validation data the same
names prefixed `val_`. An objective no trial produces fails before the search
starts, naming the ones that exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["objective_names", "resolve_objective", "direction_of", "base_metric", "objective_folds", "check_folds"]

_MINIMIZE = ("loss", "mae", "mse", "rmse", "mean_absolute_error", "mean_squared_error")
_MAXIMIZE = ("accuracy", "f1", "auc", "precision", "recall")


def base_metric(name: str) -> str:
    """The metric an objective name measures, without its `val_` prefix.

    Example:
    >>> base_metric("val_accuracy"), base_metric("loss")
    ('accuracy', 'loss')
    """
    return name[4:] if name.startswith("val_") else name


def direction_of(name: str) -> str | None:
    """"min" or "max" for a known metric name (with or without `val_`), else None.

    Example:
    >>> direction_of("val_loss"), direction_of("f1"), direction_of("val_something")
    ('min', 'max', None)
    """
    base = base_metric(name)
    if base in _MINIMIZE:
        return "min"
    if base in _MAXIMIZE:
        return "max"
    return None


def objective_names(task: str, *, validation: bool = True) -> list[str]:
    """The metric names a trial reports for a task.

    Example:
    >>> objective_names("multiclass")
    ['loss', 'accuracy', 'f1', 'val_loss', 'val_accuracy', 'val_f1']
    >>> objective_names("regression", validation=False)
    ['loss', 'mae']
    """
    from kerazoo.compiling import default_loss_and_metrics

    _, metrics = default_loss_and_metrics(task)
    names = ["loss", *(m.name for m in metrics)]
    return names + [f"val_{n}" for n in names] if validation else names


def resolve_objective(objective: Any, task: str, *, validation: bool = True) -> tuple[str, str]:
    """The objective's metric name and direction, checked against what trials produce.

    Args:
        objective: a metric name (`"val_accuracy"`), a dict `{name, direction}`,
            a `keras_tuner.Objective`, or None for `val_loss` (`loss` without
            validation data).
        task: the data's task.
        validation: whether the trials have validation data.

    Returns:
        `(name, direction)`, direction `"min"` or `"max"`.

    Raises:
        ValueError: a metric the trials do not produce, or an unknown direction.

    Example:
    >>> resolve_objective("val_accuracy", "multiclass")
    ('val_accuracy', 'max')
    >>> resolve_objective("val_auc", "multiclass")
    Traceback (most recent call last):
    ...
    ValueError: objective 'val_auc' is not a metric of this search; multiclass trials report: loss, accuracy, f1, val_loss, val_accuracy, val_f1
    """
    if objective is None:
        objective = "val_loss" if validation else "loss"
    if isinstance(objective, Mapping):
        unknown = sorted(set(objective) - {"name", "direction"})
        if unknown or "name" not in objective:
            raise ValueError(f"objective: expected a metric name or {{name, direction}}, got {dict(objective)!r}")
        name, direction = objective["name"], objective.get("direction")
    elif isinstance(objective, str):
        name, direction = objective, None
    elif hasattr(objective, "name") and hasattr(objective, "direction"):
        name, direction = objective.name, objective.direction
    else:
        raise ValueError(f"objective: expected a metric name or {{name, direction}}, got {objective!r}")
    names = objective_names(task, validation=validation)
    if name not in names:
        hint = " (the data has no validation split)" if name.startswith("val_") and not validation else ""
        raise ValueError(f"objective {name!r} is not a metric of this search{hint}; {task} trials report: "
                         f"{', '.join(names)}")
    direction = direction or direction_of(name)
    if direction not in ("min", "max"):
        raise ValueError(f"objective {name!r}: direction must be 'min' or 'max', got {direction!r}")
    return name, direction


def objective_folds(objective: Any, folds: Any = None) -> tuple[Any, Any]:
    """The objective without its `folds`, and the folds (`search`'s `folds` wins over the objective's).

    Example:
    >>> objective_folds({"name": "val_accuracy", "folds": 5})
    ({'name': 'val_accuracy'}, 5)
    >>> objective_folds("val_loss", 3)
    ('val_loss', 3)
    """
    if isinstance(objective, Mapping) and "folds" in objective:
        rest = {k: v for k, v in objective.items() if k != "folds"}
        return rest, folds if folds is not None else objective["folds"]
    return objective, folds


def check_folds(folds: Any, data, *, tuner: str = "random") -> int | None:
    """Check a cross-validated objective's `folds` against the search and its training split.

    Raises:
        ValueError: one line: not an int of at least 2, Hyperband (its rounds
            continue a trial's model), data not held in memory, or a class with
            fewer training examples than folds.

    Example:
    >>> from kerazoo import load_data
    >>> check_folds(3, load_data("iris"))
    3
    >>> check_folds(1, load_data("iris"))
    Traceback (most recent call last):
    ...
    ValueError: folds must be an int of at least 2 (the k of k-fold cross-validation), got 1
    """
    if folds is None:
        return None
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ValueError(f"folds must be an int of at least 2 (the k of k-fold cross-validation), got {folds!r}")
    if tuner == "hyperband":
        raise ValueError(f"folds={folds}: Hyperband continues a trial's model from round to round, which "
                         f"cross-validation does not keep; use the random, bayesian or grid tuner")
    if not data.arrays or "train" not in data.arrays:
        raise ValueError(f"folds={folds}: cross-validation needs the training split held in memory; "
                         f"{data.source!r} streams from tf.data")
    from kerazoo.tasks import get_task

    if get_task(data.spec.task).one_label:
        import numpy as np

        y = np.asarray(data.arrays["train"][1])
        ids, counts = np.unique(y.reshape(len(y), -1)[:, 0].astype("int64"), return_counts=True)
        if counts.min() < folds:
            names = data.spec.class_names or [str(i) for i in range(int(ids.max()) + 1)]
            raise ValueError(f"folds={folds}: class {names[int(ids[counts.argmin()])]!r} has {counts.min()} "
                             f"examples in the training split; {folds} stratified folds need {folds} of each class")
    return folds

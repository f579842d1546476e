"""The objective of a search: a metric the trials produce, and whether to minimize it.

The metrics a trial produces are those `compile_model` picks for the data's task
(`loss`, `accuracy`, `f1`, `auc`, `mae`, ...), and with validation data the same
names prefixed `val_`. An objective no trial produces fails before the search
starts, naming the ones that exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["objective_names", "resolve_objective", "direction_of"]

_MINIMIZE = ("loss", "mae", "mse", "rmse", "mean_absolute_error", "mean_squared_error")
_MAXIMIZE = ("accuracy", "f1", "auc", "precision", "recall")


def direction_of(name: str) -> str | None:
    """"min" or "max" for a known metric name (with or without `val_`), else None.

    Example:
    >>> direction_of("val_loss"), direction_of("f1"), direction_of("val_something")
    ('min', 'max', None)
    """
    base = name[4:] if name.startswith("val_") else name
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

"""How long to train: `epochs="auto"`, and when a validation split may steer training.

A fixed number of epochs means nothing across data sizes: 30 epochs of the
digits' 1,164 training images are 1,110 optimizer steps, 30 epochs of 45
images are 60, too few for any model here to leave chance. `"auto"` asks for
enough steps on small data without wasting time on large data: at least
`MIN_EPOCHS` epochs and at least `MIN_STEPS` steps (both chosen by
`benchmarks/defaults_sweep.py`).

A validation split steers training (early stopping with the best weights
restored, reduce-on-plateau) only when it holds at least `MIN_VALIDATION`
examples: a choice made on five examples is noise. Below that the whole budget
is trained and the validation figures are reported, not used.
"""

from __future__ import annotations

import math

__all__ = ["MIN_EPOCHS", "MIN_STEPS", "MIN_VALIDATION", "auto_epochs", "resolve_epochs", "steers"]

MIN_EPOCHS = 10
MIN_STEPS = 300
MIN_VALIDATION = 50


def auto_epochs(steps_per_epoch: int | None, *, min_epochs: int = MIN_EPOCHS, min_steps: int = MIN_STEPS) -> int:
    """The epochs `"auto"` trains: at least `min_epochs`, and at least `min_steps` optimizer steps.

    Args:
        steps_per_epoch: batches in one epoch; None when unknown (then `min_epochs`).
        min_epochs: the fewest epochs. Defaults to 10.
        min_steps: the fewest optimizer steps. Defaults to 300.

    Returns:
        A number of epochs.

    Example:
    >>> auto_epochs(37), auto_epochs(6), auto_epochs(2), auto_epochs(None)
    (10, 50, 150, 10)
    """
    if not steps_per_epoch or steps_per_epoch < 1:
        return min_epochs
    return max(min_epochs, math.ceil(min_steps / steps_per_epoch))


def resolve_epochs(epochs, steps_per_epoch: int | None, *, training: dict | None = None) -> tuple[int, str]:
    """The number of epochs to train, and a note saying how `"auto"` chose it ("" otherwise).

    Args:
        epochs: a positive int, or `"auto"`.
        steps_per_epoch: batches in one epoch, or None when unknown.
        training: the model's own training defaults (`register(training=...)`):
            `"auto"` takes its `epochs` when set, else applies its
            `min_epochs` and `min_steps` in place of 10 and 300.

    Returns:
        `(epochs, note)`.

    Raises:
        ValueError: anything but a positive int or "auto".

    Example:
    >>> resolve_epochs("auto", 2)
    (150, "epochs='auto': 150 epochs of 2 steps (at least 10 epochs and 300 steps)")
    >>> resolve_epochs(8, 2), resolve_epochs("auto", 40, training={"epochs": 12})[0]
    ((8, ''), 12)
    >>> resolve_epochs("auto", 41, training={"min_epochs": 30})
    (30, "epochs='auto': 30 epochs of 41 steps (at least 30 epochs and 300 steps)")
    >>> resolve_epochs(0, 2)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive int or 'auto', got 0
    """
    if epochs == "auto":
        training = training or {}
        if training.get("epochs"):
            return training["epochs"], f"epochs='auto': the model's own default, {training['epochs']} epochs"
        least = {"min_epochs": training.get("min_epochs", MIN_EPOCHS), "min_steps": training.get("min_steps", MIN_STEPS)}
        n = auto_epochs(steps_per_epoch, **least)
        steps = f"{steps_per_epoch} steps" if steps_per_epoch else "an unknown number of steps"
        return n, (f"epochs='auto': {n} epochs of {steps} (at least {least['min_epochs']} epochs and "
                   f"{least['min_steps']} steps)")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int or 'auto', got {epochs!r}")
    return epochs, ""


def steers(validation_examples: int | None) -> bool:
    """Whether a validation split of this many examples may steer training (None: unknown, so yes).

    Example:
    >>> steers(5), steers(144), steers(None)
    (False, True, True)
    """
    return validation_examples is None or validation_examples >= MIN_VALIDATION

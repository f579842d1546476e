"""Diagnostics after training: symptoms a user would otherwise find only at serving time.

One check today: a model that scores far worse in inference mode than it did
in training mode on the same training examples. The usual cause is a
BatchNormalization layer whose moving statistics lag the weights (Keras'
momentum 0.99 in a short run): in training the layer normalizes with the batch's
own statistics, at inference with the stale moving ones.
"""

from __future__ import annotations

__all__ = ["GAP", "batchnorm_layers", "inference_gap"]

#: How much lower (accuracy points, as a share) inference mode may score on
#: training examples before `fit` warns.
GAP = 0.2
EXAMPLES = 1000


def batchnorm_layers(model) -> list:
    """Every BatchNormalization layer of a model, nested models opened.

    Example:
    >>> from kerazoo import build
    >>> len(batchnorm_layers(build("mlp", input_shape=(4,), num_classes=3))), batchnorm_layers(build("vit"))
    (2, [])
    """
    import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(batchnorm_layers(layer))
        elif isinstance(layer, keras.layers.BatchNormalization):
            out.append(layer)
    return out


def inference_gap(model, x, y, training_accuracy: float | None) -> str:
    """A warning when `model` scores far below `training_accuracy` in inference mode on `(x, y)`; else "".

    Args:
        model: a compiled classification model, after training.
        x, y: training examples (up to 1,000 are scored).
        training_accuracy: the training-mode accuracy the history recorded for
            the weights the model now holds.

    Returns:
        The warning's text, or "" when inference mode is not `GAP` or more below.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    >>> y = model.predict(x, verbose=0).argmax(-1)  # what it answers in inference mode
    >>> inference_gap(model, x, y, 1.0), inference_gap(model, x, (y + 1) % 3, 1.0).split(" but ")[0]
    ('', 'the model scores 100.0% on its training examples in training mode')
    """
    if training_accuracy is None:
        return ""
    scores = model.evaluate(x[:EXAMPLES], y[:EXAMPLES], verbose=0, return_dict=True)
    inference = scores.get("accuracy")
    if inference is None or training_accuracy - inference < GAP:
        return ""
    norms = batchnorm_layers(model)
    momenta = sorted({float(layer.momentum) for layer in norms})
    cause = (f"its BatchNormalization layers' moving statistics (momentum {', '.join(f'{m:g}' for m in momenta)}) "
             f"likely lag the weights, as they do in runs too short for their momentum: rebuild with a lower "
             f"momentum (bn_momentum=0.9 for the zoo's models) or train longer"
             if norms else "layers that behave differently in training and inference are the likely cause")
    return (f"the model scores {100 * training_accuracy:.1f}% on its training examples in training mode but "
            f"{100 * inference:.1f}% in inference mode, which serving uses: {cause}")

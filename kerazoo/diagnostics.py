"""Diagnostics after training: symptoms a user would otherwise find only at serving time.

Two checks. `inference_gap`: a model that scores far worse in inference mode
than it did in training mode on the same training examples. The usual cause is
a BatchNormalization layer whose moving statistics lag the weights (Keras'
momentum 0.99 in a short run): in training the layer normalizes with the batch's
own statistics, at inference with the stale moving ones.

`no_better_than_baseline`: a model that scores on held-out data no better than a
rule that never looks at the inputs (the most common class, the median, the
characters' frequencies). A run too short for its data, or labels that do not
belong to their inputs, end there, and the figures alone do not say so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["GAP", "MARGIN", "MIN_HELD_OUT", "batchnorm_layers", "inference_gap", "baseline",
           "no_better_than_baseline", "held_out_warning"]

#: How much lower (accuracy points, as a share) inference mode may score on
#: training examples before `fit` warns.
GAP = 0.2
EXAMPLES = 1000
#: How much better than the input-blind baseline a model must score: a share of the baseline's error (wrong
#: answers, 1 - AUC for a binary model scored by AUC, mean absolute error, bits per character).
MARGIN = 0.02
#: Held-out examples (tokens for a language model) below which no baseline is compared: too few to tell.
MIN_HELD_OUT = 10


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


def _class_ids(y: np.ndarray) -> np.ndarray:
    """Class ids of labels given as ids, one-hot or soft rows, or 0/1 values (binary)."""
    if y.ndim > 1 and y.shape[-1] > 1:
        return y.argmax(-1)
    return np.rint(y.reshape(len(y), -1)[:, 0]).astype(int)


def baseline(task: str, y_train, y_held) -> tuple[str, float, str] | None:
    """What a rule that ignores the inputs scores on `y_held`, fitted to `y_train`.

    Args:
        task: the data's task.
        y_train: the training labels (for a language model, the target token ids).
        y_held: the held-out labels it is scored on.

    Returns:
        `(metric, value, rule)`: accuracy for classification (the most common
        training class for every example; per label for multilabel), mean
        absolute error for regression (the training median), bits per token for
        causal_lm (the training tokens' frequencies, add-one smoothed); None for
        a task it does not know.

    Example:
    >>> baseline("multiclass", [0, 0, 0, 1, 2], [0, 1, 0, 0])
    ('accuracy', 0.75, "always answering the training labels' most common class")
    >>> baseline("regression", [1.0, 2.0, 10.0], [2.0, 4.0])[:2]
    ('mae', 1.0)
    >>> round(baseline("causal_lm", [[0, 1], [0, 1]], [[0, 1]])[1], 3)  # p = 1/2 each: one bit a token
    1.0
    """
    y_train, y_held = np.asarray(y_train), np.asarray(y_held)
    if task in ("multiclass", "binary"):
        train, held = _class_ids(y_train), _class_ids(y_held)
        common = np.bincount(train).argmax()
        return "accuracy", float(np.mean(held == common)), "always answering the training labels' most common class"
    if task == "multilabel":
        common = np.asarray(y_train).mean(0) >= 0.5
        return "accuracy", float(np.mean((y_held >= 0.5) == common)), "always answering each label's most common value"
    if task == "regression":
        median = np.median(y_train.reshape(len(y_train), -1), axis=0)
        return "mae", float(np.mean(np.abs(y_held.reshape(len(y_held), -1) - median))), \
            "always answering the training labels' median"
    if task == "causal_lm":
        size = int(max(y_train.max(), y_held.max())) + 1
        p = (np.bincount(y_train.ravel(), minlength=size) + 1) / (y_train.size + size)
        return "bits_per_token", float(-np.mean(np.log2(p[y_held.ravel()]))), "the training text's token frequencies alone"
    return None


def no_better_than_baseline(task: str, scores: dict, y_train, y_held, *, split: str = "test") -> str:
    """A warning when a model scores no better on held-out data than `baseline`'s rule; else "".

    Args:
        task: the data's task.
        scores: the model's metrics on the held-out split (`evaluate`'s): accuracy,
            mae, or for causal_lm loss and bits_per_char.
        y_train: the training labels.
        y_held: the held-out split's labels.
        split: the held-out split's name, for the message. Defaults to "test".

    Returns:
        The warning's text, or "" when the model's error is at least a `MARGIN`
        share below the baseline's (for a binary model scored by AUC, 1 - AUC
        against a constant's 0.5), the split holds fewer than `MIN_HELD_OUT`
        examples, or a figure is missing.

    Example:
    >>> y_train, y_test = [0] * 70 + [1] * 30, [0] * 35 + [1] * 15
    >>> no_better_than_baseline("binary", {"accuracy": 0.94}, y_train, y_test)
    ''
    >>> no_better_than_baseline("binary", {"accuracy": 0.70}, y_train, y_test)
    "the model scores 70.0% accuracy on the test split, no better than 70.0% for always answering the training labels' most common class: it has learned nothing from its inputs"
    >>> rare_train, rare_test = [0] * 97 + [1] * 3, [0] * 49 + [1]  # binary models are judged by AUC when scored
    >>> no_better_than_baseline("binary", {"accuracy": 0.98, "auc": 0.9}, rare_train, rare_test)
    ''
    >>> no_better_than_baseline("binary", {"accuracy": 0.98, "auc": 0.5}, rare_train, rare_test).split(":")[0]
    "the model scores AUC 0.500 on the test split, no better than 0.500 for always answering the training labels' most common class"
    >>> tokens = [[0, 1]] * 10  # two tokens, equally frequent: 1 bit a token, 0.5 a character at 2 characters a token
    >>> no_better_than_baseline("causal_lm", {"loss": math.log(2), "bits_per_char": 0.5}, tokens, tokens).split(":")[0]
    "the model scores 0.500 bits per character on the test split, no better than 0.500 for the training text's token frequencies alone"
    """
    y_held = np.asarray(y_held)
    if (y_held.size if task == "causal_lm" else len(y_held)) < MIN_HELD_OUT:
        return ""
    found = baseline(task, y_train, y_held)
    if found is None:
        return ""
    metric, value, rule = found
    if metric == "accuracy" and task == "binary" and scores.get("auc") is not None:
        # a rare class: answering the common one is hard to beat on accuracy by a model that ranks well
        if 1 - scores["auc"] <= (1 - MARGIN) * 0.5:
            return ""
        return (f"the model scores AUC {scores['auc']:.3f} on the {split} split, no better than 0.500 for {rule}: "
                f"it has learned nothing from its inputs")
    if metric == "accuracy":
        if scores.get("accuracy") is None or 1 - scores["accuracy"] <= (1 - MARGIN) * (1 - value):
            return ""
        return (f"the model scores {100 * scores['accuracy']:.1f}% accuracy on the {split} split, no better than "
                f"{100 * value:.1f}% for {rule}: it has learned nothing from its inputs")
    if metric == "mae":
        if scores.get("mae") is None or scores["mae"] <= (1 - MARGIN) * value:
            return ""
        return (f"the model's mean absolute error on the {split} split is {scores['mae']:.4g}, no better than "
                f"{value:.4g} for {rule}: it has learned nothing from its inputs")
    bpc, loss = scores.get("bits_per_char"), scores.get("loss")
    if bpc is None or not loss:
        return ""
    value *= bpc / (loss / math.log(2))  # bits a token -> bits a character, at the split's characters a token
    if bpc <= (1 - MARGIN) * value:
        return ""
    return (f"the model scores {bpc:.3f} bits per character on the {split} split, no better than {value:.3f} "
            f"for {rule}: it has learned nothing from the context")


def held_out_warning(data: Any, scores: dict, *, split: str = "test") -> str:
    """`no_better_than_baseline` for a `load_data` bundle's split: "" where its labels are not known.

    Example:
    >>> from kerazoo import load_data
    >>> held_out_warning(load_data("iris"), {"accuracy": 0.3}).split(":")[0]
    "the model scores 30.0% accuracy on the test split, no better than 33.3% for always answering the training labels' most common class"
    """
    train, held = data.split_labels("train"), data.split_labels(split)
    if train is None or held is None:
        return ""
    return no_better_than_baseline(data.spec.task, scores, train, held, split=split)

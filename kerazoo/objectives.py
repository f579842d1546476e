"""Losses and metrics that take integer labels and one-hot or soft labels alike.

Keras' sparse and dense variants each refuse the other's labels, and a metric's
kind is fixed at the first batch; a model trained with MixUp (soft labels) and
validated on integer labels needs one object that takes both. These are
registered serializable, so `.keras` files load back without custom_objects.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["CategoricalCrossentropy", "CategoricalAccuracy", "F1"]


def _dense_labels(y_true, y_pred):
    """One-hot `y_true` when it holds class ids; leave one-hot or soft labels as they are."""
    num_classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == num_classes and num_classes != 1:
        return ops.cast(y_true, y_pred.dtype)
    ids = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(ids, num_classes, dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="kerazoo")
class CategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on probabilities for class ids or (soft) one-hot labels.

    Args:
        label_smoothing: mixes each label with the uniform distribution.
            Defaults to 0.
        from_logits: whether predictions are logits. Defaults to False.

    Example:
    >>> import numpy as np
    >>> loss = CategoricalCrossentropy()
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8]], "float32")
    >>> a = float(loss(np.array([0, 1]), p))
    >>> b = float(loss(np.array([[1.0, 0.0], [0.0, 1.0]], "float32"), p))
    >>> round(a, 5) == round(b, 5)
    True
    """

    def __init__(self, label_smoothing: float = 0.0, from_logits: bool = False,
                 name: str = "categorical_crossentropy", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.label_smoothing = label_smoothing
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        labels = _dense_labels(y_true, y_pred)
        return keras.losses.categorical_crossentropy(
            labels, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction,
                "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="kerazoo")
class CategoricalAccuracy(keras.metrics.MeanMetricWrapper):
    """Top-1 accuracy for class ids or (soft) one-hot labels.

    Example:
    >>> import numpy as np
    >>> m = CategoricalAccuracy()
    >>> m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.6, 0.4]], "float32"))
    >>> float(m.result())
    0.5
    """

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(fn=_top1, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _top1(y_true, y_pred):
    labels = _dense_labels(y_true, y_pred)
    return ops.cast(ops.equal(ops.argmax(labels, axis=-1), ops.argmax(y_pred, axis=-1)), "float32")


@keras.saving.register_keras_serializable(package="kerazoo")
class F1(keras.metrics.F1Score):
    """Keras' `F1Score` that also takes class ids and labels of shape `(batch,)`.

    Args:
        average: `"macro"`, `"micro"`, `"weighted"` or None. Defaults to "macro".
        threshold: None takes the top class (multiclass); a float thresholds
            each output (binary, multilabel).

    Example:
    >>> import numpy as np
    >>> m = F1()
    >>> m.update_state(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], "float32"))
    >>> round(float(m.result()), 3)
    0.667
    """

    def __init__(self, average: str | None = "macro", threshold: float | None = None,
                 name: str = "f1", dtype=None):
        super().__init__(average=average, threshold=threshold, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if y_pred.shape[-1] == 1:
            y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
        else:
            y_true = _dense_labels(y_true, y_pred)
            if self.threshold is None:  # soft labels (MixUp) count for their top class
                y_true = ops.one_hot(ops.argmax(y_true, axis=-1), y_pred.shape[-1], dtype=y_pred.dtype)
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"average": self.average, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}

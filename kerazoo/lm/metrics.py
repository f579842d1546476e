"""Language-model metrics on next-token logits: perplexity and bits per byte.

Both are registered serializable Keras metrics, so a run's `model.keras` loads
back with them. They take integer targets `(batch, steps)` and logits
`(batch, steps, vocab)`, and accumulate the summed cross-entropy over every
token, so the result is the exact figure over the data, not a mean of batch means.
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["Perplexity", "BitsPerByte"]


class _TokenCrossEntropy(keras.metrics.Metric):
    """The summed next-token cross-entropy (nats) and the number of tokens."""

    def __init__(self, name: str, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, "float32")
        losses = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), y_pred,
                                                              from_logits=True)
        weights = ops.ones_like(losses) if sample_weight is None else \
            ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(losses))
        self.total.assign_add(ops.sum(losses * weights))
        self.count.assign_add(ops.sum(weights))

    def nats(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kerazoo")
class Perplexity(_TokenCrossEntropy):
    """The exponential of the mean next-token cross-entropy, from logits.

    Example:
    >>> import numpy as np
    >>> m = Perplexity()
    >>> m.update_state(np.array([[0, 1]]), np.zeros((1, 2, 4), "float32"))  # uniform over 4 ids
    >>> round(float(m.result()), 4)
    4.0
    """

    def __init__(self, name: str = "perplexity", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return ops.exp(self.nats())


@keras.saving.register_keras_serializable(package="kerazoo")
class BitsPerByte(_TokenCrossEntropy):
    """The mean next-token cross-entropy in bits, per byte of text.

    Bits per token divided by the tokenizer's bytes per token: with the byte
    tokenizer (the default) a token is a byte, and this is bits per token.

    Args:
        bytes_per_token: the average UTF-8 bytes a token stands for. Defaults to 1.

    Example:
    >>> import numpy as np
    >>> m = BitsPerByte()
    >>> m.update_state(np.array([[0, 1]]), np.zeros((1, 2, 256), "float32"))  # uniform over bytes
    >>> round(float(m.result()), 4)
    8.0
    """

    def __init__(self, bytes_per_token: float = 1.0, name: str = "bits_per_byte", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.bytes_per_token = float(bytes_per_token)

    def result(self):
        return self.nats() / (math.log(2.0) * self.bytes_per_token)

    def get_config(self):
        return {**super().get_config(), "bytes_per_token": self.bytes_per_token}

"""Language-model metrics on next-token logits: perplexity, bits per byte and bits per character.

Both are registered serializable Keras metrics, so a run's `model.keras` loads
back with them. They take integer targets `(batch, steps)` and logits
`(batch, steps, vocab)`, and accumulate the summed cross-entropy over every
token, so the result is the exact figure over the data, not a mean of batch means.
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["Perplexity", "BitsPerByte", "BitsPerCharacter"]


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


@keras.saving.register_keras_serializable(package="kerazoo")
class BitsPerCharacter(_TokenCrossEntropy):
    """The next-token cross-entropy in bits, per character of text: one unit whatever the tokenizer.

    The summed bits over the summed characters the target tokens stand for:
    with `chars_per_id` (the data spec's, from `Tokenizer.chars_per_id`)
    every block counts its own characters, so a subword model, a byte model
    and a compressor compare on the same text; without it, tokens count
    `chars_per_token` characters each.

    Args:
        chars_per_token: the characters a token stands for, on average.
            Defaults to 1.
        chars_per_id: the characters each token id stands for. Defaults to
            None (every token counts `chars_per_token`).

    Example:
    >>> import numpy as np
    >>> m = BitsPerCharacter(chars_per_token=4.0)  # subwords of 4 characters on average
    >>> m.update_state(np.array([[0, 1]]), np.zeros((1, 2, 256), "float32"))  # 8 bits a token
    >>> round(float(m.result()), 4)
    2.0
    >>> m = BitsPerCharacter(chars_per_id=[1.0] * 128 + [0.0] * 64 + [1.0] * 64)  # UTF-8 bytes
    >>> m.update_state(np.array([[195, 169]]), np.zeros((1, 2, 256), "float32"))  # "é": 2 bytes, 1 character
    >>> round(float(m.result()), 4)
    16.0
    """

    def __init__(self, chars_per_token: float = 1.0, chars_per_id=None, name: str = "bits_per_char", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.chars_per_token = float(chars_per_token)
        self.chars_per_id = None if chars_per_id is None else [float(c) for c in chars_per_id]

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.chars_per_id is None:
            return super().update_state(y_true, y_pred, sample_weight)
        table = ops.convert_to_tensor(self.chars_per_id, dtype="float32")
        chars = ops.take(table, ops.cast(y_true, "int32"))
        losses = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), ops.cast(y_pred, "float32"),
                                                              from_logits=True)
        if sample_weight is not None:
            weights = ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(losses))
            losses, chars = losses * weights, chars * weights
        self.total.assign_add(ops.sum(losses))
        self.count.assign_add(ops.sum(chars))

    def result(self):
        scale = 1.0 if self.chars_per_id is not None else self.chars_per_token
        return self.nats() / (math.log(2.0) * scale)

    def get_config(self):
        return {**super().get_config(), "chars_per_token": self.chars_per_token, "chars_per_id": self.chars_per_id}

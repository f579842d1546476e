"""`cnn`: a small VGG-style convolutional network with batch norm and global pooling."""

from __future__ import annotations

from kerazoo.models.common import (
    BN_MOMENTUM,
    check_momentum,
    head,
    inputs_and_preprocessing,
    regularizer,
)
from kerazoo.registry import register
from kerazoo.space import Choice, Float
from kerazoo.tasks import SUPERVISED


@register(
    "cnn",
    task=SUPERVISED,
    inputs=("image",),
    tags=("image", "conv"),
    space={
        "filters": Choice([(16, 32, 64), (32, 64, 128), (64, 128, 256)]),
        "dropout": Float(0.0, 0.5, step=0.1),
        "dense_units": Choice([0, 64, 128, 256]),
        "l2": Choice([0.0, 1e-5, 1e-4]),
        "pooling": Choice(["avg", "max"]),
    },
)
def cnn(
    spec,
    *,
    filters: tuple = (32, 64, 128),
    dropout: float = 0.3,
    dense_units: int = 128,
    batch_norm: bool = True,
    bn_momentum: float = BN_MOMENTUM,
    activation: str = "relu",
    l2: float = 0.0,
    pooling: str = "avg",
):
    """VGG-style stages of two 3x3 convolutions each, then global pooling and a head.

    Each stage halves the resolution while it is at least 2 pixels, so the
    same defaults fit 8x8 digits and 32x32 CIFAR images. Default input: 32x32x3
    images (pixels 0-255) in 10 classes.

    Args:
        filters: filters of each stage. Defaults to (32, 64, 128).
        dropout: dropout before the head. Defaults to 0.3.
        dense_units: a dense layer before the head; 0 for none. Defaults to 128.
        batch_norm: batch normalization after each convolution. Defaults to True.
        bn_momentum: the momentum of the batch-norm moving statistics.
            Defaults to 0.9 (Keras' 0.99 lags the weights in short runs).
        activation: convolution activation. Defaults to "relu".
        l2: kernel L2 regularization. Defaults to 0.
        pooling: global pooling, "avg" or "max". Defaults to "avg".

    Example:
    >>> from kerazoo import build
    >>> build("cnn", input_shape=(8, 8, 1), filters=(8, 16)).output_shape
    (None, 10)
    """
    import keras

    if pooling not in ("avg", "max"):
        raise ValueError(f"cnn: pooling must be 'avg' or 'max', got {pooling!r}")
    check_momentum("cnn", bn_momentum)
    inputs, x = inputs_and_preprocessing(spec)
    size = min(spec.input_shape[0] or 32, spec.input_shape[1] or 32)
    for stage, width in enumerate(filters):
        for j in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm,
                                    kernel_regularizer=regularizer(0.0, l2),
                                    name=f"conv{stage}_{j}")(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"bn{stage}_{j}")(x)
            x = keras.layers.Activation(activation)(x)
        if stage < len(filters) - 1 and size >= 4:
            x = keras.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
            size //= 2
    pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    x = pool(name="global_pool")(x)
    if dense_units:
        x = keras.layers.Dropout(dropout)(x) if dropout else x
        x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head(x, spec), name="cnn")

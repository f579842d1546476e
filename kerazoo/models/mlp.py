"""`mlp`: a multilayer perceptron for tabular features and flattened inputs."""

from __future__ import annotations

from kerazoo.models.common import (
    BN_MOMENTUM,
    check_momentum,
    head,
    inputs_and_preprocessing,
    regularizer,
)
from kerazoo.registry import register
from kerazoo.space import Bool, Choice, Float, Int
from kerazoo.spec import DataSpec
from kerazoo.tasks import SUPERVISED


@register(
    "mlp",
    task=SUPERVISED,
    inputs=("tabular", "image", "sequence"),
    tags=("tabular", "dense"),
    default_spec=DataSpec((784,), num_classes=10, kind="tabular"),
    space={
        "depth": Int(1, 4),
        "width": Choice([64, 128, 256, 512]),
        "dropout": Float(0.0, 0.5, step=0.1),
        "batch_norm": Bool(),
        "l2": Choice([0.0, 1e-5, 1e-4, 1e-3]),
    },
)
def mlp(
    spec: DataSpec,
    *,
    depth: int = 2,
    width: int = 256,
    dropout: float = 0.2,
    batch_norm: bool = True,
    bn_momentum: float = BN_MOMENTUM,
    activation: str = "relu",
    l1: float = 0.0,
    l2: float = 0.0,
):
    """A stack of dense blocks (Dense, BatchNorm, activation, Dropout) and a task head.

    Inputs of any rank are flattened, so images work too. Default: 784 features
    (a flattened 28x28 image) in 10 classes.

    Args:
        depth: dense blocks. Defaults to 2.
        width: units per block. Defaults to 256.
        dropout: dropout after each block. Defaults to 0.2.
        batch_norm: batch normalization in each block. Defaults to True.
        bn_momentum: the momentum of the batch-norm moving statistics.
            Defaults to 0.9 (Keras' 0.99 lags the weights in short runs).
        activation: the blocks' activation. Defaults to "relu".
        l1, l2: kernel regularization strengths. Default to 0.

    Example:
    >>> from kerazoo import build
    >>> build("mlp", input_shape=(13,), num_classes=3, depth=1).count_params() > 0
    True
    """
    import keras

    check_momentum("mlp", bn_momentum)
    inputs, x = inputs_and_preprocessing(spec)
    if spec.rank > 1:
        x = keras.layers.Flatten()(x)
    for i in range(depth):
        x = keras.layers.Dense(width, use_bias=not batch_norm, kernel_regularizer=regularizer(l1, l2),
                               name=f"dense_{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"bn_{i}")(x)
        x = keras.layers.Activation(activation)(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head(x, spec), name="mlp")

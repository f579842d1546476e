"""`resnet`: the CIFAR-style residual network of He et al. (2016), depth 6n+2.

`resnet20` and `resnet56` are the same builder with the depth fixed.
"""

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

_TASKS = SUPERVISED
_SPACE = {
    "width": Choice([1, 2, 4]),
    "dropout": Float(0.0, 0.5, step=0.1),
    "l2": Choice([0.0, 1e-5, 1e-4, 5e-4]),
}


@register("resnet56", task=_TASKS, inputs=("image",), tags=("image", "conv", "residual"),
          space=_SPACE, defaults={"depth": 56})
@register("resnet20", task=_TASKS, inputs=("image",), tags=("image", "conv", "residual"),
          space=_SPACE, defaults={"depth": 20})
@register("resnet", task=_TASKS, inputs=("image",), tags=("image", "conv", "residual"),
          space={"depth": Choice([20, 32, 44, 56]), **_SPACE})
def resnet(
    spec,
    *,
    depth: int = 20,
    width: int = 1,
    dropout: float = 0.0,
    l2: float = 0.0,
    bn_momentum: float = BN_MOMENTUM,
):
    """A CIFAR ResNet: a 3x3 stem, three stages of basic residual blocks, global pooling.

    The stages have 16, 32 and 64 filters (times `width`) and (depth - 2) / 6
    basic blocks each (two 3x3 convolutions with batch norm). The first block
    of stages two and three halves the resolution while it is at least 4 pixels,
    so 8x8 digits work as well as 32x32 CIFAR images; a block that changes the
    shape has a 1x1 projection shortcut. `resnet20` and `resnet56` fix the depth.
    Default input: 32x32x3 images (pixels 0-255) in 10 classes.

    Args:
        depth: layers with weights, 6n+2 (20, 32, 44, 56, 110...). Defaults to 20.
        width: a multiplier of the filters. Defaults to 1.
        dropout: dropout before the head. Defaults to 0.
        l2: kernel L2 regularization, on top of the optimizer's decoupled weight
            decay (`compile_model` applies 1e-4 by default). Defaults to 0.
        bn_momentum: the momentum of the batch-norm moving statistics.
            Defaults to 0.9 (Keras' 0.99 lags the weights in short runs).

    Raises:
        ValueError: a depth that is not of the form 6n+2.

    Example:
    >>> from kerazoo import build
    >>> model = build("resnet20", input_shape=(8, 8, 1))
    >>> model.output_shape, model.count_params() > 250_000
    ((None, 10), True)
    >>> build("resnet", depth=21)
    Traceback (most recent call last):
    ...
    ValueError: resnet: depth must be 6n+2 (20, 32, 44, 56, 110, ...), got 21
    """
    import keras

    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"resnet: depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"resnet: width must be a positive int, got {width!r}")
    check_momentum("resnet", bn_momentum)
    blocks = (depth - 2) // 6
    reg = regularizer(0.0, l2)

    def conv(x, filters, kernel, strides, name):
        return keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                                   kernel_initializer="he_normal", kernel_regularizer=reg,
                                   name=name)(x)

    def bn(x, name):
        return keras.layers.BatchNormalization(momentum=bn_momentum, name=name)(x)

    inputs, x = inputs_and_preprocessing(spec)
    x = conv(x, 16 * width, 3, 1, "stem_conv")
    x = keras.layers.Activation("relu", name="stem_relu")(bn(x, "stem_bn"))
    size = min(spec.input_shape[0] or 32, spec.input_shape[1] or 32)
    channels = 16 * width
    for stage, base in enumerate((16, 32, 64)):
        filters = base * width
        for block in range(blocks):
            name = f"stage{stage + 1}_block{block + 1}"
            strides = 1
            if stage > 0 and block == 0 and size >= 4:
                strides, size = 2, size // 2
            shortcut = x
            if strides != 1 or channels != filters:
                shortcut = bn(conv(x, filters, 1, strides, f"{name}_proj"), f"{name}_proj_bn")
            y = conv(x, filters, 3, strides, f"{name}_conv1")
            y = keras.layers.Activation("relu", name=f"{name}_relu1")(bn(y, f"{name}_bn1"))
            y = bn(conv(y, filters, 3, 1, f"{name}_conv2"), f"{name}_bn2")
            x = keras.layers.Add(name=f"{name}_add")([shortcut, y])
            x = keras.layers.Activation("relu", name=f"{name}_out")(x)
            channels = filters
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, head(x, spec), name=f"resnet{depth}")

"""Keras Applications backbones in the zoo: `mobilenet_v2`, `efficientnet_b0`, `resnet50`.

Each is the Keras Applications network without its top, wrapped the zoo's way:
the model takes raw pixels (rescaled from the data's value range to 0-255, then
the family's own `preprocess_input`, as a layer), adapts small or grayscale
images (a Resizing layer up to the network's minimum size, gray repeated to
RGB), pools globally and ends in the zoo's task head. `weights=None` (the
default) builds them untrained and offline; `weights="imagenet"` downloads the
ImageNet weights when asked, and fails with a clear message when it cannot.
"""

from __future__ import annotations

import logging
import os
import re

from kerazoo.errors import WeightsUnavailableError
from kerazoo.models._common import BN_MOMENTUM, check_momentum, head
from kerazoo.registry import register
from kerazoo.space import Choice, Float
from kerazoo.spec import DataSpec

__all__ = ["mobilenet_v2", "efficientnet_b0", "resnet50", "WeightsUnavailableError", "MIN_SIZE"]

log = logging.getLogger("kerazoo")

MIN_SIZE = 32  # Keras Applications refuse inputs smaller than 32x32 without a top
_TASKS = ("multiclass", "binary", "regression", "multilabel")
_TAGS = ("image", "conv", "applications", "imagenet")
_DEFAULT_SPEC = DataSpec((224, 224, 3), num_classes=10, kind="image", value_range=(0, 255))
_SPACE = {"dropout": Float(0.0, 0.5, step=0.1), "pooling": Choice(["avg", "max"])}


def _weights_error(name: str, err: Exception) -> WeightsUnavailableError:
    from kerazoo._compat import keras_home  # where Keras caches downloads

    home = os.path.join(os.path.expanduser(keras_home()), "models")
    found = re.search(r"(https?://\S+?):", str(err))
    file = f"the file {found.group(1).rsplit('/', 1)[-1]} (from {found.group(1)})" if found else "the weights file"
    return WeightsUnavailableError(
        f"{name}: the ImageNet weights could not be downloaded ({err}). weights='imagenet' needs "
        f"network access the first time; offline, put {file} in {home}/ beforehand, "
        f"or build with weights=None for an untrained {name}")


def _application(spec: DataSpec, *, name: str, cls: str, family: str, weights: str | None,
                 dropout: float, pooling: str, image_size: int | None, bn_momentum: float, **arch_kwargs):
    """The shared builder: raw pixels -> 0-255 RGB at a size Keras takes -> backbone -> head."""
    import keras

    from kerazoo.layers import ApplicationPreprocessing

    if pooling not in ("avg", "max"):
        raise ValueError(f"{name}: pooling must be 'avg' or 'max', got {pooling!r}")
    check_momentum(name, bn_momentum)
    if len(spec.input_shape) != 3:
        raise ValueError(f"{name}: takes images (height, width, channels), got input shape {spec.input_shape}")
    inputs = keras.Input(spec.input_shape, dtype=spec.input_dtype, name="inputs")
    x = inputs
    low, high = (float(v) for v in (spec.value_range or (0, 255)))
    if (low, high) != (0.0, 255.0):
        x = keras.layers.Rescaling(255.0 / (high - low), offset=-255.0 * low / (high - low), name="rescale")(x)
    height, width, channels = spec.input_shape
    if image_size:
        size = (int(image_size), int(image_size))
    else:
        size = (max(height or 224, MIN_SIZE), max(width or 224, MIN_SIZE))
    if size != (height, width):
        why = "image_size" if image_size else f"Keras' {cls} needs at least {MIN_SIZE}x{MIN_SIZE}"
        log.info("kerazoo: %s resizes %sx%s inputs to %dx%d inside the model (%s)",
                 name, height, width, size[0], size[1], why)
        x = keras.layers.Resizing(*size, name="resize")(x)
    if channels == 1:
        log.info("kerazoo: %s repeats the single (gray) channel to RGB inside the model", name)
        x = keras.layers.Concatenate(name="to_rgb")([x, x, x])
    elif channels != 3:
        log.info("kerazoo: %s maps %s channels to RGB with a learned 1x1 convolution", name, channels)
        x = keras.layers.Conv2D(3, 1, name="to_rgb")(x)
    x = ApplicationPreprocessing(family, name="preprocess")(x)
    try:
        backbone = getattr(keras.applications, cls)(include_top=False, weights=weights,
                                                    input_shape=(*size, 3), **arch_kwargs)
    except Exception as err:
        if weights != "imagenet" or (isinstance(err, ValueError) and "hash" not in str(err)):
            raise  # a bad argument, not a download
        raise _weights_error(name, err) from err
    for layer in backbone.layers:  # Keras builds them with 0.99, which lags in short runs
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    x = backbone(x)
    pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    x = pool(name="global_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head(x, spec), name=name)


@register("mobilenet_v2", task=_TASKS, inputs=("image",), tags=_TAGS, default_spec=_DEFAULT_SPEC,
          space={**_SPACE, "alpha": Choice([0.35, 0.5, 0.75, 1.0])})
def mobilenet_v2(spec, *, weights: str | None = None, alpha: float = 1.0, dropout: float = 0.2,
                 pooling: str = "avg", image_size: int | None = None, bn_momentum: float = BN_MOMENTUM):
    """Keras' MobileNetV2 (Sandler et al. 2018) without its top, then global pooling and a head.

    Takes raw pixels: they are rescaled to 0-255 and passed through
    `keras.applications.mobilenet_v2.preprocess_input` inside the model.
    Images smaller than 32x32 are resized up inside the model and gray images
    repeated to RGB (both logged). Default input: 224x224x3 images (pixels
    0-255) in 10 classes.

    Args:
        weights: None (untrained, offline), "imagenet" (downloaded when first
            asked; ImageNet sizes are 96, 128, 160, 192 and 224) or a weights
            file's path. Defaults to None.
        alpha: the width multiplier. Defaults to 1.0.
        dropout: dropout before the head. Defaults to 0.2.
        pooling: global pooling, "avg" or "max". Defaults to "avg".
        image_size: resize inputs to this square size inside the model.
            Defaults to None (the input's size, at least 32).
        bn_momentum: the momentum of the backbone's batch-norm moving
            statistics. Defaults to 0.9 (Keras builds 0.99, which lags the
            weights in short runs).

    Raises:
        WeightsUnavailableError: weights="imagenet" could not be downloaded.

    Example:
    >>> from kerazoo import build
    >>> build("mobilenet_v2", input_shape=(8, 8, 1), compile=False, alpha=0.35).output_shape
    (None, 10)
    """
    return _application(spec, name="mobilenet_v2", cls="MobileNetV2", family="mobilenet_v2", weights=weights,
                        dropout=dropout, pooling=pooling, image_size=image_size, alpha=alpha,
                        bn_momentum=bn_momentum)


@register("efficientnet_b0", task=_TASKS, inputs=("image",), tags=_TAGS, default_spec=_DEFAULT_SPEC,
          space=dict(_SPACE))
def efficientnet_b0(spec, *, weights: str | None = None, dropout: float = 0.2, pooling: str = "avg",
                    image_size: int | None = None, bn_momentum: float = BN_MOMENTUM):
    """Keras' EfficientNetB0 (Tan and Le 2019) without its top, then global pooling and a head.

    Takes raw pixels: they are rescaled to 0-255; the network normalizes
    inside itself (`keras.applications.efficientnet.preprocess_input` passes
    them through). Images smaller than 32x32 are resized up inside the model
    and gray images repeated to RGB (both logged). Default input: 224x224x3
    images (pixels 0-255) in 10 classes.

    Args:
        weights: None (untrained, offline), "imagenet" (downloaded when first
            asked) or a weights file's path. Defaults to None.
        dropout: dropout before the head. Defaults to 0.2.
        pooling: global pooling, "avg" or "max". Defaults to "avg".
        image_size: resize inputs to this square size inside the model.
            Defaults to None (the input's size, at least 32).
        bn_momentum: the momentum of the backbone's batch-norm moving
            statistics. Defaults to 0.9 (Keras builds 0.99, which lags the
            weights in short runs).

    Raises:
        WeightsUnavailableError: weights="imagenet" could not be downloaded.

    Example:
    >>> from kerazoo import describe
    >>> describe("efficientnet_b0")["default_input_shape"]
    (224, 224, 3)
    """
    return _application(spec, name="efficientnet_b0", cls="EfficientNetB0", family="efficientnet",
                        weights=weights, dropout=dropout, pooling=pooling, image_size=image_size,
                        bn_momentum=bn_momentum)


@register("resnet50", task=_TASKS, inputs=("image",), tags=_TAGS, default_spec=_DEFAULT_SPEC,
          space=dict(_SPACE))
def resnet50(spec, *, weights: str | None = None, dropout: float = 0.0, pooling: str = "avg",
             image_size: int | None = None, bn_momentum: float = BN_MOMENTUM):
    """Keras' ResNet50 (He et al. 2016) without its top, then global pooling and a head.

    Takes raw pixels: they are rescaled to 0-255 and passed through
    `keras.applications.resnet50.preprocess_input` (RGB to BGR, ImageNet mean
    subtracted) inside the model. Images smaller than 32x32 are resized up
    inside the model and gray images repeated to RGB (both logged). Default
    input: 224x224x3 images (pixels 0-255) in 10 classes.

    Args:
        weights: None (untrained, offline), "imagenet" (downloaded when first
            asked) or a weights file's path. Defaults to None.
        dropout: dropout before the head. Defaults to 0.
        pooling: global pooling, "avg" or "max". Defaults to "avg".
        image_size: resize inputs to this square size inside the model.
            Defaults to None (the input's size, at least 32).
        bn_momentum: the momentum of the backbone's batch-norm moving
            statistics. Defaults to 0.9 (Keras builds 0.99, which lags the
            weights in short runs).

    Raises:
        WeightsUnavailableError: weights="imagenet" could not be downloaded.

    Example:
    >>> from kerazoo import describe
    >>> describe("resnet50")["defaults"]["weights"] is None
    True
    """
    return _application(spec, name="resnet50", cls="ResNet50", family="resnet50", weights=weights,
                        dropout=dropout, pooling=pooling, image_size=image_size, bn_momentum=bn_momentum)

"""The zoo's own Keras layers, for what Keras and KerasHub lack: patch embeddings, a class token,
a Keras Applications family's input preprocessing, and the augmentation layers Keras lacks
(random masking, random windows, feature noise).

Each layer is registered with Keras under the package "kerazoo" and mirrors its
constructor's flat keyword arguments in `get_config`, so a `.keras` file that
holds them loads back with `keras.saving.load_model` once this module has been
imported (it is imported by the builders that use it). This module imports
Keras at top level: only builders import it, never `import kerazoo`.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["PatchEmbedding", "ClassToken",
           "ApplicationPreprocessing", "RandomMask", "RandomWindow", "FeatureNoise"]


@keras.saving.register_keras_serializable(package="kerazoo")
class PatchEmbedding(keras.layers.Layer):
    """Cuts an image into square patches and projects each to a `dim`-wide token.

    A Conv2D with kernel and stride `patch_size`, reshaped to
    `(batch, patches, dim)`: a 32x32 image with `patch_size=4` gives 64 patches.

    Args:
        patch_size: the patches' side, in pixels. Defaults to 4.
        dim: the width of each patch token. Defaults to 64.

    Raises:
        ValueError: the image's height or width is not divisible by `patch_size`.

    Example:
    >>> import numpy as np
    >>> layer = PatchEmbedding(patch_size=4, dim=16)
    >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32")).shape)
    (2, 4, 16)
    >>> PatchEmbedding(patch_size=3, dim=16)(np.zeros((1, 8, 8, 3), "float32"))
    Traceback (most recent call last):
    ...
    ValueError: PatchEmbedding: image size 8x8 is not divisible by patch_size 3; ...
    """

    def __init__(self, patch_size=4, dim=64, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)
        self.dim = int(dim)
        self.projection = keras.layers.Conv2D(self.dim, self.patch_size, strides=self.patch_size,
                                              padding="valid", dtype=self.dtype_policy,
                                              name="projection")

    def build(self, input_shape):
        height, width = input_shape[-3], input_shape[-2]
        if any(s is not None and s % self.patch_size for s in (height, width)):
            raise ValueError(
                f"PatchEmbedding: image size {height}x{width} is not divisible by patch_size "
                f"{self.patch_size}; choose a patch_size that divides both (or resize the images)")
        self.projection.build(input_shape)
        super().build(input_shape)

    def call(self, inputs):
        x = self.projection(inputs)
        return ops.reshape(x, (ops.shape(x)[0], -1, self.dim))

    def compute_output_shape(self, input_shape):
        height, width = input_shape[-3], input_shape[-2]
        patches = None if height is None or width is None else (
            (height // self.patch_size) * (width // self.patch_size))
        return (input_shape[0], patches, self.dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "dim": self.dim}


@keras.saving.register_keras_serializable(package="kerazoo")
class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to a `(batch, steps, dim)` input.

    The output is `(batch, steps + 1, dim)`; after the encoder, token 0 is the
    sequence's summary (ViT's "cls" pooling).

    Args:
        initializer: the token's initializer. Defaults to "zeros".

    Example:
    >>> import numpy as np
    >>> tuple(ClassToken()(np.zeros((2, 4, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), name="token",
                                     initializer=self.initializer)
        super().build(input_shape)

    def call(self, inputs):
        token = ops.cast(self.token, inputs.dtype)
        token = ops.broadcast_to(token, (ops.shape(inputs)[0], 1, ops.shape(inputs)[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], steps, input_shape[-1])

    def get_config(self):
        return {**super().get_config(),
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="kerazoo")
class ApplicationPreprocessing(keras.layers.Layer):
    """A Keras Applications family's `preprocess_input`, as a layer inside the model.

    Takes RGB pixels in [0, 255] and applies
    `keras.applications.<family>.preprocess_input` (for example `"mobilenet_v2"`
    scales to [-1, 1], `"resnet50"` flips to BGR and subtracts the ImageNet
    mean, `"efficientnet"` passes pixels through: that model normalizes inside
    itself). Kept in the model, it lets a served model take raw pixels, and it
    saves and loads without Lambda layers (safe mode).

    Args:
        family: the `keras.applications` module whose `preprocess_input` applies.

    Raises:
        ValueError: `family` names no `keras.applications` module with a
            `preprocess_input`.

    Example:
    >>> import numpy as np
    >>> ApplicationPreprocessing("mobilenet_v2")(np.array([[[[0.0, 127.5, 255.0]]]], "float32")).numpy()
    array([[[[-1.,  0.,  1.]]]], dtype=float32)
    >>> ApplicationPreprocessing("vgg")
    Traceback (most recent call last):
    ...
    ValueError: family must name a keras.applications module with preprocess_input (e.g. 'mobilenet_v2', 'resnet50', 'efficientnet'), got 'vgg'
    """

    def __init__(self, family: str, **kwargs):
        super().__init__(**kwargs)
        module = getattr(keras.applications, str(family), None)
        if not hasattr(module, "preprocess_input"):
            raise ValueError(f"family must name a keras.applications module with preprocess_input "
                             f"(e.g. 'mobilenet_v2', 'resnet50', 'efficientnet'), got {family!r}")
        self.family = family
        self._preprocess = module.preprocess_input

    def call(self, inputs):
        return self._preprocess(ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "family": self.family}


@keras.saving.register_keras_serializable(package="kerazoo")
class RandomMask(keras.layers.Layer):
    """Replace a random share of positions by a fill value while training.

    Token masking (ids replaced by a mask id), feature dropout (tabular
    features replaced by their training mean, which is zero after the model's
    own normalization) and time-step masking (whole steps replaced, with
    `per_step=True`). Unlike `keras.layers.Dropout` it does not rescale what it
    keeps, and it fills with a value rather than zero. Outside training it
    returns its inputs unchanged.

    Args:
        rate: the share of positions replaced, in [0, 1].
        fill_value: a number, or one number per feature (the last axis).
            Defaults to 0.
        per_step: mask whole steps of `(batch, steps, features)` inputs rather
            than single values. Defaults to False.
        seed: the random seed. Defaults to None.

    Example:
    >>> import numpy as np
    >>> layer = RandomMask(0.5, fill_value=0, seed=1)
    >>> x = np.arange(1, 101, dtype="int32").reshape(1, 100)
    >>> out = np.asarray(layer(x, training=True))
    >>> 20 < int((out == 0).sum()) < 80, bool((np.asarray(layer(x)) == x).all())
    (True, True)
    """

    def __init__(self, rate: float, fill_value: float | list = 0, per_step: bool = False,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"RandomMask: rate must be in [0, 1], got {rate!r}")
        self.rate = rate
        self.fill_value = fill_value
        self.per_step = per_step
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or not self.rate:
            return inputs
        shape = ops.shape(inputs)
        if self.per_step:
            shape = (*shape[:-1], 1)
        masked = keras.random.uniform(shape, seed=self.generator) < self.rate
        fill = ops.cast(ops.convert_to_tensor(self.fill_value), inputs.dtype)
        return ops.where(masked, ops.broadcast_to(fill, ops.shape(inputs)), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "fill_value": self.fill_value,
                "per_step": self.per_step, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerazoo")
class RandomWindow(keras.layers.Layer):
    """Random crop of a sequence, left-aligned and padded back to its length, while training.

    Each example keeps a random window of at least `1 - crop` of its steps
    (axis 1); the rest is filled with `fill_value` (the padding id for tokens,
    the training mean for float sequences). Keras' `RandomCrop` is for images
    and resizes; this keeps the model's fixed sequence length. Outside training
    it returns its inputs unchanged.

    Args:
        crop: the largest share of the steps cropped away, in [0, 1).
        fill_value: a number, or one number per feature. Defaults to 0.
        seed: the random seed. Defaults to None.

    Example:
    >>> import numpy as np
    >>> layer = RandomWindow(0.5, seed=0)
    >>> out = np.asarray(layer(np.arange(1, 9, dtype="int32")[None].repeat(3, 0), training=True))
    >>> out.shape, bool(((out == 0).sum(axis=1) <= 4).all())
    ((3, 8), True)
    """

    def __init__(self, crop: float, fill_value: float | list = 0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= crop < 1:
            raise ValueError(f"RandomWindow: crop must be in [0, 1), got {crop!r}")
        self.crop = crop
        self.fill_value = fill_value
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or not self.crop:
            return inputs
        shape = ops.shape(inputs)
        batch, steps = shape[0], shape[1]
        fsteps = ops.cast(steps, "float32")
        keep = ops.ceil(fsteps * (1.0 - keras.random.uniform((batch,), 0.0, self.crop, seed=self.generator)))
        start = ops.floor(keras.random.uniform((batch,), seed=self.generator) * (fsteps - keep + 1.0))
        keep, start = ops.cast(keep, "int32"), ops.minimum(ops.cast(start, "int32"), steps - 1)
        positions = ops.arange(steps, dtype="int32")[None, :]
        valid = positions < keep[:, None]
        index = ops.where(valid, positions + start[:, None], 0)
        index = ops.minimum(index, steps - 1)
        trailing = len(inputs.shape) - 2
        index_full = ops.reshape(index, (batch, steps) + (1,) * trailing)
        index_full = ops.broadcast_to(index_full, shape)
        taken = ops.take_along_axis(inputs, index_full, axis=1)
        fill = ops.broadcast_to(ops.cast(ops.convert_to_tensor(self.fill_value), inputs.dtype), shape)
        valid_full = ops.broadcast_to(ops.reshape(valid, (batch, steps) + (1,) * trailing), shape)
        return ops.where(valid_full, taken, fill)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "crop": self.crop, "fill_value": self.fill_value, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerazoo")
class FeatureNoise(keras.layers.Layer):
    """Gaussian noise scaled to each feature's spread, while training.

    `keras.layers.GaussianNoise` takes one standard deviation in the inputs'
    own units; raw tabular features differ in scale by orders of magnitude
    (the zoo's models normalize inside themselves), so this layer draws noise
    of `stddev` times each feature's standard deviation. Outside training it
    returns its inputs unchanged.

    Args:
        stddev: the noise's standard deviation as a share of each feature's.
        scale: each feature's standard deviation (the last axis), or None for
            1. Defaults to None.
        seed: the random seed. Defaults to None.

    Example:
    >>> import numpy as np
    >>> layer = FeatureNoise(0.1, scale=[1.0, 100.0], seed=0)
    >>> out = np.asarray(layer(np.zeros((2000, 2), "float32"), training=True))
    >>> [round(float(s), 1) for s in out.std(axis=0)]
    [0.1, 10.0]
    """

    def __init__(self, stddev: float, scale: list | None = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if stddev < 0:
            raise ValueError(f"FeatureNoise: stddev must be >= 0, got {stddev!r}")
        self.stddev = stddev
        self.scale = scale
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or not self.stddev:
            return inputs
        noise = keras.random.normal(ops.shape(inputs), stddev=self.stddev, dtype=inputs.dtype, seed=self.generator)
        if self.scale is not None:
            noise = noise * ops.cast(ops.convert_to_tensor(self.scale), inputs.dtype)
        return inputs + noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "scale": self.scale, "seed": self.seed}

"""Augmentation: presets per kind of data, applied while training and nowhere else.

`fit(..., augment=...)` takes a preset name (`"none"`, `"light"`, `"medium"`,
`"heavy"`), a dict of settings over a preset, or a list of Keras layers. The
preset's contents follow the data's kind (`DataSpec.kind`): images get Keras'
own preprocessing layers (RandomTranslation, RandomRotation, RandomZoom,
RandomContrast, RandomBrightness, RandomErasing, RandAugment, MixUp, CutMix);
token and sequence data get random masking and random crops, tabular data
Gaussian noise and feature dropout, through the three small layers here
(`RandomMask`, `RandomWindow`, `FeatureNoise`) for what Keras lacks.

Augmentation never enters the model. It runs either in the training `tf.data`
pipeline (`augment_dataset`, after batching) or inside the training step only
(`augmented_training`), so the model `fit` saves and returns holds no random
layer: Keras' random layers traced into a SavedModel put ops such as
ImageProjectiveTransformV3 and StatelessRandomUniformV2 into the serving graph,
and TFLite conversion with builtin ops then fails. Flips are never in a preset
(digits and text must not be mirrored): ask for them with `{"flip": "horizontal"}`.

This module imports Keras at top level: `kerazoo.train` imports it lazily,
never `import kerazoo`.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from collections.abc import Iterator
from typing import Any

import keras
from keras import ops

from kerazoo.spec import DataSpec

__all__ = ["PRESETS", "PRESET_NAMES", "SETTINGS", "AUGMENT_ON", "Augmenter", "make_augmenter", "preset_settings",
           "augment_dataset", "augmented_training", "random_layers", "RandomMask", "RandomWindow",
           "FeatureNoise"]

log = logging.getLogger("kerazoo")

AUGMENT_ON = ("data", "model")
PRESET_NAMES = ("none", "light", "medium", "heavy")

# Every setting a kind of data takes, with what it means. A number of 0 (or None) turns it off.
SETTINGS: dict[str, dict[str, str]] = {
    "image": {
        "flip": "None, 'horizontal', 'vertical' or 'horizontal_and_vertical' (RandomFlip); never in a preset",
        "translation": "largest shift as a share of height and width (RandomTranslation)",
        "rotation": "largest rotation as a share of a full turn, 0.03 is about 11 degrees (RandomRotation)",
        "zoom": "largest zoom in or out as a share of the size (RandomZoom)",
        "contrast": "largest contrast change as a share (RandomContrast)",
        "brightness": "largest brightness shift as a share of the value range (RandomBrightness)",
        "erasing": "probability that an image gets a random patch erased (RandomErasing)",
        "randaugment": "RandAugment's strength in [0, 1], two operations an image (RandAugment)",
        "mixup": "MixUp's alpha: blends image pairs and their labels (MixUp)",
        "cutmix": "CutMix's factor: pastes patches across images, labels mixed by area (CutMix)",
        "fill_mode": "how shifted pixels are filled: 'constant' (the lowest value), 'reflect', 'nearest', 'wrap'",
        "interpolation": "'bilinear' or 'nearest', for shifts, rotations and zooms",
    },
    "tokens": {
        "mask": "share of tokens replaced by mask_id (RandomMask)",
        "crop": "largest share of the sequence cropped away; the rest is padded with mask_id (RandomWindow)",
        "mask_id": "the id that masked and padded positions take (0, the usual padding id)",
    },
    "sequence": {
        "noise": "Gaussian noise, as a share of each feature's standard deviation (FeatureNoise)",
        "mask": "share of time steps replaced by the training mean (RandomMask)",
        "crop": "largest share of the steps cropped away; the rest is padded with the mean (RandomWindow)",
    },
    "tabular": {
        "noise": "Gaussian noise, as a share of each feature's standard deviation (FeatureNoise)",
        "dropout": "share of features replaced by their training mean (RandomMask)",
    },
}

_IMAGE_DEFAULTS = {"fill_mode": "constant", "interpolation": "bilinear"}
# Shares of the image's size, so 8x8 digits and 32x32 photos get the same relative change;
# light's strengths were tuned on the bundled digits (see README, Measured figures).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "image": {
        "none": {},
        "light": {"translation": 0.05, "rotation": 0.02, "zoom": 0.05},
        "medium": {"translation": 0.1, "rotation": 0.03, "zoom": 0.1, "contrast": 0.2, "brightness": 0.1,
                   "erasing": 0.25},
        "heavy": {"randaugment": 0.3, "erasing": 0.25, "mixup": 0.2},
    },
    "tokens": {
        "none": {},
        "light": {"mask": 0.05},
        "medium": {"mask": 0.1, "crop": 0.1},
        "heavy": {"mask": 0.15, "crop": 0.2},
    },
    "sequence": {
        "none": {},
        "light": {"noise": 0.05},
        "medium": {"noise": 0.1, "mask": 0.05},
        "heavy": {"noise": 0.1, "mask": 0.1, "crop": 0.1},
    },
    "tabular": {
        "none": {},
        "light": {"noise": 0.05},
        "medium": {"noise": 0.1, "dropout": 0.05},
        "heavy": {"noise": 0.15, "dropout": 0.1},
    },
}

_CHOICES = {
    "flip": (None, "horizontal", "vertical", "horizontal_and_vertical"),
    "fill_mode": ("constant", "reflect", "nearest", "wrap"),
    "interpolation": ("bilinear", "nearest"),
}
_AT_MOST_ONE = ("erasing", "randaugment", "mask", "crop", "dropout")  # shares and probabilities


def preset_settings(augment: str | dict, kind: str) -> dict[str, Any]:
    """The full settings a preset name or a dict of overrides stands for, for one kind of data.

    A dict overrides the `"light"` preset, or the preset its `"preset"` key
    names; a setting of 0 or None turns that augmentation off.

    Args:
        augment: a preset name (`"none"`, `"light"`, `"medium"`, `"heavy"`)
            or a dict of settings (see `SETTINGS[kind]`).
        kind: the data's kind: `"image"`, `"tokens"`, `"sequence"` or `"tabular"`.

    Returns:
        Setting name -> value; only the settings that are on.

    Raises:
        ValueError: an unknown preset or setting (the valid ones are listed),
            or a value out of range.

    Example:
    >>> preset_settings("light", "image")
    {'translation': 0.05, 'rotation': 0.02, 'zoom': 0.05, 'fill_mode': 'constant', 'interpolation': 'bilinear'}
    >>> preset_settings({"rotation": 0.1, "flip": "horizontal", "zoom": 0}, "image")["rotation"]
    0.1
    >>> preset_settings("strong", "image")
    Traceback (most recent call last):
    ...
    ValueError: augment: unknown preset 'strong'; valid: none, light, medium, heavy
    >>> preset_settings({"rotate": 0.1}, "image")
    Traceback (most recent call last):
    ...
    ValueError: augment: unknown setting 'rotate' for image data (did you mean 'rotation'?); valid: brightness, contrast, cutmix, erasing, fill_mode, flip, interpolation, mixup, randaugment, rotation, translation, zoom
    """
    if kind not in PRESETS:
        raise ValueError(f"augment: no augmentation for data of kind {kind!r}; kinds: {', '.join(PRESETS)}")
    if isinstance(augment, str):
        augment = {"preset": augment}
    if not isinstance(augment, dict):
        raise TypeError(f"augment: expected a preset name or a dict of settings, got {type(augment).__name__}")
    overrides = dict(augment)
    preset = overrides.pop("preset", "light")
    if preset not in PRESET_NAMES:
        raise ValueError(f"augment: unknown preset {preset!r}; valid: {', '.join(PRESET_NAMES)}")
    valid = SETTINGS[kind]
    for key in overrides:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"augment: unknown setting {key!r} for {kind} data{hint}; "
                             f"valid: {', '.join(sorted(valid))}")
    settings = {**PRESETS[kind][preset], **overrides}
    if kind == "image" and any(v for k, v in settings.items() if k not in _CHOICES):
        for key, value in _IMAGE_DEFAULTS.items():
            settings.setdefault(key, value)
    for key, value in settings.items():
        if key in _CHOICES:
            if value not in _CHOICES[key]:
                raise ValueError(f"augment: {key} must be one of {list(_CHOICES[key])}, got {value!r}")
        elif key == "mask_id":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"augment: mask_id must be a token id (an int >= 0), got {value!r}")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                    or value < 0 or (key in _AT_MOST_ONE and value > 1)):
            top = "1" if key in _AT_MOST_ONE else "inf"
            raise ValueError(f"augment: {key} must be a number in [0, {top}], got {value!r}")
    return {k: v for k, v in settings.items() if v or k == "mask_id"}


class Augmenter:
    """Training-time augmentation: Keras layers applied to `(x, y)` batches.

    Layers run in order on the inputs with `training=True`; MixUp and CutMix
    also mix the labels, so multiclass class ids become one-hot float labels
    first (the zoo's losses and metrics take both). An `Augmenter` is never part
    of a model: `fit` applies it in the data pipeline or in the training step.

    Args:
        layers: Keras layers, applied in order.
        spec: the data's `DataSpec` (for the number of classes).
        settings: what the layers were made from, for the run's record.
        name: the preset's name, or "custom". Defaults to "custom".

    Example:
    >>> import keras, numpy as np
    >>> from kerazoo.spec import DataSpec
    >>> spec = DataSpec((8, 8, 1), num_classes=10, kind="image", value_range=(0, 16))
    >>> aug = Augmenter([keras.layers.MixUp(alpha=0.2)], spec=spec)
    >>> x, y = aug(np.ones((4, 8, 8, 1), "float32"), np.array([0, 1, 2, 3]))
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 8, 8, 1), (4, 10))
    """

    def __init__(self, layers: list, *, spec: DataSpec, settings: dict | None = None, name: str = "custom"):
        if not layers:
            raise ValueError("augment: an Augmenter needs at least one layer")
        for layer in layers:
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(f"augment: expected Keras layers, got {type(layer).__name__}")
        self.layers = list(layers)
        self.spec = spec
        self.settings = dict(settings or {})
        self.name = name

    @property
    def mixes_labels(self) -> bool:
        """Whether a layer mixes labels (MixUp, CutMix), so labels become soft."""
        return any(isinstance(layer, _MIXERS) for layer in self.layers)

    @property
    def supports_jit(self) -> bool:
        """Whether every layer compiles with XLA (RandomRotation and others do not)."""
        from kerazoo._compat import flatten_layers

        return all(sub.supports_jit for layer in self.layers for sub in flatten_layers(layer))

    def _soft_labels(self, y):
        y = ops.convert_to_tensor(y)
        n = self.spec.num_classes
        if self.spec.task == "multiclass" and (len(y.shape) == 1 or y.shape[-1] != n):
            return ops.one_hot(ops.reshape(ops.cast(y, "int32"), (-1,)), n, dtype="float32")
        return ops.cast(y, "float32")

    def __call__(self, x, y):
        """Augment one batch; returns `(x, y)`."""
        soft = False
        for layer in self.layers:
            if isinstance(layer, _MIXERS):
                if not soft:
                    y, soft = self._soft_labels(y), True
                out = layer({"images": x, "labels": y}, training=True)
                x, y = out["images"], out["labels"]
            else:
                x = layer(x, training=True)
        return x, y

    def describe(self) -> dict:
        """What the run records: the preset, its settings and the layers.

        Example:
        >>> from kerazoo.spec import DataSpec
        >>> spec = DataSpec((4,), num_classes=3, kind="tabular", mean=(0,) * 4, variance=(1,) * 4)
        >>> make_augmenter("light", spec).describe()
        {'preset': 'light', 'kind': 'tabular', 'settings': {'noise': 0.05}, 'layers': ['FeatureNoise']}
        """
        return {"preset": self.name, "kind": self.spec.kind, "settings": dict(self.settings),
                "layers": [type(layer).__name__ for layer in self.layers]}

    def __repr__(self) -> str:
        return f"Augmenter({self.name!r}, {[type(layer).__name__ for layer in self.layers]})"


_MIXERS = (keras.layers.MixUp, keras.layers.CutMix)


def make_augmenter(augment: str | dict | list | None, spec: DataSpec) -> Augmenter | None:
    """Build the augmentation for a data set from a preset name, a dict of settings or Keras layers.

    Args:
        augment: None or `"none"` (no augmentation); a preset name; a dict of
            settings over a preset (`{"rotation": 0.1, "flip": "horizontal"}`,
            optionally `"preset": "medium"`; see `SETTINGS`); or a list of
            Keras layers, applied in order.
        spec: the data's `DataSpec`: its kind picks the preset's contents, its
            value range and feature statistics scale them.

    Returns:
        An `Augmenter`, or None when nothing is switched on.

    Raises:
        ValueError: an unknown preset or setting (the valid ones are listed).

    Example:
    >>> from kerazoo.spec import DataSpec
    >>> spec = DataSpec((8, 8, 1), num_classes=10, kind="image", value_range=(0, 16))
    >>> make_augmenter("light", spec)
    Augmenter('light', ['RandomTranslation', 'RandomRotation', 'RandomZoom'])
    >>> make_augmenter({"preset": "none", "flip": "horizontal"}, spec)
    Augmenter('custom', ['RandomFlip'])
    >>> make_augmenter("none", spec) is None
    True
    """
    if augment is None:
        return None
    if isinstance(augment, (list, tuple)):
        return Augmenter(list(augment), spec=spec, name="custom") if augment else None
    settings = preset_settings(augment, spec.kind)
    name = augment if isinstance(augment, str) else "custom"
    layers = _layers_for(spec, settings)
    if not layers:
        return None
    return Augmenter(layers, spec=spec, settings=settings, name=name)


def _layers_for(spec: DataSpec, s: dict) -> list:
    L = keras.layers
    if spec.kind == "image":
        low, high = (spec.value_range or (0, 255))
        value_range = (float(low), float(high))
        geometry = dict(fill_mode=s.get("fill_mode", "constant"), interpolation=s.get("interpolation", "bilinear"),
                        fill_value=value_range[0])
        candidates = [
            ("flip", lambda v: L.RandomFlip(v)),
            ("translation", lambda v: L.RandomTranslation(v, v, **geometry)),
            ("rotation", lambda v: L.RandomRotation(v, **geometry)),
            ("zoom", lambda v: L.RandomZoom(v, **geometry)),
            ("contrast", lambda v: L.RandomContrast(v, value_range=value_range)),
            ("brightness", lambda v: L.RandomBrightness(v, value_range=value_range)),
            ("randaugment", lambda v: L.RandAugment(value_range=value_range, num_ops=2, factor=v,
                                                    interpolation=geometry["interpolation"])),
            ("erasing", lambda v: L.RandomErasing(factor=(v, v), scale=(0.02, 0.25), value_range=value_range)),
            ("mixup", lambda v: L.MixUp(alpha=v)),
            ("cutmix", lambda v: L.CutMix(factor=v)),
        ]
        return [make(s[key]) for key, make in candidates if s.get(key)]
    mean = _per_feature(spec.mean, spec)
    std = _per_feature(spec.variance, spec, sqrt=True)
    out = []
    if spec.kind == "tokens":
        if s.get("mask"):
            out.append(RandomMask(s["mask"], fill_value=s.get("mask_id", 0)))
        if s.get("crop"):
            out.append(RandomWindow(s["crop"], fill_value=s.get("mask_id", 0)))
    elif spec.kind == "sequence":
        if s.get("noise"):
            out.append(FeatureNoise(s["noise"], scale=std))
        if s.get("mask"):
            out.append(RandomMask(s["mask"], fill_value=mean, per_step=True))
        if s.get("crop"):
            out.append(RandomWindow(s["crop"], fill_value=mean))
    else:
        if s.get("noise"):
            out.append(FeatureNoise(s["noise"], scale=std))
        if s.get("dropout"):
            out.append(RandomMask(s["dropout"], fill_value=mean))
    return out


def _per_feature(values, spec: DataSpec, *, sqrt: bool = False):
    """Per-feature statistics as a list (the last input axis), or None when unknown."""
    if values is None:
        return None
    values = [float(v) ** 0.5 if sqrt else float(v) for v in values]
    features = spec.input_shape[-1]
    if len(values) == features:
        return values
    return None  # statistics of another shape (say, per position): fall back to unit scale


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


def augment_dataset(dataset, augmenter: Augmenter | None, *, deterministic: bool = True):
    """The training pipeline with augmentation mapped over its batches.

    The map runs after batching (one call a batch, vectorized: each call's ops
    still use all cores) and prefetches, so it overlaps the training step. Use
    it on the training pipeline only; validation and test data are never
    augmented. Keras' random layers draw from a seed state that each call
    advances, and calls running in parallel race on it: the same seed then
    gives different runs. So a deterministic pipeline maps one batch at a time
    (the draws follow the batches' order and a seeded run repeats), and
    `deterministic=False` maps with `num_parallel_calls=AUTOTUNE`.

    Args:
        dataset: a batched `tf.data.Dataset` of `(x, y)` or `(x, y, weights)`.
        augmenter: from `make_augmenter`; None returns `dataset` unchanged.
        deterministic: repeatable draws (one call at a time) rather than
            parallel calls. Defaults to True; `fit` passes `seed is not None`.

    Returns:
        The augmented `tf.data.Dataset`.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> from kerazoo.spec import DataSpec
    >>> spec = DataSpec((8, 8, 1), num_classes=10, kind="image", value_range=(0, 16))
    >>> x = np.random.default_rng(0).uniform(0, 16, (8, 8, 8, 1)).astype("float32")
    >>> ds = tf.data.Dataset.from_tensor_slices((x, np.arange(8) % 10)).batch(4)
    >>> xa, ya = next(iter(augment_dataset(ds, make_augmenter({"mixup": 0.2}, spec))))
    >>> xa.shape, ya.shape, bool(np.allclose(xa, x[:4]))
    (TensorShape([4, 8, 8, 1]), TensorShape([4, 10]), False)
    """
    if augmenter is None:
        return dataset
    import tensorflow as tf

    def apply(x, y, *rest):
        x, y = augmenter(x, y)
        return (x, y, *rest)

    parallel = None if deterministic else tf.data.AUTOTUNE
    return dataset.map(apply, num_parallel_calls=parallel).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def augmented_training(model, augmenter: Augmenter | None) -> Iterator[Any]:
    """Within the block, `model.fit` augments each batch inside its training step.

    The model's training step becomes "augment the batch, then the model's own
    `train_step`", on the accelerator, in the same compiled function; nothing
    is added to the model (its layers, weights, evaluation, prediction and
    saving are untouched), and the step is restored when the block ends, even
    on an error. Callbacks see the model itself, so a checkpoint saved during
    training holds no augmentation either. When the model compiles with XLA
    and a layer does not support it (RandomRotation, RandomZoom,
    RandomTranslation), XLA is off for the block.

    Args:
        model: a compiled Keras model.
        augmenter: from `make_augmenter`; None leaves training as it is.

    Yields:
        The model.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> spec = DataSpec((4,), num_classes=3, kind="tabular")
    >>> model = build("mlp", spec, width=8)
    >>> x, y = np.random.default_rng(0).normal(size=(32, 4)).astype("float32"), np.arange(32) % 3
    >>> with augmented_training(model, make_augmenter({"noise": 0.1}, spec)):
    ...     _ = model.fit(x, y, epochs=1, verbose=0)
    >>> "train_step" in vars(model), random_layers(model)
    (False, [])
    """
    if augmenter is None:
        yield model
        return
    base_step = type(model).train_step
    pack, unpack = keras.utils.pack_x_y_sample_weight, keras.utils.unpack_x_y_sample_weight

    def train_step(data):
        x, y, sample_weight = unpack(data)
        x, y = augmenter(x, y)
        return base_step(model, pack(x, y, sample_weight))

    jit = model.jit_compile
    if jit and not augmenter.supports_jit:
        log.info("kerazoo: XLA is off while augmenting in the model: %s do not compile with XLA",
                 ", ".join(type(layer).__name__ for layer in augmenter.layers))
        model.jit_compile = False
    object.__setattr__(model, "train_step", train_step)  # an instance attribute, outside Keras' tracking
    model.train_function = None
    try:
        yield model
    finally:
        vars(model).pop("train_step", None)
        model.train_function = None
        if jit and not augmenter.supports_jit:
            model.jit_compile = jit


_RANDOM_CLASSES = ("MixUp", "CutMix", "RandAugment", "AugMix", "Solarization", "RandomMask", "RandomWindow",
                   "FeatureNoise")


def random_layers(model) -> list[str]:
    """Names of the augmentation layers inside a model (random preprocessing, MixUp, noise, ...).

    Dropout, GaussianNoise and GaussianDropout are not counted: they default to
    inference (`training=False`) and trace to nothing random, while Keras'
    random preprocessing layers default to augmenting. A model `fit` saved has none.

    Args:
        model: a Keras model.

    Returns:
        `"name (ClassName)"` for each augmentation layer, outermost first.

    Example:
    >>> import keras
    >>> inputs = keras.Input((8, 8, 1))
    >>> model = keras.Model(inputs, keras.layers.RandomFlip(name="flip")(inputs))
    >>> random_layers(model)
    ['flip (RandomFlip)']
    """
    out = []
    from kerazoo._compat import flatten_layers

    for layer in flatten_layers(model, include_self=False):
        name = type(layer).__name__
        if name.startswith("Random") or name in _RANDOM_CLASSES:
            out.append(f"{layer.name} ({name})")
    return out

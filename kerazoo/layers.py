"""The zoo's own Keras layers: a transformer encoder block, position and patch embeddings,
and a Keras Applications family's input preprocessing.

Each layer is registered with Keras under the package "kerazoo" and mirrors its
constructor's flat keyword arguments in `get_config`, so a `.keras` file that
holds them loads back with `keras.saving.load_model` once this module has been
imported (it is imported by the builders that use it). This module imports
Keras at top level: only builders import it, never `import kerazoo`.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["TransformerBlock", "PositionEmbedding", "PatchEmbedding", "ClassToken",
           "ApplicationPreprocessing"]


@keras.saving.register_keras_serializable(package="kerazoo")
class TransformerBlock(keras.layers.Layer):
    """A pre-norm transformer encoder block.

    LayerNorm, multi-head self-attention and a residual connection, then
    LayerNorm, an MLP (Dense with `activation`, Dense back to the input width)
    and a second residual connection. Input and output are `(batch, steps, dim)`;
    `dim` is read from the input and must be divisible by `num_heads`.

    Args:
        num_heads: attention heads. Defaults to 4.
        mlp_dim: hidden units of the MLP. Defaults to 128.
        dropout: dropout on the attention output and in the MLP. Defaults to 0.
        attention_dropout: dropout on the attention weights. Defaults to 0.
        activation: the MLP's hidden activation. Defaults to "gelu".
        epsilon: the layer normalizations' epsilon. Defaults to 1e-6.

    Raises:
        ValueError: the input's last dimension is not divisible by `num_heads`.

    Example:
    >>> import numpy as np
    >>> block = TransformerBlock(num_heads=2, mlp_dim=32)
    >>> tuple(block(np.zeros((2, 5, 16), "float32")).shape)
    (2, 5, 16)
    """

    def __init__(self, num_heads=4, mlp_dim=128, dropout=0.0, attention_dropout=0.0,
                 activation="gelu", epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.mlp_dim = int(mlp_dim)
        self.dropout = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.activation = activation
        self.epsilon = float(epsilon)
        self.supports_masking = True
        dtype = self.dtype_policy
        self.norm1 = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=dtype, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=dtype, name="norm2")
        self.mlp_hidden = keras.layers.Dense(self.mlp_dim, activation=activation, dtype=dtype,
                                             name="mlp_hidden")
        self.drop = keras.layers.Dropout(self.dropout, dtype=dtype)
        self.attention = None
        self.mlp_out = None

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None or dim % self.num_heads:
            raise ValueError(
                f"TransformerBlock: the input width, its last dimension ({dim}), must be divisible "
                f"by num_heads ({self.num_heads}); got input shape {tuple(input_shape)}")
        dtype = self.dtype_policy
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, dim // self.num_heads, dropout=self.attention_dropout, dtype=dtype,
            name="attention")
        self.mlp_out = keras.layers.Dense(dim, dtype=dtype, name="mlp_out")
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_dim,))
        super().build(input_shape)

    def call(self, inputs, training=None):
        x = self.norm1(inputs)
        x = self.attention(x, x, training=training)
        x = inputs + self.drop(x, training=training)
        y = self.mlp_hidden(self.norm2(x))
        y = self.mlp_out(self.drop(y, training=training))
        return x + self.drop(y, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "dropout": self.dropout, "attention_dropout": self.attention_dropout,
                "activation": self.activation, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerazoo")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position embedding to a `(batch, steps, dim)` input.

    The embedding has one `dim`-wide row per position. Its length is
    `sequence_length` when given (inputs may then be shorter), else the input's
    number of steps.

    Args:
        sequence_length: the longest sequence; None reads it from the input.
            Defaults to None.
        initializer: the embedding's initializer. Defaults to a truncated
            normal with standard deviation 0.02.

    Raises:
        ValueError: the input has no fixed number of steps and no
            `sequence_length` was given.

    Example:
    >>> import numpy as np
    >>> layer = PositionEmbedding()
    >>> tuple(layer(np.zeros((2, 6, 8), "float32")).shape)
    (2, 6, 8)
    >>> tuple(layer.embedding.shape)
    (6, 8)
    """

    def __init__(self, sequence_length=None, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.initializer = keras.initializers.get(
            initializer or keras.initializers.TruncatedNormal(stddev=0.02))
        self.supports_masking = True

    def build(self, input_shape):
        length = self.sequence_length or input_shape[-2]
        if length is None:
            raise ValueError(
                f"PositionEmbedding: the input has no fixed number of steps (shape "
                f"{tuple(input_shape)}); pass sequence_length")
        self.embedding = self.add_weight(shape=(length, input_shape[-1]), name="embedding",
                                         initializer=self.initializer)
        super().build(input_shape)

    def call(self, inputs):
        steps = ops.shape(inputs)[-2]
        return inputs + ops.cast(self.embedding[:steps], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer)}


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

"""SavedModel for serving: a `serving_default` signature that takes raw inputs.

The signature is written with Keras 3's own `keras.export.ExportArchive`, with
an endpoint that calls `model(x, training=False)`: `model.export(...)` traces
without `training=False`, which would leave random augmentation layers (and
dropout) active at serve time. The batch dimension is free. Outputs are named:
classification models return `probabilities` and `classes` (int64 class ids;
multi-hot for multilabel); other models (regression, language-model logits)
return their raw outputs as `values`.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["write_savedmodel", "float32_copy", "model_task", "output_names", "INPUT_NAME", "CLASSIFICATION"]

INPUT_NAME = "inputs"
CLASSIFICATION = ("multiclass", "binary", "multilabel")


def model_task(model: Any) -> str:
    """The model's task: from `build`'s record, else from its output layer.

    Example:
    >>> from kerazoo import build
    >>> model_task(build("mlp", input_shape=(4,), num_classes=3)), model_task(build("mlp", input_shape=(4,), task="regression"))
    ('multiclass', 'regression')
    """
    from kerazoo.train import _task_of

    return _task_of(model)


def output_names(task: str) -> tuple[str, ...]:
    """The names of the serving signature's outputs for a task.

    Classification tasks get `probabilities` and `classes`; any other task
    (regression, language-model logits) gets its raw outputs as `values`.

    Example:
    >>> output_names("multiclass"), output_names("regression")
    (('probabilities', 'classes'), ('values',))
    """
    return ("probabilities", "classes") if task in CLASSIFICATION else ("values",)


def _check_single_input(model: Any) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"export takes models with one input and one output; {model.name!r} has "
                         f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")


def float32_copy(model: Any) -> Any:
    """The model itself, or a float32 copy of it (same weights) when it computes in mixed precision.

    A `mixed_float16` model converts to TFLite only with select-TF ops (its float16
    convolutions and matrix products are not builtins), so export works from a
    float32 copy; TFLite's own float16 quantization is the way to a smaller file.

    Args:
        model: a Keras model.

    Returns:
        `model` when every layer computes in float32, else a float32 copy.

    Example:
    >>> import keras
    >>> from kerazoo import build
    >>> keras.mixed_precision.set_global_policy("mixed_float16")
    >>> half = build("mlp", input_shape=(4,), num_classes=3, compile=False)
    >>> keras.mixed_precision.set_global_policy("float32")
    >>> copy = float32_copy(half)
    >>> sorted({layer.dtype_policy.name for layer in copy.layers})
    ['float32']
    """
    import keras

    from kerazoo._compat import flatten_layers

    if all(not layer.dtype_policy.name.startswith("mixed") for layer in flatten_layers(model)):
        return model
    import kerazoo.layers  # noqa: F401  (the zoo's layers, for deserialization)

    def to_float32(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
                    str(obj.get("config", {}).get("name", "")).startswith("mixed"):
                return "float32"
            return {k: to_float32(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [to_float32(v) for v in obj]
        if isinstance(obj, str) and obj.startswith("mixed_"):
            return "float32"
        return obj

    config = to_float32(keras.saving.serialize_keras_object(model))
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = keras.saving.deserialize_keras_object(config)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    if hasattr(model, "_kerazoo"):
        copy._kerazoo = model._kerazoo
    return copy


def write_savedmodel(model: Any, path: str | os.PathLike, *, task: str | None = None) -> dict:
    """Write a SavedModel whose `serving_default` signature serves the model.

    The signature takes one input named `inputs` (batch dimension free, the
    model's input dtype) and returns the named outputs of `output_names(task)`.
    It calls the model with `training=False`, so dropout and augmentation
    layers are inert. A mixed-precision model is served from a float32 copy.

    Args:
        model: a single-input Keras model.
        path: the folder to write (it must not hold a SavedModel already).
        task: the model's task. Defaults to `model_task(model)`.

    Returns:
        The signature: `{"inputs": {name: {"shape", "dtype"}}, "outputs": {...}}`.

    Raises:
        ValueError: a model with several inputs.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> sig = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> sig["inputs"], sorted(sig["outputs"])
    ({'inputs': {'shape': [None, 4], 'dtype': 'float32'}}, ['classes', 'probabilities'])
    """
    import keras
    import tensorflow as tf

    _check_single_input(model)
    task = task or model_task(model)
    model = float32_copy(model)
    shape = (None, *tuple(model.inputs[0].shape[1:]))
    dtype = tf.as_dtype(str(model.inputs[0].dtype))

    @tf.function(input_signature=[tf.TensorSpec(shape, dtype, name=INPUT_NAME)])
    def serve(inputs):
        out = tf.cast(model(inputs, training=False), tf.float32)
        if task not in CLASSIFICATION:
            return {"values": out}
        if task == "multiclass":
            classes = tf.argmax(out, axis=-1, output_type=tf.int64)
        elif task == "binary":
            classes = tf.cast(out[..., 0] > 0.5, tf.int64)
        else:  # multilabel: one 0/1 flag a label
            classes = tf.cast(out > 0.5, tf.int64)
        return {"probabilities": out, "classes": classes}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve)
    archive.write_out(os.fspath(path), verbose=False)
    outputs = serve.get_concrete_function().structured_outputs
    return {"inputs": {INPUT_NAME: {"shape": list(shape), "dtype": dtype.name}},
            "outputs": {k: {"shape": v.shape.as_list(), "dtype": v.dtype.name} for k, v in outputs.items()}}

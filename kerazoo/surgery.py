"""Model surgery for transfer: a source model loaded, its features cut, its inputs adapted, a new head.

`kerazoo.transfer` plans and trains with these; each works on any Keras model,
with what the zoo knows of it (`kerazoo.model_info`) where there is a record.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from kerazoo.modelinfo import model_info
from kerazoo.spec import DataSpec

__all__ = ["load_source", "leaf_layers", "head_layers", "feature_output", "adapt_inputs", "new_head", "HEAD_NAMES"]

log = logging.getLogger("kerazoo")

HEAD_NAMES = ("predictions", "predictions_standardized")


def load_source(source: Any, spec: DataSpec, *, overrides: dict | None = None, safe_mode: bool = True) -> tuple:
    """The source model, what the zoo knows of it, and its input value range.

    Args:
        source: a run directory, a `.keras` file, a registered model name (built
            for `spec` with `overrides`) or a `keras.Model` (copied, so the
            original stays as it is).
        spec: the new data's `DataSpec`.
        overrides: builder arguments, for a registered name only.
        safe_mode: load files in Keras' safe mode. Defaults to True.

    Returns:
        `(model, info, value_range, description)`: `info` is the zoo's record
        (`model`, `overrides`, `config`); `value_range` is None when unknown.

    Raises:
        ValueError: a source that is none of these, or overrides for a source
            that is not a registered name.

    Example:
    >>> from kerazoo import DataSpec
    >>> spec = DataSpec((4,), num_classes=3)
    >>> model, info, _, what = load_source("mlp", spec, overrides={"width": 8})
    >>> info["model"], info["overrides"], what
    ('mlp', {'width': 8}, "registered model 'mlp'")
    """
    import keras

    from kerazoo import registry, runs

    if overrides and not (isinstance(source, str) and not os.path.exists(source)):
        raise ValueError("overrides are builder arguments: they go with a registered model name as the "
                         f"source, not with {source!r}")
    if isinstance(source, keras.Model):
        info = model_info(source) or {"model": source.name}
        model = keras.models.clone_model(source)
        model.set_weights(source.get_weights())
        return model, info, _value_range(info), f"the model {source.name!r}"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a run directory, a .keras file, a model name or a keras.Model, "
                        f"got {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        run = runs.load_run(path, safe_mode=safe_mode)
        return run.model, model_info(run.model), _value_range(run.config), f"run {str(path)!r}"
    if path.suffix == ".keras":
        if not path.is_file():
            raise FileNotFoundError(f"source {str(path)!r}: no such .keras file")
        model = runs.load_model(path, safe_mode=safe_mode)
        info = model_info(model)  # the record inside the file (kerazoo.json), when the zoo wrote it
        return model, info or {"model": model.name}, _value_range(info), f"file {str(path)!r}"
    try:
        registry.get_entry(str(source))
    except KeyError as err:
        raise ValueError(f"source {str(source)!r} is not a run directory, a .keras file or a registered "
                         f"model: {err.args[0]}") from None
    model = registry.build(str(source), spec, compile=False, **(overrides or {}))
    info = model_info(model)
    return model, info, _value_range(info), f"registered model {str(source)!r}"


def _value_range(info: dict):
    spec = (info or {}).get("spec") or {}
    value = spec.get("value_range")
    return tuple(value) if value else None


def leaf_layers(model) -> list:
    """Every layer that is not a model, nested models opened, in topological order.

    Example:
    >>> from kerazoo import build
    >>> [layer.name for layer in leaf_layers(build("mlp", input_shape=(4,), num_classes=3, depth=1))][-1]
    'predictions'
    """
    import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(leaf_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out


def head_layers(model) -> list:
    """The output layers a new head replaces: those named `predictions`, else a last Dense layer.

    Example:
    >>> from kerazoo import build
    >>> [layer.name for layer in head_layers(build("mlp", input_shape=(4,), num_classes=3))]
    ['predictions']
    """
    names = {layer.name for layer in model.layers}
    found = [model.get_layer(n) for n in HEAD_NAMES if n in names]
    if found:
        return found
    import keras

    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise ValueError(f"cannot find the head of model {model.name!r}: no layer named 'predictions' and "
                         f"its last layer {last.name!r} is a {type(last).__name__}, not a Dense layer")
    return [last]


def feature_output(model, layer: str | None = None):
    """The tensor the new head takes: the named layer's output, else the old output layer's input.

    Example:
    >>> from kerazoo import build
    >>> tuple(feature_output(build("mlp", input_shape=(4,), num_classes=3, width=16)).shape)
    (None, 16)
    """
    if layer is not None:
        names = [item.name for item in model.layers]
        if layer not in names:
            raise ValueError(f"features={layer!r}: model {model.name!r} has no such layer; its last layers "
                             f"are {', '.join(names[-6:])}")
        return model.get_layer(layer).output
    heads = head_layers(model)
    first = next((h for h in heads if h.name == "predictions_standardized"), heads[0])
    return first.input


def adapt_inputs(model, source_range, spec) -> tuple[Any, Any, list, list]:
    """The new model's inputs, the tensor fed to the source's body, notes, and fixed layers.

    Images are rescaled to the source's value range, resized and their channels
    mapped; other inputs must already match.

    Example:
    >>> from kerazoo import DataSpec, build
    >>> source = build("cnn", input_shape=(8, 8, 1), num_classes=10)
    >>> spec = DataSpec(input_shape=(16, 16, 3), num_classes=2, kind="image", value_range=(0, 255))
    >>> for note in adapt_inputs(source, (0, 16), spec)[2]:
    ...     print(note)
    pixel values rescaled from (0, 255) to the source's (0, 16)
    images resized from 16x16 to the source's 8x8
    3 channels averaged to the source's single channel
    """
    import keras

    have = tuple(spec.input_shape)
    want = tuple(model.input_shape[1:])
    ranges_differ = (spec.kind == "image" and source_range is not None and spec.value_range is not None
                     and tuple(map(float, source_range)) != tuple(map(float, spec.value_range)))
    if have == want and not ranges_differ:
        return None, None, [], []
    if spec.kind != "image" or len(have) != 3 or len(want) != 3:
        raise ValueError(f"the source model takes inputs of shape {want}, but data {spec.name!r} has "
                         f"{spec.kind} inputs of shape {have}; only images can be adapted (resized, "
                         f"channels mapped): fine-tune on data of the source's shape")
    inputs = keras.Input(have, dtype=spec.input_dtype, name="inputs")
    x, notes, fixed = inputs, [], []
    if ranges_differ:
        (low, high), (s_low, s_high) = map(float, spec.value_range), map(float, source_range)
        scale = (s_high - s_low) / (high - low)
        x = keras.layers.Rescaling(scale, offset=s_low - low * scale, name="adapt_range")(x)
        notes.append(f"pixel values rescaled from {spec.value_range} to the source's {tuple(source_range)}")
    if have[:2] != want[:2]:
        if None in want[:2]:
            pass  # the source takes any size
        else:
            x = keras.layers.Resizing(want[0], want[1], name="adapt_resize")(x)
            notes.append(f"images resized from {have[0]}x{have[1]} to the source's {want[0]}x{want[1]}")
    if have[2] != want[2]:
        if have[2] == 1:
            x = keras.layers.Concatenate(name="adapt_channels")([x] * want[2])
            notes.append(f"the gray channel repeated to the source's {want[2]} channels")
        elif want[2] == 1:
            conv = keras.layers.Conv2D(1, 1, use_bias=False, name="adapt_channels",
                                       kernel_initializer=keras.initializers.Constant(1.0 / have[2]))
            x = conv(x)
            fixed.append(conv)
            notes.append(f"{have[2]} channels averaged to the source's single channel")
        else:
            x = keras.layers.Conv2D(want[2], 1, name="adapt_channels")(x)
            notes.append(f"{have[2]} channels mapped to the source's {want[2]} by a learned 1x1 convolution")
    for note in notes:
        log.info("kerazoo: input adaptation: %s", note)
    return inputs, x, notes, fixed


def new_head(features, spec, head):
    """A new output layer for `spec`'s task on `features`: `"new"`, or a dict with hidden `units`.

    Example:
    >>> import keras
    >>> from kerazoo import DataSpec
    >>> out = new_head(keras.Input((16,)), DataSpec(input_shape=(4,), num_classes=3), {"units": 8})
    >>> tuple(out.shape)
    (None, 3)
    """
    import keras

    from kerazoo.models.common import head as task_head

    x = features
    if isinstance(head, dict):
        unknown = set(head) - {"units", "dropout", "activation"}
        if unknown or "units" not in head:
            raise ValueError(f"head as a dict takes 'units' (required), 'dropout' and 'activation'; "
                             f"got {sorted(head)}")
        x = keras.layers.Dense(int(head["units"]), activation=head.get("activation", "relu"),
                               name="head_dense")(x)
        if head.get("dropout"):
            x = keras.layers.Dropout(float(head["dropout"]), name="head_dropout")(x)
    return task_head(x, spec)

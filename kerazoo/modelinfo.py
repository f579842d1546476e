"""What the zoo knows of a model, as one public record: `model_info(model)`.

`build` records the family, its arguments and the data spec (and the
distribution it was built under); `compile_model` adds its settings, LoRA its
adapter's. `finetune`, `load_run` and the exports carry the record on. It is a
plain JSON-ready dict with the keys of `FIELDS`, and a `.keras` file the zoo
writes holds it as `kerazoo.json` beside Keras' own files (all but the
compile settings, which Keras stores in its own form), so `load_model` gives it
back. A model the zoo did not make has an empty record.

The record travels on one attribute of the Keras model; only this module
touches it.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile
from typing import Any

__all__ = ["model_info", "record_info", "copy_info", "write_info", "read_info", "FIELDS", "INFO_FILE"]

#: The record's keys: the registered family, the arguments given and used, the data spec, the
#: distribution it was built under, compile_model's settings, and a LoRA adapter's settings.
FIELDS = ("model", "overrides", "config", "spec", "distribution", "compile", "lora")
#: The record's name inside a `.keras` file.
INFO_FILE = "kerazoo.json"
_ATTRIBUTE = "_kerazoo"


def model_info(model: Any) -> dict:
    """What the zoo knows of `model` (a copy; change it with `record_info`); {} for any other model.

    Example:
    >>> from kerazoo import build
    >>> info = model_info(build("mlp", input_shape=(4,), num_classes=3, width=32))
    >>> info["model"], info["config"]["width"], info["spec"]["task"]
    ('mlp', 32, 'multiclass')
    >>> import keras
    >>> model_info(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    {}
    """
    return copy.deepcopy(dict(getattr(model, _ATTRIBUTE, None) or {}))


def record_info(model: Any, /, **fields: Any) -> dict:
    """Set fields of `model`'s record (None removes one); returns the record as it now is.

    Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> record_info(model, model="mine", spec={"task": "regression"})
    {'model': 'mine', 'spec': {'task': 'regression'}}
    >>> record_info(model, colour="red")
    Traceback (most recent call last):
    ...
    ValueError: model_info has no field 'colour'; its fields: model, overrides, config, spec, distribution, compile, lora
    """
    unknown = [k for k in fields if k not in FIELDS]
    if unknown:
        raise ValueError(f"model_info has no field {unknown[0]!r}; its fields: {', '.join(FIELDS)}")
    info = model_info(model)
    for key, value in fields.items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = copy.deepcopy(value)
    object.__setattr__(model, _ATTRIBUTE, info)  # a plain dict: past Keras' attribute tracking
    return model_info(model)


def copy_info(source: Any, target: Any, /, **changes: Any) -> dict:
    """Give `target` the record of `source` (a rebuilt, merged or cloned model), with `changes`.

    Example:
    >>> from kerazoo import build
    >>> a, b = build("mlp", input_shape=(4,), num_classes=3), build("mlp", input_shape=(4,), num_classes=3)
    >>> copy_info(a, b, overrides={"depth": 1})["overrides"]
    {'depth': 1}
    """
    object.__setattr__(target, _ATTRIBUTE, {})
    return record_info(target, **{**model_info(source), **changes})


def write_info(path: str | os.PathLike, info: dict) -> None:
    """Store `info` inside the `.keras` file at `path` (as `kerazoo.json`; Keras ignores it).

    The compile settings stay out: the file holds the compiled optimizer, loss and
    metrics in Keras' own form.

    Example:
    >>> import keras, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.keras"
    >>> keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    >>> write_info(path, {"model": "mine"})
    >>> read_info(path)
    {'model': 'mine'}
    """
    with zipfile.ZipFile(path, "a") as archive:
        if INFO_FILE in archive.namelist():  # pragma: no cover  (the zoo writes each file once)
            raise ValueError(f"{os.fspath(path)!r} already holds {INFO_FILE}")
        archive.writestr(INFO_FILE, json.dumps({k: v for k, v in info.items() if k != "compile"}, default=list))


def read_info(path: str | os.PathLike) -> dict:
    """The record a `.keras` file holds, or {} (a file Keras or another tool wrote).

    Example:
    >>> import keras, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "plain.keras"
    >>> keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    >>> read_info(path)
    {}
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if INFO_FILE not in archive.namelist():
                return {}
            info = json.loads(archive.read(INFO_FILE))
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}
    return {k: v for k, v in info.items() if k in FIELDS} if isinstance(info, dict) else {}

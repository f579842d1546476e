"""The model registry: a name -> builder table, and `build` on top of it.

A builder is a plain function `fn(spec, *, knob=default, ...) -> keras.Model` whose
keyword defaults are its config. `register` records it with the tasks and input
kinds it supports, tags, a default `DataSpec` (what `build(name)` alone builds for)
and its search space. Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kerazoo.modelinfo import record_info
from kerazoo.space import Declaration, check_value, to_dict
from kerazoo.spec import KINDS, TASKS, DataSpec

__all__ = ["register", "build", "list_models", "describe", "get_entry", "ModelEntry", "fit_problem"]

log = logging.getLogger("kerazoo")

ENTRY_POINT_GROUP = "kerazoo.models"
#: What `register(training=...)` may set: the command line's defaults for one model.
TRAINING_KEYS = ("epochs", "min_epochs", "min_steps", "learning_rate", "warmup", "weight_decay", "clipnorm",
                 "optimizer", "schedule")
#: The training keys that size the budget (`kerazoo.budget`), not `compile_model` arguments.
BUDGET_KEYS = ("epochs", "min_epochs", "min_steps")


@dataclass
class ModelEntry:
    """One registered model: a builder and what it declares."""

    name: str
    fn: Callable
    tasks: tuple
    inputs: tuple
    tags: tuple
    space: dict
    default_spec: DataSpec
    fixed: dict = field(default_factory=dict)
    doc: str = ""
    training: dict = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The builder's keyword arguments and their defaults (fixed ones applied)."""
        sig = inspect.signature(self.fn)
        out = {p.name: p.default for p in list(sig.parameters.values())[1:]
               if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        out.update(self.fixed)
        return out


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def _ensure_loaded() -> None:
    """Load the plug-ins (entry points) once; the built-in families register when `kerazoo` is imported."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as err:  # a broken plug-in must not break the zoo
            log.warning("kerazoo: plug-in %r failed to load: %s", ep.name, err)
            continue
        if callable(obj) and ep.name not in _REGISTRY:
            register(ep.name)(obj)


def register(
    name: str | None = None,
    *,
    task: str | Iterable[str] = ("multiclass", "binary", "regression"),
    inputs: str | Iterable[str] = KINDS,
    tags: Iterable[str] = (),
    space: dict[str, Declaration] | None = None,
    default_spec: DataSpec | None = None,
    defaults: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    replace: bool = False,
) -> Callable:
    """Decorator that registers a builder function under `name`.

    Stack it to register named variants of one function: `defaults` fixes some
    of its keyword arguments for that name (as `resnet20`, `resnet56`).

    Args:
        name: the registry name. Defaults to the function's name.
        task: the tasks the builder supports.
        inputs: the input kinds it takes (`image`, `tabular`, `sequence`, `tokens`).
        tags: free words for `list_models(tags=...)`.
        space: the search space, `{kwarg: Int/Float/Choice/Bool}`; every key
            must be one of the builder's keyword arguments.
        default_spec: what `build(name)` builds for when given no data.
            Defaults to 32x32x3 images in 10 classes.
        defaults: keyword arguments fixed for this name.
        training: this model's training defaults: `epochs` (what
            `epochs="auto"` trains, in `fit` and `kerazoo train`), or
            `min_epochs` / `min_steps` (the floors of the auto rule, in place
            of 10 epochs and 300 steps), and `compile_model`'s `learning_rate`, `warmup`,
            `weight_decay`, `clipnorm`, `optimizer`, `schedule` (which `build`
            compiles with, and `kerazoo train` uses, unless told otherwise).
            Defaults to none.
        replace: allow replacing an existing name. Defaults to False.

    Returns:
        The decorator; it returns the function unchanged.

    Raises:
        ValueError: on a duplicate name, an unknown task or input kind, or a
            space or default that names no keyword argument of the builder.

    Example:
    >>> @register("tiny_dense_doc", task="regression", inputs="tabular", replace=True,
    ...           default_spec=DataSpec((4,), task="regression"))
    ... def tiny_dense(spec, *, units=8):
    ...     import keras
    ...     inputs = keras.Input(spec.input_shape)
    ...     hidden = keras.layers.Dense(units, activation="relu")(inputs)
    ...     return keras.Model(inputs, keras.layers.Dense(spec.num_outputs)(hidden))
    >>> "tiny_dense_doc" in list_models("tiny*")
    True
    """
    tasks = (task,) if isinstance(task, str) else tuple(task)
    kinds = (inputs,) if isinstance(inputs, str) else tuple(inputs)
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"register: unknown task {t!r}; expected some of {list(TASKS)}")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"register: unknown input kind {k!r}; expected some of {list(KINDS)}")

    def decorator(fn: Callable) -> Callable:
        reg_name = name or fn.__name__
        if not reg_name or not isinstance(reg_name, str):
            raise ValueError(f"register: name must be a non-empty string, got {reg_name!r}")
        if reg_name in _REGISTRY and not replace:
            raise ValueError(
                f"model {reg_name!r} is already registered (by {_REGISTRY[reg_name].fn.__module__}); "
                f"pass replace=True to replace it")
        entry = ModelEntry(
            name=reg_name, fn=fn, tasks=tasks, inputs=kinds, tags=tuple(tags),
            space=dict(space or {}),
            default_spec=default_spec or DataSpec((32, 32, 3), num_classes=10, kind="image",
                                                  value_range=(0, 255)),
            fixed=dict(defaults or {}), doc=inspect.getdoc(fn) or "", training=dict(training or {}))
        unknown = sorted(set(entry.training) - set(TRAINING_KEYS))
        if unknown:
            raise ValueError(f"register {reg_name!r}: training takes {', '.join(TRAINING_KEYS)}; "
                             f"got {', '.join(unknown)}")
        params = ModelEntry(reg_name, fn, (), (), (), {}, entry.default_spec).params
        for key in list(entry.space) + list(entry.fixed):
            if key not in params:
                raise ValueError(
                    f"register {reg_name!r}: {key!r} is not a keyword argument of "
                    f"{fn.__name__}(); it takes {sorted(params)}")
        _REGISTRY[reg_name] = entry
        return fn

    return decorator


def get_entry(name: str) -> ModelEntry:
    """The registry entry for `name`; an unknown name lists the closest ones.

    Example:
    >>> get_entry("cnn").inputs
    ('image',)
    >>> get_entry("cnnn")
    Traceback (most recent call last):
    ...
    KeyError: "unknown model 'cnnn'; did you mean: cnn? (`kerazoo models` lists them all)"
    >>> get_entry("CNN")
    Traceback (most recent call last):
    ...
    KeyError: "unknown model 'CNN'; did you mean: cnn? (`kerazoo models` lists them all)"
    """
    _ensure_loaded()
    if name in _REGISTRY:
        return _REGISTRY[name]
    same = [n for n in _REGISTRY if n.lower() == str(name).lower()]  # CNN -> cnn: case never hides a name
    lower = {n.lower(): n for n in _REGISTRY}
    close = same + [lower[c] for c in difflib.get_close_matches(str(name).lower(), list(lower), n=3, cutoff=0.5)
                    if lower[c] not in same]
    close = close[:3]
    hint = f"did you mean: {', '.join(close)}?" if close else f"known: {', '.join(sorted(_REGISTRY))}"
    raise KeyError(f"unknown model {name!r}; {hint} (`kerazoo models` lists them all)")


def list_models(
    pattern: str = "*",
    *,
    exclude: str | Iterable[str] = (),
    tags: str | Iterable[str] = (),
    task: str | None = None,
    inputs: str | None = None,
) -> list[str]:
    """Registered model names matching shell wildcards, sorted.

    Args:
        pattern: a wildcard such as `"resnet*"`. Defaults to all.
        exclude: wildcards to leave out.
        tags: keep models that carry every one of these tags.
        task: keep models that support this task.
        inputs: keep models that take this input kind.

    Returns:
        The matching names.

    Example:
    >>> list_models("resnet*")
    ['resnet', 'resnet20', 'resnet50', 'resnet56']
    >>> "mlp" in list_models(inputs="tabular")
    True
    """
    _ensure_loaded()
    exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    out = []
    for name, entry in _REGISTRY.items():
        if not fnmatch.fnmatch(name, pattern) or any(fnmatch.fnmatch(name, e) for e in exclude):
            continue
        if not set(tags) <= set(entry.tags):
            continue
        if task and task not in entry.tasks or inputs and inputs not in entry.inputs:
            continue
        out.append(name)
    return sorted(out)


def describe(name: str) -> dict:
    """What a model is: defaults, search space, tasks, inputs and its docstring.

    Example:
    >>> info = describe("cnn")
    >>> info["default_input_shape"], info["defaults"]["dropout"]
    ((32, 32, 3), 0.3)
    >>> sorted(info["space"])[:2]
    ['dense_units', 'dropout']
    """
    entry = get_entry(name)
    spec = entry.default_spec
    return {
        "name": entry.name,
        "tasks": list(entry.tasks),
        "inputs": list(entry.inputs),
        "tags": list(entry.tags),
        "default_input_shape": spec.input_shape,
        "default_output": f"{spec.task}, {spec.num_classes} classes" if spec.is_classification
        else f"{spec.task}, logits over {spec.vocab_size} ids" if spec.task == "causal_lm"
        else f"{spec.task}, {spec.num_outputs} outputs",
        "defaults": entry.params,
        "training": dict(entry.training),
        "space": {k: to_dict(v) for k, v in entry.space.items()},
        "doc": entry.doc,
    }


def fit_problem(name: str, spec: DataSpec) -> str | None:
    """Why model `name` cannot take data of `spec` (its task or its input kind), or None when it can.

    The sentence `build` raises for such data; a search across families uses it
    to pick the families that take part and to refuse one that does not fit.

    Example:
    >>> from kerazoo.spec import DataSpec
    >>> fit_problem("mlp", DataSpec((4,), num_classes=3, kind="tabular")) is None
    True
    >>> fit_problem("cnn", DataSpec((4,), num_classes=3, kind="tabular", name="iris"))
    "model 'cnn' takes image inputs, but the data 'iris' has tabular inputs of shape (4,); models that take tabular inputs: mlp, transformer"
    >>> fit_problem("cnn", DataSpec((8, 8), num_classes=10, kind="sequence", name="arrays")).split("; ")[-1]
    "if they are grayscale images, load them with load_data((x, y), kind='image')"
    """
    entry = get_entry(name)
    if spec.task not in entry.tasks:
        others = list_models(task=spec.task)
        return (f"model {entry.name!r} supports tasks {list(entry.tasks)}, but the data "
                f"{spec.name!r} is {spec.task!r}; models for {spec.task!r}: {', '.join(others)}")
    if spec.kind not in entry.inputs:
        others = list_models(inputs=spec.kind, task=spec.task)
        return (f"model {entry.name!r} takes {'/'.join(entry.inputs)} inputs, but the data "
                f"{spec.name!r} has {spec.kind} inputs of shape {spec.input_shape}; models that "
                f"take {spec.kind} inputs: {', '.join(others) or 'none'}"
                + ("; if they are grayscale images, load them with load_data((x, y), kind='image')"
                   if "image" in entry.inputs and spec.kind == "sequence" and len(spec.input_shape) == 2 else ""))
    return None


def _check_fits(entry: ModelEntry, spec: DataSpec) -> None:
    problem = fit_problem(entry.name, spec)
    if problem is not None:
        raise ValueError(problem)


def resolve_spec(
    entry: ModelEntry,
    spec: DataSpec | None = None,
    *,
    input_shape: tuple | None = None,
    num_classes: int | None = None,
    task: str | None = None,
) -> DataSpec:
    """The spec to build for: the given one, else the model's default with overrides."""
    if spec is not None and not isinstance(spec, DataSpec):
        spec = getattr(spec, "spec", spec)  # a Data bundle from load_data
        if not isinstance(spec, DataSpec):
            raise TypeError(f"spec must be a DataSpec or load_data()'s result, got {type(spec).__name__}")
    base = spec or entry.default_spec
    changes: dict[str, Any] = {}
    if input_shape is not None:
        changes["input_shape"] = tuple(input_shape)
        if spec is None and base.kind == "image" and len(input_shape) != 3:
            changes["kind"] = "tabular" if len(input_shape) == 1 else "sequence"
            changes["value_range"] = None
    if num_classes is not None:
        changes["num_classes"] = num_classes
    if task is not None:
        changes["task"] = task
        if num_classes is None and task in ("binary", "regression"):
            changes["num_classes"] = None
        changes["class_names"] = None
    return base.with_(**changes) if changes else base


def build(
    name: str,
    spec: DataSpec | None = None,
    *,
    input_shape: tuple | None = None,
    num_classes: int | None = None,
    task: str | None = None,
    compile: bool | dict = True,
    strategy: Any = None,
    precision: str | None = None,
    **overrides: Any,
):
    """Build a registered model, compiled with the zoo's defaults.

    With no data, the model's documented default spec is used (32x32x3 images in
    10 classes for image families; `kerazoo describe NAME` shows each). A `DataSpec`
    (or `load_data()`'s result), or `input_shape` / `num_classes` / `task`, overrides it.

    Args:
        name: a registered name (`list_models()`).
        spec: the data's `DataSpec`, or the bundle `load_data` returns.
        input_shape: one example's shape, without the batch dimension.
        num_classes: the number of classes (or regression targets).
        task: `multiclass`, `binary`, `regression` or `multilabel`.
        compile: True compiles with `compile_model`'s defaults (and the
            model's registered `training` settings); a dict passes its keyword
            arguments; False returns the model uncompiled.
        strategy: a `tf.distribute` strategy name (`auto`, `default`,
            `one_device`, `mirrored`, `multi_worker`, `tpu`) or instance; the
            model is built and compiled in its scope. Defaults to None (the
            current strategy).
        precision: `float32`, `mixed_float16`, `mixed_bfloat16` or `auto`; the
            output layer stays float32. Defaults to None (the global policy).
        **overrides: the builder's keyword arguments (`describe(name)["defaults"]`).
            `None` values are dropped, so the default applies.

    Returns:
        A `keras.Model` that takes raw inputs and outputs probabilities
        (classification) or values (regression).

    Raises:
        KeyError: an unknown name; the message lists the closest names.
        TypeError: an override that is not one of the builder's arguments.
        ValueError: data the model cannot take (task or input kind), or an
            override no value of its kind could be: the wrong type, or below
            what its declared space implies (`depth=-1` where the space is
            `Int(1, 4)`; the space's top is not a limit).

    Example:
    >>> model = build("cnn")
    >>> model.input_shape, model.output_shape
    ((None, 32, 32, 3), (None, 10))
    >>> build("mlp", input_shape=(30,), task="binary").output_shape
    (None, 1)
    >>> build("cnn", widht=3)
    Traceback (most recent call last):
    ...
    TypeError: cnn: unknown argument 'widht'; valid arguments: activation, batch_norm, bn_momentum, dense_units, dropout, filters, l2, pooling
    >>> build("mlp", depth=-1)
    Traceback (most recent call last):
    ...
    ValueError: mlp: depth=-1 is out of range: expected an int >= 1 (tuning searches int 1..4)
    """
    entry = get_entry(name)
    kwargs = dict(entry.fixed)
    valid = entry.params
    for key, value in overrides.items():
        if key not in valid:
            raise TypeError(f"{name}: unknown argument {key!r}; valid arguments: {', '.join(sorted(valid))}")
        if value is not None:
            expected = check_value(value, valid[key], entry.space.get(key))
            if expected:
                searched = f" (tuning searches {entry.space[key].describe()})" if key in entry.space else ""
                raise ValueError(f"{name}: {key}={value!r} is out of range: expected {expected}{searched}")
            kwargs[key] = value
    spec = resolve_spec(entry, spec, input_shape=input_shape, num_classes=num_classes, task=task)
    _check_fits(entry, spec)
    info = {"model": name, "overrides": {k: v for k, v in overrides.items() if v is not None},
            "config": {**valid, **kwargs}, "spec": spec.to_dict()}
    if strategy is None and precision is None:
        return _build_in_scope(entry, spec, kwargs, info, compile)
    import contextlib

    import keras

    from kerazoo.distribute import distribution_info, resolve_precision, resolve_strategy

    strat = resolve_strategy(strategy if strategy is not None else "default")
    policy = resolve_precision(precision, strat) if precision is not None else keras.config.dtype_policy().name
    info["distribution"] = distribution_info(strat, policy)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        scope = strat.scope() if strategy is not None else contextlib.nullcontext()
        with scope:
            return _build_in_scope(entry, spec, kwargs, info, compile)
    finally:
        keras.config.set_dtype_policy(previous)


def _build_in_scope(entry: ModelEntry, spec: DataSpec, kwargs: dict, info: dict, compile: bool | dict):
    model = entry.fn(spec, **kwargs)
    record_info(model, **info)
    if compile:
        from kerazoo.compiling import compile_model

        settings = {k: v for k, v in entry.training.items() if k not in BUDGET_KEYS}  # the model's own defaults
        compile_model(model, **{**settings, **(compile if isinstance(compile, dict) else {})})
    return model

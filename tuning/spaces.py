"""The search space of a tuning job: a model's declared space, training settings, overrides.

A registered builder declares its space once (`kerazoo describe NAME` shows it);
tuning adds training settings beside it (learning rate, weight decay, batch size,
and the augmentation preset where `kerazoo.augment` exists and the inputs are
images), then applies the user's overrides:

- a list is a choice (`width: [32, 64]`; a list of lists for tuple-valued
  arguments: `filters: [[16, 32], [32, 64]]`);
- a scalar fixes the value (`depth: 2`; a flat list fixes a tuple-valued
  argument: `filters: [16, 32, 64]`);
- a dict with `type` replaces the declaration (`{type: int, min_value: 1, max_value: 6}`);
- a dict without `type` narrows or widens the declared one (`{max_value: 6}`);
- `null` leaves the argument untuned, at its default;
- a key the model does not declare but takes adds it (`activation: [relu, gelu]`).

`when: {parent: [values]}` makes an entry conditional (KerasTuner's
`conditional_scope`): it is tuned only when the parent takes one of the values.
Nothing here imports TensorFlow or KerasTuner.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kerazoo.space import Bool, Choice, Declaration, Float, Int, space_from_dict, to_dict

__all__ = ["resolve_space", "ResolvedSpace", "TRAINING_DEFAULTS", "COMPILE_KEYS", "training_space",
           "augment_presets", "encode_value", "choice_values", "decode_value", "parent_values"]

#: Training settings that `compile_model` takes; tunable beside the model's arguments.
COMPILE_KEYS = ("optimizer", "learning_rate", "schedule", "warmup", "weight_decay", "clipnorm",
                "label_smoothing")
#: Every training key a space may name (`batch_size` re-batches the data, `augment` picks a preset).
TRAINING_KEYS = (*COMPILE_KEYS, "batch_size", "augment")
#: The defaults of the training settings (those of `compile_model`, `load_data` and `fit`).
TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adamw", "learning_rate": 1e-3, "schedule": "cosine", "warmup": 0.0,
    "weight_decay": 1e-4, "clipnorm": None, "label_smoothing": 0.0, "batch_size": 32, "augment": None,
}


def augment_presets() -> tuple[str, ...]:
    """The augmentation presets `fit(..., augment=...)` takes, or () where there are none.

    `kerazoo.augment` is optional: without it, or without an `augment` argument
    to `kerazoo.fit`, augmentation is not tuned (and naming it in a space fails).

    Example:
    >>> isinstance(augment_presets(), tuple)
    True
    """
    import importlib.util

    if importlib.util.find_spec("kerazoo.augment") is None:
        return ()
    import importlib
    import inspect

    try:
        module = importlib.import_module("kerazoo.augment")
        train = importlib.import_module("kerazoo.train")
    except ImportError:
        return ()
    if "augment" not in inspect.signature(train.fit).parameters:
        return ()
    presets = getattr(module, "PRESET_NAMES", None)
    if presets is None:  # {kind: {preset: settings}} or {preset: settings}
        table = getattr(module, "PRESETS", None) or {}
        inner = [v for v in table.values() if isinstance(v, Mapping)] if isinstance(table, Mapping) else []
        presets = list(dict.fromkeys(k for v in inner for k in v)) if inner else list(table)
    return tuple(str(p) for p in presets or ())


def training_space(kind: str | None = None) -> dict[str, Declaration]:
    """The training settings tuned by default beside a model's own space.

    Args:
        kind: the data's input kind; images also tune the augmentation preset
            when `kerazoo.augment` provides presets.

    Returns:
        name -> declaration: `learning_rate` (log-uniform 1e-4..1e-2),
        `weight_decay` (0, 1e-5, 1e-4, 1e-3) and `batch_size` (16, 32, 64, 128).

    Example:
    >>> sorted(training_space("tabular"))
    ['batch_size', 'learning_rate', 'weight_decay']
    >>> training_space()["learning_rate"].describe()
    'float 0.0001..0.01 (log)'
    """
    out: dict[str, Declaration] = {
        "learning_rate": Float(1e-4, 1e-2, sampling="log"),
        "weight_decay": Choice((0.0, 1e-5, 1e-4, 1e-3)),
        "batch_size": Choice((16, 32, 64, 128)),
    }
    presets = augment_presets() if kind == "image" else ()
    if presets:
        out["augment"] = Choice(tuple(presets))
    return out


def encode_value(value: Any) -> Any:
    """A value as KerasTuner can hold it: tuples and lists become strings such as "32-64-128".

    Example:
    >>> encode_value((32, 64, 128)), encode_value(0.5), encode_value(None)
    ('32-64-128', 0.5, 'None')
    """
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    if value is None:
        return "None"
    return value


def choice_values(decl: Choice) -> list:
    """A choice's values as KerasTuner takes them: one of int, float, str or bool for all.

    Tuples become strings ("32-64-128"); a choice mixing kinds becomes all strings.

    Example:
    >>> choice_values(Choice([(16, 32), (32, 64)])), choice_values(Choice(["avg", 2]))
    (['16-32', '32-64'], ['avg', '2'])
    """
    values = [encode_value(v) for v in decl.values]
    kinds = {type(v) for v in values}
    if len(kinds) > 1 or not kinds <= {int, float, str, bool}:
        values = [str(v) for v in values]
    if len(set(map(repr, values))) != len(values):  # two values that print alike
        values = [repr(v) for v in decl.values]
    return values


def decode_value(decl: Declaration, value: Any) -> Any:
    """The builder's value for a KerasTuner value of `decl` (the inverse of `choice_values`).

    Example:
    >>> decode_value(Choice([(16, 32), (32, 64)]), "32-64")
    (32, 64)
    >>> decode_value(Float(0.0, 0.5, step=0.1), 0.30000000000000004)
    0.3
    """
    if value is None:
        return None
    if isinstance(decl, Choice):
        for kt_value, v in zip(choice_values(decl), decl.values):
            if kt_value == value and type(kt_value) is type(value):
                return v
        for kt_value, v in zip(choice_values(decl), decl.values):
            if kt_value == value:
                return v
        raise ValueError(f"{value!r} is not one of {list(decl.values)}")
    if isinstance(decl, Float):
        return float(f"{float(value):.12g}")
    if isinstance(decl, Int):
        return int(value)
    return bool(value)


def parent_values(decl: Declaration, values: list) -> list:
    """The KerasTuner values of a parent entry that a `when` condition lists.

    Example:
    >>> parent_values(Choice([(16, 32), (32, 64)]), [[32, 64]])
    ['32-64']
    """
    if isinstance(decl, Choice):
        encoded = choice_values(decl)
        return [encoded[decl.values.index(tuple(v) if isinstance(v, list) else v)] for v in values]
    return list(values)


@dataclass
class ResolvedSpace:
    """A model's search space after training settings and overrides are applied.

    Attributes:
        model: the registered model name.
        entries: name -> declaration, parents before the entries conditional on them.
        model_keys: the names that are the builder's arguments (the rest are training keys).
        defaults: the value of every model argument and training key when it is not tuned
            or not active.
    """

    model: str
    entries: dict[str, Declaration]
    model_keys: frozenset
    defaults: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, dict]:
        """JSON-ready declarations, as `kerazoo describe --json` writes them.

        Example:
        >>> resolve_space("mlp", {"depth": 2}, kind="tabular").to_dict()["depth"]["values"]
        [2]
        """
        return {k: to_dict(v) for k, v in self.entries.items()}

    @classmethod
    def from_dict(cls, model: str, entries: Mapping[str, dict]) -> ResolvedSpace:
        """The space `to_dict` wrote, for `model` (defaults come from the registry).

        Example:
        >>> space = resolve_space("mlp", {"width": [8, 16]}, kind="tabular")
        >>> ResolvedSpace.from_dict("mlp", space.to_dict()).entries == space.entries
        True
        """
        from kerazoo.registry import get_entry

        entry = get_entry(model)
        params = {k: v for k, v in entry.params.items() if k not in entry.fixed}
        parsed = space_from_dict(dict(entries))
        parsed = {k: _normalize_choice(k, v) if isinstance(v, Choice) else v for k, v in parsed.items()}
        return cls(model=model, entries=parsed, model_keys=frozenset(params),
                   defaults={**params, **TRAINING_DEFAULTS})

    def describe(self) -> list[str]:
        """One line per entry: name, range and condition.

        Example:
        >>> resolve_space("mlp", {"width": [8, 16]}, kind="tabular").describe()[1]
        'width: one of [8, 16]'
        """
        lines = []
        for name, decl in self.entries.items():
            fixed = isinstance(decl, Choice) and len(decl.values) == 1
            text = f"fixed {decl.values[0]!r}" if fixed else decl.describe()
            lines.append(f"{name}: {text}" + (f" when {decl.when}" if decl.when else ""))
        return lines

    @property
    def families(self) -> tuple[str, ...]:
        """The one family of this space (a `tuning.families.FamilySpace` has several)."""
        return (self.model,)

    def family(self, values: Mapping[str, Any]) -> str:
        """The model a trial's values build: this space's one model."""
        return self.model

    def split(self, values: Mapping[str, Any]) -> tuple[dict, dict]:
        """Separate decoded values into (builder arguments, training settings)."""
        model = {k: v for k, v in values.items() if k in self.model_keys}
        training = {k: v for k, v in values.items() if k not in self.model_keys}
        return model, training


def _parse_override(name: str, raw: Any, declared: Declaration | None, default: Any) -> Declaration | None:
    """One override entry as a declaration (None: leave the argument untuned)."""
    if raw is None:
        return None
    if isinstance(raw, (Int, Float, Choice, Bool)):
        return raw
    tuple_arg = isinstance(default, (tuple, list))
    if isinstance(raw, Mapping) and "type" not in raw:
        if declared is None:
            raise ValueError(f"space entry {name!r}: a dict without 'type' changes the declared entry, "
                             f"but {name!r} has none; give 'type' (int, float, choice, bool)")
        merged = {**to_dict(declared), **raw}
        unknown = sorted(set(raw) - set(to_dict(declared)))
        if unknown:
            raise ValueError(f"space entry {name!r}: unknown field(s) {unknown} for a "
                             f"{to_dict(declared)['type']} entry; it has "
                             f"{sorted(k for k in to_dict(declared) if k != 'type')}")
        raw = merged
    if isinstance(raw, (list, tuple)) and tuple_arg and not all(isinstance(v, (list, tuple)) for v in raw):
        raw = [list(raw)]  # a flat list fixes a tuple-valued argument
    if isinstance(raw, tuple):
        raw = list(raw)
    decl = space_from_dict({name: raw})[name]
    if isinstance(decl, Choice):
        decl = _normalize_choice(name, decl)
    return decl


def _normalize_choice(name: str, decl: Choice) -> Choice:
    """Numbers of mixed int/float become floats (KerasTuner wants one type a choice)."""
    values = decl.values
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) == len(values) and any(isinstance(v, float) for v in values):
        values = tuple(float(v) for v in values)
        if len(set(values)) != len(values):
            raise ValueError(f"space entry {name!r}: choice values {list(decl.values)} are not distinct")
        return Choice(values, when=decl.when)
    return decl


def _check_when(name: str, decl: Declaration, valid: Mapping[str, Any],
                entries: Mapping[str, Declaration]) -> None:
    for parent, values in (decl.when or {}).items():
        if parent == name:
            raise ValueError(f"space entry {name!r}: 'when' names the entry itself")
        if parent not in valid:
            raise ValueError(f"space entry {name!r}: 'when' names {parent!r}, which is neither a model "
                             f"argument nor a training setting")
        if parent in entries:
            bad = [v for v in values if not entries[parent].contains(v)]
            if bad:
                raise ValueError(f"space entry {name!r}: 'when' lists {bad} for {parent!r}, which takes "
                                 f"{entries[parent].describe()}")


def _order(entries: dict[str, Declaration]) -> dict[str, Declaration]:
    """Entries with every parent (a `when` key that is tuned) before its children."""
    out: dict[str, Declaration] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in out:
            return
        if name in visiting:
            raise ValueError(f"space entry {name!r}: its 'when' conditions form a cycle")
        visiting.add(name)
        for parent in entries[name].when or {}:
            if parent in entries:
                visit(parent)
        visiting.discard(name)
        out[name] = entries[name]

    for name in entries:
        visit(name)
    return out


def resolve_space(
    model: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
    training: bool = True,
) -> ResolvedSpace:
    """The search space for a model: its declared space, the training settings, the overrides.

    Args:
        model: a registered model name.
        overrides: name -> a list (choice), a scalar (fixed), a dict (a declaration,
            or changes to the declared one without `type`), None (not tuned), or a
            `kerazoo.space` declaration.
        kind: the data's input kind (images also tune augmentation when available).
        training: add the default training settings (learning rate, weight decay,
            batch size). Defaults to True.

    Returns:
        A `ResolvedSpace`.

    Raises:
        KeyError: an unknown model (the message lists the closest names).
        ValueError: a key that is neither a model argument nor a training setting
            (the message names it and the closest valid ones), or a malformed entry.

    Example:
    >>> space = resolve_space("cnn", {"filters": [[16, 32], [32, 64]], "dropout": {"max_value": 0.2},
    ...                               "dense_units": 64, "batch_size": None}, kind="image")
    >>> space.entries["filters"].values, space.entries["dropout"].describe()
    (((16, 32), (32, 64)), 'float 0.0..0.2')
    >>> "batch_size" in space.entries, space.entries["dense_units"]
    (False, Choice(values=(64,), when=None))
    >>> resolve_space("mlp", {"widht": [8]})
    Traceback (most recent call last):
    ...
    ValueError: space: unknown key 'widht' for model 'mlp'; did you mean 'width'? (model arguments: activation, batch_norm, bn_momentum, depth, dropout, l1, l2, width; training settings: augment, batch_size, clipnorm, label_smoothing, learning_rate, optimizer, schedule, warmup, weight_decay)
    """
    from kerazoo.registry import get_entry

    entry = get_entry(model)
    params = {k: v for k, v in entry.params.items() if k not in entry.fixed}
    clash = sorted(set(params) & set(TRAINING_KEYS))
    if clash:
        raise ValueError(f"model {model!r} has arguments named like training settings: {clash}")
    valid = {**params, **TRAINING_DEFAULTS}
    entries: dict[str, Declaration] = {k: v for k, v in entry.space.items() if k in params}
    if training:
        entries.update(training_space(kind))
    for name, raw in (overrides or {}).items():
        if name not in valid:
            close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"space: unknown key {name!r} for model {model!r}; {hint}(model arguments: "
                f"{', '.join(sorted(params))}; training settings: {', '.join(sorted(TRAINING_KEYS))})")
        if name == "augment" and raw is not None and not augment_presets():
            raise ValueError("space entry 'augment': augmentation needs kerazoo.augment and "
                             "kerazoo.fit(..., augment=...), which this kerazoo does not have")
        decl = _parse_override(name, raw, entries.get(name), valid[name])
        if decl is None:
            entries.pop(name, None)
        else:
            entries[name] = decl
    for name, decl in entries.items():
        _check_when(name, decl, valid, entries)
    defaults = dict(valid)
    # A condition on an untuned parent is decided now, from the parent's default.
    for name, decl in list(entries.items()):
        static = {p: v for p, v in (decl.when or {}).items() if p not in entries}
        if static and not all(_when_holds(valid[p], vals) for p, vals in static.items()):
            del entries[name]
        elif static:
            rest = {p: v for p, v in decl.when.items() if p in entries}
            entries[name] = _with_when(decl, rest or None)
    return ResolvedSpace(model=model, entries=_order(entries), model_keys=frozenset(params),
                         defaults=defaults)


def _when_holds(value: Any, values: list) -> bool:
    value = tuple(value) if isinstance(value, list) else value
    return any(value == (tuple(v) if isinstance(v, list) else v) for v in values)


def _with_when(decl: Declaration, when: dict | None) -> Declaration:
    d = to_dict(decl)
    d["when"] = when
    return space_from_dict({"x": d})["x"]

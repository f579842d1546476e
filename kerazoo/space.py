"""Search-space declarations: plain objects that say what a builder's knobs may take.

A builder declares its space once, at registration; `describe`, the CLI and the
`tuning` package all read the same declaration. Nothing here imports KerasTuner:
`tuning` maps these objects onto `hp.Int`, `hp.Float`, `hp.Choice` and `hp.Boolean`.

A declaration may be conditional: `when={"blocks": [3, 4]}` means the entry exists
only when `blocks` takes one of those values (KerasTuner's `conditional_scope`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Int", "Float", "Choice", "Bool", "space_from_dict", "check_value"]


def _check_when(name: str, when: dict[str, list] | None) -> dict[str, list] | None:
    if when is None:
        return None
    if not isinstance(when, dict) or not when:
        raise ValueError(f"{name}: `when` must be a non-empty dict {{parent: [values]}}, got {when!r}")
    return {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in when.items()}


@dataclass(frozen=True)
class Int:
    """An integer range `[min_value, max_value]` with a step, or log-sampled.

    Example:
    >>> Int(1, 4).contains(3)
    True
    >>> Int(16, 256, sampling="log").describe()
    'int 16..256 (log)'
    """

    min_value: int
    max_value: int
    step: int | None = None
    sampling: str = "linear"
    when: dict[str, list] | None = field(default=None, compare=False)

    def __post_init__(self):
        if not isinstance(self.min_value, int) or not isinstance(self.max_value, int):
            raise TypeError(f"Int bounds must be integers, got {self.min_value!r}, {self.max_value!r}")
        if self.min_value > self.max_value:
            raise ValueError(f"Int: min_value {self.min_value} > max_value {self.max_value}")
        if self.sampling not in ("linear", "log"):
            raise ValueError(f"Int: sampling must be 'linear' or 'log', got {self.sampling!r}")
        object.__setattr__(self, "when", _check_when("Int", self.when))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and (
            self.min_value <= value <= self.max_value)

    def describe(self) -> str:
        extra = f" step {self.step}" if self.step else ""
        extra += " (log)" if self.sampling == "log" else ""
        return f"int {self.min_value}..{self.max_value}{extra}"


@dataclass(frozen=True)
class Float:
    """A float range `[min_value, max_value]`, linear or log-sampled.

    Example:
    >>> Float(1e-4, 1e-2, sampling="log").contains(3e-3)
    True
    >>> Float(0.0, 0.5).describe()
    'float 0.0..0.5'
    """

    min_value: float
    max_value: float
    step: float | None = None
    sampling: str = "linear"
    when: dict[str, list] | None = field(default=None, compare=False)

    def __post_init__(self):
        if not all(isinstance(v, (int, float)) and math.isfinite(v)
                   for v in (self.min_value, self.max_value)):
            raise TypeError(f"Float bounds must be finite numbers, got {self.min_value!r}, {self.max_value!r}")
        if self.min_value > self.max_value:
            raise ValueError(f"Float: min_value {self.min_value} > max_value {self.max_value}")
        if self.sampling not in ("linear", "log"):
            raise ValueError(f"Float: sampling must be 'linear' or 'log', got {self.sampling!r}")
        if self.sampling == "log" and self.min_value <= 0:
            raise ValueError(f"Float: log sampling needs min_value > 0, got {self.min_value}")
        object.__setattr__(self, "min_value", float(self.min_value))
        object.__setattr__(self, "max_value", float(self.max_value))
        object.__setattr__(self, "when", _check_when("Float", self.when))

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and (
            self.min_value <= value <= self.max_value)

    def describe(self) -> str:
        extra = " (log)" if self.sampling == "log" else ""
        return f"float {self.min_value}..{self.max_value}{extra}"


@dataclass(frozen=True)
class Choice:
    """One of a fixed list of values (ints, floats, strings or bools).

    Example:
    >>> Choice(["relu", "gelu"]).contains("gelu")
    True
    >>> Choice([(32, 64), (64, 128)]).describe()
    'one of [(32, 64), (64, 128)]'
    """

    values: tuple
    when: dict[str, list] | None = field(default=None, compare=False)

    def __post_init__(self):
        values = tuple(tuple(v) if isinstance(v, list) else v for v in self.values)
        if not values:
            raise ValueError("Choice needs at least one value")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"Choice values must be distinct, got {list(values)!r}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "when", _check_when("Choice", self.when))

    def contains(self, value: Any) -> bool:
        value = tuple(value) if isinstance(value, list) else value
        return value in self.values

    def describe(self) -> str:
        return f"one of {list(self.values)}"


@dataclass(frozen=True)
class Bool:
    """True or False.

    Example:
    >>> Bool().contains(False)
    True
    """

    when: dict[str, list] | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "when", _check_when("Bool", self.when))

    def contains(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "bool"


Declaration = Int | Float | Choice | Bool
_KINDS = {"int": Int, "float": Float, "choice": Choice, "bool": Bool}


def to_dict(decl: Declaration) -> dict:
    """A JSON-ready dict of one declaration (its kind under `"type"`).

    Example:
    >>> to_dict(Int(1, 3))
    {'type': 'int', 'min_value': 1, 'max_value': 3, 'step': None, 'sampling': 'linear', 'when': None}
    """
    kind = {v: k for k, v in _KINDS.items()}[type(decl)]
    out = {"type": kind, **asdict(decl)}
    if "values" in out:
        out["values"] = [list(v) if isinstance(v, tuple) else v for v in out["values"]]
    return out


def space_from_dict(entries: dict[str, Any]) -> dict[str, Declaration]:
    """Parse a search space written as plain data (a YAML job, a JSON file).

    Each entry is a dict with `type` (int, float, choice, bool) and that kind's
    fields; a plain list is read as a choice, and a scalar as a fixed value
    (a choice of one).

    Args:
        entries: name -> declaration as data.

    Returns:
        name -> `Int` / `Float` / `Choice` / `Bool`.

    Raises:
        ValueError: naming the entry whose declaration is malformed.

    Example:
    >>> space = space_from_dict({"dropout": {"type": "float", "min_value": 0.0, "max_value": 0.5},
    ...                          "width": [64, 128], "depth": 3})
    >>> space["width"], space["depth"]
    (Choice(values=(64, 128), when=None), Choice(values=(3,), when=None))
    """
    out: dict[str, Declaration] = {}
    for name, raw in entries.items():
        if isinstance(raw, (Int, Float, Choice, Bool)):
            out[name] = raw
        elif isinstance(raw, list):
            out[name] = Choice(tuple(raw))
        elif isinstance(raw, dict):
            raw = dict(raw)
            kind = raw.pop("type", None)
            if kind not in _KINDS:
                raise ValueError(f"space entry {name!r}: 'type' must be one of {sorted(_KINDS)}, got {kind!r}")
            try:
                out[name] = _KINDS[kind](**raw)
            except (TypeError, ValueError) as err:
                raise ValueError(f"space entry {name!r}: {err}") from None
        else:
            out[name] = Choice((raw,))
    return out



def _floor(values) -> tuple[int, bool] | None:
    """The validity floor that declared numbers imply: `(bound, inclusive)`, or None."""
    flat = [x for v in values for x in (v if isinstance(v, tuple) else (v,))]
    if not flat or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in flat):
        return None
    low = min(flat)
    return (0, False) if low > 0 else (0, True) if low == 0 else None


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_value(value: Any, default: Any = None, decl: Declaration | None = None) -> str | None:
    """What a builder argument expects, when `value` cannot be one of its values; None when it can.

    A declaration's range is what tuning searches, not a limit: `depth=6` for a
    space of `Int(1, 4)` builds. What is refused is a value no range of that
    kind holds: the wrong type (after the default's: an int for an int, true
    or false for a bool, a list for a tuple), a number below 1 where every
    declared value is a positive int (`Int(1, 4)`, `Choice([32, 64])`), a
    negative or zero number where every declared value is positive, a negative
    number where they are all at least 0, or, with no declaration, a negative
    number where the default is at least 0. Other arguments (strings, None
    defaults) are left to the builder.

    Example:
    >>> check_value(-1, 2, Int(1, 4)), check_value(6, 2, Int(1, 4))
    ('an int >= 1', None)
    >>> check_value((16, 0), (32, 64), Choice([(16, 32), (32, 64)])), check_value(-0.5, 0.0)
    ('a tuple of ints >= 1', 'a number >= 0')
    >>> check_value("yes", True, Bool()), check_value(0.0, 0.5, Choice([0.35, 1.0]))
    ('true or false', 'a number > 0')
    """
    declared = (decl.values if isinstance(decl, Choice) else (decl.min_value,) if isinstance(decl, (Int, Float))
                else ())
    if isinstance(decl, Bool) or isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    tupled = isinstance(default, (tuple, list)) or any(isinstance(v, tuple) for v in declared)
    if tupled:
        sample = default[0] if isinstance(default, (tuple, list)) and default else None
        flat = [x for v in declared for x in (v if isinstance(v, tuple) else (v,))]
        sample = sample if sample is not None else (flat[0] if flat else None)
    else:
        sample = default if default is not None else (declared[0] if declared else None)
    numeric = isinstance(decl, (Int, Float)) or (isinstance(sample, (int, float)) and not isinstance(sample, bool))
    if not numeric:
        return None  # a string, a None default: the builder judges it
    integer = isinstance(decl, Int) or (_is_int(sample) and not isinstance(decl, Float))
    what = ("a tuple of ints" if integer else "a tuple of numbers") if tupled else ("an int" if integer else "a number")
    if tupled and not isinstance(value, (tuple, list)):
        return what
    items = tuple(value) if tupled else (value,)
    if not items or not all(_is_int(x) if integer else (isinstance(x, numbers.Real) and not isinstance(x, bool)
                                                       and math.isfinite(x)) for x in items):
        return what
    floor = _floor(declared) if declared else ((0, True) if sample is not None and sample >= 0 else None)
    if floor is None:
        return None
    bound, inclusive = (1, True) if integer and floor == (0, False) else floor
    if all(x >= bound if inclusive else x > bound for x in items):
        return None
    return f"{what} {'>=' if inclusive else '>'} {bound}"

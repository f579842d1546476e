"""Values read from the command line: `--set` values typed after the defaults, `--augment`, `--epochs`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kerazoo.errors import UsageError


def parse_value(text: str, default: Any = None, *, key: str = "value") -> Any:
    """Read a `--set key=value` value, typed after the argument's default.

    Example:
    >>> parse_value("0.5", 0.3), parse_value("64,128", (32, 64)), parse_value("false", True)
    (0.5, (64, 128), False)
    >>> parse_value("many", 2, key="depth")
    Traceback (most recent call last):
    ...
    kerazoo.errors.UsageError: --set depth=many: expected an int (the default is 2)
    """
    def fail(kind):
        shown = text if text.isprintable() else repr(text)  # one line, whatever was typed
        raise UsageError(f"--set {key}={shown}: expected {kind} (the default is {default!r})")

    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        fail("true or false")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            fail("an int")
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            fail("a number")
        if value != value or value in (float("inf"), float("-inf")):
            fail("a finite number")
        return value
    if isinstance(default, (tuple, list)):
        parts = [p for p in text.strip("[]() ").split(",") if p.strip()]
        if not parts:
            fail("a comma-separated list")
        sample = default[0] if default else 0
        return tuple(parse_value(p.strip(), sample, key=key) for p in parts)
    if default is None:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def augment_value(text: str) -> str | dict:
    """Read `--augment`: a preset name, or a JSON object of settings over a preset.

    Example:
    >>> augment_value("light"), augment_value('{"rotation": 0.1, "flip": "horizontal"}')
    ('light', {'rotation': 0.1, 'flip': 'horizontal'})
    >>> augment_value("{rotation: 0.1}")
    Traceback (most recent call last):
    ...
    kerazoo.errors.UsageError: --augment {rotation: 0.1}: not a JSON object (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))
    """
    text = text.strip()
    if not text.startswith("{"):
        return text
    try:
        value = json.loads(text)
    except ValueError as err:
        raise UsageError(f"--augment {text}: not a JSON object ({err})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--augment {text}: expected a preset name or a JSON object")
    return value


def epochs_value(text: str) -> int | str:
    """Read `--epochs`: a positive int, or `auto`.

    Example:
    >>> epochs_value("8"), epochs_value("auto")
    (8, 'auto')
    >>> epochs_value("many")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive int or auto, got 'many'
    """
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int or auto, got {text!r}")
    return value

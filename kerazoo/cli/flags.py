"""The command line's flag checks: every flag of every command, by its own name, before TensorFlow loads.

`check_flags(args)` runs on the parsed arguments before a command starts, so
`kerazoo generate RUN --max-new-tokens -1` fails in a fraction of a second with
`--max-new-tokens: expected a positive int, got -1`, not after TensorFlow's
start-up with a Python parameter's name. What needs the data or the model (a
`--slide` beyond the model's context) is checked where they are known.
"""

from __future__ import annotations

import math
import os
from typing import Any

from kerazoo.errors import FlagError

__all__ = ["FlagError", "check_flags", "OPTIMIZERS", "SCHEDULES", "AUGMENT_PRESETS"]

#: The same names as `kerazoo.compiling.OPTIMIZERS`, `SCHEDULES` and `kerazoo.augment.PRESET_NAMES`
#: (those modules import Keras; a test keeps the lists equal).
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
SCHEDULES = ("cosine", "linear", "constant")
AUGMENT_PRESETS = ("none", "light", "medium", "heavy")
SEED_MAX = 2**32 - 1  # NumPy's seeds, which keras.utils.set_random_seed sets too


def _int(value, low: int, high: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def _num(value, ok) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and ok(value)


POSITIVE_INT = (lambda v: _int(v, 1), "a positive int")
RULES: dict[str, tuple] = {  # dest -> (check, what is expected); a str value (finetune's --epochs 5,10) is not here
    "epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "patience": POSITIVE_INT,
    "seq_len": POSITIVE_INT,
    "lora": (lambda v: _int(v, 1), "a positive int (the adapters' rank)"),
    "freeze_blocks": (lambda v: _int(v, 1), "a positive int (blocks kept fixed; leave it out to train all)"),
    "max_new_tokens": POSITIVE_INT,
    "top_k": POSITIVE_INT,
    "max_trials": POSITIVE_INT,
    "seed": (lambda v: _int(v, 0, SEED_MAX), f"an int in [0, {SEED_MAX}]"),
    "learning_rate": (lambda v: _num(v, lambda x: x > 0), "a positive number"),
    "weight_decay": (lambda v: _num(v, lambda x: x >= 0), "a number >= 0"),
    "label_smoothing": (lambda v: _num(v, lambda x: 0 <= x < 1), "a number in [0, 1)"),
    "validation_split": (lambda v: _num(v, lambda x: 0 <= x < 1), "a number in [0, 1)"),
    "test_split": (lambda v: _num(v, lambda x: 0 <= x < 1), "a number in [0, 1)"),
    "lora_alpha": (lambda v: _num(v, lambda x: x > 0), "a positive number"),
    "temperature": (lambda v: _num(v, lambda x: x > 0), "a positive number"),
    "top_p": (lambda v: _num(v, lambda x: 0 < x <= 1), "a number in (0, 1]"),
    "port": (lambda v: _int(v, 0, 65535), "an int in [0, 65535] (0: any free port)"),
    "poll_seconds": (lambda v: _num(v, lambda x: x > 0), "a positive number"),
    "max_body_mb": (lambda v: _num(v, lambda x: x > 0), "a positive number"),
}
CHOICES: dict[str, tuple] = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
COMMANDS = ("train", "evaluate", "finetune", "tune", "generate", "models", "describe", "serve")  # export checks its own


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _closest(value: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(value.lower(), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_flags(args: Any) -> None:
    """Refuse a flag's value that its command cannot take, naming the flag.

    Args:
        args: the parsed command line (`argparse.Namespace`).

    Raises:
        FlagError: one line naming the flag, what it takes and the value given.

    Example:
    >>> import argparse
    >>> check_flags(argparse.Namespace(command="generate", max_new_tokens=-1, top_p=0.9))
    Traceback (most recent call last):
    ...
    kerazoo.errors.FlagError: --max-new-tokens: expected a positive int, got -1
    """
    command = getattr(args, "command", None)
    if command not in COMMANDS:
        return
    values = vars(args)
    for dest, (ok, expected) in RULES.items():
        value = values.get(dest)
        if value is None or isinstance(value, str):
            continue
        if not ok(value):
            raise FlagError(f"{_flag(dest)}: expected {expected}, got {value!r}")
    for dest, choices in CHOICES.items():
        value = values.get(dest)
        if value is not None and value not in choices:
            raise FlagError(f"{_flag(dest)}: expected one of {', '.join(choices)}, got {value!r}"
                            f"{_closest(value, choices)}")
    for dest in ("strategy", "precision"):
        if values.get(dest) is not None:
            from kerazoo.distribute import PRECISIONS, STRATEGIES

            choices = STRATEGIES if dest == "strategy" else PRECISIONS
            if values[dest] not in choices:
                raise FlagError(f"{_flag(dest)}: expected one of {', '.join(choices)}, got {values[dest]!r}"
                                f"{_closest(values[dest], choices)}")
    augment = values.get("augment")
    if isinstance(augment, str) and not augment.strip().startswith("{") and augment.strip() not in AUGMENT_PRESETS:
        raise FlagError(f"--augment: expected a preset ({', '.join(AUGMENT_PRESETS)}) or a JSON object of "
                        f"settings, got {augment!r}{_closest(augment.strip(), AUGMENT_PRESETS)}")
    tokenizer = values.get("tokenizer")
    if tokenizer is not None:
        _check_tokenizer(tokenizer)
    for dest in ("label", "prompt", "data"):
        if values.get(dest) is not None and not str(values[dest]).strip():
            raise FlagError(f"{_flag(dest)}: expected a non-empty value, got {values[dest]!r}")
    label, data = values.get("label"), values.get("data")
    if label is not None and data is not None and not str(data).lower().endswith(".csv"):
        raise FlagError(f"--label: names a .csv file's label column, but --data {data} is not a .csv file")
    if command == "tune" and values.get("address"):
        host, _, port = str(values["address"]).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise FlagError(f"--address: expected HOST:PORT (e.g. 127.0.0.1:8000), got {values['address']!r}")
    if command == "models":
        _check_model_filters(values)


def _check_tokenizer(tokenizer: str) -> None:
    if os.path.isdir(tokenizer):
        if not os.path.isfile(os.path.join(tokenizer, "tokenizer.json")):
            raise FlagError(f"--tokenizer {tokenizer}: the folder holds no tokenizer.json (a text run's folder "
                            f"does)")
        return
    from kerazoo.lm.tokenizers import parse_tokenizer

    try:
        parse_tokenizer(tokenizer)
    except ValueError as err:
        raise FlagError(f"--tokenizer: {str(err).removeprefix('tokenizer ')}") from None


def _check_model_filters(values: dict) -> None:
    """`kerazoo models --task/--inputs/--tag`: a value that no model can match lists the valid ones."""
    from kerazoo.registry import get_entry, list_models
    from kerazoo.spec import KINDS, TASKS

    tags = sorted({t for n in list_models() for t in get_entry(n).tags})
    for dest, valid in (("task", TASKS), ("inputs", KINDS)):
        value = values.get(dest)
        if value is not None and value not in valid:
            raise FlagError(f"{_flag(dest)}: expected one of {', '.join(valid)}, got {value!r}"
                            f"{_closest(value, valid)}")
    for tag in values.get("tag") or ():
        if tag not in tags:
            raise FlagError(f"--tag: no model has the tag {tag!r}{_closest(tag, tags)}; tags: {', '.join(tags)}")

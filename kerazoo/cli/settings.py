"""Settings precedence: a `--config` file or a run's own config.json, then the flags beside it, then the model's defaults; `--resume` identity checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kerazoo.cli.values import parse_value
from kerazoo.errors import UsageError


def parse_overrides(pairs: list[str], defaults: dict, space: dict | None = None) -> dict:
    """`--set` values typed after the defaults, and checked as `build` checks them, before TensorFlow loads."""
    from kerazoo.space import check_value

    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UsageError(f"--set {pair!r}: expected key=value")
        key, _, value = pair.partition("=")
        key = key.strip()
        if key not in defaults:
            raise UsageError(f"--set {key}: not an argument of this model; "
                             f"valid: {', '.join(sorted(defaults))}")
        out[key] = parse_value(value, defaults[key], key=key)
        expected = check_value(out[key], defaults[key], (space or {}).get(key))
        if expected:
            searched = f" (tuning searches {space[key].describe()})" if key in (space or {}) else ""
            raise UsageError(f"--set {key}={value.strip()}: out of range: expected {expected}{searched}")
    return out


def train_config(args) -> dict:
    """Merge a --config file (a run's config.json or a tuning best.json) with flags."""
    cfg: dict = {}
    if args.config:
        try:
            with open(args.config) as f:
                cfg = json.load(f)
        except OSError as err:
            raise UsageError(f"--config {args.config}: {err.strerror}") from None
        except ValueError as err:
            raise UsageError(f"--config {args.config}: not valid JSON ({err})") from None
        if not isinstance(cfg, dict):
            raise UsageError(f"--config {args.config}: expected a JSON object")
    return cfg


def lm_flags(args) -> list[str]:
    """The language-model fine-tuning flags given (a value of 0 counts: it is refused, not ignored)."""
    return [f for f, v in (("--lora", args.lora), ("--freeze-blocks", args.freeze_blocks),
                           ("--adapter-only", args.adapter_only or None),
                           ("--lora-embedding", args.lora_embedding or None), ("--lora-alpha", args.lora_alpha))
            if v is not None]


def resume_config(args) -> None:
    """Point `args.config` at the run to resume, after checking that it is one that can be."""
    from kerazoo import runs
    from kerazoo.runlock import user_entries

    if not args.out:
        raise UsageError("--resume: name the run to continue with --out RUN_DIR")
    if args.config:
        raise UsageError("--resume: the settings come from the run's own config.json; leave out --config")
    out = Path(args.out)
    if not out.exists():
        raise UsageError(f"--resume --out {args.out}: there is no run there (no such folder); check the path, "
                         f"or leave out --resume to start a new run")
    if not out.is_dir():
        raise UsageError(f"--resume --out {args.out}: not a run directory (a file)")
    if not (out / "config.json").exists():
        if user_entries(out):
            raise UsageError(f"--resume --out {args.out}: not a kerazoo run (no config.json)")
        print(f"resume {args.out} holds no run yet (stopped before it wrote anything): starting it")
        return
    try:
        runs.check_run(out)
    except runs.RunError as err:
        if "unfinished" not in str(err) and "did not complete" not in str(err):
            raise
    else:
        raise UsageError(f"--resume --out {args.out}: the run is already complete; nothing to resume")
    args.config = str(out / "config.json")


#: What makes a run the same run: `--resume` refuses another value for any of them.
IDENTITY = ("validation_split", "test_split", "seed", "seq_len", "tokenizer", "label", "task")


def same_source(given: str, recorded: str | None) -> bool:
    if recorded is None or given == recorded:
        return given == recorded
    a, b = given.removeprefix("text:"), str(recorded).removeprefix("text:")
    return given.startswith("text:") == str(recorded).startswith("text:") and os.path.exists(a) \
        and os.path.exists(b) and os.path.samefile(a, b)


def check_same_run(args, cfg: dict, given: dict) -> None:
    """`--resume`: refuse flags that would make another run (model, `--set`, data, splits), naming each."""
    differences = []
    if args.name and args.name != cfg.get("model"):
        differences.append(f"model {args.name!r} (the run's is {cfg.get('model')!r})")
    recorded = {**cfg.get("overrides", {}), **cfg.get("config", {})}
    for key, value in given.items():
        was = recorded.get(key)
        was = tuple(was) if isinstance(was, list) else was
        if key not in recorded or was != value:
            differences.append(f"--set {key}={_shown(value)} (the run's is {_shown(was)})")
    data = cfg.get("data", {})
    if args.data is not None and not same_source(args.data, data.get("source")):
        differences.append(f"--data {args.data} (the run's is {data.get('source')})")
    for key in IDENTITY:
        value = getattr(args, key, None)
        was = data.get(key, cfg.get("fit", {}).get(key) if key == "seed" else None)
        if value is not None and value != was:
            differences.append(f"--{key.replace('_', '-')} {value} (the run's is "
                               f"{'the default' if was is None else was})")
    if differences:
        raise UsageError(f"--resume --out {args.out}: not the same run: {'; '.join(differences)}. Leave these out "
                         f"to continue the run as it was, or give another --out for a new run")


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_floats(compile_cfg: dict, data_cfg: dict) -> None:
    """Refuse NaN, infinite or out-of-range settings, naming the flag and the value."""
    import math

    checks = (("learning_rate", compile_cfg, lambda v: v > 0, "a positive number"),
              ("weight_decay", compile_cfg, lambda v: v >= 0, "a number >= 0"),
              ("label_smoothing", compile_cfg, lambda v: 0 <= v < 1, "a number in [0, 1)"),
              ("validation_split", data_cfg, lambda v: 0 <= v < 1, "a number in [0, 1)"),
              ("test_split", data_cfg, lambda v: 0 <= v < 1, "a number in [0, 1)"))
    for key, where, ok, allowed in checks:
        value = where.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not ok(value):
            raise UsageError(f"--{key.replace('_', '-')}: expected {allowed}, got {value!r}")


def first(*values):
    return next(v for v in values if v is not None)


def check_numbers(**values) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"--{key.replace('_', '-')}: expected a positive int, got {value!r}")


def verbose_level(args) -> int | str:
    return "auto" if args.verbose is None else args.verbose

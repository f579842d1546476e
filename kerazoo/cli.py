"""The `kerazoo` command: list, describe, train, evaluate and export zoo models.

Exit codes: 0 success; 1 a failure while running (training diverged, a
file could not be written); 2 bad input (an unknown model, a bad flag or
value, a damaged run, a run directory in use); 130 interrupted. Errors print
one line, never a traceback (KERAZOO_DEBUG=1 prints it too, with the same
exit code).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from kerazoo._version import __version__
from kerazoo.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, exit_code


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


def _overrides(pairs: list[str], defaults: dict, space: dict | None = None) -> dict:
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


def cmd_models(args) -> int:
    from kerazoo.registry import get_entry, list_models

    names = list_models(args.pattern, tags=args.tag or (), task=args.task, inputs=args.inputs)
    if not names:
        filters = [f"{flag} {v}" for flag, v in (("--task", args.task), ("--inputs", args.inputs),
                                                 *(("--tag", t) for t in args.tag or ())) if v]
        print(f"kerazoo: error: no model matches {args.pattern!r}{' with ' + ', '.join(filters) if filters else ''}"
              f"; `kerazoo models` lists them all", file=sys.stderr)
        return EXIT_USAGE
    rows = [("name", "tasks", "inputs", "default input", "tags")]
    for n in names:
        e = get_entry(n)
        rows.append((n, ",".join(e.tasks), ",".join(e.inputs), "x".join(map(str, e.default_spec.input_shape)),
                     ",".join(e.tags)))
    _print_table(rows)
    return EXIT_OK


def _print_table(rows) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def cmd_describe(args) -> int:
    from kerazoo.registry import describe

    info = describe(args.name)
    if args.json:
        print(json.dumps(info, indent=2, default=list))
        return EXIT_OK
    print(f"{info['name']}: tasks {', '.join(info['tasks'])}; inputs {', '.join(info['inputs'])}")
    print(f"default input {info['default_input_shape']} -> {info['default_output']}\n")
    print("arguments (defaults):")
    for k, v in info["defaults"].items():
        space = info["space"].get(k)
        tuned = f"   search: {_space_text(space)}" if space else ""
        print(f"  {k} = {v!r}{tuned}")
    if info["training"]:
        print("\nkerazoo train defaults: " + ", ".join(f"{k} {v!r}" for k, v in info["training"].items()))
    print("\n" + info["doc"])
    return EXIT_OK


def _space_text(d: dict) -> str:
    from kerazoo.space import space_from_dict

    decl = space_from_dict({"x": d})["x"]
    text = decl.describe()
    return text + (f" when {decl.when}" if decl.when else "")


def _train_config(args) -> dict:
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


def _lm_flags(args) -> list[str]:
    """The language-model fine-tuning flags given (a value of 0 counts: it is refused, not ignored)."""
    return [f for f, v in (("--lora", args.lora), ("--freeze-blocks", args.freeze_blocks),
                           ("--adapter-only", args.adapter_only or None),
                           ("--lora-embedding", args.lora_embedding or None), ("--lora-alpha", args.lora_alpha))
            if v is not None]


def cmd_train(args) -> int:
    if args.init or _lm_flags(args):
        return cmd_train_from_run(args)
    from kerazoo.registry import BUDGET_KEYS, get_entry

    if args.resume:
        _resume_config(args)  # --resume --out RUN: the run's own config.json, flags given beside it win
    cfg = _train_config(args)
    name = args.name or cfg.get("model")
    if not name:
        raise UsageError("train: name a model (or give --config with a 'model' field)")
    entry = get_entry(name)
    given = _overrides(args.set, entry.params, entry.space)
    if args.resume and args.config:
        _check_same_run(args, cfg, given)  # before any file is touched
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.get("overrides", {}).items()}
    overrides.update(given)
    data_cfg = dict(cfg.get("data", {}))
    source = args.data or data_cfg.pop("source", None) or "digits"
    data_cfg.pop("source", None)
    compile_cfg = {k: v for k, v in cfg.get("compile", {}).items()
                   if k in ("optimizer", "learning_rate", "schedule", "warmup", "weight_decay",
                            "clipnorm", "label_smoothing") and v is not None}
    for flag in ("optimizer", "learning_rate", "schedule", "weight_decay", "label_smoothing"):
        if getattr(args, flag) is not None:
            compile_cfg[flag] = getattr(args, flag)
    for key, value in entry.training.items():  # the model's own defaults (gpt: its 15-minute budget)
        if key not in BUDGET_KEYS and key not in compile_cfg:
            compile_cfg[key] = value
    fit_cfg = cfg.get("fit", {})
    epochs = _first(args.epochs, fit_cfg.get("epochs"), entry.training.get("epochs"), "auto")
    seed = _first(args.seed, fit_cfg.get("seed"), 0)
    patience = _first(args.patience, fit_cfg.get("patience"), 10)
    augment = augment_value(args.augment) if args.augment is not None else fit_cfg.get("augment")
    if isinstance(augment, list):
        raise UsageError("--config: its fit.augment is a list of Keras layers, which the command cannot "
                         "rebuild; give --augment with a preset name or a JSON object of settings")
    augment_on = _first(args.augment_on, fit_cfg.get("augment_on"), "data")
    for key in ("batch_size", "validation_split", "test_split", "seq_len", "tokenizer", "label"):
        if getattr(args, key) is not None:
            data_cfg[key] = getattr(args, key)
    data_cfg["seed"] = seed
    _check_numbers(patience=patience, batch_size=data_cfg.get("batch_size", 32),
                   **({} if epochs == "auto" else {"epochs": epochs}))
    _check_floats(compile_cfg, data_cfg)

    from kerazoo import runlock
    from kerazoo.distribute import PRECISIONS, STRATEGIES, is_chief

    strategy = args.strategy or "auto"
    precision = args.precision or "auto"
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if args.jit_compile:
        compile_cfg["jit_compile"] = True
    chief = is_chief()  # a non-chief worker writes nothing; the chief writes the run
    owning = runlock.claim(Path(args.out) if args.resume else runlock.run_path(name, args.out),
                           fresh=not args.resume) if chief else contextlib.nullcontext()
    with owning as run_dir:  # locked; on failure, what this made is removed, nothing else
        import keras

        from kerazoo.data import load_data
        from kerazoo.distribute import resolve_strategy
        from kerazoo.registry import build
        from kerazoo.train import fit

        strategy = resolve_strategy(strategy)  # before any TensorFlow op: collectives need it so
        keras.utils.set_random_seed(seed)
        data = load_data(source, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in data_cfg.items()})
        print(f"data   {data.describe()}")
        model = build(name, data.spec, compile=compile_cfg or True, strategy=strategy, precision=precision,
                      **overrides)
        dist = model._kerazoo["distribution"]
        print(f"model  {name}: {model.count_params():,} parameters")
        replicas = f"{dist['replicas']} replica{'s' if dist['replicas'] != 1 else ''}"
        print(f"device {_strategy_text(dist['strategy'])}, {replicas} on {', '.join(dist['devices'])}; "
              f"precision {dist['precision']}")
        print(f"run    {run_dir if chief else '(written by the chief worker)'}")
        result = fit(model, data, epochs=epochs, run_dir=run_dir, seed=seed, patience=patience,
                     verbose=_verbose(args), augment=augment, augment_on=augment_on)
    _print_metrics(result.metrics)
    if run_dir is not None:
        print(f"\nrun written to {run_dir}")
    return EXIT_OK


def _verbose(args) -> int | str:
    return "auto" if args.verbose is None else args.verbose


def _strategy_text(name: str) -> str:
    """A strategy's class name as a person reads it: `_DefaultDistributionStrategy` is the default strategy."""
    if name.lstrip("_").startswith("Default"):
        return "default strategy (no distribution)"
    return name.lstrip("_")


def _resume_config(args) -> None:
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
IDENTITY = ("validation_split", "test_split", "seed", "seq_len", "tokenizer", "label")


def _same_source(given: str, recorded: str | None) -> bool:
    if recorded is None or given == recorded:
        return given == recorded
    a, b = given.removeprefix("text:"), str(recorded).removeprefix("text:")
    return given.startswith("text:") == str(recorded).startswith("text:") and os.path.exists(a) \
        and os.path.exists(b) and os.path.samefile(a, b)


def _check_same_run(args, cfg: dict, given: dict) -> None:
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
    if args.data is not None and not _same_source(args.data, data.get("source")):
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


def _check_floats(compile_cfg: dict, data_cfg: dict) -> None:
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


def _first(*values):
    return next(v for v in values if v is not None)


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


def _check_numbers(**values) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"--{key.replace('_', '-')}: expected a positive int, got {value!r}")


def _print_metrics(metrics: dict) -> None:
    splits = [s for s in ("validation", "test") if s in metrics]
    if not splits:
        return
    names = sorted({k for s in splits for k in metrics[s]})
    rows = [("metric", *splits)] + [(n, *(f"{metrics[s].get(n, float('nan')):.4f}" for s in splits))
                                   for n in names]
    print()
    _print_table(rows)


def cmd_evaluate(args) -> int:
    from kerazoo.runs import check_run

    check_run(args.run_dir)  # a missing or damaged run fails before TensorFlow loads
    from kerazoo.data import load_data
    from kerazoo.runs import load_run
    from kerazoo.train import evaluate

    run = load_run(args.run_dir, safe_mode=not args.unsafe)
    own = run.config.get("data", {}).get("source", "digits")
    opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run.config.get("data", {}).items()
            if k != "source"}
    source = args.data or own
    other = args.data is not None and not _same_source(args.data, own)
    if other:  # the run's column and image settings belong to its own files
        for key, keep in (("label", source.lower().endswith(".csv")), ("image_size", os.path.isdir(source))):
            if not keep:
                opts.pop(key, None)
    if args.label is not None:
        opts["label"] = args.label
    if "tokenizer" in opts and (Path(args.run_dir) / "tokenizer.json").exists():
        opts["tokenizer"] = args.run_dir  # text: the run's own tokenizer, whatever the text
    data = load_data(source, **opts)
    _check_same_task(run.spec, data.spec, args.data)
    metrics = evaluate(run.model, data, split=args.split)
    if not (args.report and data.spec.kind != "tokens"):
        _print_metrics({args.split: metrics})
        return EXIT_OK
    from kerazoo.report import report

    folder = "report" if not other else "report-" + "".join(c if c.isalnum() or c in "-_." else "_"
                                                            for c in data.spec.name or "data")
    out = Path(args.run_dir) / folder  # a sub-folder: the manifest covers top-level files only
    rep = report(run.model, data, split=args.split, out=out, history=run.history or None, plots=args.plots)
    skip = ("precision", "recall", "f1") if data.spec.task != "regression" else ()
    _print_metrics({args.split: {**metrics, **{k: v for k, v in rep.metrics.items()
                                             if k not in metrics and k not in skip and isinstance(v, float)}}})
    per_class = rep.table(overall=False)
    print(f"\n{per_class}\n" if per_class else "", end="")
    print(f"\nreport written to {out}")
    return EXIT_OK


def _check_same_task(run_spec, spec, source: str | None) -> None:
    """`evaluate --data`: refuse data of another task, other classes or another input shape, before scoring."""
    def what(s) -> str:
        classes = f" over {s.num_classes} classes" if s.is_classification and s.num_classes else ""
        names = f" ({', '.join(map(str, s.class_names))})" if s.class_names else ""
        return f"{s.task}{classes}{names} of {s.kind} inputs {tuple(s.input_shape)}"

    same = (run_spec.task == spec.task and run_spec.num_outputs == spec.num_outputs
            and tuple(run_spec.input_shape) == tuple(spec.input_shape)
            and (not run_spec.class_names or not spec.class_names
                 or tuple(map(str, run_spec.class_names)) == tuple(map(str, spec.class_names))))
    if not same:
        raise UsageError(f"--data {source}: the run's model is {what(run_spec)}, but the data is {what(spec)}; "
                         f"evaluate it on data of the same task, classes and inputs (nothing was written)")


def cmd_export(args) -> int:
    import re
    import warnings

    # lazily: kerazoo never imports export at module level
    from export import FidelityError, export_model
    from export.report import fidelity_report, render_table
    from kerazoo._console import native_stderr_filtered

    gate = dict(min_agreement=args.min_agreement, keep_failing=args.keep_failing)
    litert_note = re.compile(r"^INFO: Created TensorFlow Lite \w+ delegate for CPU\.\n?", re.M)  # on every load
    with warnings.catch_warnings(record=True) as caught, \
            native_stderr_filtered(keep=lambda text: litert_note.sub("", text)):
        warnings.simplefilter("always", UserWarning)
        try:
            if (Path(args.run_dir) / "tokenizer.json").exists():  # a language model: logits, tokenizer beside
                from export.lm import export_lm

                if args.max_relative_error is not None:
                    raise UsageError("export: --max-relative-error applies to regression models; a language "
                                     "model's quantized files are held to --min-agreement (next-token agreement)")
                result = export_lm(args.run_dir, args.out, formats=args.format, quantize=args.quantize,
                                   version=args.version, overwrite=args.overwrite, verify=args.verify,
                                   model_name=args.name, **gate)
            else:
                result = export_model(args.run_dir, args.out, formats=args.format, quantize=args.quantize,
                                      version=args.version, overwrite=args.overwrite, int8_io=args.int8_io,
                                      select_ops=args.select_ops, verify=args.verify, model_name=args.name,
                                      max_relative_error=args.max_relative_error, **gate)
        except FidelityError as err:  # the figures first, then the one-line error (exit 1)
            print(render_table(fidelity_report(err.artifacts)))
            raise
        finally:
            for w in caught:
                if issubclass(w.category, UserWarning):
                    print(f"kerazoo: warning: {w.message}", file=sys.stderr)
    print(result.table())
    print(f"\nexported to {result.path}")
    return EXIT_OK


def cmd_tune(args) -> int:
    from tuning.job import load_job  # lazily: kerazoo never imports tuning at module level

    if args.chief and args.worker:
        raise UsageError("tune: --chief and --worker exclude each other")
    if args.address and not (args.chief or args.worker):
        raise UsageError("tune: --address goes with --chief or --worker")
    job = load_job(args.job)  # a bad job fails here, before TensorFlow loads
    from tuning.run import run_job

    run_job(job, overwrite=args.overwrite, role="chief" if args.chief else "worker" if args.worker else None,
            tuner_id=args.worker, address=args.address, max_trials=args.max_trials, out=args.out,
            verbose=args.verbose, check=args.check)
    return EXIT_OK


def cmd_generate(args) -> int:
    from kerazoo.runs import check_run

    check_run(args.run_dir)  # a missing or damaged run fails before TensorFlow loads
    from kerazoo.lm.generate import generate

    shown = []

    def show(piece: str) -> None:
        if not shown:  # the prompt, once the model is loaded and the settings have passed its checks
            print(args.prompt, end="", flush=True)
            shown.append(True)
        print(piece, end="", flush=True)

    try:
        generate(args.run_dir, args.prompt, max_new_tokens=args.max_new_tokens, sampler=args.sampler,
                 temperature=args.temperature, k=args.top_k, p=args.top_p, seed=args.seed, cache=args.cache,
                 stream=show)
    except ValueError as err:  # the library names its parameters; the command line has flags
        raise UsageError(str(err).replace("max_new_tokens=", "--max-new-tokens ")) from None
    if not shown:
        print(args.prompt, end="")
    print()
    return EXIT_OK


def cmd_train_from_run(args) -> int:
    """`kerazoo train --init RUN_DIR`: continue a language-model run on new text (LoRA, top blocks or all)."""
    from kerazoo import runs

    if not args.init:
        raise UsageError(f"{', '.join(_lm_flags(args))}: fine-tuning settings go with --init RUN_DIR (the run to "
                         f"start from)")
    ignored = [f for f, v in (("--set", args.set), ("--config", args.config), ("--optimizer", args.optimizer),
                              ("--schedule", args.schedule), ("--weight-decay", args.weight_decay),
                              ("--label-smoothing", args.label_smoothing), ("--augment", args.augment),
                              ("--tokenizer", args.tokenizer), ("--label", args.label),
                              ("--resume", args.resume or None)) if v is not None]
    if ignored:
        raise UsageError(f"--init: {', '.join(ignored)} do not apply: the model, its training settings and "
                         f"its tokenizer come from the run {args.init}")
    if not args.data:
        raise UsageError("--init: give the new text with --data text:PATH")
    runs.check_run(args.init)  # a missing or damaged run fails before TensorFlow loads
    config = json.loads((Path(args.init) / "config.json").read_text())
    if args.name and args.name != config.get("model"):
        raise UsageError(f"--init {args.init} is a {config.get('model')!r} run, not {args.name!r}; "
                         f"leave the model name out")
    task = (config.get("spec") or {}).get("task")
    if task != "causal_lm":
        raise UsageError(f"--init {args.init}: fine-tuning from a run here is for language models "
                         f"(causal_lm); this run is {task!r}: use `kerazoo finetune {args.init} --data ...`")
    method = "lora" if args.lora else "freeze" if args.freeze_blocks else "full"
    epochs = _first(args.epochs, 10)  # a language model's fine-tuning: 10 epochs unless told
    seed = _first(args.seed, 0)
    patience = _first(args.patience, 10)
    _check_numbers(patience=patience, **({} if epochs == "auto" else {"epochs": epochs}),
                   **({"lora": args.lora} if args.lora is not None else {}))
    from kerazoo import runlock

    with runlock.claim(runlock.run_path(f"{config.get('model', 'gpt')}-{method}", args.out)) as run_dir:
        import keras

        from kerazoo.data import load_data
        from kerazoo.lm.finetune import finetune_lm

        keras.utils.set_random_seed(seed)
        base = runs.load_run(args.init)
        options = {k: v for k, v in (("batch_size", args.batch_size), ("validation_split", args.validation_split),
                                     ("test_split", args.test_split)) if v is not None}
        data = load_data(args.data, tokenizer=args.init, seq_len=args.seq_len or base.spec.input_shape[0],
                         seed=seed, **options)
        print(f"data   {data.describe()}")
        result = finetune_lm(base, data, method=method, rank=args.lora or 8, alpha=args.lora_alpha,
                             embedding=args.lora_embedding, freeze_blocks=args.freeze_blocks or 0,
                             epochs=epochs, learning_rate=args.learning_rate, run_dir=run_dir,
                             adapter_only=args.adapter_only, seed=seed, patience=patience, verbose=_verbose(args))
    counts = result.parameters
    print(f"\n{method}: {counts['trainable']:,} trainable of {counts['total']:,} parameters "
          f"({100 * counts['share']:.2f}%)")
    _print_metrics(result.metrics)
    print(f"\nrun written to {run_dir}")
    return EXIT_OK


def _phase_values(text: str | None, kind, flag: str, example: str) -> tuple | None:
    if text is None:
        return None
    parts = [v.strip() for v in text.split(",") if v.strip()]
    try:
        values = tuple("auto" if kind is int and v.lower() == "auto" else kind(v) for v in parts)
    except ValueError:
        values = ()
    if not values or min((v for v in values if v != "auto"), default=1) <= 0:
        also = " or auto" if kind is int else ""
        raise UsageError(f"{flag}: expected positive numbers{also}, one a phase ({example}); got {text!r}")
    return values


def _layer_choice(text: str, word: str, flag: str) -> str | int | list:
    text = text.strip()
    if text == word:
        return word
    if text.isdigit():
        return int(text)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{flag}: expected {word}, a number of layers or layer names, got {text!r}")
    return names


def cmd_finetune(args) -> int:
    """`kerazoo finetune SOURCE`: a run, a .keras file or a registered model, on new data (`kerazoo.finetune`)."""
    from kerazoo import runs

    source = Path(args.source)
    overrides = None
    if source.is_dir():
        runs.check_run(source)  # a missing or damaged run fails before TensorFlow loads
        config = json.loads((source / "config.json").read_text())
        name = config.get("model", "model")
        if (config.get("spec") or {}).get("task") == "causal_lm":
            raise UsageError(f"finetune: {args.source} is a language-model run; continue it on new text with "
                             f"`kerazoo train --init {args.source} --data text:PATH` (--lora RANK or "
                             f"--freeze-blocks N to train part of it)")
    elif source.suffix == ".keras":
        if not source.is_file():
            raise UsageError(f"finetune: no such .keras file {str(source)!r}")
        name = source.stem
    else:
        from kerazoo.registry import get_entry

        try:
            entry = get_entry(args.source)
        except KeyError as err:
            raise UsageError(f"finetune: {args.source!r} is not a run directory or a .keras file, and "
                             f"{err.args[0]}") from None
        name = entry.name
        overrides = _overrides(args.set, entry.params, entry.space) or None
    if args.set and overrides is None:
        raise UsageError("finetune: --set gives a registered model's arguments; the source is a run or a file")
    phases = args.phases or 2
    epochs = _phase_values(args.epochs, int, "--epochs", "5,10")
    rates = _phase_values(args.learning_rates, float, "--learning-rates", "1e-3,1e-5")
    head = args.head or "new"
    if head.isdigit():
        head = {"units": int(head), "dropout": 0.2}
    elif head not in ("new", "keep"):
        raise UsageError(f"--head: expected new, keep or a number of hidden units, got {head!r}")
    options = {k: v for k, v in (("batch_size", args.batch_size), ("validation_split", args.validation_split),
                                 ("test_split", args.test_split), ("label", args.label)) if v is not None}
    freeze = _layer_choice(args.freeze, "backbone", "--freeze")
    unfreeze = _layer_choice(args.unfreeze, "all", "--unfreeze")
    from kerazoo import runlock

    with runlock.claim(runlock.run_path(f"{name}-finetune", args.out)) as run_dir:
        import keras

        from kerazoo.data import load_data
        from kerazoo.finetune import finetune

        keras.utils.set_random_seed(args.seed)
        data = load_data(args.data, seed=args.seed, **options)
        print(f"data   {data.describe()}")
        print(f"run    {run_dir}")
        result = finetune(str(source), data, freeze=freeze, unfreeze=unfreeze, head=head,
                          features=args.features, phases=phases,
                          learning_rates=rates[0] if rates and len(rates) == 1 and phases == 1 else rates,
                          epochs=epochs[0] if epochs and len(epochs) == 1 else epochs,
                          train_batchnorm=args.train_batchnorm, overrides=overrides, run_dir=run_dir,
                          seed=args.seed, patience=args.patience, verbose=_verbose(args),
                          safe_mode=not args.unsafe)
    print()
    for phase in result.phases:
        test = phase["metrics"].get("test", {})
        score = f"; test accuracy {test['accuracy']:.4f}" if "accuracy" in test else ""
        print(f"phase {phase['phase']}: {phase['trainable_params']:,} trainable parameters, "
              f"{phase['frozen_layers']} layers frozen, learning rate {phase['learning_rate']:g}, "
              f"{phase['epochs']} epochs{score}")
    _print_metrics(result.metrics)
    print(f"\nrun written to {run_dir}")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerazoo", description="A model zoo for Keras 3 on TensorFlow.", allow_abbrev=False,
        epilog="exit codes: 0 ok, 1 failed while running, 2 bad input, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"kerazoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list the zoo's models")
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'resnet*'")
    p.add_argument("--tag", action="append", help="keep models with this tag (repeatable)")
    p.add_argument("--task", help="keep models that support this task")
    p.add_argument("--inputs", help="keep models that take this input kind")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("describe", help="a model's arguments, defaults and search space")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("train", help="train a model and write a run directory")
    p.add_argument("name", nargs="?", help="a model name (see `kerazoo models`)")
    p.add_argument("--data", help="bundled name, tfds:<name>, image folder or .csv (default: digits)")
    p.add_argument("--epochs", type=epochs_value, help="most epochs, or auto: at least 10 epochs and 300 "
                   "optimizer steps (default auto, or the model's own, e.g. gpt's 12)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--seed", type=int, help="seed for splits, weights and shuffling (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model argument (repeatable)")
    p.add_argument("--config", help="a run's config.json or a tuning best.json to reproduce")
    p.add_argument("--out", help="run directory (default runs/<name>-<timestamp>/)")
    p.add_argument("--resume", action="store_true", help="continue the unfinished run in --out from its last "
                   "finished epoch (weights and optimizer state), with its own settings; refuses another model, "
                   "--set value, --data or split setting")
    p.add_argument("--label", metavar="COLUMN", help="a .csv file's label column (default: the last column)")
    p.add_argument("--optimizer", help="adamw, adam, sgd or rmsprop")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--schedule", help="cosine, linear or constant")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--validation-split", type=float)
    p.add_argument("--test-split", type=float)
    p.add_argument("--seq-len", type=int, help="text: tokens in a training window (default 128)")
    p.add_argument("--tokenizer", help="text: byte (default), sentencepiece[:SIZE] trained on the training "
                   "text, or a run directory whose tokenizer to reuse")
    p.add_argument("--augment", help="training-only augmentation: none, light, medium, heavy, or a JSON "
                   "object of settings, e.g. '{\"rotation\": 0.1, \"flip\": \"horizontal\"}'")
    p.add_argument("--augment-on", choices=("data", "model"),
                   help="run augmentation in the tf.data pipeline or in the training step (default data)")
    p.add_argument("--strategy", help="auto, default, one_device, mirrored, multi_worker (reads TF_CONFIG) "
                   "or tpu (default auto)")
    p.add_argument("--precision", help="auto, float32, mixed_float16 or mixed_bfloat16 (default auto)")
    p.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    p.add_argument("--init", metavar="RUN_DIR", help="language models: start from this run's weights and "
                   "tokenizer and fine-tune on --data (all weights unless --lora or --freeze-blocks)")
    p.add_argument("--lora", type=int, metavar="RANK", help="with --init: train LoRA adapters of this rank only")
    p.add_argument("--lora-alpha", type=float, help="with --lora: updates scale by alpha/rank (default: the rank)")
    p.add_argument("--lora-embedding", action="store_true", help="with --lora: adapt the token embedding too")
    p.add_argument("--freeze-blocks", type=int, metavar="N", help="with --init: keep the embeddings and the "
                   "bottom N blocks fixed")
    p.add_argument("--adapter-only", action="store_true",
                   help="with --lora: keep the adapter alone in the run (the base run rebuilds the model)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), help="progress display: 0 none, 1 a bar, 2 a line "
                   "an epoch (default: a bar on a terminal, else a line an epoch)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a run's model on its test split")
    p.add_argument("run_dir")
    p.add_argument("--data", help="evaluate on other data of the same task and classes (default: the run's own); "
                   "its report goes to RUN_DIR/report-<data>/")
    p.add_argument("--label", metavar="COLUMN", help="with --data FILE.csv: its label column (default: the run's, "
                   "else the last column)")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--unsafe", action="store_true", help="allow models with Lambda layers (runs code)")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="print the metrics only: no per-class report, no report/ folder")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="write report.json but no PNG plots")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("finetune", help="fine-tune a run, a .keras file or a zoo backbone on new data: a new "
                       "head, then phases")
    p.add_argument("source", help="a run directory, a .keras file or a registered model (e.g. mobilenet_v2)")
    p.add_argument("--data", required=True, help="the new data: bundled name, tfds:<name>, image folder or .csv")
    p.add_argument("--label", metavar="COLUMN", help="a .csv file's label column (default: the last column)")
    p.add_argument("--freeze", default="backbone", help="what phase one freezes: backbone (default), the first "
                   "N layers with weights, or layer names (comma-separated, wildcards)")
    p.add_argument("--unfreeze", default="all", help="what phase two trains of those: all (default), the last N, "
                   "or layer names")
    p.add_argument("--phases", type=int, choices=(1, 2), help="1 or 2 phases (default 2)")
    p.add_argument("--epochs", help="most epochs, one a phase, e.g. 5,10 (default auto each: at least 10 "
                   "epochs and 300 optimizer steps)")
    p.add_argument("--learning-rates", help="one peak rate a phase (default 1e-3,1e-3)")
    p.add_argument("--head", help="new (default), keep, or hidden units before a new output layer")
    p.add_argument("--features", help="the layer the new head attaches to (default: below the output layer)")
    p.add_argument("--train-batchnorm", action="store_true", help="let the source's BatchNormalization layers "
                   "train (default: frozen, inference mode)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a registered model's argument, e.g. weights=imagenet (repeatable)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--validation-split", type=float)
    p.add_argument("--test-split", type=float)
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for splits, weights and shuffling (default 0)")
    p.add_argument("--out", help="run directory (default runs/<model>-finetune-<timestamp>/)")
    p.add_argument("--unsafe", action="store_true", help="allow models with Lambda layers (runs code)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), help="progress display: 0 none, 1 a bar, 2 a line "
                   "an epoch (default: a bar on a terminal, else a line an epoch)")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("export", help="export a run's model as verified SavedModel and TFLite files")
    p.add_argument("run_dir")
    p.add_argument("--format", default="savedmodel,tflite", help="savedmodel, tflite, onnx (the onnx extra), "
                   "comma-separated (default savedmodel,tflite)")
    p.add_argument("--quantize", help="extra TFLite files: dynamic, float16, int8 (comma-separated)")
    p.add_argument("--int8-io", action="store_true", help="int8 inputs and outputs for the int8 file")
    p.add_argument("--select-ops", action="store_true",
                   help="allow select-TF ops in TFLite files (the device then needs the Flex delegate)")
    p.add_argument("--out", default="exports", help="export root; writes OUT/<model>/<version>/ "
                   "(default exports/)")
    p.add_argument("--name", help="the model's folder name (default: the zoo model's name)")
    p.add_argument("--version", type=int, help="version folder number (default: the next one)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip reloading and comparing each artifact with the Keras model")
    p.add_argument("--min-agreement", type=float, metavar="SHARE",
                   help="least top-1 (language model: next-token) agreement with Keras a quantized file may have "
                        "(default 0.98; 0.95 for a language model)")
    p.add_argument("--max-relative-error", type=float, metavar="SHARE",
                   help="largest relative error a regression model's quantized file may have (default 0.02)")
    p.add_argument("--keep-failing", action="store_true",
                   help="write a quantized file outside its threshold (marked 'kept') instead of stopping with exit 1")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("tune", help="run a KerasTuner search job (YAML): resumable, distributable")
    p.add_argument("job", help="the job file, e.g. examples/tuning/digits_cnn.yaml")
    p.add_argument("--overwrite", action="store_true", help="discard the earlier search in the output and start over")
    p.add_argument("--max-trials", type=int, help="override budget.max_trials (raise it to extend a search)")
    p.add_argument("--out", help="override the job's output directory")
    p.add_argument("--chief", action="store_true", help="serve the search to workers (binds 127.0.0.1:8000 "
                   "unless --address is given)")
    p.add_argument("--worker", metavar="ID", help="run trials for the chief at --address, as worker ID")
    p.add_argument("--address", metavar="HOST:PORT", help="the chief's address")
    p.add_argument("--check", action="store_true", help="validate the job against its data, print the space, stop")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 quiet, 1 a summary per trial, 2 also epochs")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("generate", help="continue a prompt with a language-model run, printing tokens as they come")
    p.add_argument("run_dir")
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to generate (default 200)")
    p.add_argument("--sampler", default="greedy", choices=("greedy", "top_k", "top_p"),
                   help="greedy, top_k or top_p (default greedy)")
    p.add_argument("--temperature", type=float, default=1.0, help="divides the logits (default 1.0)")
    p.add_argument("--top-k", type=int, default=10, help="top_k: sample among the k likeliest (default 10)")
    p.add_argument("--top-p", type=float, default=0.9, help="top_p: the probability mass kept (default 0.9)")
    p.add_argument("--seed", type=int, help="sampling seed: the same seed gives the same text")
    p.add_argument("--no-cache", dest="cache", action="store_false",
                   help="recompute the whole prefix every step instead of using the key/value cache")
    p.set_defaults(func=cmd_generate)
    for command in sub.choices.values():  # `--label` must never be read as `--label-smoothing`
        command.allow_abbrev = False
    return parser


class _StdoutHandler(logging.StreamHandler):
    """A handler that writes to whatever `sys.stdout` is when a record comes (redirected or captured)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the `kerazoo` command; returns the exit code.

    Example:
    >>> main(["models", "mlp"])
    name  tasks                                    inputs                  default input  tags
    ----  ---------------------------------------  ----------------------  -------------  -------------
    mlp   multiclass,binary,regression,multilabel  tabular,image,sequence  784            tabular,dense
    0
    """
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from kerazoo._console import quiet_tensorflow_import
    from kerazoo._flags import check_flags

    quiet_tensorflow_import()  # TensorFlow's native start-up lines that cannot matter stay out of the output
    logger = logging.getLogger("kerazoo")
    handler = None
    if not logger.handlers:  # the library's notes (batch rule, workers) go to stdout, for this command only
        handler, level = _StdoutHandler(), logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        check_flags(args)  # every flag, by its own name, before TensorFlow loads
        return args.func(args)
    except KeyboardInterrupt:
        print("kerazoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        code = exit_code(err)
        if os.environ.get("KERAZOO_DEBUG"):  # the traceback, and the same exit code as without it
            import traceback

            traceback.print_exc()
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        message = " ".join(str(message).split()) or type(err).__name__
        print(f"kerazoo: error: {message}", file=sys.stderr)
        return code
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

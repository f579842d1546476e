"""The `kerazoo` command: list, describe, train and evaluate zoo models.

Exit codes: 0 success; 1 a failure while running (training diverged, a
file could not be written); 2 bad input (an unknown model, a bad flag or
value, a damaged run); 130 interrupted. Errors print one line, never a
traceback (set KERAZOO_DEBUG=1 to see it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from kerazoo._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """Bad input from the command line."""


def parse_value(text: str, default: Any = None, *, key: str = "value") -> Any:
    """Read a `--set key=value` value, typed after the argument's default.

    Example:
    >>> parse_value("0.5", 0.3), parse_value("64,128", (32, 64)), parse_value("false", True)
    (0.5, (64, 128), False)
    >>> parse_value("many", 2, key="depth")
    Traceback (most recent call last):
    ...
    kerazoo.cli.UsageError: --set depth=many: expected an int (the default is 2)
    """
    def fail(kind):
        raise UsageError(f"--set {key}={text}: expected {kind} (the default is {default!r})")

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
            return float(text)
        except ValueError:
            fail("a number")
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


def _overrides(pairs: list[str], defaults: dict) -> dict:
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
    return out


def cmd_models(args) -> int:
    from kerazoo.registry import get_entry, list_models

    names = list_models(args.pattern, tags=args.tag or (), task=args.task, inputs=args.inputs)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
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


def cmd_train(args) -> int:
    from kerazoo.registry import get_entry

    cfg = _train_config(args)
    name = args.name or cfg.get("model")
    if not name:
        raise UsageError("train: name a model (or give --config with a 'model' field)")
    entry = get_entry(name)
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.get("overrides", {}).items()}
    overrides.update(_overrides(args.set, entry.params))
    data_cfg = dict(cfg.get("data", {}))
    source = args.data or data_cfg.pop("source", None) or "digits"
    data_cfg.pop("source", None)
    compile_cfg = {k: v for k, v in cfg.get("compile", {}).items()
                   if k in ("optimizer", "learning_rate", "schedule", "warmup", "weight_decay",
                            "clipnorm", "label_smoothing") and v is not None}
    for flag in ("optimizer", "learning_rate", "schedule", "weight_decay", "label_smoothing"):
        if getattr(args, flag) is not None:
            compile_cfg[flag] = getattr(args, flag)
    fit_cfg = cfg.get("fit", {})
    epochs = _first(args.epochs, fit_cfg.get("epochs"), 30)
    seed = _first(args.seed, fit_cfg.get("seed"), 0)
    patience = _first(args.patience, fit_cfg.get("patience"), 10)
    for key in ("batch_size", "validation_split", "test_split"):
        if getattr(args, key) is not None:
            data_cfg[key] = getattr(args, key)
    data_cfg["seed"] = seed
    _check_numbers(epochs=epochs, patience=patience, batch_size=data_cfg.get("batch_size", 32))

    from kerazoo import runs
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
    run_dir = runs.new_run_dir(name, args.out) if chief else None
    ok = False
    try:
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
        print(f"device {dist['strategy']} over {dist['replicas']} replica(s) {', '.join(dist['devices'])}; "
              f"precision {dist['precision']}")
        print(f"run    {run_dir if chief else '(written by the chief worker)'}")
        result = fit(model, data, epochs=epochs, run_dir=run_dir, seed=seed, patience=patience,
                     verbose=args.verbose)
        ok = True
    finally:
        if not ok and run_dir is not None and not any(run_dir.iterdir()):
            run_dir.rmdir()
    _print_metrics(result.metrics)
    if run_dir is not None:
        print(f"\nrun written to {run_dir}")
    return EXIT_OK


def _first(*values):
    return next(v for v in values if v is not None)


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
    opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run.config.get("data", {}).items()
            if k != "source"}
    source = args.data or run.config.get("data", {}).get("source", "digits")
    data = load_data(source, **opts)
    metrics = evaluate(run.model, data, split=args.split)
    _print_metrics({args.split: metrics})
    return EXIT_OK


def cmd_export(args) -> int:
    import warnings

    from export import export_model  # lazily: kerazoo never imports export at module level

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = export_model(args.run_dir, args.out, formats=args.format, quantize=args.quantize,
                              version=args.version, overwrite=args.overwrite, int8_io=args.int8_io,
                              select_ops=args.select_ops, verify=args.verify, model_name=args.name)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"kerazoo: warning: {w.message}", file=sys.stderr)
    print(result.table())
    print(f"\nexported to {result.path}")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerazoo", description="A model zoo for Keras 3 on TensorFlow.",
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
    p.add_argument("--epochs", type=int, help="most epochs (default 30)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--seed", type=int, help="seed for splits, weights and shuffling (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model argument (repeatable)")
    p.add_argument("--config", help="a run's config.json or a tuning best.json to reproduce")
    p.add_argument("--out", help="run directory (default runs/<name>-<timestamp>/)")
    p.add_argument("--optimizer", help="adamw, adam, sgd or rmsprop")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--schedule", help="cosine, linear or constant")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--validation-split", type=float)
    p.add_argument("--test-split", type=float)
    p.add_argument("--strategy", help="auto, default, one_device, mirrored, multi_worker (reads TF_CONFIG) "
                   "or tpu (default auto)")
    p.add_argument("--precision", help="auto, float32, mixed_float16 or mixed_bfloat16 (default auto)")
    p.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="progress display")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a run's model on its test split")
    p.add_argument("run_dir")
    p.add_argument("--data", help="evaluate on other data (default: the run's own)")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--unsafe", action="store_true", help="allow models with Lambda layers (runs code)")
    p.set_defaults(func=cmd_evaluate)

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
    p.set_defaults(func=cmd_export)
    return parser


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
    logger = logging.getLogger("kerazoo")
    if not logger.handlers:  # the library's notes (batch rule, workers) go to stdout
        logger.addHandler(logging.StreamHandler(sys.stdout))
        logger.setLevel(logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kerazoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if os.environ.get("KERAZOO_DEBUG"):
            raise
        code = EXIT_USAGE if isinstance(err, (ValueError, KeyError, TypeError, FileExistsError,
                                              FileNotFoundError)) else EXIT_FAILED
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        message = " ".join(str(message).split()) or type(err).__name__
        print(f"kerazoo: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

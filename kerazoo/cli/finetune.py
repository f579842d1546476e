"""`kerazoo finetune SOURCE`: a run, a .keras file or a registered model, fine-tuned on new data."""

from __future__ import annotations

import json
from pathlib import Path

from kerazoo.cli.output import print_metrics
from kerazoo.cli.settings import parse_overrides, verbose_level
from kerazoo.errors import EXIT_OK, UsageError


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
        overrides = parse_overrides(args.set, entry.params, entry.space) or None
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
                                 ("test_split", args.test_split), ("label", args.label), ("task", args.task))
               if v is not None}
    freeze = _layer_choice(args.freeze, "backbone", "--freeze")
    unfreeze = _layer_choice(args.unfreeze, "all", "--unfreeze")
    from kerazoo import runlock

    with runlock.claim(runlock.run_path(f"{name}-finetune", args.out)) as run_dir:
        import keras

        from kerazoo.data import load_data
        from kerazoo.transfer import finetune

        keras.utils.set_random_seed(args.seed)
        data = load_data(args.data, seed=args.seed, **options)
        print(f"data   {data.describe()}")
        print(f"run    {run_dir}")
        result = finetune(str(source), data, freeze=freeze, unfreeze=unfreeze, head=head,
                          features=args.features, phases=phases,
                          learning_rates=rates[0] if rates and len(rates) == 1 and phases == 1 else rates,
                          epochs=epochs[0] if epochs and len(epochs) == 1 else epochs,
                          train_batchnorm=args.train_batchnorm, overrides=overrides, run_dir=run_dir,
                          seed=args.seed, patience=args.patience, verbose=verbose_level(args),
                          safe_mode=not args.unsafe)
    print()
    for phase in result.phases:
        test = phase["metrics"].get("test", {})
        score = f"; test accuracy {test['accuracy']:.4f}" if "accuracy" in test else ""
        print(f"phase {phase['phase']}: {phase['trainable_params']:,} trainable parameters, "
              f"{phase['frozen_layers']} layers frozen, learning rate {phase['learning_rate']:g}, "
              f"{phase['epochs']} epochs{score}")
    print_metrics(result.metrics)
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

"""`kerazoo train`: a zoo model on a data source into a run directory (and `--init RUN` for language models)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from kerazoo.cli.output import print_metrics, strategy_text
from kerazoo.cli.settings import (
    check_floats,
    check_numbers,
    check_same_run,
    first,
    lm_flags,
    parse_overrides,
    resume_config,
    train_config,
    verbose_level,
)
from kerazoo.cli.values import augment_value
from kerazoo.errors import EXIT_OK, UsageError
from kerazoo.modelinfo import model_info


def cmd_train(args) -> int:
    if args.init or lm_flags(args):
        return cmd_train_from_run(args)
    from kerazoo.registry import BUDGET_KEYS, get_entry

    if args.resume:
        resume_config(args)  # --resume --out RUN: the run's own config.json, flags given beside it win
    cfg = train_config(args)
    name = args.name or cfg.get("model")
    if not name:
        raise UsageError("train: name a model (or give --config with a 'model' field)")
    entry = get_entry(name)
    given = parse_overrides(args.set, entry.params, entry.space)
    if args.resume and args.config:
        check_same_run(args, cfg, given)  # before any file is touched
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.get("overrides", {}).items()}
    overrides.update(given)
    data_cfg = dict(cfg.get("data", {}))
    source = args.data or data_cfg.pop("source", None) or "digits"
    data_cfg.pop("source", None)
    compile_cfg = {k: v for k, v in cfg.get("compile", {}).items()
                   if k in ("optimizer", "learning_rate", "schedule", "warmup", "weight_decay",
                            "clipnorm", "label_smoothing", "jit_compile") and v is not None}
    for flag in ("optimizer", "learning_rate", "schedule", "weight_decay", "label_smoothing"):
        if getattr(args, flag) is not None:
            compile_cfg[flag] = getattr(args, flag)
    for key, value in entry.training.items():  # the model's own defaults (gpt: its epochs and rate)
        if key not in BUDGET_KEYS and key not in compile_cfg:
            compile_cfg[key] = value
    fit_cfg = cfg.get("fit", {})
    epochs = first(args.epochs, fit_cfg.get("epochs"), entry.training.get("epochs"), "auto")
    seed = first(args.seed, fit_cfg.get("seed"), 0)
    patience = first(args.patience, fit_cfg.get("patience"), 10)
    augment = augment_value(args.augment) if args.augment is not None else fit_cfg.get("augment")
    if isinstance(augment, list):
        raise UsageError("--config: its fit.augment is a list of Keras layers, which the command cannot "
                         "rebuild; give --augment with a preset name or a JSON object of settings")
    augment_on = first(args.augment_on, fit_cfg.get("augment_on"), "data")
    for key in ("batch_size", "validation_split", "test_split", "seq_len", "tokenizer", "label", "task"):
        if getattr(args, key) is not None:
            data_cfg[key] = getattr(args, key)
    data_cfg["seed"] = seed
    check_numbers(patience=patience, batch_size=data_cfg.get("batch_size", 32),
                   **({} if epochs == "auto" else {"epochs": epochs}))
    check_floats(compile_cfg, data_cfg)

    from kerazoo import runlock
    from kerazoo.distribute import PRECISIONS, STRATEGIES, is_chief

    strategy = args.strategy or "auto"
    precision = args.precision or "auto"
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if args.jit_compile is not None:
        compile_cfg["jit_compile"] = args.jit_compile
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
        dist = model_info(model)["distribution"]
        print(f"model  {name}: {model.count_params():,} parameters")
        replicas = f"{dist['replicas']} replica{'s' if dist['replicas'] != 1 else ''}"
        print(f"device {strategy_text(dist['strategy'])}, {replicas} on {', '.join(dist['devices'])}; "
              f"precision {dist['precision']}")
        print(f"run    {run_dir if chief else '(written by the chief worker)'}")
        result = fit(model, data, epochs=epochs, run_dir=run_dir, seed=seed, patience=patience,
                     verbose=verbose_level(args), augment=augment, augment_on=augment_on)
    print_metrics(result.metrics)
    if run_dir is not None:
        print(f"\nrun written to {run_dir}")
    return EXIT_OK


def cmd_train_from_run(args) -> int:
    """`kerazoo train --init RUN_DIR`: continue a language-model run on new text (LoRA, top blocks or all)."""
    from kerazoo import runs

    if not args.init:
        raise UsageError(f"{', '.join(lm_flags(args))}: fine-tuning settings go with --init RUN_DIR (the run to "
                         f"start from)")
    ignored = [f for f, v in (("--set", args.set), ("--config", args.config), ("--optimizer", args.optimizer),
                              ("--schedule", args.schedule), ("--weight-decay", args.weight_decay),
                              ("--label-smoothing", args.label_smoothing), ("--augment", args.augment),
                              ("--tokenizer", args.tokenizer), ("--label", args.label), ("--task", args.task),
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
    epochs = first(args.epochs, 10)  # a language model's fine-tuning: 10 epochs unless told
    seed = first(args.seed, 0)
    patience = first(args.patience, 10)
    check_numbers(patience=patience, **({} if epochs == "auto" else {"epochs": epochs}),
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
                             adapter_only=args.adapter_only, seed=seed, patience=patience, verbose=verbose_level(args))
    counts = result.parameters
    print(f"\n{method}: {counts['trainable']:,} trainable of {counts['total']:,} parameters "
          f"({100 * counts['share']:.2f}%)")
    print_metrics(result.metrics)
    print(f"\nrun written to {run_dir}")
    return EXIT_OK

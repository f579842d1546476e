"""`kerazoo evaluate RUN`: the run's model on its own (or other) data, with an optional report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kerazoo.cli.output import print_metrics
from kerazoo.cli.settings import same_source
from kerazoo.errors import EXIT_OK, UsageError


def cmd_evaluate(args) -> int:
    from kerazoo.runs import check_run

    check_run(args.run_dir)  # a missing or damaged run fails before TensorFlow loads
    from kerazoo.data import load_data
    from kerazoo.diagnostics import held_out_warning
    from kerazoo.runs import load_run
    from kerazoo.train import evaluate

    run = load_run(args.run_dir, safe_mode=not args.unsafe)
    own = run.config.get("data", {}).get("source", "digits")
    opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run.config.get("data", {}).items()
            if k != "source"}
    source = args.data or own
    other = args.data is not None and not same_source(args.data, own)
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
    warning = held_out_warning(data, metrics, split=args.split)  # as `fit` warns, for the scores just taken
    if warning:
        logging.getLogger("kerazoo").warning("kerazoo: warning: %s", warning)
    if not (args.report and data.spec.kind != "tokens"):
        print_metrics({args.split: metrics})
        return EXIT_OK
    from kerazoo.evaluation import report

    folder = "report" if not other else "report-" + "".join(c if c.isalnum() or c in "-_." else "_"
                                                            for c in data.spec.name or "data")
    out = Path(args.run_dir) / folder  # a sub-folder: the manifest covers top-level files only
    rep = report(run.model, data, split=args.split, out=out, history=run.history or None, plots=args.plots)
    skip = ("precision", "recall", "f1") if data.spec.task != "regression" else ()
    print_metrics({args.split: {**metrics, **{k: v for k, v in rep.metrics.items()
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

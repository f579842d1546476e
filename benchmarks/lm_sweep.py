"""The default gpt run, re-chosen by measurement: held-out bits per character against training time.

    python benchmarks/lm_sweep.py                                   # every point, 4, 8 and 12 epochs
    python benchmarks/lm_sweep.py --points gpt,gpt-sp --epochs 6 --budget-minutes 10
    python benchmarks/lm_sweep.py --points gpt,gpt-lr1e-3 --epochs 12 --jobs 2   # two at a time, a core each
    python benchmarks/lm_sweep.py --points gpt-b8:12,gpt-b8-mlp2:18 --jobs 2     # each point its own epochs
    python benchmarks/lm_sweep.py --quick --no-save                 # one small point, one epoch: the script works

Each point is a model size, a context (the training window), a tokenizer, a
learning rate and optionally a batch size and other `compile_model` settings;
each is trained from scratch on `text:pydoc` (training windows at fresh offsets
every epoch, the zoo's compile defaults otherwise, the cosine schedule sized for
the epochs) for every epoch count of `--epochs`, and scored on the held-out last
10% with `kerazoo.lm.text_metrics` (bits per character: every character of the
block, whatever the tokenizer), in windows and with overlapping windows
(`--stride`, so every token has at least `window - stride` tokens of context).
Quality against epochs holds on a loaded machine; the wall times are only
comparable within one run, and the budget column (`--budget-minutes`, 10 by
default: the bar is below 1.70 bits per character within 10 minutes on 2 idle
cores) means something only on a quiet one. `--jobs 2` trains two points at a
time on one core each: twice the points an hour (one TensorFlow process keeps
two cores about half busy on this model), with minutes comparable between rows
but not with a run that has both cores.
Saves benchmarks/results/lm_sweep.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

_BYTES = {"model": "gpt", "seq_len": 128, "tokenizer": "byte", "learning_rate": 2e-3}
#: The default run before 2026-12-07: 4 blocks x 128 with a 4x feed-forward, 16 windows a step. The
#: points named without a shape keep it, so their saved rows stay reproducible.
_4X128 = {"num_layers": 4, "mlp_ratio": 4.0}
_WD = {"weight_decay": 1e-4}  # compile_model's default (the gpt's own is 0.1 since 2026-12-07)
_OLD = {**_BYTES, "args": _4X128, "batch_size": 16, "compile": _WD}
#: The default `gpt` since: 6 blocks x 128, a 2x feed-forward (at 8 windows a step, weight decay 0.1).
_6X128 = {"num_layers": 6, "mlp_ratio": 2.0}
_DEFAULT = {**_BYTES, "args": _6X128, "batch_size": 8, "compile": {"weight_decay": 0.1}}

#: The points: the gpt builder's arguments, the window, the tokenizer, the learning rate; optionally
#: "batch_size", "compile" (more `compile_model` settings) and "beta_2" (AdamW's, instead of Keras' 0.999).
POINTS = {
    "gpt": _OLD,
    "gpt-b32": {**_OLD, "batch_size": 32},
    "gpt-b8": {**_OLD, "batch_size": 8},
    "gpt-b8-mlp2": {**_BYTES, "args": {"num_layers": 4, "mlp_ratio": 2.0}, "batch_size": 8, "compile": _WD},
    "gpt-b8-6x128-mlp2": {**_BYTES, "args": _6X128, "batch_size": 8, "compile": _WD},
    "gpt-b8-8x128-mlp2": {**_BYTES, "args": {"num_layers": 8, "mlp_ratio": 2.0}, "batch_size": 8,
                          "compile": _WD},
    "gpt-b4-ctx256-6x128-mlp2": {**_BYTES, "args": _6X128, "seq_len": 256, "batch_size": 4, "compile": _WD},
    "gpt-b8-6x128-mlp2-wd0.1": _DEFAULT,
    "gpt-b8-6x128-mlp2-wd0.1-drop0.1": {**_DEFAULT, "args": {**_6X128, "dropout": 0.1}},
    "gpt-b8-6x128-mlp2-wd0.1-drop0.2": {**_DEFAULT, "args": {**_6X128, "dropout": 0.2}},
    "gpt-b8-6x128-mlp2-wd0.1-b2-0.99": {**_DEFAULT, "beta_2": 0.99},
    "gpt-b8-6x128-mlp2-wd0.1-b2-0.95": {**_DEFAULT, "beta_2": 0.95},
    "gpt-b8-6x128-mlp2-wd0.1-sp512": {**_DEFAULT, "tokenizer": "sentencepiece:512"},
    "gpt-b8-6x128-mlp2-wd0.1-sp1024": {**_DEFAULT, "tokenizer": "sentencepiece:1024"},
    "gpt-b8-6x128-mlp2-wd0.1-sp2000": {**_DEFAULT, "tokenizer": "sentencepiece:2000"},
    "gpt-b8-6x128-mlp2-lr3e-3": {**_BYTES, "args": _6X128, "batch_size": 8, "learning_rate": 3e-3,
                                 "compile": _WD},
    "gpt-no-xla": {**_OLD, "compile": {**_WD, "jit_compile": False}},
    "gpt-lr3e-3": {**_OLD, "learning_rate": 3e-3},
    "gpt-wd0.1": {**_OLD, "compile": {"weight_decay": 0.1}},
    "gpt-ctx256": {**_OLD, "seq_len": 256},
    "gpt-sp": {**_OLD, "tokenizer": "sentencepiece:2000"},
    "gpt-sp-drop": {**_OLD, "args": {**_4X128, "dropout": 0.1}, "tokenizer": "sentencepiece:2000"},
    "gpt-6x128": {**_OLD, "args": {**_4X128, "num_layers": 6}},
    "gpt-4x192": {**_OLD, "args": {**_4X128, "dim": 192, "num_heads": 6}, "learning_rate": 1.5e-3},
    "gpt-nano": {**_BYTES, "model": "gpt-nano", "args": {}, "learning_rate": 3e-3},
}


def run_point(name: str, point: dict, epochs: int, *, seed: int = 0, stride: int | None = None) -> dict:
    """Train one point for `epochs` from scratch; its held-out bits per character, steps and seconds."""
    import keras

    from kerazoo import build, fit, load_data
    from kerazoo.lm import text_metrics

    data = load_data("text:pydoc", seq_len=point["seq_len"], tokenizer=point["tokenizer"], seed=seed,
                     batch_size=point.get("batch_size"))
    keras.utils.set_random_seed(seed)
    with _adamw_beta_2(point.get("beta_2")):  # fit compiles the model again, for its schedule's length
        model = build(point["model"], data.spec, **point["args"],
                      compile={"learning_rate": point["learning_rate"], **point.get("compile", {})})
        result = fit(model, data, epochs=epochs, verbose=0, callbacks="none", seed=seed)
    held_out = text_metrics(model, data, "test")
    steps = int(data.train.cardinality()) * epochs
    row = {"point": name, "epochs": epochs, "steps": steps, "parameters": int(model.count_params()),
           "batch_size": data.options["batch_size"],
           "seq_len": point["seq_len"], "tokenizer": point["tokenizer"], "seconds": result.seconds,
           "bits_per_char": held_out["bits_per_char"],
           "validation_bits_per_char": min(result.history.get("val_bits_per_char", [float("nan")]))}
    curve = result.history.get("val_bits_per_char")
    if curve:  # the last epoch's model is the one scored; an earlier best means it overfit
        row["best_epoch"] = 1 + min(range(len(curve)), key=curve.__getitem__)
    if stride:
        row["stride"] = stride
        row["bits_per_char_stride"] = text_metrics(model, data, "test", stride=stride)["bits_per_char"]
    return row


@contextlib.contextmanager
def _adamw_beta_2(value: float | None):
    """AdamW made with this second-moment decay (Keras' default 0.999) inside the block; None: untouched."""
    import keras

    adamw, init = keras.optimizers.AdamW, keras.optimizers.AdamW.__init__
    if value is not None:
        adamw.__init__ = lambda self, *args, beta_2=value, **kwargs: init(self, *args, beta_2=beta_2, **kwargs)
    try:
        yield
    finally:
        adamw.__init__ = init


def run_apart(name: str, epochs: int, *, seed: int, stride: int | None, threads: int) -> dict:
    """`run_point` in a process of its own whose TensorFlow uses `threads` cores; its row."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = [sys.executable, __file__, "--one", f"{name}:{epochs}", "--threads", str(threads), "--seed", str(seed),
            "--stride", str(stride or 0)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"point {name} ({epochs} epochs) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _appended(result: dict, args: argparse.Namespace) -> dict:
    """The saved sweep with this run's rows added (a row of the same point and epochs replaced)."""
    from results import command, load

    try:
        saved = load("lm_sweep")
    except FileNotFoundError:
        return result
    old = saved["result"]
    if (old.get("seed"), old.get("stride"), old.get("jobs", 1)) != (result["seed"], result["stride"], result["jobs"]):
        sys.exit("--append: the saved sweep used another --seed, --stride or --jobs; run the whole sweep afresh")
    mine = {(row["point"], row["epochs"]) for row in result["rows"]}
    commands = old.get("commands") or [saved["command"]]
    return {**result, "points": {**old["points"], **result["points"]},
            "epochs": sorted(set(old["epochs"]) | set(result["epochs"])),
            "rows": [row for row in old["rows"] if (row["point"], row["epochs"]) not in mine] + result["rows"],
            "commands": [*commands, command()]}


def render(saved: dict) -> str:
    """The sweep's table: each point and epoch count, its held-out bits per character and its time."""
    r = saved["result"]
    budget = r["budget_minutes"] * 60
    def per_window(row):  # seconds a training window: steps of different batch sizes compare by their windows
        return row["seconds"] / row["steps"] / row["batch_size"]

    fastest = min(per_window(row) for row in r["rows"])
    stride = r.get("stride")
    strided = f" | stride {stride}" if stride else ""
    alone = r.get("jobs", 1) == 1  # minutes against the budget mean something only for a run that had every core
    lines = [f"| point | parameters | window | tokenizer | batch | epochs | steps | held-out bits/char{strided} | "
             "minutes | time a window (fastest = 1) |" + (" within budget |" if alone else ""),
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if stride else "")
             + " ---: | ---: |" + (" --- |" if alone else "")]
    for row in sorted(r["rows"], key=lambda row: (row["point"], row["epochs"])):
        more = f" {row['bits_per_char_stride']:.3f} |" if stride else ""
        within = (" yes |" if row["seconds"] <= budget else " no |") if alone else ""
        lines.append(f"| `{row['point']}` | {row['parameters']:,} | {row['seq_len']} | {row['tokenizer']} | "
                     f"{row['batch_size']} | {row['epochs']} | {row['steps']:,} | {row['bits_per_char']:.3f} |"
                     f"{more} {row['seconds'] / 60:.1f} | {per_window(row) / fastest:.2f} |{within}")
    commands = r.get("commands")
    if commands:  # an appended sweep: every command that made its rows
        saved = {**saved, "command": "`, `".join(commands)}
    how = (f"{r['jobs']} at a time on {max(1, saved['machine']['cpus'] // r['jobs'])} core(s) each"
           if not alone else "one at a time")
    lines += ["", f"Each point trained from scratch on `text:pydoc` for each epoch count, {how}, scored on the "
              "held-out last 10% by `text_metrics`" + (f" in windows and with windows {stride} tokens apart"
                                                         if stride else "")
              + (f"; budget {r['budget_minutes']:g} minutes. " if alone else ". ") + footer(saved)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default=",".join(p for p in POINTS if p != "gpt-nano"),
                        help=f"comma-separated, of {', '.join(POINTS)}; NAME:EPOCHS trains that point for "
                        "EPOCHS instead of --epochs (points compared at equal minutes)")
    parser.add_argument("--epochs", default="4,8,12", help="comma-separated epoch counts, each trained afresh")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="the wall-time budget of a run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stride", type=int, default=32, help="also score overlapping windows this many "
                        "tokens apart (0: windows only)")
    parser.add_argument("--jobs", type=int, default=1, help="points trained at a time, each in its own "
                        "process on cpus/jobs cores")
    parser.add_argument("--append", action="store_true", help="add these rows to the saved sweep (a row of "
                        "the same point and epochs is replaced); the saved result keeps every command")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # NAME:EPOCHS, one row as JSON (--jobs)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)  # with --one: the cores to use
    parser.add_argument("--quick", action="store_true", help="gpt-nano, 1 epoch: checks the script runs")
    args = options(parser).parse_args(argv)
    if args.one:
        if args.threads:  # hold TensorFlow to the cores run_apart gave this process
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        name, count = args.one.rsplit(":", 1)
        print(json.dumps(run_point(name, POINTS[name], int(count), seed=args.seed, stride=args.stride or None)))
        return
    asked = ["gpt-nano"] if args.quick else [n.strip() for n in args.points.split(",") if n.strip()]
    asked = [n.partition(":")[::2] for n in asked]  # (name, its own epochs or "")
    names = [name for name, _ in asked]
    unknown = [n for n in names if n not in POINTS]
    if unknown:
        parser.error(f"--points: unknown {', '.join(unknown)}; known: {', '.join(POINTS)}")
    try:
        epochs = [1] if args.quick else [int(e) for e in args.epochs.split(",")]
        runs = [(name, count) for name, own in asked for count in ([int(own)] if own else epochs)]
    except ValueError as err:
        parser.error(f"--points/--epochs: an epoch count must be a whole number ({err})")
    epochs = sorted({count for _, count in runs})
    if args.jobs < 1:
        parser.error(f"--jobs: at least 1, got {args.jobs}")
    stride = args.stride or None
    if args.jobs == 1:
        rows = []
        for name, count in runs:
            rows.append(run_point(name, POINTS[name], count, seed=args.seed, stride=stride))
            print(rows[-1], flush=True)
    else:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda run: run_apart(*run, seed=args.seed, stride=stride, threads=threads), runs))
        for row in rows:
            print(row, flush=True)
    result = {"points": {n: POINTS[n] for n in names}, "epochs": epochs, "budget_minutes": args.budget_minutes,
              "seed": args.seed, "stride": stride, "jobs": args.jobs, "rows": rows}
    if args.append and not args.no_save:
        result = _appended(result, args)
    publish("lm_sweep", result, args, render)


if __name__ == "__main__":
    main()

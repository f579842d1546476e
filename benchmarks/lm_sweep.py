"""The default gpt run, re-chosen by measurement: held-out bits per character against training time.

    python benchmarks/lm_sweep.py                                   # every point, 4, 8 and 12 epochs
    python benchmarks/lm_sweep.py --points gpt,gpt-sp --epochs 6 --budget-minutes 10
    python benchmarks/lm_sweep.py --quick --no-save                 # one small point, one epoch: the script works

Each point is a model size, a context (the training window), a tokenizer and a
learning rate; each is trained from scratch on `text:pydoc` (training windows at
fresh offsets every epoch, the zoo's compile defaults, the cosine schedule sized
for the epochs) for every epoch count of `--epochs`, and scored on the held-out
last 10% with `kerazoo.lm.text_metrics` (bits per character: every character of
the block, whatever the tokenizer). Quality against epochs holds on a loaded
machine; the wall times are only comparable within one run, and the budget
column (`--budget-minutes`, 10 by default: the bar is below 1.70 bits per
character within 10 minutes on 2 idle cores) means something only on a quiet one.
Saves benchmarks/results/lm_sweep.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

#: The points: the gpt builder's arguments, the window, the tokenizer, the learning rate.
POINTS = {
    "gpt": {"model": "gpt", "args": {}, "seq_len": 128, "tokenizer": "byte", "learning_rate": 2e-3},
    "gpt-ctx256": {"model": "gpt", "args": {}, "seq_len": 256, "tokenizer": "byte", "learning_rate": 2e-3},
    "gpt-sp": {"model": "gpt", "args": {}, "seq_len": 128, "tokenizer": "sentencepiece:2000",
               "learning_rate": 2e-3},
    "gpt-sp-drop": {"model": "gpt", "args": {"dropout": 0.1}, "seq_len": 128, "tokenizer": "sentencepiece:2000",
                    "learning_rate": 2e-3},
    "gpt-6x128": {"model": "gpt", "args": {"num_layers": 6}, "seq_len": 128, "tokenizer": "byte",
                  "learning_rate": 2e-3},
    "gpt-4x192": {"model": "gpt", "args": {"dim": 192, "num_heads": 6}, "seq_len": 128, "tokenizer": "byte",
                  "learning_rate": 1.5e-3},
    "gpt-nano": {"model": "gpt-nano", "args": {}, "seq_len": 128, "tokenizer": "byte", "learning_rate": 3e-3},
}


def run_point(name: str, point: dict, epochs: int, *, seed: int = 0) -> dict:
    """Train one point for `epochs` from scratch; its held-out bits per character, steps and seconds."""
    import keras

    from kerazoo import build, fit, load_data
    from kerazoo.lm import text_metrics

    data = load_data("text:pydoc", seq_len=point["seq_len"], tokenizer=point["tokenizer"], seed=seed)
    keras.utils.set_random_seed(seed)
    model = build(point["model"], data.spec, **point["args"], compile={"learning_rate": point["learning_rate"]})
    result = fit(model, data, epochs=epochs, verbose=0, callbacks="none", seed=seed)
    held_out = text_metrics(model, data, "test")
    steps = int(data.train.cardinality()) * epochs
    return {"point": name, "epochs": epochs, "steps": steps, "parameters": int(model.count_params()),
            "seq_len": point["seq_len"], "tokenizer": point["tokenizer"], "seconds": result.seconds,
            "bits_per_char": held_out["bits_per_char"],
            "validation_bits_per_char": min(result.history.get("val_bits_per_char", [float("nan")]))}


def render(saved: dict) -> str:
    """The sweep's table: each point and epoch count, its held-out bits per character and its time."""
    r = saved["result"]
    budget = r["budget_minutes"] * 60
    fastest = min(row["seconds"] / row["steps"] for row in r["rows"])
    lines = ["| point | parameters | window | tokenizer | epochs | steps | held-out bits/char | minutes | "
             "time a step (fastest = 1) | within budget |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in sorted(r["rows"], key=lambda row: (row["point"], row["epochs"])):
        within = "yes" if row["seconds"] <= budget else "no"
        lines.append(f"| `{row['point']}` | {row['parameters']:,} | {row['seq_len']} | {row['tokenizer']} | "
                     f"{row['epochs']} | {row['steps']:,} | {row['bits_per_char']:.3f} | "
                     f"{row['seconds'] / 60:.1f} | {row['seconds'] / row['steps'] / fastest:.2f} | {within} |")
    lines += ["", f"Each point trained from scratch on `text:pydoc` for each epoch count, scored on the held-out "
              f"last 10% by `text_metrics`; budget {r['budget_minutes']:g} minutes. " + footer(saved)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default=",".join(p for p in POINTS if p != "gpt-nano"),
                        help=f"comma-separated, of {', '.join(POINTS)}")
    parser.add_argument("--epochs", default="4,8,12", help="comma-separated epoch counts, each trained afresh")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="the wall-time budget of a run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="gpt-nano, 1 epoch: checks the script runs")
    args = options(parser).parse_args(argv)
    names = ["gpt-nano"] if args.quick else [n.strip() for n in args.points.split(",") if n.strip()]
    unknown = [n for n in names if n not in POINTS]
    if unknown:
        parser.error(f"--points: unknown {', '.join(unknown)}; known: {', '.join(POINTS)}")
    epochs = [1] if args.quick else [int(e) for e in args.epochs.split(",")]
    rows = []
    for name in names:
        for count in epochs:
            rows.append(run_point(name, POINTS[name], count, seed=args.seed))
            print(rows[-1], flush=True)
    result = {"points": {n: POINTS[n] for n in names}, "epochs": epochs, "budget_minutes": args.budget_minutes,
              "seed": args.seed, "rows": rows}
    publish("lm_sweep", result, args, render)


if __name__ == "__main__":
    main()

"""Transfer learning on the bundled digits, with defaults: does pretraining on 0-4 help learn 5-9?

For each seed: pretrain `cnn` on the digits 0-4 with `fit`'s defaults (a run
directory), pick a few labelled examples of each digit 5-9 (10 by default),
then

- fine-tune the pretrained run on them with every `finetune` argument at its
  default (a new head; phase one trains it with the backbone frozen, phase two
  trains everything but BatchNormalization; `epochs="auto"` in each), and
- train the same `cnn` from scratch on the same examples with `fit`'s defaults,

and score both on every other 5-9 digit (the held-out test set). Nothing here
is tuned for the example: it runs what a user gets.

    python examples/transfer_digits.py                  # seeds 0, 1, 2; 10 and 2 examples a digit
    python examples/transfer_digits.py --quick          # seed 0, 10 examples a digit, a smaller cnn
    python examples/transfer_digits.py --quick --finetune-only   # no from-scratch baseline (the tests)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def few_shot_split(x, y, per_class: int, seed: int):
    """`per_class` examples of each class for training, every other one for testing."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                             for c in np.unique(y)])
    rest = np.setdiff1d(np.arange(len(y)), picked)
    return (x[picked], y[picked]), (x[rest], y[rest])


QUICK_CNN = {"filters": (16, 32, 64), "dense_units": 64}  # --quick: a smaller cnn, same defaults otherwise


def run_seed(seed: int, *, shots=(10,), workdir: Path, cnn: dict | None = None, scratch: bool = True,
             verbose: int = 0) -> list:
    """Pretrain, then fine-tune (and unless `scratch=False` train from scratch) for each number of examples a digit."""
    import keras
    from sklearn.datasets import load_digits

    from kerazoo import build, finetune, fit, load_data

    digits = load_digits()
    x, y = digits.images[..., None].astype("float32"), digits.target  # the user's own arrays, pixels 0-16
    low = y < 5
    keras.utils.set_random_seed(seed)
    pretrain = load_data((x[low], y[low]), seed=seed, name="digits0-4")
    run = workdir / f"pretrain-{seed}"
    pre = fit(build("cnn", pretrain.spec, **(cnn or {})), pretrain, run_dir=run, seed=seed, verbose=verbose)
    rows = []
    for per_class in shots:
        (train_x, train_y), (test_x, test_y) = few_shot_split(x[~low], y[~low] - 5, per_class, seed)
        keras.utils.set_random_seed(seed)
        tuned = finetune(run, (train_x, train_y), seed=seed, verbose=verbose)
        def score(model, test_x=test_x, test_y=test_y):
            return float(model.evaluate(test_x, test_y, verbose=0, return_dict=True)["accuracy"])

        baseline = None
        if scratch:
            keras.utils.set_random_seed(seed)
            few = load_data((train_x, train_y), test_split=0.0, seed=seed, name="digits5-9")
            baseline = build("cnn", few.spec, **(cnn or {}))
            fit(baseline, few, seed=seed, verbose=verbose)
        rows.append({"seed": seed, "per_class": per_class, "pretrain_test_accuracy": pre.metrics["test"]["accuracy"],
                     "finetune": score(tuned.model), "scratch": None if baseline is None else score(baseline),
                     "finetune_epochs": [p["epochs"] for p in tuned.phases],
                     "train_examples": len(train_y), "test_examples": len(test_y)})
    return rows


def run(seeds=(0, 1, 2), *, shots=(10, 2), workdir: str | Path | None = None, cnn: dict | None = None,
        scratch: bool = True, verbose: int = 0) -> dict:
    """The experiment over `seeds`: per-seed rows, and per number of examples the means and deviations."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir) if workdir else Path(tmp)
        rows = [row for s in seeds
                for row in run_seed(s, shots=shots, workdir=root, cnn=cnn, scratch=scratch, verbose=verbose)]
    out = {"seeds": rows, "shots": {}}
    for per_class in shots:
        mine = [r for r in rows if r["per_class"] == per_class]
        summary = {key: {"mean": float(np.mean([r[key] for r in mine])), "std": float(np.std([r[key] for r in mine]))}
                   for key in (("finetune", "scratch") if scratch else ("finetune",))}
        if scratch:
            summary["margin"] = summary["finetune"]["mean"] - summary["scratch"]["mean"]
        out["shots"][per_class] = summary
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seed 0, 10 examples a digit, a smaller cnn")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2; --quick 0)")
    parser.add_argument("--finetune-only", action="store_true", help="skip the from-scratch baseline")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ((0,) if args.quick else (0, 1, 2))
    out = run(seeds, shots=(10,) if args.quick else (10, 2), cnn=QUICK_CNN if args.quick else None,
              scratch=not args.finetune_only)
    for r in out["seeds"]:
        baseline = "" if r["scratch"] is None else f"  from scratch {r['scratch']:.3f}"
        print(f"seed {r['seed']}, {r['per_class']} examples a digit: fine-tuned {r['finetune']:.3f}{baseline}  "
              f"(pretrained on 0-4: {r['pretrain_test_accuracy']:.3f} test accuracy; "
              f"{r['train_examples']} training, {r['test_examples']} test examples of 5-9)")
    for per_class, s in out["shots"].items():
        baseline = "" if "scratch" not in s else (f", from scratch {s['scratch']['mean']:.3f} "
                                                   f"+/- {s['scratch']['std']:.3f}; margin {s['margin']:+.3f}")
        print(f"{per_class} examples a digit, mean over {len(seeds)} seed(s): fine-tuned {s['finetune']['mean']:.3f} "
              f"+/- {s['finetune']['std']:.3f}{baseline}")
    print(f"({out['seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

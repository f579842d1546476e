"""Transfer learning on the bundled digits: does pretraining on 0-4 help learn 5-9 from 50 examples?

For each seed: pretrain `cnn` on every digit 0-4 (a run directory), pick 10
labelled examples of each digit 5-9, then, for each training budget (epochs
over those 50 examples),

- fine-tune the pretrained run on them (`kerazoo.finetune`: a new head on the
  pooled convolution features, phase one, a quarter of the budget, with the
  backbone frozen; phase two, the rest, with everything but BatchNormalization
  unfrozen at a 10x lower learning rate), and
- train the same `cnn` from scratch on the same 50 examples for the whole
  budget,

and score both on every other 5-9 digit (the held-out test set).

    python examples/transfer_digits.py              # 3 seeds, budgets 20, 60, 200: the figures in README.md
    python examples/transfer_digits.py --quick      # 1 seed, a 20-epoch budget (the tests run this)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

FULL = {"pretrain_epochs": 30, "budgets": (20, 60, 200), "learning_rates": (1e-2, 1e-3), "features": "global_pool"}
QUICK = {"pretrain_epochs": 6, "budgets": (20,), "learning_rates": (1e-2, 1e-3), "features": "global_pool"}
CNN = {"filters": (16, 32, 64), "dense_units": 64}


def digits_bundle(x, y, *, name, first_digit=0, batch_size=16, test=None, **split):
    """A `load_data` bundle of digit arrays (labels 0-4) that keeps the digits' pixel range (0-16)."""
    from kerazoo import load_data

    data = load_data((x, y), kind="image", task="multiclass", batch_size=batch_size, name=name,
                     test_data=test, **split)
    names = tuple(str(first_digit + c) for c in range(data.spec.num_classes))
    return replace(data, spec=data.spec.with_(value_range=(0, 16), class_names=names))


def few_shot_split(x, y, per_class: int, seed: int):
    """`per_class` examples of each class for training, every other one for testing."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                             for c in np.unique(y)])
    rest = np.setdiff1d(np.arange(len(y)), picked)
    return (x[picked], y[picked]), (x[rest], y[rest])


def run_seed(seed: int, *, settings: dict, per_class: int = 10, workdir: Path, verbose: int = 0) -> list:
    """Pretrain, then fine-tune and train from scratch at each budget; one row a budget."""
    import keras

    from kerazoo import build, finetune, fit, load_data

    everything = load_data("digits", validation_split=0.0, test_split=0.0)
    x, y = everything.arrays["train"]
    low = y < 5
    keras.utils.set_random_seed(seed)
    pretrain = digits_bundle(x[low], y[low], name="digits0-4", batch_size=16, seed=seed)
    source = build("cnn", pretrain.spec, **CNN)
    run = workdir / f"pretrain-{seed}"
    pre = fit(source, pretrain, epochs=settings["pretrain_epochs"], run_dir=run, seed=seed, verbose=verbose,
              callbacks="minimal")
    (train_x, train_y), (test_x, test_y) = few_shot_split(x[~low], y[~low] - 5, per_class, seed)
    few = digits_bundle(train_x, train_y, name="digits5-9", first_digit=5, validation_split=0.0, test_split=0.0,
                        test=(test_x, test_y), seed=seed)
    rows = []
    for budget in settings["budgets"]:
        first = max(1, budget // 4)
        keras.utils.set_random_seed(seed)
        tuned = finetune(run, few, epochs=(first, budget - first), learning_rates=settings["learning_rates"],
                         features=settings["features"], seed=seed, verbose=verbose, callbacks="none")
        keras.utils.set_random_seed(seed)
        scratch = fit(build("cnn", few.spec, **CNN), few, epochs=budget, seed=seed, verbose=verbose,
                      callbacks="none")
        rows.append({"seed": seed, "budget": budget, "pretrain_test_accuracy": pre.metrics["test"]["accuracy"],
                     "finetune": tuned.metrics["test"]["accuracy"], "scratch": scratch.metrics["test"]["accuracy"],
                     "train_examples": len(train_y), "test_examples": len(test_y)})
    return rows


def run(seeds=(0, 1, 2), *, quick: bool = False, per_class: int = 10, workdir: str | Path | None = None,
        verbose: int = 0) -> dict:
    """The experiment over `seeds`: per-seed rows, and per budget the means and standard deviations."""
    settings = QUICK if quick else FULL
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir) if workdir else Path(tmp)
        rows = [row for s in seeds
                for row in run_seed(s, settings=settings, per_class=per_class, workdir=root, verbose=verbose)]
    out = {"settings": {**settings, "per_class": per_class, "cnn": CNN, "seeds": list(seeds)}, "seeds": rows,
           "budgets": {}}
    for budget in settings["budgets"]:
        mine = [r for r in rows if r["budget"] == budget]
        summary = {key: {"mean": float(np.mean([r[key] for r in mine])), "std": float(np.std([r[key] for r in mine]))}
                   for key in ("finetune", "scratch")}
        summary["margin"] = summary["finetune"]["mean"] - summary["scratch"]["mean"]
        out["budgets"][budget] = summary
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed and few epochs")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2; --quick 0)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ((0,) if args.quick else (0, 1, 2))
    out = run(seeds, quick=args.quick)
    for r in out["seeds"]:
        print(f"seed {r['seed']}, {r['budget']} epochs: fine-tuned {r['finetune']:.3f}  from scratch "
              f"{r['scratch']:.3f}  (pretrained on 0-4: {r['pretrain_test_accuracy']:.3f} test accuracy; "
              f"{r['train_examples']} training, {r['test_examples']} test examples of 5-9)")
    for budget, s in out["budgets"].items():
        print(f"{budget} epochs, mean over {len(seeds)} seed(s): fine-tuned {s['finetune']['mean']:.3f} "
              f"+/- {s['finetune']['std']:.3f}, from scratch {s['scratch']['mean']:.3f} "
              f"+/- {s['scratch']['std']:.3f}; margin {s['margin']:+.3f}")
    print(f"({out['seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A search across families on the digits (`model: auto`), its retrained winner beside the cnn's defaults.

One job, as `kerazoo tune` runs it: `auto` picks the families that fit the
digits and train from scratch on small inputs, a Bayesian search of 12 trials
(`--epochs` a trial, default 10, what `epochs="auto"` trains on the digits)
tries them, the winner is retrained from scratch on train + validation with
the training defaults (`winner.epochs: auto`), tested once on the test split,
and cross-validated (`winner.rescore_folds`, default 5) to measure what the
rescoring costs. Beside it, `kerazoo train cnn --data digits` with every
default, on the same split (seed 0: the same test rows).

    python benchmarks/family_search.py
    python benchmarks/family_search.py --trials 4 --epochs 2 --rescore-folds 0 --no-save
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def cnn_defaults(seed: int) -> dict:
    """`kerazoo train cnn --data digits --seed SEED` (every other default): its test accuracy and time."""
    import json

    from kerazoo.cli import main

    out = Path(tempfile.mkdtemp()) / "cnn"
    start, cpu = time.monotonic(), time.process_time()
    assert main(["train", "cnn", "--data", "digits", "--seed", str(seed), "--out", str(out), "--verbose", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    return {"test_accuracy": metrics["test"]["accuracy"], "seconds": round(time.monotonic() - start, 1),
            "cpu_s": round(time.process_time() - cpu, 1)}


def same_test_rows(seed: int) -> bool:
    """Whether the winner's data (validation merged into training) keeps the cnn run's test rows."""
    import numpy as np

    from kerazoo import load_data

    a = load_data("digits", seed=seed).arrays["test"]
    b = load_data("digits", seed=seed, validation_split=0.0).arrays["test"]
    return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))


def run_search(args) -> dict:
    from tuning import run_job

    out = Path(tempfile.mkdtemp()) / "tune"
    job = {"model": "auto", "data": "digits", "tuner": args.tuner, "objective": "val_accuracy", "seed": args.seed,
           "budget": {"max_trials": args.trials, "epochs": args.epochs}, "tensorboard": False, "output": str(out),
           "winner": {"epochs": "auto", **({"rescore_folds": args.rescore_folds} if args.rescore_folds else {})}}
    marks: dict[str, float] = {}

    def log(line: str = "") -> None:
        print(line, flush=True)
        if line.startswith("winner: retraining"):
            marks["retrain"] = time.monotonic()
        elif line.startswith("winner: cross-validating"):
            marks["rescore"] = time.monotonic()
        elif line.startswith("winner test:"):
            marks["tested"] = time.monotonic()

    start = time.monotonic()
    result = run_job(job, verbose=1, log=log)
    end = time.monotonic()
    trials = [{"trial_id": r["trial_id"], "family": r["hyperparameters"].get("model"), "status": r["status"],
               "val_accuracy": r["score"], "seconds": r["seconds"]} for r in result.search.trials]
    retrain_s = marks.get("rescore", marks.get("tested", end)) - marks.get("retrain", end)
    rescore_s = marks["tested"] - marks["rescore"] if "rescore" in marks else None
    cv = result.cv
    return {"families": list(result.search.space.families), "trials": trials,
            "families_tried": sorted({t["family"] for t in trials}),
            "search_seconds": round(marks.get("retrain", end) - start, 1),
            "winner": {"model": result.best_config["model"], "overrides": result.best_config["overrides"],
                       "compile": result.best_config["compile"],
                       "batch_size": result.best_config["data"].get("batch_size"),
                       "val_accuracy": result.search.best_score, "test_accuracy": result.metrics["test"]["accuracy"],
                       "retrain_seconds": round(retrain_s, 1)},
            "rescore": None if cv is None else {"folds": cv["folds"], "accuracy_mean": cv["mean"]["accuracy"],
                                                "accuracy_std": cv["std"]["accuracy"],
                                                "seconds": round(rescore_s, 1)}}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def render(saved: dict) -> str:
    """docs/tuning.md's table: each family's trials and best, the winner, the cnn's defaults."""
    r = saved["result"]
    s = r["search"]
    lines = ["| family | trials | best validation accuracy | seconds a trial (mean) |", "| --- | ---: | ---: | ---: |"]
    for family in s["families"]:
        mine = [t for t in s["trials"] if t["family"] == family]
        done = [t["val_accuracy"] for t in mine if t["val_accuracy"] is not None]
        secs = [t["seconds"] for t in mine if t["seconds"] is not None]
        lines.append(f"| `{family}` | {len(mine)} | {_pct(max(done)) if done else '-'} | "
                     f"{sum(secs) / len(secs):.0f} |" if secs else f"| `{family}` | 0 | - | - |")
    w, c, cv = s["winner"], r["cnn_defaults"], s["rescore"]
    gap = round((w["test_accuracy"] - c["test_accuracy"]) * r["test_rows"])
    verdict = ("matches the `cnn`'s defaults (the same number of test rows right)" if gap == 0 else
               f"{'beats' if gap > 0 else 'falls short of'} the `cnn`'s defaults by {abs(gap)} test "
               f"row{'s' if abs(gap) > 1 else ''}")
    settings = ", ".join(f"`{k}={v:.4g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in {**w["overrides"], **w["compile"], "batch_size": w["batch_size"]}
                         .items())
    lines += ["", "| model | test accuracy | seconds |", "| --- | ---: | ---: |",
              f"| search winner (`{w['model']}`), retrained on train + validation | {_pct(w['test_accuracy'])} | "
              f"{w['retrain_seconds']:.0f} |",
              f"| `kerazoo train cnn --data digits` (defaults) | {_pct(c['test_accuracy'])} | {c['seconds']:.0f} |",
              "", f"The search's winner {verdict}. The winner: {settings}. The search: {len(s['trials'])} {r['tuner']} trials of {r['epochs']} epochs "
              f"over {', '.join(s['families'])} ({len(s['families_tried'])} families tried), "
              f"{s['search_seconds']:.0f} s; the retraining trains as long as `kerazoo train` would "
              f"(`winner.epochs: auto`)."
              + (f" Its {cv['folds']}-fold rescoring: accuracy {_pct(cv['accuracy_mean'])} ± "
                 f"{_pct(cv['accuracy_std'])}, {cv['seconds']:.0f} s, {cv['seconds'] / w['retrain_seconds']:.1f} "
                 f"times the retraining." if cv else "")
              + f" Test rows: the same {r['test_rows']} for both ({'checked' if r['same_test_rows'] else 'NOT the same'})."
              f" {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10, help="epochs a trial (default 10)")
    parser.add_argument("--tuner", default="bayesian")
    parser.add_argument("--rescore-folds", type=int, default=5, help="folds of the winner's rescoring (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = options(parser).parse_args(argv)

    from kerazoo import load_data

    search = run_search(args)
    cnn = cnn_defaults(args.seed)
    print(f"winner {search['winner']['model']}: test accuracy {search['winner']['test_accuracy']:.4f}; "
          f"cnn defaults: {cnn['test_accuracy']:.4f}", flush=True)
    result = {"tuner": args.tuner, "trials_budget": args.trials, "epochs": args.epochs, "seed": args.seed,
              "test_rows": len(load_data("digits", seed=args.seed).arrays["test"][0]),
              "same_test_rows": same_test_rows(args.seed), "search": search, "cnn_defaults": cnn}
    publish("family_search", result, args, render)


if __name__ == "__main__":
    main()

"""Test accuracy on the bundled digits over stratified splits (seeds 0-4): the zoo's defaults beside scikit-learn.

Each split is `load_data("digits", seed=S)`'s: 20% of the 1,797 digits held out
for testing (stratified), then 10% of the rest held out for validation. The zoo's
models train with every default through `kerazoo.fit` (`epochs="auto"`; the
validation rows steer early stopping and are never trained on). scikit-learn's
SVC and MLPClassifier are fitted twice: on exactly the zoo's training rows (72%
of the data), and on the training and validation rows together (80%: every row
the zoo's run saw in any form). All are scored on the same test rows.

    python benchmarks/digits_accuracy.py                       # cnn, mlp, cnn with augment="light"
    python benchmarks/digits_accuracy.py --models cnn --seeds 0 1 --augment-models --no-save
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def sklearn_rows(seeds) -> list[dict]:
    """SVC and MLPClassifier on the zoo's training rows, and on its training and validation rows."""
    import numpy as np
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    from kerazoo import load_data

    models = {"scikit-learn `SVC()`": lambda seed: SVC(),
              "scikit-learn `MLPClassifier(max_iter=1000)`": lambda seed: MLPClassifier(max_iter=1000,
                                                                                        random_state=seed)}
    rows = {(label, rows): [] for label in models for rows in ("training", "training + validation")}
    counts = {}
    for seed in seeds:
        data = load_data("digits", seed=seed)
        (x, y), (xv, yv), (xt, yt) = (data.arrays[s] for s in ("train", "validation", "test"))
        flat = {"training": (x.reshape(len(x), -1), y),
                "training + validation": (np.concatenate([x, xv]).reshape(len(x) + len(xv), -1),
                                          np.concatenate([y, yv]))}
        for (label, which), scores in rows.items():
            fx, fy = flat[which]
            counts[which] = len(fx)
            scores.append(float(models[label](seed).fit(fx / 16, fy).score(xt.reshape(len(xt), -1) / 16, yt)))
    return [{"model": label, "rows": which, "training_rows": counts[which], "accuracies": scores, "cpu_s": None}
            for (label, which), scores in rows.items()]


def zoo_row(name: str, seeds, *, augment: str | None = None, epochs="auto") -> dict:
    import keras

    from kerazoo import build, fit, load_data

    scores, cpu, epochs_run = [], [], []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        data = load_data("digits", seed=seed)
        model = build(name, data.spec)
        start = time.process_time()
        result = fit(model, data, epochs=epochs, seed=seed, verbose=0, augment=augment)
        cpu.append(time.process_time() - start)
        scores.append(result.metrics["test"]["accuracy"])
        epochs_run.append(result.epochs)
        print(f"{name} (augment={augment}) seed {seed}: test accuracy {scores[-1]:.4f}, {result.epochs} epochs, "
              f"{cpu[-1]:.0f} s CPU", flush=True)
    label = f"`{name}`" + (f', `augment="{augment}"`' if augment else "")
    return {"model": label, "rows": "training", "training_rows": len(data.arrays["train"][0]),
            "accuracies": scores, "epochs": epochs_run, "cpu_s": round(statistics.fmean(cpu), 1)}


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def render(saved: dict) -> str:
    """The README's table: mean, spread and every split, the zoo's rows and scikit-learn's."""
    r = saved["result"]
    lines = ["| model | fitted on | mean | std | min | per split (seeds {}) | CPU s per split |".format(
        ", ".join(map(str, r["seeds"]))), "| --- | --- | ---: | ---: | ---: | --- | ---: |"]
    for row in r["rows"]:
        acc = row["accuracies"]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        cpu = "-" if row["cpu_s"] is None else f"{row['cpu_s']:.0f}"
        lines.append(f"| {row['model']} | {row['rows']} ({row['training_rows']:,} rows) | "
                     f"{_pct(statistics.fmean(acc))} | {_pct(std)} | {_pct(min(acc))} | "
                     f"{', '.join(f'{100 * a:.2f}' for a in acc)} | {cpu} |")
    epochs = sorted({e for row in r["rows"] for e in row.get("epochs", [])})
    lines += ["", f"Test rows: {r['test_rows']} a split, the same for every model. The zoo's models: "
              f"`epochs={r['epochs']!r}` ({', '.join(map(str, epochs))} epochs run), the validation rows "
              f"({r['validation_rows']}) steering early stopping. CPU seconds: `time.process_time()` of the "
              f"training process. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "mlp"])
    parser.add_argument("--augment-models", nargs="*", default=["cnn"],
                        help="models also trained with --augment (default: cnn; none: give no name)")
    parser.add_argument("--augment", default="light", help="the augmentation preset of those runs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", default="auto", help="'auto' (the default) or a number")
    parser.add_argument("--no-baselines", action="store_true")
    args = options(parser).parse_args(argv)
    epochs = args.epochs if args.epochs == "auto" else int(args.epochs)

    from kerazoo import load_data

    rows = [zoo_row(name, args.seeds, epochs=epochs) for name in args.models]
    rows += [zoo_row(name, args.seeds, augment=args.augment, epochs=epochs) for name in args.augment_models]
    if not args.no_baselines:
        rows += sklearn_rows(args.seeds)
    data = load_data("digits", seed=args.seeds[0])
    result = {"seeds": args.seeds, "epochs": epochs, "test_rows": len(data.arrays["test"][0]),
              "validation_rows": len(data.arrays["validation"][0]), "rows": rows}
    publish("digits_accuracy", result, args, render)


if __name__ == "__main__":
    main()

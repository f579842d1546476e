"""Mean test accuracy on the bundled digits over stratified 80/20 splits (seeds 0-4).

Each split trains the model with its defaults through `kerazoo.fit` (10% of the
training part held out for early stopping) and reports test accuracy and the
CPU time it took, beside scikit-learn's SVC and MLPClassifier on the same splits.

    python benchmarks/digits_accuracy.py                 # cnn and mlp, seeds 0-4
    python benchmarks/digits_accuracy.py --models cnn --seeds 0 1 --augment light
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def sklearn_baselines(seeds):
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    from kerazoo import load_data

    out = {"sklearn SVC": [], "sklearn MLPClassifier": []}
    for seed in seeds:
        data = load_data("digits", seed=seed, validation_split=0.0, test_split=0.2)
        (x, y), (xt, yt) = data.arrays["train"], data.arrays["test"]
        x, xt = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
        out["sklearn SVC"].append(SVC().fit(x, y).score(xt, yt))
        out["sklearn MLPClassifier"].append(
            MLPClassifier(max_iter=1000, random_state=seed).fit(x / 16, y).score(xt / 16, yt))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "mlp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--augment", default=None, help="an augmentation preset, when fit supports it")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()

    import keras

    from kerazoo import build, fit, load_data

    rows = []
    for name in args.models:
        scores, cpu = [], []
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            data = load_data("digits", seed=seed, test_split=0.2, validation_split=0.1)
            model = build(name, data.spec)
            start = time.process_time()
            extra = {"augment": args.augment} if args.augment else {}
            result = fit(model, data, epochs=args.epochs, seed=seed, verbose=0, **extra)
            cpu.append(time.process_time() - start)
            scores.append(result.metrics["test"]["accuracy"])
            print(f"{name} seed {seed}: test accuracy {scores[-1]:.4f}, {result.epochs} epochs, "
                  f"{cpu[-1]:.0f} s CPU", flush=True)
        label = name + (f" (augment={args.augment})" if args.augment else "")
        rows.append((label, scores, statistics.mean(cpu)))
    if not args.no_baselines:
        for label, scores in sklearn_baselines(args.seeds).items():
            rows.append((label, scores, None))
    print(f"\n{'model':32s} {'mean':>7s} {'std':>7s} {'min':>7s}  CPU s/split")
    for label, scores, cpu in rows:
        std = statistics.stdev(scores) if len(scores) > 1 else 0.0
        cpu_text = f"{cpu:.0f}" if cpu is not None else "-"
        print(f"{label:32s} {statistics.mean(scores):7.2%} {std:7.2%} {min(scores):7.2%}  {cpu_text}")


if __name__ == "__main__":
    main()

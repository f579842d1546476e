"""Wall time of `kerazoo.fit` against the same training written by hand with `model.fit`.

Both train the same model (same builder, same compile settings, fresh weights from the
same seed) on the same tf.data pipelines for the same epochs, with the same callbacks
(early stopping that does not trigger, TerminateOnNaN), then evaluate on validation and
test. The ratio is the zoo's overhead (goal: within 5%). Each side runs `--repeats`
times, alternating, and the medians are compared.

    python benchmarks/fit_overhead.py
    python benchmarks/fit_overhead.py --model mlp --data breast_cancer --epochs 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras

    from kerazoo import build, fit, load_data

    data = load_data(args.data, seed=0)
    patience = args.epochs + 1  # early stopping present on both sides, never triggered

    def zoo():
        keras.utils.set_random_seed(0)
        model = build(args.model, data.spec)
        start = time.perf_counter()
        fit(model, data, epochs=args.epochs, patience=patience, verbose=0)
        return time.perf_counter() - start

    def by_hand():
        from kerazoo.train import default_loss_and_metrics

        keras.utils.set_random_seed(0)
        model = build(args.model, data.spec, compile=False)  # same architecture and weights
        loss, metrics = default_loss_and_metrics(data.spec.task)  # same loss and metrics
        steps = int(data.train.cardinality()) * args.epochs
        model.compile(optimizer=keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(1e-3, steps), weight_decay=1e-4),
            loss=loss, metrics=metrics)
        start = time.perf_counter()
        callbacks = [keras.callbacks.TerminateOnNaN(),
                     keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                   restore_best_weights=True)]
        model.fit(data.train, validation_data=data.validation, epochs=args.epochs, callbacks=callbacks,
                  verbose=0)
        model.evaluate(data.validation, verbose=0, return_dict=True)
        model.evaluate(data.test, verbose=0, return_dict=True)
        return time.perf_counter() - start

    zoo(), by_hand()  # warm up: first traces, caches
    times = {"kerazoo.fit": [], "keras model.fit": []}
    for _ in range(args.repeats):
        times["kerazoo.fit"].append(zoo())
        times["keras model.fit"].append(by_hand())
    for name, values in times.items():
        print(f"{name:16s} median {statistics.median(values):7.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times["kerazoo.fit"]) / statistics.median(times["keras model.fit"])
    print(f"ratio kerazoo/keras: {ratio:.3f} ({args.model} on {args.data}, {args.epochs} epochs)")


if __name__ == "__main__":
    main()

"""Training images per second with augmentation on the data side and on the model side.

The same model (fresh weights from the same seed) trains on the same data through
`kerazoo.fit` four ways: without augmentation; with `augment_on="data"` (mapped over the
tf.data pipeline's batches on the host CPU), one batch at a time as a seeded `fit` does
(repeatable draws) and with `num_parallel_calls=AUTOTUNE` as an unseeded `fit` does; and
with `augment_on="model"` (inside the compiled training step, on the accelerator when
there is one). Each run trains `--epochs` timed epochs after one warm-up epoch (tracing,
caches); the figures are training images per second of wall time and per second of
the process's CPU time (all its threads; steadier on a shared machine), each over the
median epoch and the best of `--repeats` rounds (the four ways alternate within a
round, so a busy machine slows them alike). Runs on a GPU
when TensorFlow sees one.

    python benchmarks/augment_throughput.py                       # digits and 32x32x3, light/medium/heavy
    python benchmarks/augment_throughput.py --data synthetic32 --presets light --batch-size 256
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_data(name: str, images: int, batch_size: int):
    import numpy as np

    from kerazoo import load_data

    if name == "digits":
        return load_data("digits", seed=0, validation_split=0.0, test_split=0.0, batch_size=batch_size)
    rng = np.random.default_rng(0)  # CIFAR-shaped: only the shapes and the work matter here
    x = rng.integers(0, 256, (images, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, images)
    return load_data((x, y), validation_split=0.0, test_split=0.0, batch_size=batch_size, kind="image",
                     task="multiclass", name="synthetic32")


def images_per_second(model_name: str, data, *, augment, augment_on, epochs: int, filters,
                      seed: int | None = 0) -> tuple[float, float]:
    """Training images per second of wall time and of CPU time, over the median timed epoch."""
    import keras

    from kerazoo import build, fit

    times, cpu = [], []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            cpu.append(time.process_time() - self.cpu)

    keras.utils.set_random_seed(0)
    overrides = {"filters": filters} if filters else {}
    model = build(model_name, data.spec, **overrides)
    fit(model, data, epochs=epochs + 1, callbacks=["none", Timer()], verbose=0, seed=seed,
        augment=augment, augment_on=augment_on)
    n = len(data.arrays["train"][0])
    return n / statistics.median(times[1:]), n / statistics.median(cpu[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", nargs="+", default=["digits", "synthetic32"], choices=("digits", "synthetic32"))
    parser.add_argument("--presets", nargs="+", default=["light", "medium", "heavy"])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=2048, help="training images of synthetic32")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the best of each way is kept")
    parser.add_argument("--filters", type=int, nargs="+", help="the model's filters (default: its own)")
    args = parser.parse_args()

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    print(f"device: {device or 'CPU'} ({os.cpu_count()} CPU cores); model {args.model}, "
          f"batch {args.batch_size}, median of {args.epochs} epochs after a warm-up epoch", flush=True)
    filters = tuple(args.filters) if args.filters else None
    rows = []
    for name in args.data:
        data = make_data(name, args.images, args.batch_size)
        for preset in args.presets:
            ways = {"none": dict(augment=None, augment_on="data"), "data": dict(augment_on="data"),
                    "parallel": dict(augment_on="data", seed=None), "model": dict(augment_on="model")}
            best = {way: [0.0, 0.0] for way in ways}
            for _ in range(args.repeats):
                for way, kwargs in ways.items():
                    kwargs = {"augment": preset, **kwargs}
                    speeds = images_per_second(args.model, data, epochs=args.epochs, filters=filters, **kwargs)
                    best[way] = [max(b, s) for b, s in zip(best[way], speeds)]
            rows.append((f"{name} {'x'.join(map(str, data.spec.input_shape))}", preset, best))
            print(f"  {rows[-1][0]} {preset}: " + ", ".join(f"{w} {v[0]:,.0f} ({v[1]:,.0f} per CPU s)"
                                                           for w, v in best.items()), flush=True)
    print("\nimages/s of wall time (of CPU time); data: one batch at a time as a seeded fit maps, "
          "parallel: num_parallel_calls=AUTOTUNE")
    print(f"{'data':14s} {'preset':7s} {'none':>14s} {'data side':>14s} {'data, parallel':>14s} "
          f"{'model side':>14s} {'model/data':>10s}")
    for label, preset, best in rows:
        cells = " ".join(f"{f'{v[0]:,.0f} ({v[1]:,.0f})':>14s}" for v in best.values())
        print(f"{label:14s} {preset:7s} {cells} {best['model'][0] / best['data'][0]:10.2f}")

if __name__ == "__main__":
    main()

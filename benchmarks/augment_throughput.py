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

    python benchmarks/augment_throughput.py                       # digits and 32x32x3, light and heavy
    python benchmarks/augment_throughput.py --data synthetic32 --presets light --batch-size 256
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


WAYS = {"none": "none", "data": "data side", "parallel": "data side, parallel", "model": "model side"}


def render(saved: dict) -> str:
    """The README's table: training images per second of wall time (and of CPU time) per way."""
    r = saved["result"]
    lines = ["| data | preset | " + " | ".join(WAYS.values()) + " |", "| --- | --- |" + " ---: |" * len(WAYS)]
    for row in r["rows"]:
        cells = " | ".join(f"{row['ways'][w]['wall']:,.0f} ({row['ways'][w]['cpu']:,.0f})" for w in WAYS)
        lines.append(f"| {row['data']} | {row['preset']} | {cells} |")
    shares = {}
    for row in r["rows"]:
        shares.setdefault(row["preset"], []).append(row["ways"]["data"]["wall"] / row["ways"]["none"]["wall"])
    share = "; ".join(f"`{preset}` {min(c):.2f}" + (f" to {max(c):.2f}" if len(c) > 1 else "")
                      for preset, c in shares.items())
    lines += ["", f"Training images per second of wall time (in brackets: per second of the process's CPU time, "
              f"steadier on a shared machine), `{r['model']}`, batch {r['batch_size']}, the median of "
              f"{r['epochs']} epochs after a warm-up epoch, the best of {r['repeats']} round(s), on "
              f"{r['device']}. Data side over none, wall time: {share}. "
              f"{footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", nargs="+", default=["digits", "synthetic32"], choices=("digits", "synthetic32"))
    parser.add_argument("--presets", nargs="+", default=["light", "heavy"])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=2048, help="training images of synthetic32")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the best of each way is kept")
    parser.add_argument("--filters", type=int, nargs="+", help="the model's filters (default: its own)")
    args = options(parser).parse_args(argv)

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    device = device or f"{os.cpu_count()} CPU cores"
    print(f"device: {device}; model {args.model}, batch {args.batch_size}, median of {args.epochs} epochs after "
          f"a warm-up epoch", flush=True)
    filters = tuple(args.filters) if args.filters else None
    rows = []
    for name in args.data:
        data = make_data(name, args.images, args.batch_size)
        for preset in args.presets:
            ways = {"none": dict(augment=None, augment_on="data"), "data": dict(augment_on="data"),
                    "parallel": dict(augment_on="data", seed=None), "model": dict(augment_on="model")}
            best = {way: {"wall": 0.0, "cpu": 0.0} for way in ways}
            for _ in range(args.repeats):
                for way, kwargs in ways.items():
                    kwargs = {"augment": preset, **kwargs}
                    wall, cpu = images_per_second(args.model, data, epochs=args.epochs, filters=filters, **kwargs)
                    best[way] = {"wall": max(best[way]["wall"], wall), "cpu": max(best[way]["cpu"], cpu)}
            label = "digits" if name == "digits" else "synthetic"
            rows.append({"data": f"{label} {'x'.join(map(str, data.spec.input_shape))}", "preset": preset,
                         "ways": best})
            print(f"  {rows[-1]['data']} {preset}: " + ", ".join(
                f"{w} {v['wall']:,.0f} ({v['cpu']:,.0f} per CPU s)" for w, v in best.items()), flush=True)
    result = {"model": args.model, "batch_size": args.batch_size, "epochs": args.epochs, "repeats": args.repeats,
              "filters": filters, "images": args.images, "device": device, "rows": rows}
    publish("augment_throughput", result, args, render)


if __name__ == "__main__":
    main()

"""Training throughput (samples per second) by model, precision and XLA.

Synthetic CIFAR-10-shaped images (32x32x3, 10 classes) for cnn and resnet20, and
token sequences (128 steps, vocabulary 10,000, binary) for the transformer; each
configuration is built with `kerazoo.build(..., precision=...)`, compiled with or
without `jit_compile`, warmed up, then timed over `--steps` training steps.

On a GPU it compares float32 with mixed_float16 (and reports the fraction of the
GPU's peak: pass --peak-tflops, e.g. 989 for an H100 SXM's dense bf16/fp16, 67 for
its fp32); on CPU it compares float32 with mixed_bfloat16.

    python benchmarks/throughput.py                      # everything this machine can run
    python benchmarks/throughput.py --models resnet20 --batch-size 256 --steps 50 --peak-tflops 989
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

SHAPES = {"cnn": "32x32x3", "resnet20": "32x32x3", "transformer": "128 tokens"}


def render(saved: dict) -> str:
    """The README's table: training samples per second by model, precision and XLA."""
    r = saved["result"]
    columns = [(p, x) for p in r["precisions"] for x in (False, True)]
    lines = ["| model | " + " | ".join(p + (" + XLA" if x else "") for p, x in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    rates = {(row["model"], row["precision"], row["xla"]): row["samples_per_s"] for row in r["rows"]}
    for name in dict.fromkeys(row["model"] for row in r["rows"]):
        cells = " | ".join(f"{rates[(name, p, x)]:,.0f}" if (name, p, x) in rates else "-" for p, x in columns)
        lines.append(f"| `{name}` ({SHAPES.get(name, '?')}) | {cells} |")
    lines += ["", f"Training samples per second on {r['device']}, batch {r['batch_size']}, {r['steps']} steps timed "
              f"after 3 warm-up steps (synthetic data: CIFAR-10-shaped images, binary token sequences). "
              f"{footer(saved)}"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "resnet20", "transformer"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precisions", nargs="+", default=None)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for a fraction")
    args = options(parser).parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from kerazoo import DataSpec, build

    gpu = bool(tf.config.list_physical_devices("GPU"))
    precisions = args.precisions or ["float32", "mixed_float16" if gpu else "mixed_bfloat16"]
    device = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
        "device_name", "GPU") if gpu else f"CPU ({os.cpu_count()} cores)"
    specs = {
        "image": DataSpec((32, 32, 3), num_classes=10, kind="image", value_range=(0, 255), name="cifar10-shaped"),
        "tokens": DataSpec((128,), task="binary", kind="tokens", vocab_size=10000, name="tokens"),
    }
    rng = np.random.default_rng(0)
    n = args.batch_size * 4
    batches = {
        "image": (rng.integers(0, 256, (n, 32, 32, 3)).astype("float32"), rng.integers(0, 10, n)),
        "tokens": (rng.integers(1, 10000, (n, 128)).astype("int32"), rng.integers(0, 2, (n, 1)).astype("float32")),
    }
    print(f"device: {device}; batch {args.batch_size}; {args.steps} timed steps\n")
    print(f"{'model':12s} {'precision':15s} {'xla':5s} {'samples/s':>10s} {'TFLOP/s':>8s}"
          + ("  of peak" if args.peak_tflops else ""))
    base, rows = {}, []
    for name in args.models:
        kind = "image" if name != "transformer" else "tokens"
        x, y = batches[kind]
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).repeat().prefetch(2)
        for precision in precisions:
            for xla in (False, True):
                keras.backend.clear_session()
                model = build(name, specs[kind], precision=precision,
                              compile={"jit_compile": xla, "schedule": "constant"})
                flops = _train_flops(model, x[: args.batch_size])
                model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)  # trace, warm up
                start = time.perf_counter()
                model.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
                seconds = time.perf_counter() - start
                rate = args.steps * args.batch_size / seconds
                tflops = flops * args.steps / seconds / 1e12 if flops else float("nan")
                base.setdefault((name, xla), rate)
                speedup = rate / base[(name, xla)]
                line = f"{name:12s} {precision:15s} {str(xla):5s} {rate:10.0f} {tflops:8.2f}"
                if args.peak_tflops:
                    line += f"  {tflops / args.peak_tflops:7.1%}"
                print(line + (f"   x{speedup:.2f} vs float32" if precision != "float32" else ""), flush=True)
                rows.append({"model": name, "precision": precision, "xla": xla, "samples_per_s": rate,
                             "tflops": tflops if flops else None})
    result = {"device": device, "batch_size": args.batch_size, "steps": args.steps, "precisions": precisions,
              "peak_tflops": args.peak_tflops, "rows": rows}
    publish("throughput", result, args, render)


def _train_flops(model, x):
    """Forward FLOPs from TensorFlow's profiler, times 3 for forward + backward (None if unknown)."""
    import tensorflow as tf

    try:  # the traced graph's own shapes suffice: no freezing (a private TensorFlow module) needed
        fn = tf.function(lambda t: model(t, training=False))
        graph = fn.get_concrete_function(tf.TensorSpec(x.shape, x.dtype)).graph
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        info = tf.compat.v1.profiler.profile(graph=graph, options=opts)
        return 3 * info.total_float_ops if info.total_float_ops else None
    except Exception:
        return None


if __name__ == "__main__":
    main()

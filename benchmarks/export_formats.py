"""File size, single-example latency and batch throughput of each export format, against Keras.

Trains the zoo's cnn on digits for 15 epochs (or takes `--run RUN_DIR`), exports it with `export_model` in
every format and quantization mode, then times, on the CPU and on the same inputs (the
digits test split): one example at a time (median latency over `--single` calls) and
batches of `--batch` examples (median throughput over `--repeats` calls), for Keras
`predict`, a direct Keras call, the SavedModel's `serving_default` signature reloaded with
`tf.saved_model.load`, each TFLite file in the LiteRT interpreter, and the ONNX file in
onnxruntime when the `onnx` extra is installed. Agreement is the
top-1 agreement with Keras on the whole test split, as recorded by the export's verification.

    python benchmarks/export_formats.py
    python benchmarks/export_formats.py --run runs/cnn-... --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def _median_seconds(fn, calls: int) -> float:
    fn()  # warm up (tracing, allocation)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _train(workdir: Path) -> Path:
    import keras

    from kerazoo import build, fit, load_data

    data = load_data("digits", seed=0)
    keras.utils.set_random_seed(0)
    model = build("cnn", data.spec)
    fit(model, data, epochs=15, run_dir=workdir / "run", seed=0, verbose=0)
    return workdir / "run"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run directory (default: train the digits cnn, default settings, 15 epochs)")
    parser.add_argument("--batch", type=int, default=256, help="batch size for throughput (default 256)")
    parser.add_argument("--single", type=int, default=300, help="single-example calls timed (default 300)")
    parser.add_argument("--repeats", type=int, default=30, help="batch calls timed (default 30)")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT interpreter threads (default: its own)")
    args = options(parser).parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export import export_model
    from kerazoo.data import load_data
    from kerazoo.runs import load_run

    workdir = Path(tempfile.mkdtemp(prefix="export-bench-"))
    run_dir = Path(args.run) if args.run else _train(workdir)
    run = load_run(run_dir)
    data_cfg = dict(run.config["data"])
    source = data_cfg.pop("source")
    data = load_data(source, **{k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg.items()})
    x = data.arrays["test"][0]
    one = x[:1]
    batch = np.resize(x, (args.batch, *x.shape[1:])).astype(x.dtype)
    from export import onnx_available

    formats = ("savedmodel", "tflite", "onnx") if onnx_available() else ("savedmodel", "tflite")
    result = export_model(run_dir, workdir / "exports", formats=formats, quantize=("dynamic", "float16", "int8"))
    model = run.model

    rows = []

    def add(name, size, single_fn, batch_fn, agreement, diff):
        latency = _median_seconds(single_fn, args.single)
        per_batch = _median_seconds(batch_fn, args.repeats)
        rows.append((name, size, latency * 1e3, args.batch / per_batch, agreement, diff))

    keras_size = (run_dir / "model.keras").stat().st_size
    add("keras predict", keras_size, lambda: model.predict(one, verbose=0),
        lambda: model.predict(batch, batch_size=args.batch, verbose=0), 1.0, 0.0)
    call = tf.function(lambda t: model(t, training=False))
    add("keras call (tf.function)", keras_size, lambda: call(tf.constant(one)).numpy(),
        lambda: call(tf.constant(batch)).numpy(), 1.0, 0.0)
    serve = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    sm = result["saved_model.pb"]
    add("savedmodel", sm.bytes, lambda: serve(inputs=tf.constant(one)),
        lambda: serve(inputs=tf.constant(batch)), sm.verification.top1_agreement, sm.verification.max_abs_diff)
    for artifact in result.artifacts:
        if artifact.format != "tflite":
            continue
        path = str(result.path / artifact.file)
        single = Interpreter(model_path=path, num_threads=args.threads).get_signature_runner("serving_default")
        many = Interpreter(model_path=path, num_threads=args.threads).get_signature_runner("serving_default")
        add(f"tflite {artifact.precision}", artifact.bytes, lambda s=single: s(inputs=one),
            lambda m=many: m(inputs=batch), artifact.verification.top1_agreement,
            artifact.verification.max_abs_diff)

    if "onnx" in formats:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path / "model.onnx"), providers=["CPUExecutionProvider"])
        onnx_file = result["model.onnx"]
        add("onnx (onnxruntime)", onnx_file.bytes, lambda: session.run(None, {"inputs": one}),
            lambda: session.run(None, {"inputs": batch}), onnx_file.verification.top1_agreement,
            onnx_file.verification.max_abs_diff)

    int8, float_size = result["model_int8.tflite"], result["model.tflite"].bytes
    out = {"model": run.model_name, "overrides": run.config.get("overrides", {}),
           "parameters": int(model.count_params()), "epochs": run.metrics.get("epochs"),
           "test_accuracy": run.metrics["test"]["accuracy"], "source": source, "examples": len(x),
           "batch": args.batch, "single_calls": args.single, "batch_calls": args.repeats, "threads": args.threads,
           "int8_share": int8.bytes / float_size, "int8_examples": int8.verification.examples,
           "rows": [{"format": name, "bytes": size, "latency_ms": ms, "per_second": per_s, "agreement": agree,
                     "max_abs_diff": diff} for name, size, ms, per_s, agree, diff in rows]}
    print(f"(exports written under {workdir})")
    publish("export_formats", out, args, render)


LABELS = {"keras predict": "Keras `predict`", "keras call (tf.function)": "Keras call in a `tf.function`",
          "savedmodel": "SavedModel (`tf.saved_model.load`)", "tflite float32": "TFLite float32 (LiteRT)",
          "tflite dynamic": "TFLite dynamic", "tflite float16": "TFLite float16", "tflite int8": "TFLite int8",
          "onnx (onnxruntime)": "ONNX (onnxruntime, `onnx` extra)"}


def render(saved: dict) -> str:
    """The README's table: each format's size, latency, throughput and agreement, and what they show."""
    r = saved["result"]
    lines = ["| format | file size | single-example latency | batch throughput | top-1 agreement | max abs diff |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in r["rows"]:
        suffix = " (`.keras`)" if row["format"].startswith("keras") else ""
        lines.append(f"| {LABELS.get(row['format'], row['format'])} | {row['bytes'] / 1024:.1f} KiB{suffix} | "
                     f"{row['latency_ms']:.3f} ms | {row['per_second']:,.0f} ex/s | {100 * row['agreement']:.2f}% | "
                     f"{row['max_abs_diff']:.1e} |".replace("| 0.0e+00 |", "| 0 |"))
    by = {row["format"]: row for row in r["rows"]}
    tflite = by["tflite float32"]["latency_ms"]
    lines += ["", f"The `{r['model']}` with its defaults ({r['parameters']:,} parameters), trained {r['epochs']} "
              f"epochs on {r['source']} (test accuracy {100 * r['test_accuracy']:.2f}%), exported in every format "
              f"and timed on the CPU on the {r['examples']} test inputs: latency, the median of "
              f"{r['single_calls']} one-example calls; throughput, the median of {r['batch_calls']} calls on a batch "
              f"of {r['batch']}. The int8 file is {r['int8_share']:.1%} of the float32 TFLite file and agrees "
              f"with Keras on the top-1 class for {100 * by['tflite int8']['agreement']:.2f}% of "
              f"{r['int8_examples']} verification inputs. TFLite float32 answers one example "
              f"{by['keras call (tf.function)']['latency_ms'] / tflite:.0f} times faster than a Keras call and "
              f"{by['keras predict']['latency_ms'] / tflite:,.0f} times faster than `predict`, which pays its "
              f"per-call setup. {footer(saved)}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Fidelity of every quantized TFLite file the export writes: int8, dynamic and float16, per family and task.

Trains each model with the zoo's default settings (`--epochs auto` unless given, as
`kerazoo train NAME --data DATA` does), exports it with
`export_model(run, quantize=("dynamic", "float16", "int8"))` (the language model with
`export_lm`), and records for every file what the export's verification measured:
top-1 agreement with Keras (relative error for regression, next-token agreement for the
gpt), the held-out score beside Keras', the largest output difference, the file size
and its share of the float32 TFLite file, the single-example latency in the LiteRT
interpreter, and for int8 the recipe chosen and what the plain all-int8 file scored.
A file outside its threshold is kept (`keep_failing=True`) so that its figures are
recorded, and marked.

    python benchmarks/int8_fidelity.py                   # every case, epochs="auto"

A case is `MODEL:DATA`, or `MODEL+KEY=VALUE:DATA` for a model built with an
override (`vit+dim=192`: a wider vit, to see how the int8 share of the file
falls with size).
    python benchmarks/int8_fidelity.py --only mlp:wine --epochs 5
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer  # noqa: E402

CASES = ("mlp:breast_cancer", "mlp:wine", "mlp:iris", "mlp:diabetes", "transformer:wine", "cnn:digits",
         "resnet20:digits", "vit:digits", "vit+dim=192:digits", "gpt-nano:text:pydoc")
LM_SEQ_LEN = 64
LM_EPOCHS = 2


def _train(model_name: str, source: str, epochs, workdir: Path) -> Path:
    import keras

    from kerazoo import build, fit, load_data

    model_name, *pairs = model_name.split("+")
    overrides = {k: int(v) for k, v in (pair.split("=") for pair in pairs)}

    options = {"seq_len": LM_SEQ_LEN} if source.startswith("text:") else {}
    data = load_data(source, seed=0, **options)
    keras.utils.set_random_seed(0)
    run_dir = workdir / f"{model_name}{''.join(pairs)}-{source.replace(':', '-')}"
    fit(build(model_name, data.spec, **overrides), data, epochs=epochs, run_dir=run_dir, seed=0, verbose=0)
    return run_dir


def _row(artifact) -> dict:
    v = artifact.verification
    row = {"file": artifact.file, "precision": artifact.precision, "bytes": artifact.bytes,
           "status": v.status, "examples": v.examples, "max_abs_diff": v.max_abs_diff,
           "top1_agreement": v.top1_agreement, "relative_error": v.relative_error,
           "held_out": v.held_out, "latency_ms": v.latency_ms}
    if artifact.quantization:
        q = artifact.quantization
        row.update(recipe=q["recipe"], float_layers=q["float_layers"],
                   attempts=[{k: a.get(k) for k in ("recipe", "top1_agreement", "relative_error", "bytes",
                                                    "debugger_worst")}
                             for a in q["attempts"]])
    return row


def measure(case: str, epochs: int, workdir: Path) -> dict:
    from export import export_model
    from export.lm import export_lm
    from kerazoo.runs import load_run

    model_name, source = case.split(":", 1)
    lm = source.startswith("text:")
    budget = LM_EPOCHS if lm else epochs
    start = time.perf_counter()
    run_dir = _train(model_name, source, budget, workdir)
    train_s = time.perf_counter() - start
    run = load_run(run_dir)
    export = export_lm if lm else export_model
    result = export(run_dir, workdir / "exports" / run_dir.name, quantize=("dynamic", "float16", "int8"),
                    keep_failing=True)
    files = [_row(a) for a in result.artifacts if a.format == "tflite"]
    float_bytes = next(f["bytes"] for f in files if f["precision"] == "float32")
    for f in files:
        f["share_of_float32"] = f["bytes"] / float_bytes
    return {"case": case, "model": model_name, "data": source, "task": run.spec.task,
            "epochs": run.metrics.get("epochs", budget),
            "seq_len": LM_SEQ_LEN if lm else None, "parameters": int(run.model.count_params()),
            "train_seconds": round(train_s, 1), "keras_test_metrics": run.metrics.get("test"),
            "verification_inputs": result.metadata["verification_inputs"],
            "threshold": result.metadata["fidelity"]["threshold"], "files": files}


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _fidelity(f: dict) -> str:
    return _pct(f["relative_error"]) if f["relative_error"] is not None else _pct(f["top1_agreement"])


def _held(h: dict | None, key: str) -> str:
    if not h:
        return "-"
    return f"{h[key]:.1f}" if h["metric"] == "mae" else _pct(h[key])


def _op(worst: list | None) -> str:
    """The debugger's worst op, as "MUL normalize/truediv (12.9 steps)"."""
    if not worst:
        return "-"
    w = worst[0]
    parts = [re.sub(r"_\d+$", "", p) for p in w["tensor"].split(";")[0].split("/")[1:]] or [w["tensor"]]
    return f"{w['op']} `{'/'.join(parts)}` ({w['steps']:.1f} steps)"


def render(saved: dict) -> str:
    """The README's tables: int8 per model (before and after), the recipes tried, then dynamic and float16."""
    result = saved["result"]
    cases = result["cases"]
    int8 = {c["case"]: next(f for f in c["files"] if f["precision"] == "int8") for c in cases}
    lines = ["| model, data (epochs) | parameters | plain int8 | exported int8 | held-out: int8 / Keras "
             "| max abs diff | int8 size (of float32) | bytes per parameter | latency | kept in float |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in cases:
        f = int8[c["case"]]
        metric = (f["held_out"] or {}).get("metric", "")
        kept = "nothing" if not f["float_layers"] else f["recipe"].lstrip("+ ").replace(" in float", "")
        if f["status"] != "ok":
            kept += f" ({f['status']})"
        lines.append(f"| {c['model']}, {c['data']} ({c['epochs']}) | {c['parameters']:,} | "
                     f"{_fidelity(f['attempts'][0])} | {_fidelity(f)} | "
                     f"{_held(f['held_out'], 'value')} / {_held(f['held_out'], 'keras')} {metric} | "
                     f"{f['max_abs_diff']:.2g} | {f['bytes'] / 1024:.0f} KiB ({_pct(f['share_of_float32'])}) | "
                     f"{f['bytes'] / c['parameters']:.2f} | {f['latency_ms']:.3f} ms | {kept} |")
    large = [c for c in cases if int8[c["case"]]["share_of_float32"] > 0.35]
    if large:
        small = [c for c in cases if c not in large]
        per = [int8[c["case"]]["bytes"] / c["parameters"] for c in small]
        lines += ["", "Over 35% of the float32 file: " + ", ".join(
            f"{c['model']} on {c['data']} ({_pct(int8[c['case']]['share_of_float32'])}, "
            f"{int8[c['case']]['bytes'] / c['parameters']:.2f} bytes per parameter)" for c in large)
            + (f", against {min(per):.2f}-{max(per):.2f} bytes per parameter for the others" if per else "")
            + ". A TFLite file's fixed part (its graph of ops and tensors, their names, and the per-channel "
              "int8 scales and zero points) does not shrink with the weights; in these small transformers it "
              "is a large share of the file."
            + "".join(f" The same vit three times wider ({c['parameters']:,} parameters) is "
                      f"{_pct(int8[c['case']]['share_of_float32'])} of its float32 file."
                      for c in cases if c["case"].startswith("vit+"))]
    lines += ["", "| model, data | recipes tried (agreement or relative error) | the debugger's worst op in the "
              "plain int8 file (run when it falls short) |", "| --- | --- | --- |"]
    for c in cases:
        f = int8[c["case"]]
        tried = " → ".join(f"{a['recipe'].lstrip('+ ')} {_fidelity(a)}" for a in f["attempts"])
        lines.append(f"| {c['model']}, {c['data']} | {tried} | {_op(f['attempts'][0].get('debugger_worst'))} |")
    lines += ["", "| model, data | dynamic: agreement, size, max abs diff | float16: agreement, size, max abs diff "
              "| float32 TFLite size |", "| --- | ---: | ---: | ---: |"]
    for c in cases:
        by = {f["precision"]: f for f in c["files"]}
        cell = [f"{_fidelity(by[p])}, {_pct(by[p]['share_of_float32'])}, {by[p]['max_abs_diff']:.2g}"
                + ("" if by[p]["status"] == "ok" else f" ({by[p]['status']})") for p in ("dynamic", "float16")]
        lines.append(f"| {c['model']}, {c['data']} | {cell[0]} | {cell[1]} | {by['float32']['bytes'] / 1024:.0f} KiB |")
    machine = saved.get("machine", {})
    lines += ["", f"Agreement (relative error for diabetes, next-token agreement for the gpt) is with the Keras "
              f"model on the run's test split topped up to 300 examples from the validation and training "
              f"splits (the gpt: 64 test windows of {result['lm_seq_len']} tokens); held-out scores are on the "
              f"test split alone (accuracy; MAE for diabetes; next-token accuracy for the gpt). The debugger's "
              f"error is in int8 steps of the op's output (rounding alone: 0.29); \"-\": the plain file passed "
              f"and the debugger did not run, or no op erred by more than twice the rounding. Budget: "
              f"`--epochs {result['epochs']}` with default settings (the gpt-nano: {result['lm_epochs']} epochs, "
              f"`--seq-len {result['lm_seq_len']}`). Latency: median of one-example calls in the LiteRT "
              f"interpreter, on {machine.get('cpus', '?')} shared CPU cores under other jobs' load. "
              f"Command: `{saved['command']}` ({saved['date']})."]
    return "\n".join(lines)


def render_formats(saved: dict, case: str = "cnn:digits") -> str:
    """The export section's table of quantize modes, with the digits cnn's file sizes."""
    c = next(c for c in saved["result"]["cases"] if c["case"] == case)
    by = {f["precision"]: f for f in c["files"]}
    modes = [("none (`model.tflite`)", "float32", "float32", "float32", "tolerance 1e-4"),
             ("`dynamic`", "dynamic", "int8", "float32", "the fidelity threshold"),
             ("`float16`", "float16", "float16", "float32", "the fidelity threshold"),
             ("`int8`", "int8", "int8", "int8 (`int8_io` / `--int8-io`: inputs and outputs too), parts in float "
              "when needed", "the fidelity threshold")]
    lines = [f"| `quantize` | weights | activations | held to | {c['model']} on {c['data']}: file size |",
             "| --- | --- | --- | --- | ---: |"]
    for label, precision, weights, activations, held in modes:
        f = by[precision]
        share = "" if precision == "float32" else f" ({f['share_of_float32']:.1%})"
        lines.append(f"| {label} | {weights} | {activations} | {held} | {f['bytes'] / 1024:.0f} KiB{share} |")
    lines += ["", f"File sizes of the `{c['model']}` with its defaults ({c['parameters']:,} parameters), trained "
              f"on {c['data']} with `--epochs {c['epochs']}`. {footer(saved)}"]
    return "\n".join(lines)


def render_float32(saved: dict) -> str:
    """One line: how far each float32 TFLite file was from Keras, per model and data."""
    cases = saved["result"]["cases"]
    diffs = [(c, next(f for f in c["files"] if f["precision"] == "float32")) for c in cases]
    return ("Measured, the largest difference of a float32 TFLite file from Keras over its verification inputs: "
            + ", ".join(f"{c['model']} on {c['data']} {f['max_abs_diff']:.1e}" for c, f in diffs)
            + f" (a regression model's outputs are raw target values: its difference grows with them). "
              f"{footer(saved)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="auto", type=lambda v: v if v == "auto" else int(v),
                        help="training epochs per model, or auto (default auto: the defaults' own budget)")
    parser.add_argument("--only", help="comma-separated cases (default all): " + ", ".join(CASES))
    parser.add_argument("--no-save", action="store_true", help="print, do not write benchmarks/results/")
    args = parser.parse_args()
    cases = args.only.split(",") if args.only else list(CASES)
    for case in cases:
        if case not in CASES:
            parser.error(f"--only: unknown case {case!r}; expected some of {', '.join(CASES)}")
    workdir = Path(tempfile.mkdtemp(prefix="int8-fidelity-"))
    measured = []
    for case in cases:
        measured.append(measure(case, args.epochs, workdir))
        f = next(f for f in measured[-1]["files"] if f["precision"] == "int8")
        print(f"{case}: int8 {_fidelity(f)} ({f['recipe']}), {f['status']}", flush=True)
    result = {"epochs": args.epochs, "lm_epochs": LM_EPOCHS, "lm_seq_len": LM_SEQ_LEN, "cases": measured}
    if args.no_save:
        print(render({"result": result, "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d")}))
        return
    from results import save

    save("int8_fidelity", result)


if __name__ == "__main__":
    main()

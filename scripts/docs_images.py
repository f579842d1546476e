"""Draw the documentation's pictures (docs/images/*.png) from real runs and saved results.

    python scripts/docs_images.py                    # train what is missing, draw every picture
    python scripts/docs_images.py --only tuning      # one group: digits, lm, tuning, export
    python scripts/docs_images.py --work DIR         # keep the runs in DIR (default runs/docs-images)
    python scripts/docs_images.py --redraw           # redraw from the saved numbers, no runs

The numbers behind lm-compressors.png and tuning-trials.png are saved beside them
(docs/images/NAME.json) and the export picture is drawn from a benchmark's saved result,
so tests/test_docs.py redraws those three and fails when a committed PNG differs.

Each run is made with the command a user would type, on the bundled data, and reused when
it is already complete in the work folder (an unfinished one is resumed):

| picture | made from |
| --- | --- |
| training-curves.png, confusion-matrix.png, misclassified.png | `kerazoo train cnn --data digits --seed 0 --out WORK/cnn-digits`, then `kerazoo evaluate WORK/cnn-digits`: the plots it writes into the run's `report/` |
| lm-compressors.png (+ .json) | `kerazoo train gpt --data text:pydoc --out WORK/gpt-pydoc`, scored by `kerazoo.lm.text_metrics` on the held-out block, beside the compressors of `benchmarks/lm_compressors.py` on the same block; and the run's `history.csv` |
| tuning-trials.png (+ .json) | `kerazoo tune examples/tuning/digits_cnn.yaml --out WORK/tune-digits-cnn`: its `trials.json` and `winner.json` |
| export-size-latency.png | `benchmarks/results/int8_fidelity.json` (`python benchmarks/int8_fidelity.py`) |
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
GROUPS = ("digits", "lm", "tuning", "export")


def kerazoo(*args: str) -> None:
    """Run a `kerazoo` command as a user would, failing loudly."""
    command = [sys.executable, "-m", "kerazoo", *args]
    print("+ kerazoo " + " ".join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def complete(run: Path) -> bool:
    manifest = run / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("status") == "complete"


def train(run: Path, *args: str) -> Path:
    """The run directory of `kerazoo train ARGS --out RUN`, trained, resumed or reused."""
    if complete(run):
        print(f"reusing {run}")
    elif run.exists():
        kerazoo("train", "--resume", "--out", str(run), "--verbose", "2")
    else:
        kerazoo("train", *args, "--out", str(run), "--verbose", "2")
    return run


def _figure(width: float, height: float, panels: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig, fig.subplots(1, panels, squeeze=False)[0]


def _save(fig, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMAGES / name, format="png", metadata={"Software": None})
    print(f"wrote docs/images/{name}")


def digits_pictures(work: Path) -> None:
    """Training curves, confusion matrix and misclassified digits: what `kerazoo evaluate` draws."""
    run = train(work / "cnn-digits", "cnn", "--data", "digits", "--seed", "0")
    report = run / "report"
    if not (report / "confusion_matrix.png").exists():
        kerazoo("evaluate", str(run))
    IMAGES.mkdir(parents=True, exist_ok=True)
    for source, name in (("history.png", "training-curves.png"), ("confusion_matrix.png", "confusion-matrix.png"),
                         ("misclassified.png", "misclassified.png")):
        shutil.copyfile(report / source, IMAGES / name)
        print(f"wrote docs/images/{name} (from {(report / source).relative_to(ROOT)})")


def _compressors():
    path = ROOT / "benchmarks" / "lm_compressors.py"
    spec = importlib.util.spec_from_file_location("_lm_compressors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lm_numbers(work: Path) -> dict:
    """The default gpt's held-out bits per character beside xz, bzip2 and zlib, and its learning curve."""
    from kerazoo import load_data, load_run
    from kerazoo.lm import text_metrics
    from kerazoo.lm.data import read_text
    from kerazoo.runs import read_history

    run = train(work / "gpt-pydoc", "gpt", "--data", "text:pydoc")
    config = json.loads((run / "config.json").read_text())
    options = {k: v for k, v in config["data"].items() if k != "source"}
    data = load_data(config["data"]["source"], **{**options, "tokenizer": str(run)})
    start, end = data.text["chars"]["test"]
    text, _ = read_text(config["data"]["source"])
    prefix, block = text[:start].encode("utf-8"), text[start:end].encode("utf-8")
    compressors = _compressors()
    bars = {label: compressors.conditional_bits(fn, prefix, block) / (end - start)
            for label, fn in compressors.COMPRESSORS.items()}
    bars[f"kerazoo train gpt\n({config['model']}, every default)"] = text_metrics(
        load_run(run).model, data, "test")["bits_per_char"]
    history = read_history(run / "history.csv")
    return {"command": "kerazoo train gpt --data text:pydoc", "test_chars": end - start, "bits_per_char": bars,
            "history": {k: [float(v) for v in history[k]] for k in ("bits_per_byte", "val_bits_per_byte")}}


def lm_picture(saved: dict) -> None:
    """Draw lm-compressors.png from `lm_numbers`' saved result."""
    bars, history = saved["bits_per_char"], saved["history"]
    for label, value in bars.items():
        print(f"{label.splitlines()[0]}: {value:.3f} bits per character")
    fig, (left, right) = _figure(10.0, 3.8, 2)
    order = sorted(bars, key=bars.get)
    colors = ["tab:orange" if label.startswith("kerazoo") else "tab:gray" for label in order]
    left.barh(order, [bars[k] for k in order], color=colors)
    for i, label in enumerate(order):
        left.text(bars[label] + 0.02, i, f"{bars[label]:.3f}", va="center", fontsize=9)
    left.invert_yaxis()
    left.set_xlabel("held-out bits per character (lower is better)")
    left.set_xlim(0, max(bars.values()) * 1.18)
    left.set_title(f"the last 10% of text:pydoc ({saved['test_chars']:,} characters)")
    epochs = range(1, len(history["bits_per_byte"]) + 1)
    right.plot(epochs, history["bits_per_byte"], marker="o", markersize=3, label="training")
    right.plot(epochs, history["val_bits_per_byte"], marker="o", markersize=3, label="validation")
    right.set_xlabel("epoch")
    right.set_ylabel("bits per byte")
    right.set_title("the gpt's learning curve")
    right.grid(alpha=0.3)
    right.legend()
    _save(fig, "lm-compressors.png")


def tuning_numbers(work: Path) -> dict:
    """The example job's trials (score, learning rate, dropout) in the order they ran, and the winner's test score."""
    out = work / "tune-digits-cnn"
    kerazoo("tune", "examples/tuning/digits_cnn.yaml", "--out", str(out), "--verbose", "0")  # a finished job repeats nothing
    trials = json.loads((out / "trials.json").read_text())["trials"]
    winner = json.loads((out / "winner.json").read_text())
    trials = sorted((t for t in trials if t.get("score") is not None), key=lambda t: int(t["trial_id"]))
    return {"command": "kerazoo tune examples/tuning/digits_cnn.yaml",
            "trials": [{"trial_id": t["trial_id"], "score": t["score"],
                        "learning_rate": t["hyperparameters"]["learning_rate"],
                        "dropout": t["hyperparameters"]["dropout"]} for t in trials],
            "winner_test_accuracy": winner.get("metrics", {}).get("test", {}).get("accuracy")}


def tuning_picture(saved: dict) -> None:
    """Draw tuning-trials.png from `tuning_numbers`' saved result."""
    from matplotlib.ticker import NullFormatter

    trials = saved["trials"]
    scores = [t["score"] for t in trials]
    best = [max(scores[: i + 1]) for i in range(len(scores))]
    numbers = range(1, len(scores) + 1)
    fig, (left, right) = _figure(10.0, 3.8, 2)
    left.plot(numbers, scores, "o", label="trial: best val_accuracy")
    left.step(numbers, best, where="post", label="best so far")
    test = saved["winner_test_accuracy"]
    if test is not None:
        left.axhline(test, color="tab:green", linestyle="--", label=f"winner retrained: test accuracy {test:.3f}")
    left.set_xlabel("trial, in the order run")
    left.set_ylabel("val_accuracy")
    left.set_title(f"{len(scores)} Bayesian trials of the cnn on the digits")
    left.grid(alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    points = right.scatter([t["learning_rate"] for t in trials], scores, c=[t["dropout"] for t in trials],
                           cmap="viridis")
    fig.colorbar(points, ax=right, label="dropout")
    right.set_xscale("log")
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("learning_rate (log scale)")
    right.set_ylabel("val_accuracy")
    right.set_title("what the search tried")
    right.grid(alpha=0.3)
    _save(fig, "tuning-trials.png")


def save_numbers(name: str, numbers: dict) -> dict:
    """Keep what a picture is drawn from beside it (docs/images/NAME.json), so it can be redrawn without the runs."""
    from kerazoo.io import write_json

    write_json(IMAGES / f"{name}.json", numbers)
    print(f"wrote docs/images/{name}.json")
    return numbers


def saved_numbers(name: str) -> dict:
    return json.loads((IMAGES / f"{name}.json").read_text())


def export_picture() -> None:
    """File size and single-example latency of every TFLite precision, from the int8 benchmark's saved result."""
    saved = json.loads((ROOT / "benchmarks" / "results" / "int8_fidelity.json").read_text())
    cases = saved["result"]["cases"]
    precisions = ["float32", "dynamic", "float16", "int8"]
    labels = [f"{c['model']}, {c['data']}" for c in cases]
    fig, (left, right) = _figure(12.0, 5.0, 2)
    width = 0.2
    for j, precision in enumerate(precisions):
        files = [next((f for f in c["files"] if f["precision"] == precision), None) for c in cases]
        xs = [i + (j - 1.5) * width for i in range(len(cases))]
        left.bar(xs, [f["bytes"] / 1024 if f else 0 for f in files], width, label=precision)
        right.bar(xs, [f["latency_ms"] if f and f.get("latency_ms") else 0 for f in files], width, label=precision)
    for ax, title, unit in ((left, "file size", "KiB (log scale)"), (right, "single-example latency", "ms (log scale)")):
        ax.set_xticks(range(len(cases)), labels, fontsize=8, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yscale("log")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle(f"TFLite files of each model, by precision ({saved['command']}, {saved['date']}; "
                 f"latency on {saved['machine'].get('cpus', '?')} shared CPU cores)", fontsize=9)
    _save(fig, "export-size-latency.png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=GROUPS, help="draw only this group (repeatable)")
    parser.add_argument("--work", default="runs/docs-images", help="where the runs are kept (default runs/docs-images)")
    parser.add_argument("--redraw", action="store_true",
                        help="draw lm and tuning from their saved docs/images/*.json, without the runs")
    args = parser.parse_args(argv)
    work = (ROOT / args.work).resolve()
    groups = args.only or GROUPS
    if "export" in groups:
        export_picture()
    if "digits" in groups and not args.redraw:
        digits_pictures(work)
    if "tuning" in groups:
        tuning_picture(saved_numbers("tuning-trials") if args.redraw
                       else save_numbers("tuning-trials", tuning_numbers(work)))
    if "lm" in groups:
        lm_picture(saved_numbers("lm-compressors") if args.redraw
                   else save_numbers("lm-compressors", lm_numbers(work)))

if __name__ == "__main__":
    main()

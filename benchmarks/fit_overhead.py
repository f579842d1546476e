"""Wall time of `kerazoo.fit` against the same training written by hand with `model.fit`, with and without files.

Four sides train the same model (same builder, compile settings and fresh weights
from the same seed) on the same tf.data pipelines for the same epochs, then
evaluate on validation and test:

- `kerazoo.fit`: `fit(model, data, epochs=E)`, no run directory;
- `keras`: `model.compile` + `model.fit` with the callbacks `fit` uses (early
  stopping that does not trigger, TerminateOnNaN) + two `evaluate` calls;
- `kerazoo.fit, run_dir`: `fit(..., run_dir=...)`, what `kerazoo train` pays: the
  CSV history, TensorBoard logs, the checkpoint (weights and optimizer state, to
  resume; every epoch, unless saving would take over a tenth of the training
  time, `kerazoo.resume.backup_due`), the final `model.keras`, `config.json`,
  `metrics.json` and the manifest of file hashes;
- `keras, files`: the hand-written side with the callbacks a careful user writes
  for the same files: `CSVLogger`, `TensorBoard` (the zoo's settings: no graph,
  no profiling), `BackupAndRestore` (per epoch), then `model.save` and the two
  JSON files. `--model-checkpoint` adds a fifth side, the same with
  `ModelCheckpoint(save_best_only=True)` too (a file the zoo does not write, so
  it is not the headline ratio).

The sides run in turn, `--repeats` times (a fresh run directory each time),
after one warm-up round; each side's best (shortest) time is compared. The
ratios are the zoo's overhead (goal: at most 1.05 each).

    python benchmarks/fit_overhead.py                        # cnn on digits, 10 epochs, 7 repeats
    python benchmarks/fit_overhead.py --epochs 3 --repeats 1 --no-save      # a quick check
    python benchmarks/fit_overhead.py --model mlp --data breast_cancer --epochs 20 --no-save
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

RATIOS = {"without a run directory": ("kerazoo.fit", "keras"),
          "with a run directory": ("kerazoo.fit, run_dir", "keras, files")}


def sides(model_name: str, data, epochs: int, workdir: Path, *, model_checkpoint: bool = False) -> dict:
    """name -> a function that trains once (in `run_dir`, a fresh folder) and returns its wall and CPU seconds."""
    import keras

    from kerazoo import build, fit
    from kerazoo.compiling import default_loss_and_metrics

    patience = epochs + 1  # early stopping present on both sides, never triggered

    def zoo(run_dir, files):
        keras.utils.set_random_seed(0)
        model = build(model_name, data.spec)
        start, cpu = time.perf_counter(), time.process_time()
        fit(model, data, epochs=epochs, patience=patience, verbose=0, run_dir=run_dir if files else None)
        return time.perf_counter() - start, time.process_time() - cpu

    def by_hand(run_dir, files, best=False):
        keras.utils.set_random_seed(0)
        model = build(model_name, data.spec, compile=False)  # same architecture and weights
        start, cpu = time.perf_counter(), time.process_time()
        loss, metrics = default_loss_and_metrics(data.spec.task)  # same loss and metrics
        steps = int(data.train.cardinality()) * epochs
        model.compile(optimizer=keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(1e-3, steps), weight_decay=1e-4),
            loss=loss, metrics=metrics)
        callbacks = [keras.callbacks.TerminateOnNaN(),
                     keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
        if files:
            run_dir.mkdir(parents=True)
            (run_dir / "config.json").write_text(json.dumps({"model": model_name, "epochs": epochs}))
            callbacks += [keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
                          keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
                          keras.callbacks.BackupAndRestore(str(run_dir / "checkpoint"))]
            if best:
                callbacks.append(keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_loss",
                                                                 save_best_only=True))
        model.fit(data.train, validation_data=data.validation, epochs=epochs, callbacks=callbacks, verbose=0)
        scores = {split: model.evaluate(getattr(data, split), verbose=0, return_dict=True)
                  for split in ("validation", "test")}
        if files:
            (run_dir / "metrics.json").write_text(json.dumps(scores, default=float))
            model.save(run_dir / "model.keras")
        return time.perf_counter() - start, time.process_time() - cpu

    out = {"kerazoo.fit": lambda d: zoo(d, False), "keras": lambda d: by_hand(d, False),
           "kerazoo.fit, run_dir": lambda d: zoo(d, True), "keras, files": lambda d: by_hand(d, True)}
    if model_checkpoint:
        out["keras, files + ModelCheckpoint"] = lambda d: by_hand(d, True, best=True)
    return out


def measure(model_name: str, data_name: str, epochs: int, repeats: int, *, model_checkpoint: bool = False) -> dict:
    from kerazoo import load_data

    data = load_data(data_name, seed=0)
    workdir = Path(tempfile.mkdtemp(prefix="fit-overhead-"))
    runs = sides(model_name, data, epochs, workdir, model_checkpoint=model_checkpoint)
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for round_ in range(repeats + 1):  # round 0 warms up: first traces, caches
            for i, (name, run) in enumerate(runs.items()):
                run_dir = workdir / f"{round_}-{i}"
                seconds, cpu_seconds = run(run_dir)
                shutil.rmtree(run_dir, ignore_errors=True)
                if round_:
                    times[name].append(round(seconds, 3))
                    cpu[name].append(round(cpu_seconds, 3))
            if round_:
                print(f"round {round_}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pairs = dict(RATIOS)
    if model_checkpoint:
        pairs["with a run directory, keras + ModelCheckpoint"] = ("kerazoo.fit, run_dir",
                                                                  "keras, files + ModelCheckpoint")
    best = {name: min(values) for name, values in times.items()}
    best_cpu = {name: min(values) for name, values in cpu.items()}
    return {"model": model_name, "data": data_name, "epochs": epochs, "repeats": repeats,
            "seconds": times, "cpu_seconds": cpu, "best": best, "best_cpu": best_cpu,
            "ratios": {label: round(best[z] / best[k], 3) for label, (z, k) in pairs.items()},
            "cpu_ratios": {label: round(best_cpu[z] / best_cpu[k], 3) for label, (z, k) in pairs.items()}}


def render(saved: dict) -> str:
    """The README's overhead table: each side's best time, and the ratios."""
    r = saved["result"]
    lines = [f"| side | wall s, best of {r['repeats']} | all repeats | CPU s, best |", "| --- | ---: | --- | ---: |"]
    for name, values in r["seconds"].items():
        lines.append(f"| {name} | {r['best'][name]:.2f} | {', '.join(f'{v:.2f}' for v in values)} | "
                     f"{r['best_cpu'][name]:.2f} |")
    lines += ["", "| kerazoo / keras (goal: at most 1.05) | wall time | CPU time |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | **{ratio:.3f}** | {r['cpu_ratios'][label]:.3f} |" for label, ratio in r["ratios"].items()]
    lines += ["", f"`{r['model']}` on {r['data']}, {r['epochs']} epochs; each side's best of {r['repeats']} "
              f"alternating repeats after a warm-up round. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model-checkpoint", action="store_true",
                        help="add the hand-written side with ModelCheckpoint(save_best_only=True) too")
    args = options(parser).parse_args(argv)
    result = measure(args.model, args.data, args.epochs, args.repeats, model_checkpoint=args.model_checkpoint)
    publish("fit_overhead", result, args, render)


if __name__ == "__main__":
    main()

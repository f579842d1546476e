"""Wall time of a kerazoo search against the same search written directly with KerasTuner.

Both sides run `RandomSearch` with the same oracle seed over the same
hyperparameters (same names, ranges, order and defaults), so the oracle proposes
the same values trial by trial; both build the same architecture (the zoo's
builder) with the same weights, compile the same optimizer (AdamW with cosine
decay over the trial), loss and metrics, train on the same `tf.data` pipelines
re-batched to each trial's batch size, and let KerasTuner add its own callbacks
(best-epoch checkpoint). The direct side is what a user writes by hand: a
`kt.HyperModel` whose `fit` calls `model.fit`. The ratio of medians is the zoo's
overhead (goal: within 10%). Each side runs `--repeats` times, alternating.

    python benchmarks/tuning_overhead.py
    python benchmarks/tuning_overhead.py --model mlp --data digits --trials 8 --epochs 3 --repeats 3
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

SPACE = {"depth": [1, 2], "width": [32, 64, 128], "batch_norm": [False, True], "dropout": 0.1, "l2": 0.0,
         "learning_rate": {"type": "float", "min_value": 1e-4, "max_value": 1e-2, "sampling": "log"},
         "weight_decay": [0.0, 1e-4], "batch_size": [32, 64], "augment": None}  # digits are images: no augment


def _rounded(values: dict) -> dict:
    return {k: round(v, 9) if isinstance(v, float) else v for k, v in values.items()}


def collection_seconds(repeats: int = 3) -> dict:
    """A full garbage collection's time in this process (TensorFlow imported), before and after `gc.freeze()`."""
    def timed():
        start = time.perf_counter()
        gc.collect()
        return time.perf_counter() - start

    objects = len(gc.get_objects())
    full = statistics.median(timed() for _ in range(repeats))
    gc.freeze()
    try:
        frozen = statistics.median(timed() for _ in range(repeats))
    finally:
        gc.unfreeze()
    return {"objects": objects, "full_s": round(full, 3), "frozen_s": round(frozen, 3)}


def render(saved: dict) -> str:
    """The README's overhead figures: both searches' times, the ratio, and a garbage collection's cost."""
    r = saved["result"]
    names = list(r["wall"])
    lines = ["| search | wall s, median | all repeats | CPU s, median |", "| --- | ---: | --- | ---: |"]
    for name in names:
        lines.append(f"| {name} | {statistics.median(r['wall'][name]):.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in r['wall'][name])} | {statistics.median(r['cpu'][name]):.1f} |")
    g = r["gc"]
    lines += ["", f"**Ratio kerazoo / KerasTuner: {r['ratio']:.2f}** of wall time ({r['cpu_ratio']:.2f} of CPU "
              f"time); the same trials on both sides: {'yes' if r['same_trials'] else 'NO'}. `{r['model']}` on "
              f"{r['data']}, {r['trials']} random-search trials of {r['epochs']} epochs, {r['repeats']} alternating "
              f"repeats after a warm-up. A full garbage collection in this process (TensorFlow imported, "
              f"{g['objects']:,} objects tracked) took {g['full_s']:.2f} s, and {g['frozen_s']:.2f} s after "
              f"`gc.freeze()`. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tensorboard", action="store_true", help="TensorBoard hparams logs on both sides")
    args = options(parser).parse_args(argv)

    import keras
    import keras_tuner as kt

    from kerazoo import build, load_data
    from kerazoo.compiling import default_loss_and_metrics
    from kerazoo.data import make_pipeline
    from tuning import search

    data = load_data(args.data, seed=0)
    x, y = data.arrays["train"]

    class Direct(kt.HyperModel):
        """The same search by hand: the declarations `tuning` derives, written out."""

        def declare(self, hp):
            return dict(
                depth=hp.Choice("depth", [1, 2], default=2), width=hp.Choice("width", [32, 64, 128]),
                dropout=hp.Fixed("dropout", 0.1), batch_norm=hp.Choice("batch_norm", [False, True], default=True),
                l2=hp.Fixed("l2", 0.0),
                learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),
                weight_decay=hp.Choice("weight_decay", [0.0, 1e-4], default=1e-4),
                batch_size=hp.Choice("batch_size", [32, 64], default=32))

        def build(self, hp):
            v = self.declare(hp)
            keras.utils.set_random_seed(0)
            model = build(args.model, data.spec, compile=False, depth=v["depth"], width=v["width"],
                          dropout=v["dropout"], batch_norm=bool(v["batch_norm"]), l2=v["l2"])
            steps = -(-len(x) // v["batch_size"]) * args.epochs
            loss, metrics = default_loss_and_metrics(data.spec.task)
            model.compile(optimizer=keras.optimizers.AdamW(
                keras.optimizers.schedules.CosineDecay(v["learning_rate"], steps), weight_decay=v["weight_decay"]),
                loss=loss, metrics=metrics)
            return model

        def fit(self, hp, model, *a, **kwargs):
            keras.utils.set_random_seed(0)
            train = make_pipeline(x, y, batch_size=hp.get("batch_size"), shuffle=True, seed=0,
                                  dtype=data.spec.input_dtype)
            return model.fit(train, validation_data=data.validation, epochs=args.epochs,
                             callbacks=[keras.callbacks.TerminateOnNaN(), *kwargs["callbacks"]], verbose=0)

    def board(directory):
        return [keras.callbacks.TensorBoard(os.path.join(directory, "tensorboard"), write_graph=False,
                                            profile_batch=0)] if args.tensorboard else []

    def zoo():
        directory = tempfile.mkdtemp(prefix="zoo-")
        start, cpu = time.perf_counter(), time.process_time()
        result = search(args.model, data, tuner="random", max_trials=args.trials, epochs=args.epochs, space=SPACE,
                        directory=directory, seed=0, tensorboard=args.tensorboard, log=None)
        return time.perf_counter() - start, time.process_time() - cpu, [r["hyperparameters"] for r in result.trials]

    def direct():
        directory = tempfile.mkdtemp(prefix="kt-")
        start, cpu = time.perf_counter(), time.process_time()
        tuner = kt.RandomSearch(Direct(), objective=kt.Objective("val_loss", "min"), max_trials=args.trials,
                                seed=1, directory=directory, project_name="search")  # the zoo's seed 0 -> 1
        tuner.search(callbacks=board(directory), verbose=0)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        trials = [tuner.oracle.trials[t].hyperparameters.values for t in sorted(tuner.oracle.trials)]
        return seconds, cpu, trials

    zoo(), direct()  # warm up: imports, first traces
    collections = collection_seconds()
    names = ("kerazoo search", "KerasTuner by hand")
    wall: dict[str, list] = {n: [] for n in names}
    cpu: dict[str, list] = {n: [] for n in names}
    same = True
    for _ in range(args.repeats):
        trials = {}
        for name, run in zip(names, (zoo, direct)):
            w, c, trials[name] = run()
            wall[name].append(w)
            cpu[name].append(c)
        same &= [_rounded(z) for z in trials[names[0]]] == [_rounded(d) for d in trials[names[1]]]
    ratio = statistics.median(wall[names[0]]) / statistics.median(wall[names[1]])
    cpu_ratio = statistics.median(cpu[names[0]]) / statistics.median(cpu[names[1]])
    result = {"model": args.model, "data": args.data, "trials": args.trials, "epochs": args.epochs,
              "repeats": args.repeats, "tensorboard": args.tensorboard, "same_trials": bool(same),
              "wall": {n: [round(v, 2) for v in wall[n]] for n in names},
              "cpu": {n: [round(v, 2) for v in cpu[n]] for n in names},
              "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3), "gc": collections}
    publish("tuning_overhead", result, args, render)


if __name__ == "__main__":
    main()

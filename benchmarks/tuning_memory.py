"""Memory and wall time across a 40-trial search, the whole process tree: the default (recycled workers) vs in-process.

In-process (`isolate_trials=False`), KerasTuner clears the Keras session before each
trial; memory still grows trial by trial (keras-tuner issues #395, #873, #1031). By
default the trials run in recycled worker processes (`tuning.workers`): a worker runs
`trials_per_worker` trials, then a fresh one replaces it, so memory stays bounded and a
TensorFlow import and a data load are paid once a worker. A third search mode,
`subprocess`, is a fresh process per trial (`trials_per_worker=1`).
The model's architecture is fixed (only training settings and regularization vary),
so any growth is leakage, not bigger models.

Each mode runs in a fresh process, watched from this one (which imports no
TensorFlow): every `--interval` seconds it adds up the resident memory (RSS) of
that process and all its descendants (the trial processes), and the anonymous
part of it (RssAnon: the heap, where a leak lives, without the shared libraries
that each process maps and RSS counts once per process). Per trial, the tree's
peak between the end of the previous trial and the end of this one; then the
growth of that peak from trial 3 to the last (goal: under 20%).

A third mode, `keras-loop`, is the leak without the zoo's training code or
KerasTuner: the search's `cnn` built, then plain Keras: `compile`, 40
`train_on_batch` steps, `keras.backend.clear_session()` and `gc.collect()`,
`--trials` times; it reports the process's RSS after each model and the growth
per model (a least-squares slope from model 3 on).

    python benchmarks/tuning_memory.py                      # workers and in-process, 40 trials each (Linux: /proc)
    python benchmarks/tuning_memory.py --quick              # 12 trials, a worker replaced every 5
    python benchmarks/tuning_memory.py --modes workers subprocess inprocess keras-loop --trials 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402

from tuning.workers import DEFAULT_TRIALS_PER_WORKER  # noqa: E402 (no TensorFlow: this process only watches)

MODES = ("workers", "inprocess", "subprocess", "keras-loop")
SPACE = {"filters": [32, 64, 128], "dense_units": 64, "batch_size": 32,
         "dropout": {"type": "float", "min_value": 0.0, "max_value": 0.5},
         "l2": [0.0, 1e-5, 1e-4], "pooling": ["avg", "max"]}


def _status_kb(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_memory(root: int) -> tuple[int, int, int]:
    """(sum of RSS, sum of RssAnon, processes) over `root`'s tree, in KiB; processes gone meanwhile are skipped."""
    rss = anon = n = 0
    for pid in tree(root):
        try:
            r, a = _status_kb(pid, "VmRSS"), _status_kb(pid, "RssAnon")
        except (OSError, StopIteration):
            continue
        rss, anon, n = rss + r, anon + a, n + 1
    return rss, anon, n


def watch(command: list[str], interval: float) -> list[tuple[float, int, int, int]]:
    """Run `command`, sampling its process tree's memory until it exits: (time, rss_kb, anon_kb, processes)."""
    proc = subprocess.Popen(command)
    samples = []
    while proc.poll() is None:
        samples.append((time.time(), *tree_memory(proc.pid)))
        time.sleep(interval)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} exited with {proc.returncode}")
    return samples


def run_search(mode: str, trials: int, epochs: int, model: str, data_name: str, trials_per_worker: int) -> dict:
    """One search in this process; per trial its end time and the searching process's own memory."""
    from kerazoo import load_data
    from tuning import search
    from tuning import tuners as tuners_mod

    rows = []
    original = tuners_mod.ZooTuner.on_trial_end

    def on_trial_end(self, trial):  # measure after each trial, once the tuner has saved it
        original(self, trial)
        rows.append({"trial": len(rows) + 1, "end": time.time(),
                     "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                     "rss_kb": _status_kb("self", "VmRSS"), "child_peak_kb": self.trial_peaks.get(trial.trial_id)})

    tuners_mod.ZooTuner.on_trial_end = on_trial_end
    data = load_data(data_name, seed=0)
    start = time.perf_counter()
    search(model, data, tuner="random", max_trials=trials, epochs=epochs, space=SPACE,
           directory=tempfile.mkdtemp(prefix=f"mem-{mode}-"), seed=0, isolate_trials=mode != "inprocess",
           trials_per_worker=1 if mode == "subprocess" else trials_per_worker, tensorboard=False, log=None)
    return {"mode": mode, "seconds": round(time.perf_counter() - start, 1), "rows": rows}


def run_keras_loop(models: int, model_name: str, data_name: str, steps: int = 40) -> dict:
    """The model built, then plain Keras: `train_on_batch` `steps` times, `clear_session`; RSS after each model."""
    import gc

    import keras

    from kerazoo import build, load_data

    data = load_data(data_name, seed=0)
    x, y = data.arrays["train"]
    rows = []
    start = time.perf_counter()
    for i in range(models):
        model = build(model_name, data.spec, compile=False)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        for step in range(steps):
            batch = slice(32 * step % (len(x) - 32), 32 * step % (len(x) - 32) + 32)
            model.train_on_batch(x[batch], y[batch])
        del model
        keras.backend.clear_session()
        gc.collect()
        rows.append({"trial": i + 1, "end": time.time(), "rss_kb": _status_kb("self", "VmRSS"),
                     "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "child_peak_kb": None})
    return {"mode": "keras-loop", "seconds": round(time.perf_counter() - start, 1), "rows": rows}


def _slope(values: list[float]) -> float:
    """The least-squares slope of `values` against their index.

    Example:
    >>> _slope([1.0, 3.0, 5.0])
    2.0
    """
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / sum((i - mx) ** 2 for i in range(n))


def summarize(inner: dict, samples: list) -> dict:
    """Each trial's tree peaks from the samples, and the growth figures (from trial 5, or 3 in a short run)."""
    start = samples[0][0] if samples else 0.0
    prev = start
    for row in inner["rows"]:
        window = [s for s in samples if prev <= s[0] <= row["end"]] or \
            [min(samples, key=lambda s: abs(s[0] - row["end"]))]
        row["tree_rss_kb"] = max(s[1] for s in window)
        row["tree_anon_kb"] = max(s[2] for s in window)
        row["processes"] = max(s[3] for s in window)
        prev = row.pop("end")
    rows = inner["rows"]
    out = {**inner, "tree_peak_rss_kb": max(s[1] for s in samples), "tree_peak_anon_kb": max(s[2] for s in samples)}
    if len(rows) >= 4:
        out["ref_trial"] = ref = 5 if len(rows) >= 8 else 3
        first, last = rows[ref - 1], rows[-1]
        for key in ("tree_rss_kb", "tree_anon_kb", "peak_kb"):
            out[f"growth_{key}"] = round((last[key] - first[key]) / first[key], 4)
        out["mib_per_trial"] = round(_slope([r["rss_kb"] / 1024 for r in rows[2:]]), 1)
    return out


def measure(modes, trials: int, epochs: int, model: str, data: str, interval: float, trials_per_worker: int) -> dict:
    results = []
    for mode in modes:  # each in a fresh process, so that none inherits another's memory
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            out = f.name
        samples = watch([sys.executable, __file__, "--inner", mode, "--trials", str(trials), "--epochs", str(epochs),
                         "--model", model, "--data", data, "--trials-per-worker", str(trials_per_worker),
                         "--json", out], interval)
        results.append(summarize(json.loads(Path(out).read_text()), samples))
        os.unlink(out)
        r = results[-1]
        print(f"{mode}: {len(r['rows'])} trials in {r['seconds']:.0f} s; tree peak RSS "
              f"{r['tree_peak_rss_kb'] / 1024:.0f} MiB", flush=True)
    return {"model": model, "data": data, "trials": trials, "epochs": epochs, "interval_s": interval,
            "trials_per_worker": trials_per_worker, "modes": results}


def _mib(kb) -> str:
    return f"{kb / 1024:,.0f} MiB"


def render(saved: dict) -> str:
    """The memory table: the whole tree per mode, the searching process alone, wall time; the plain-Keras loop."""
    r = saved["result"]
    modes = {m["mode"]: m for m in r["modes"]}
    per = r.get("trials_per_worker", 8)
    label = {"workers": f"recycled workers, {per} trials each (default)",
             "inprocess": "trials in the searching process (`isolate_trials=False`)",
             "subprocess": "a fresh process per trial (`trials_per_worker=1`)"}
    ref = next((m.get("ref_trial", 3) for m in modes.values() if m["mode"] in label), 3)
    base = modes.get("inprocess", {}).get("seconds")
    lines = [f"| mode | whole tree: RSS summed, trial {ref} | last trial | growth | of which anonymous, trial {ref} → "
             f"last | searching process alone: peak RSS, trial {ref} → last | wall time |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in ("workers", "inprocess", "subprocess"):
        if name in modes:
            m = modes[name]
            first, last = m["rows"][ref - 1], m["rows"][-1]
            wall = f"{m['seconds']:.0f} s" + (f" ({m['seconds'] / base:.2f}×)" if base and name != "inprocess" else "")
            lines.append(f"| {label[name]} | {_mib(first['tree_rss_kb'])} | {_mib(last['tree_rss_kb'])} | "
                         f"**{m['growth_tree_rss_kb']:+.1%}** | {_mib(first['tree_anon_kb'])} → "
                         f"{_mib(last['tree_anon_kb'])} ({m['growth_tree_anon_kb']:+.1%}) | {_mib(first['peak_kb'])} → "
                         f"{_mib(last['peak_kb'])} ({m['growth_peak_kb']:+.1%}) | {wall} |")
    tops = [f"{_mib(modes[m]['tree_peak_rss_kb'])} ({label[m].split(' (')[0]})" for m in label if m in modes]
    text = [f"The whole tree's peak: {', '.join(tops)} (RSS summed: the shared libraries count once per process)."
            ] if tops else []
    for name in ("workers", "subprocess"):
        if name in modes:
            peaks = [row["child_peak_kb"] for row in modes[name]["rows"] if row["child_peak_kb"]]
            what = "Each worker" if name == "workers" else "Each trial process"
            text.append(f"{what} peaked at {min(peaks) / 1024:,.0f}-{_mib(max(peaks))} (trials 1 to {len(peaks)}).")
    if "inprocess" in modes:
        text.append(f"In-process, the searching process grows by about {modes['inprocess']['mib_per_trial']:.0f} "
                    f"MiB a trial (a least-squares slope of its RSS from trial 3 on).")
    if "keras-loop" in modes:
        k = modes["keras-loop"]
        text.append(f"Plain Keras, without the zoo's training code or KerasTuner (the `{r['model']}` built, then "
                    f"`compile`, 40 `train_on_batch` steps, `clear_session()`, `gc.collect()`, {len(k['rows'])} "
                    f"times): RSS {_mib(k['rows'][2]['rss_kb'])} after model 3, {_mib(k['rows'][-1]['rss_kb'])} "
                    f"after model {len(k['rows'])}, **{k['mib_per_trial']:.0f} MiB a model**.")
    lines += ["", " ".join(text), "", f"`{r['model']}` on {r['data']}, {r['trials']} trials of {r['epochs']} epochs, "
              f"the modes one after the other in one run, memory sampled every {r['interval_s']} s. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["workers", "inprocess"])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--trials-per-worker", type=int, default=DEFAULT_TRIALS_PER_WORKER,
                        help="the workers' trial limit (the library's default)")
    parser.add_argument("--quick", action="store_true", help="12 trials, a worker replaced every 5")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--inner", choices=MODES, help=argparse.SUPPRESS)  # the watched process
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = options(parser).parse_args(argv)
    if args.quick:
        args.trials, args.trials_per_worker = 12, 5
    if args.inner:
        result = (run_keras_loop(args.trials, args.model, args.data) if args.inner == "keras-loop"
                  else run_search(args.inner, args.trials, args.epochs, args.model, args.data, args.trials_per_worker))
        Path(args.json).write_text(json.dumps(result))
        return
    result = measure(args.modes, args.trials, args.epochs, args.model, args.data, args.interval,
                     args.trials_per_worker)
    publish("tuning_memory", result, args, render)


if __name__ == "__main__":
    main()

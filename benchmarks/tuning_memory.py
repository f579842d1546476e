"""Peak memory (RSS) across a 20-trial search: trials in-process vs each trial in a fresh process.

In-process, KerasTuner clears the Keras session before each trial; memory may still
grow trial by trial (keras-tuner issues #395, #873, #1031). With `isolate_trials`,
each trial runs in a fresh Python process, so the searching process stays flat and
every trial starts from a clean one, at the price of a TensorFlow import per trial.
The model's architecture is fixed (only training settings and regularization vary),
so any growth is leakage, not bigger models. Each mode runs in its own fresh process.

Prints, per trial: the searching process's peak RSS and current RSS (and, for fresh
processes, the trial process's own peak), then the growth of the peak from trial 3
to the last trial (goal: under 20%) and the wall time.

    python benchmarks/tuning_memory.py                        # both modes, 20 trials each
    python benchmarks/tuning_memory.py --mode inprocess --trials 20 --epochs 2
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPACE = {"filters": [32, 64, 128], "dense_units": 64, "batch_size": 32,
         "dropout": {"type": "float", "min_value": 0.0, "max_value": 0.5},
         "l2": [0.0, 1e-5, 1e-4], "pooling": ["avg", "max"]}


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def run_mode(mode: str, trials: int, epochs: int, model: str, data_name: str) -> dict:
    from kerazoo import load_data
    from tuning import search
    from tuning import tuners as tuners_mod

    rows = []
    original = tuners_mod.ZooTuner.on_trial_end

    def on_trial_end(self, trial):  # measure after each trial, once the tuner has saved it
        original(self, trial)
        rows.append({"trial": len(rows) + 1, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                     "rss_kb": rss_kb(), "child_peak_kb": self.trial_peaks.get(trial.trial_id)})

    tuners_mod.ZooTuner.on_trial_end = on_trial_end
    data = load_data(data_name, seed=0)
    start = time.perf_counter()
    search(model, data, tuner="random", max_trials=trials, epochs=epochs, space=SPACE,
           directory=tempfile.mkdtemp(prefix=f"mem-{mode}-"), seed=0, isolate_trials=mode == "subprocess",
           tensorboard=False, log=None)
    return {"mode": mode, "seconds": time.perf_counter() - start, "rows": rows}


def report(result: dict) -> None:
    rows = result["rows"]
    child = result["mode"] == "subprocess"
    print(f"\n{result['mode']}: {len(rows)} trials in {result['seconds']:.0f} s")
    print("trial  peak RSS MiB  RSS MiB" + ("  trial process peak MiB" if child else ""))
    for r in rows:
        extra = f"  {r['child_peak_kb'] / 1024:22.0f}" if child and r["child_peak_kb"] else ""
        print(f"{r['trial']:5d}  {r['peak_kb'] / 1024:12.0f}  {r['rss_kb'] / 1024:7.0f}{extra}")
    if len(rows) >= 3:
        first, last = rows[2], rows[-1]
        growth = (last["peak_kb"] - first["peak_kb"]) / first["peak_kb"] * 100
        print(f"peak RSS growth, trial 3 -> trial {last['trial']}: {growth:+.1f}% "
              f"({first['peak_kb'] / 1024:.0f} -> {last['peak_kb'] / 1024:.0f} MiB)")
        if child:
            peaks = [r["child_peak_kb"] for r in rows if r["child_peak_kb"]]
            c_growth = (peaks[-1] - peaks[2]) / peaks[2] * 100 if len(peaks) >= 3 else float("nan")
            print(f"trial process peak, trial 3 -> trial {last['trial']}: {c_growth:+.1f}% "
                  f"({peaks[2] / 1024:.0f} -> {peaks[-1] / 1024:.0f} MiB); searcher + trial: "
                  f"{(last['peak_kb'] + max(peaks)) / 1024:.0f} MiB at most")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("both", "inprocess", "subprocess"), default="both")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--json", help="write the measurements of one mode here")
    args = parser.parse_args()
    if args.mode == "both":  # each mode in a fresh process, so neither inherits the other's memory
        for mode in ("inprocess", "subprocess"):
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                out = f.name
            subprocess.run([sys.executable, __file__, "--mode", mode, "--trials", str(args.trials),
                            "--epochs", str(args.epochs), "--model", args.model, "--data", args.data,
                            "--json", out], check=True)
            with open(out) as f:
                report(json.load(f))
        return
    result = run_mode(args.mode, args.trials, args.epochs, args.model, args.data)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    else:
        report(result)


if __name__ == "__main__":
    main()

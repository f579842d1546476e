"""Do the zoo's defaults hold on the data users bring? Each family with default settings across regimes.

Sections (each saved into benchmarks/results/defaults_sweep.json; run one with
`--section NAME`, the others are kept):

- `budgets`: every image family on the digits (all training examples, 200, 50)
  with `epochs="auto"` beside fixed budgets of 5, 10 and 30 epochs.
- `short`: `cnn` and `resnet20` at 8 epochs (`kerazoo train NAME --data digits
  --epochs 8 --seed S`), seeds 0-4, with the default batch-norm momentum and
  with Keras' 0.99.
- `ranges`: the digits given as the user's own arrays, `(n, 8, 8, 1)`, in
  [0, 1] float, [0, 16] float and [0, 255] uint8, `cnn` and `mlp` defaults.
- `tabular`: `mlp` and `transformer` defaults on iris, wine and breast_cancer
  beside scikit-learn's LogisticRegression and SVC (each with a StandardScaler)
  fitted on the same training rows and scored on the same test rows, and `mlp`
  at fixed budgets.
- `transfer`: `cnn` pretrained with `fit` defaults on the digits 0-4 (arrays),
  then 10 (and 2) labelled examples of each of 5-9: `finetune` with every
  argument at its default, other learning rates and feature layers, and the
  same `cnn` from scratch with defaults, all scored on every other 5-9 digit.

Splits are `load_data`'s defaults (20% test, 10% of the rest for validation)
unless a section says otherwise; a model and its baselines see the same rows.

    python benchmarks/defaults_sweep.py                      # everything (about an hour on 2 cores)
    python benchmarks/defaults_sweep.py --section tabular    # one section
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from results import RESULTS, load, save  # noqa: E402

NAME = "defaults_sweep"
IMAGE_FAMILIES = ("cnn", "resnet20", "vit", "transformer", "mlp")
SECTIONS = ("budgets", "short", "ranges", "tabular", "transfer")


def _mean(values):
    return round(statistics.fmean(values), 4)


def _train(name, data, seed, *, epochs="auto", build_args=None):
    """Build with defaults (plus `build_args`), fit with `epochs`; test accuracy, epochs run, seconds."""
    import keras

    from kerazoo import build, fit

    keras.utils.set_random_seed(seed)
    model = build(name, data.spec, **(build_args or {}))
    start = time.perf_counter()
    result = fit(model, data, epochs=epochs, seed=seed, verbose=0)
    return result.metrics["test"]["accuracy"], result.epochs, time.perf_counter() - start, model


def _digits_subset(n, seed):
    """The digits' default split, with the training part cut to `n` examples (stratified)."""
    from sklearn.model_selection import train_test_split

    from kerazoo import load_data

    full = load_data("digits", seed=seed)
    if n == "all":
        return full
    (x, y), test = full.arrays["train"], full.arrays["test"]
    x, _, y, _ = train_test_split(x, y, train_size=n, random_state=seed, stratify=y)
    return load_data((x, y), test_data=test, seed=seed, kind="image", value_range=(0, 16), name=f"digits{n}")


def budgets(seeds, models=IMAGE_FAMILIES):
    rows = []
    for name in models:
        for n, epochs_list in (("all", ("auto", 5, 10, 30)), (200, ("auto", 10, 30)), (50, ("auto", 10, 30))):
            for epochs in epochs_list:
                scores, ran, secs = [], [], []
                for seed in seeds:
                    data = _digits_subset(n, seed)
                    acc, n_epochs, s, _ = _train(name, data, seed, epochs=epochs)
                    scores.append(acc)
                    ran.append(n_epochs)
                    secs.append(s)
                row = {"model": name, "train_examples": n, "epochs": epochs, "accuracy": _mean(scores),
                       "min": round(min(scores), 4), "epochs_run": _mean(ran), "seconds": round(statistics.fmean(secs), 1),
                       "seeds": list(seeds)}
                print(row, flush=True)
                rows.append(row)
    return rows


def short(seeds):
    from kerazoo import load_data

    rows = []
    for name in ("cnn", "resnet20"):
        for momentum in (None, 0.99):
            scores = []
            for seed in seeds:
                data = load_data("digits", seed=seed)
                args = {"bn_momentum": momentum} if momentum else {}
                scores.append(_train(name, data, seed, epochs=8, build_args=args)[0])
            row = {"model": name, "bn_momentum": momentum or "default", "epochs": 8,
                   "accuracy": _mean(scores), "min": round(min(scores), 4), "seeds": list(seeds)}
            print(row, flush=True)
            rows.append(row)
    return rows


def ranges(seeds):
    import numpy as np
    from sklearn.datasets import load_digits

    from kerazoo import load_data

    digits = load_digits()
    images = digits.images[..., None]
    given = {"[0, 1] float32": (images / 16).astype("float32"), "[0, 16] float32": images.astype("float32"),
             "[0, 255] uint8": np.round(images * 255 / 16).astype("uint8")}
    rows = []
    for name in ("cnn", "mlp"):
        for label, x in given.items():
            scores = []
            for seed in seeds:
                data = load_data((x, digits.target), seed=seed)
                scores.append(_train(name, data, seed)[0])
            row = {"model": name, "arrays": label, "value_range": list(data.spec.value_range),
                   "accuracy": _mean(scores), "min": round(min(scores), 4), "seeds": list(seeds)}
            print(row, flush=True)
            rows.append(row)
    return rows


def tabular(seeds):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from kerazoo import load_data

    rows = []
    for source in ("iris", "wine", "breast_cancer"):
        settings = [("mlp", "auto"), ("mlp", 30), ("mlp", 100), ("transformer", "auto")]
        found = {f"{m} epochs={e}": [] for m, e in settings}
        found.update({"LogisticRegression": [], "SVC": []})
        for seed in seeds:
            data = load_data(source, seed=seed)
            for model, epochs in settings:
                found[f"{model} epochs={epochs}"].append(_train(model, data, seed, epochs=epochs)[0])
            (x, y), (xt, yt) = data.arrays["train"], data.arrays["test"]
            y, yt = y.reshape(-1), yt.reshape(-1)
            found["LogisticRegression"].append(
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y).score(xt, yt))
            found["SVC"].append(make_pipeline(StandardScaler(), SVC()).fit(x, y).score(xt, yt))
        for setting, scores in found.items():
            row = {"data": source, "setting": setting, "accuracy": _mean(scores), "min": round(min(scores), 4),
                   "test_examples": len(data.arrays["test"][0]), "seeds": list(seeds)}
            print(row, flush=True)
            rows.append(row)
    return rows


def transfer(seeds):
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    from kerazoo import build, finetune, fit, load_data

    digits = load_digits()
    x, y = digits.images[..., None].astype("float32"), digits.target
    low = y < 5
    variants = {"finetune defaults": {}, "finetune learning_rates=(1e-3, 1e-4)": {"learning_rates": (1e-3, 1e-4)},
                "finetune learning_rates=(1e-3, 1e-5)": {"learning_rates": (1e-3, 1e-5)},
                "finetune learning_rates=(1e-2, 1e-3)": {"learning_rates": (1e-2, 1e-3)},
                "finetune features='global_pool'": {"features": "global_pool"}}
    found, tested = {}, {}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        source_data = load_data((x[low], y[low]), seed=seed, name="digits0-4")
        source = build("cnn", source_data.spec)
        found.setdefault((None, "source on 0-4 (its test split)"), []).append(
            fit(source, source_data, seed=seed, verbose=0).metrics["test"]["accuracy"])
        xh, yh = x[~low], y[~low] - 5
        for per_class in (10, 2):
            rng = np.random.default_rng(seed)
            picked = np.concatenate([rng.choice(np.flatnonzero(yh == c), per_class, replace=False)
                                     for c in range(5)])
            rest = np.setdiff1d(np.arange(len(yh)), picked)
            tested[per_class] = len(rest)
            few = (xh[picked], yh[picked])

            def score(model, rest=rest, xh=xh, yh=yh):
                return model.evaluate(xh[rest], yh[rest], verbose=0, return_dict=True)["accuracy"]

            for label, args in variants.items():
                if per_class != 10 and args:
                    continue
                keras.utils.set_random_seed(seed)
                found.setdefault((per_class, label), []).append(
                    score(finetune(source, few, seed=seed, verbose=0, **args).model))
            keras.utils.set_random_seed(seed)
            scratch_data = load_data(few, test_split=0.0, seed=seed)
            scratch = build("cnn", scratch_data.spec)
            fit(scratch, scratch_data, seed=seed, verbose=0)
            found.setdefault((per_class, "from scratch, defaults"), []).append(score(scratch))
    rows = []
    for (per_class, setting), scores in found.items():
        row = {"per_class": per_class, "setting": setting, "accuracy": _mean(scores), "min": round(min(scores), 4),
               "train_examples": per_class and 5 * per_class, "test_examples": tested.get(per_class),
               "seeds": list(seeds)}
        print(row, flush=True)
        rows.append(row)
    return rows


SEEDS = {"budgets": (0, 1, 2), "short": (0, 1, 2, 3, 4), "ranges": (0, 1, 2, 3, 4),
         "tabular": (0, 1, 2, 3, 4), "transfer": (0, 1, 2, 3, 4)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=SECTIONS, action="append",
                        help="run only this section (repeatable); the saved others are kept")
    parser.add_argument("--seeds", type=int, nargs="+", help="override every section's seeds")
    parser.add_argument("--models", nargs="+", choices=IMAGE_FAMILIES,
                        help="budgets: only these families; their saved rows are replaced, the others kept")
    args = parser.parse_args(argv)
    result = load(NAME)["result"] if (RESULTS / f"{NAME}.json").exists() else {}
    for section in args.section or SECTIONS:
        start = time.perf_counter()
        seeds = tuple(args.seeds) if args.seeds else SEEDS[section]
        if section == "budgets" and args.models:
            rows = budgets(seeds, models=args.models)
            kept = [row for row in result.get(section, {}).get("rows", []) if row["model"] not in args.models]
            rows = sorted(kept + rows, key=lambda row: IMAGE_FAMILIES.index(row["model"]))
        else:
            rows = globals()[section](seeds)
        run = {"command": " ".join(["python", "benchmarks/defaults_sweep.py", *sys.argv[1:]]),
               "date": time.strftime("%Y-%m-%d")}
        earlier = result.get(section, {}).get("runs", []) if section == "budgets" and args.models else []
        result[section] = {"rows": rows, "seconds": round(time.perf_counter() - start), "runs": [*earlier, run]}
    save(NAME, result, note="cores shared with other jobs while measuring: the seconds are not timings")
    return 0


def _pct(value) -> str:
    return f"{100 * value:.1f}%"


def render(saved: dict) -> str:
    """Markdown tables of every section, for the README."""
    r = saved["result"]
    out = []
    if "short" in r:
        out += ["| model, 8 epochs on digits | batch-norm momentum | mean test accuracy | worst seed |",
                "| --- | --- | ---: | ---: |"]
        out += [f"| `{row['model']}` | {row['bn_momentum'] if row['bn_momentum'] != 'default' else '0.9 (default)'} "
                f"| {_pct(row['accuracy'])} | {_pct(row['min'])} |" for row in r["short"]["rows"]]
        out.append("")
    if "budgets" in r:
        out += ["| model | training examples | `epochs=\"auto\"` | 5 epochs | 10 epochs | 30 epochs |",
                "| --- | ---: | ---: | ---: | ---: | ---: |"]
        rows = r["budgets"]["rows"]
        for name in dict.fromkeys(row["model"] for row in rows):
            for n in dict.fromkeys(row["train_examples"] for row in rows if row["model"] == name):
                cells = {row["epochs"]: row for row in rows if row["model"] == name and row["train_examples"] == n}
                auto = cells.get("auto")
                first = f"{_pct(auto['accuracy'])} ({auto['epochs_run']:g} ep.)" if auto else "-"
                rest = [_pct(cells[e]["accuracy"]) if e in cells else "-" for e in (5, 10, 30)]
                size = "all (1,293)" if n == "all" else str(n)
                out.append(f"| `{name}` | {size} | {first} | " + " | ".join(rest) + " |")
        out.append("")
    if "ranges" in r:
        out += ["| model | the digits as arrays | inferred `value_range` | mean test accuracy |",
                "| --- | --- | --- | ---: |"]
        out += [f"| `{row['model']}` | {row['arrays']} | {tuple(row['value_range'])} | {_pct(row['accuracy'])} |"
                for row in r["ranges"]["rows"]]
        out.append("")
    if "tabular" in r:
        rows = r["tabular"]["rows"]
        settings = list(dict.fromkeys(row["setting"] for row in rows))
        out += ["| data (test examples) | " + " | ".join(settings) + " |",
                "| --- | " + " | ".join("---:" for _ in settings) + " |"]
        for source in dict.fromkeys(row["data"] for row in rows):
            cells = {row["setting"]: row for row in rows if row["data"] == source}
            n = next(iter(cells.values()))["test_examples"]
            out.append(f"| {source} ({n}) | " + " | ".join(_pct(cells[s]["accuracy"]) for s in settings) + " |")
        out.append("")
    if "transfer" in r:
        out += ["| digits 5-9: labelled examples | setting | mean test accuracy | worst seed |",
                "| --- | --- | ---: | ---: |"]
        out += [f"| {row['train_examples'] or '-'} | {row['setting']} | {_pct(row['accuracy'])} | "
                f"{_pct(row['min'])} |" for row in r["transfer"]["rows"]]
        out.append("")
    seeds = {section: len(r[section]["rows"][0]["seeds"]) for section in r if r[section]["rows"]}
    commands = sorted({(run["date"], run["command"]) for s in r for run in r[s]["runs"]})
    out.append("Means over seeds (" + ", ".join(f"{k}: {v}" for k, v in seeds.items()) + "); measured with " +
               "; ".join(f"`{command}` ({date})" for date, command in commands) + ".")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())

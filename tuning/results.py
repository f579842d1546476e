"""The results of a search: the trials table, its CSV and JSON files, and `best.json`.

`trials.csv` and `trials.json` list every trial (id, status, objective, the
tuner that ran it, seconds, hyperparameters, metrics at its best epoch);
`best.json` is the best trial as a training config in the format
`kerazoo train --config best.json` reads (model, overrides, data, compile, fit).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from tuning.spaces import COMPILE_KEYS, ResolvedSpace, decode_value, encode_value

__all__ = ["trial_rows", "trial_values", "write_results", "format_table", "best_config", "best_row"]


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _active(hps, name: str) -> bool:
    try:
        return bool(hps.is_active(name))
    except (KeyError, ValueError):
        return True


def trial_values(trial, space: ResolvedSpace, *, searched_only: bool = False) -> dict[str, Any]:
    """A KerasTuner trial's active values, decoded as the builder takes them.

    With `searched_only`, the entries the search varies (not those fixed to one value).

    Example:
    >>> import keras_tuner as kt
    >>> from tuning.spaces import resolve_space
    >>> hp = kt.HyperParameters()
    >>> _ = hp.Fixed("depth", 1), hp.Choice("width", [8, 16])
    >>> hp.values["width"] = 16
    >>> trial = kt.engine.trial.Trial(hp)
    >>> trial_values(trial, resolve_space("mlp", {"depth": 1, "width": [8, 16]}), searched_only=True)
    {'width': 16}
    """
    from kerazoo.space import Choice
    from tuning.spaces import choice_values

    hps = trial.hyperparameters
    raw = hps.values
    return {name: decode_value(decl, raw[name]) for name, decl in space.entries.items()
            if raw.get(name) is not None and _active(hps, name)
            and not (searched_only and isinstance(decl, Choice) and len(choice_values(decl)) == 1)}


def trial_rows(oracle, space: ResolvedSpace) -> list[dict]:
    """One dict per trial of a KerasTuner oracle, in trial-id order, values decoded.

    Each row: `trial_id`, `status`, `score` (the objective at the best epoch;
    with `folds`, the mean over the folds, and `score_std` their standard
    deviation), `best_step`, `tuner` (which process ran it), `seconds`, `starts` (more than
    one when a trial was resumed or retried), `hyperparameters` and `metrics`.
    """
    info = getattr(oracle, "zoo_trials", {})
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        raw = trial.hyperparameters.values
        values = trial_values(trial, space)
        if "tuner/epochs" in raw:  # Hyperband's epochs for this round
            values["epochs"] = raw["tuner/epochs"]
        metrics = {}
        for name in trial.metrics.metrics:
            history = trial.metrics.get_history(name)
            if history:
                metrics[name] = _number(history[-1].mean())
        extra = info.get(trial_id, {})
        spread = metrics.pop(f"{oracle.objective.name}_std", None)  # a cross-validated objective's spread
        rows.append({"trial_id": trial_id, "status": trial.status, "score": _number(trial.score),
                     **({"score_std": spread} if spread is not None else {}),
                     "best_step": trial.best_step, "tuner": extra.get("tuner"),
                     "seconds": extra.get("seconds"), "starts": extra.get("starts"),
                     "hyperparameters": values, "metrics": metrics})
    return rows


def best_row(rows: list[dict], direction: str) -> dict | None:
    """The completed trial with the best score, or None.

    Example:
    >>> rows = [{"status": "COMPLETED", "score": 0.5}, {"status": "COMPLETED", "score": 0.2},
    ...         {"status": "FAILED", "score": None}]
    >>> best_row(rows, "min")["score"], best_row(rows, "max")["score"]
    (0.2, 0.5)
    """
    done = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    if not done:
        return None
    return (min if direction == "min" else max)(done, key=lambda r: r["score"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return ""
    return str(encode_value(value))


def _score_cell(row: dict) -> str:
    if row.get("score_std") is None or row["score"] is None:
        return _cell(row["score"])
    return f"{_cell(row['score'])} ± {_cell(row['score_std'])}"


def _columns(rows: list[dict]) -> list[str]:
    """The hyperparameters' columns: a search's family first, then each family's entries, then the rest."""
    names: list[str] = []
    for r in rows:
        names += [k for k in r["hyperparameters"] if k not in names]
    return sorted(names, key=lambda k: 0 if k == "model" else 1 if "/" in k else 2)


def format_table(rows: list[dict], objective: tuple[str, str], *, limit: int | None = None) -> str:
    """The trials as a text table, best first (the best marked `*`).

    Example:
    >>> rows = [{"trial_id": "0", "status": "COMPLETED", "score": 0.5, "tuner": "tuner0", "seconds": 1.0,
    ...          "hyperparameters": {"width": 8}},
    ...         {"trial_id": "1", "status": "COMPLETED", "score": 0.25, "tuner": "tuner0", "seconds": 1.5,
    ...          "hyperparameters": {"width": 16}}]
    >>> print(format_table(rows, ("val_loss", "min")))
      trial  status     val_loss  tuner   seconds  width
    - -----  ---------  --------  ------  -------  -----
    * 1      COMPLETED  0.25      tuner0  1.5      16
      0      COMPLETED  0.5       tuner0  1        8
    """
    name, direction = objective
    best = best_row(rows, direction)
    ranked = sorted(rows, key=lambda r: (r["score"] is None,
                                         (r["score"] or 0.0) * (1 if direction == "min" else -1)))
    hps = _columns(rows)
    header = ["trial", "status", name, "tuner", "seconds", *hps]
    body = [[r["trial_id"], r["status"], _score_cell(r), _cell(r.get("tuner")), _cell(r.get("seconds")),
             *(_cell(r["hyperparameters"].get(h)) for h in hps)] for r in ranked[:limit]]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  " + "  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(),
             "- " + "  ".join("-" * w for w in widths)]
    for r, cells in zip(ranked, body):
        mark = "* " if best is not None and r is best else "  "
        lines.append(mark + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)


def write_results(directory: str | Path, rows: list[dict], objective: tuple[str, str]) -> dict[str, Path]:
    """Write `trials.csv` and `trials.json` into `directory`; returns their paths.

    Example:
    >>> import tempfile
    >>> rows = [{"trial_id": "0", "status": "COMPLETED", "score": 0.5, "best_step": 1, "tuner": "tuner0",
    ...          "seconds": 1.0, "starts": 1, "hyperparameters": {"filters": (16, 32)},
    ...          "metrics": {"val_loss": 0.5}}]
    >>> paths = write_results(tempfile.mkdtemp(), rows, ("val_loss", "min"))
    >>> paths["csv"].read_text().splitlines()
    ['trial_id,status,val_loss,best_step,tuner,seconds,starts,filters,metric:val_loss', '0,COMPLETED,0.5,1,tuner0,1.0,1,16-32,0.5']
    """
    from kerazoo.io import atomic_write, write_json

    directory = Path(directory)
    name, direction = objective
    best = best_row(rows, direction)
    write_json(directory / "trials.json", {
        "objective": {"name": name, "direction": direction},
        "best_trial": best["trial_id"] if best else None,
        "trials": rows})
    hps = _columns(rows)
    metric_names: list[str] = []
    for r in rows:
        metric_names += [k for k in r["metrics"] if k not in metric_names]

    spread = [f"{name}_std"] if any("score_std" in r for r in rows) else []  # folds: the mean's spread

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["trial_id", "status", name, *spread, "best_step", "tuner", "seconds", "starts", *hps,
                        *(f"metric:{m}" for m in metric_names)])
            for r in rows:
                w.writerow([r["trial_id"], r["status"], _csv(r["score"]),
                            *([_csv(r.get("score_std"))] if spread else []), _csv(r["best_step"]),
                            _csv(r["tuner"]), _csv(r["seconds"]), _csv(r["starts"]),
                            *(_csv(r["hyperparameters"].get(h)) for h in hps),
                            *(_csv(r["metrics"].get(m)) for m in metric_names)])

    atomic_write(directory / "trials.csv", write)
    return {"csv": directory / "trials.csv", "json": directory / "trials.json"}


def _csv(value: Any) -> str:
    return "" if value is None else str(encode_value(value))


def best_config(
    space: ResolvedSpace,
    values: dict[str, Any],
    *,
    data,
    epochs: int | str,
    seed: int,
    patience: int = 10,
    compile: dict | None = None,
    merge_validation: bool = False,
    tuning: dict | None = None,
) -> dict:
    """The best trial as a training config that `kerazoo train --config` reads.

    Args:
        space: the search's space (which keys are model arguments; for families,
            which family the values build).
        values: the best trial's decoded values.
        data: the search's data bundle (source and split options).
        epochs, seed, patience: the training settings.
        compile: fixed `compile_model` settings of the search.
        merge_validation: train on training + validation (`validation_split: 0`).
        tuning: extra facts to record under `"tuning"` (objective, score, trial).

    Returns:
        `{"model", "overrides", "data", "compile", "fit", "tuning"}`.

    Example:
    >>> from kerazoo import load_data
    >>> from tuning.spaces import resolve_space
    >>> cfg = best_config(resolve_space("mlp"), {"width": 64, "learning_rate": 0.003, "batch_size": 16},
    ...                   data=load_data("iris"), epochs=5, seed=0)
    >>> cfg["overrides"], cfg["compile"], cfg["data"]["batch_size"], cfg["fit"]
    ({'width': 64}, {'learning_rate': 0.003}, 16, {'epochs': 5, 'seed': 0, 'patience': 10})
    """
    model_values, training = space.split(values)
    data_cfg = {"source": str(data.source), **{k: v for k, v in data.options.items()}}
    data_cfg["seed"] = seed  # `kerazoo train` seeds the splits with the training seed
    if "batch_size" in training:
        data_cfg["batch_size"] = training["batch_size"]
    if merge_validation:
        data_cfg["validation_split"] = 0.0
    fit = {"epochs": epochs, "seed": seed, "patience": patience}
    if training.get("augment") is not None:
        fit["augment"] = training["augment"]
    out = {
        "model": space.family(values),
        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in model_values.items()},
        "data": data_cfg,
        "compile": {**(compile or {}), **{k: v for k, v in training.items() if k in COMPILE_KEYS}},
        "fit": fit,
    }
    if tuning:
        out["tuning"] = tuning
    return out

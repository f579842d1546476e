"""The model card of a search job: `model_card.md` and its data, `model_card.json`, in the job's directory.

It carries what a reader needs to trust the deployable model a job produced:
the data set and its splits, the search (families and their spaces, tuner,
objective, trials run and failed, the best score of each family), the winner's
hyperparameters, its cross-validated scores (mean ± std, when measured), its
test score (measured once, on a split no trial saw), where it was exported, the
date and the versions (`kerazoo.runs.versions`, as a run records them). An
exported winner also has the export's own `MODEL_CARD.md` (inputs, outputs,
artifacts, fidelity): this card links to it rather than repeating it.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["card_data", "render_card", "write_model_card"]


def _space(space) -> dict[str, dict]:
    """Each family's entries (un-prefixed) and the training settings under `"training"`."""
    if hasattr(space, "per_family"):
        return space.per_family()
    out: dict[str, dict] = {space.model: {}, "training": {}}
    for name, entry in space.to_dict().items():
        out[space.model if name in space.model_keys else "training"][name] = entry
    return out


def _per_family(rows: list[dict], direction: str, families: tuple) -> dict[str, dict]:
    out = {}
    for family in families:
        mine = [r for r in rows if r["hyperparameters"].get("model", family) == family or len(families) == 1]
        done = [r["score"] for r in mine if r["status"] == "COMPLETED" and r["score"] is not None]
        best = (min if direction == "min" else max)(done) if done else None
        out[family] = {"trials": len(mine), "completed": len(done), "best_score": best}
    return out


def card_data(result, config: dict, *, data, job, metrics: dict | None, cv: dict | None,
              winner_dir: Path | None, export_dir: Path | None) -> dict:
    """The model card's content, JSON-ready (`model_card.json`).

    Args:
        result: the search's `SearchResult`.
        config: the winner's `best.json`.
        data: the job's data bundle.
        job: the `Job`.
        metrics: the retrained winner's metrics (`{"test": {...}}`).
        cv: its cross-validated scores, or None.
        winner_dir: its run directory.
        export_dir: where it was exported, or None.

    Returns:
        `{"title", "created", "versions", "data", "search", "winner", "cv", "test", "export"}`.

    Example:
    >>> from types import SimpleNamespace
    >>> from kerazoo import load_data
    >>> from tuning.spaces import resolve_space
    >>> result = SimpleNamespace(objective=("val_loss", "min"), space=resolve_space("mlp", {"width": [8, 16]}),
    ...     trials=[{"trial_id": "0", "status": "COMPLETED", "score": 0.5, "hyperparameters": {"width": 8}}],
    ...     directory="t", best_trial_id="0", best_score=0.5)
    >>> job = SimpleNamespace(tuner="random", epochs=1, max_trials=1, seed=0)
    >>> config = {"model": "mlp", "overrides": {"width": 8}, "compile": {}, "data": {"batch_size": 32},
    ...           "fit": {"epochs": 1}}
    >>> card = card_data(result, config, data=load_data("iris"), job=job, metrics={"test": {"accuracy": 0.9}},
    ...                  cv=None, winner_dir=None, export_dir=None)
    >>> card["search"]["space"]["mlp"]["width"]["values"], card["search"]["per_family"], card["test"]
    ([8, 16], {'mlp': {'trials': 1, 'completed': 1, 'best_score': 0.5}}, {'accuracy': 0.9})
    >>> render_card(card).splitlines()[0]
    '# mlp on iris, found by a random search'
    """
    from kerazoo.runs import versions

    name, direction = result.objective
    rows = result.trials
    spec = data.spec
    sizes = {k: int(len(v[0])) for k, v in (data.arrays or {}).items()}
    status = [r["status"] for r in rows]
    return {
        "title": f"{config['model']} on {spec.name or data.source}, found by a {job.tuner} search",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": versions(),
        "data": {"source": str(data.source), "name": spec.name, "task": spec.task, "kind": spec.kind,
                 "input_shape": list(spec.input_shape), "num_classes": spec.num_classes, "sizes": sizes,
                 "seed": job.seed},
        "search": {"directory": str(result.directory), "families": list(result.space.families),
                   "tuner": job.tuner, "objective": {"name": name, "direction": direction,
                                                     **({"folds": cv["folds"]} if cv and cv["from"] == "search"
                                                        else {})},
                   "epochs_per_trial": job.epochs, "max_trials": job.max_trials, "trials": len(rows),
                   "completed": status.count("COMPLETED"), "failed": status.count("FAILED"),
                   "per_family": _per_family(rows, direction, tuple(result.space.families)),
                   "space": _space(result.space), "best_trial": result.best_trial_id,
                   "best_score": result.best_score},
        "winner": {"model": config["model"], "overrides": config["overrides"], "compile": config["compile"],
                   "batch_size": config["data"].get("batch_size"), "fit": config["fit"],
                   "trained_on": "train + validation" if config["data"].get("validation_split") == 0.0
                   else "train", "run_dir": str(winner_dir) if winner_dir else None,
                   "config": str(Path(result.directory) / "best.json")},
        "cv": cv,
        "test": (metrics or {}).get("test"),
        "export": {"directory": str(export_dir), "card": str(Path(export_dir) / "MODEL_CARD.md")}
        if export_dir else None,
    }


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "-".join(map(str, v))
    return str(v)


def _entry(d: dict) -> str:
    kind = d.get("type")
    if kind == "choice":
        values = d["values"]
        text = f"fixed {_value(values[0])}" if len(values) == 1 else "one of " + ", ".join(map(_value, values))
    elif kind in ("int", "float"):
        text = f"{kind} {_value(d['min_value'])}..{_value(d['max_value'])}" + (
            " (log)" if d.get("sampling") == "log" else "")
    else:
        text = "true or false"
    return text + (f" when {d['when']}" if d.get("when") else "")


def render_card(card: dict) -> str:
    """`model_card.md` from `card_data`'s content.

    Example:
    >>> card = {"title": "mlp on iris, found by a random search", "created": "2026-01-01T00:00:00",
    ...         "versions": {"kerazoo": "0.1.0"}, "data": {"source": "iris", "task": "multiclass",
    ...         "kind": "tabular", "input_shape": [4], "num_classes": 3, "sizes": {"train": 108}, "seed": 0},
    ...         "search": {"families": ["mlp"], "tuner": "random", "objective": {"name": "val_loss",
    ...         "direction": "min"}, "epochs_per_trial": 1, "max_trials": 1, "trials": 1, "completed": 1,
    ...         "failed": 0, "per_family": {"mlp": {"trials": 1, "completed": 1, "best_score": 0.9}},
    ...         "space": {"mlp": {"width": {"type": "choice", "values": [8, 16]}}, "training": {}},
    ...         "best_trial": "0", "best_score": 0.9, "directory": "t"},
    ...         "winner": {"model": "mlp", "overrides": {"width": 8}, "compile": {}, "batch_size": 32,
    ...         "fit": {"epochs": 1}, "trained_on": "train", "run_dir": "t/winner", "config": "t/best.json"},
    ...         "cv": None, "test": {"accuracy": 0.9}, "export": None}
    >>> render_card(card).splitlines()[0]
    '# mlp on iris, found by a random search'
    """
    s, w, d = card["search"], card["winner"], card["data"]
    objective = s["objective"]
    lines = [f"# {card['title']}", "",
             f"Made {card['created']} with " + ", ".join(f"{k} {v}" for k, v in card["versions"].items() if v)
             + ".", "", "## Data", "",
             f"`{d['source']}`: {d['kind']} inputs of shape {tuple(d['input_shape'])}, {d['task']}"
             + (f" over {d['num_classes']} classes" if d.get("num_classes") else "") + "; "
             + ", ".join(f"{k} {n}" for k, n in d["sizes"].items()) + f" examples (split seed {d['seed']}).",
             "", "## Search", "",
             f"{s['trials']} trials ({s['completed']} completed, {s['failed']} failed) of a {s['tuner']} search "
             f"over {', '.join(s['families'])}, {s['epochs_per_trial']} epochs a trial, for "
             f"{'the highest' if objective['direction'] == 'max' else 'the lowest'} {objective['name']}"
             + (f" ({objective['folds']}-fold cross-validated)" if objective.get("folds") else "")
             + f". Best: trial {s['best_trial']}, {objective['name']} {_value(s['best_score'])}.", "",
             "| family | trials | completed | best " + objective["name"] + " |", "| --- | --- | --- | --- |"]
    for family, f in s["per_family"].items():
        best = "" if f["best_score"] is None else _value(f["best_score"])
        lines.append(f"| {family} | {f['trials']} | {f['completed']} | {best} |")
    lines += ["", "The space, per family (the training settings are shared):", ""]
    for family, entries in s["space"].items():
        if entries:
            lines.append(f"- **{family}**: " + "; ".join(f"`{k}` {_entry(v)}" for k, v in entries.items()))
    settings = {**w["overrides"], **w["compile"], "batch_size": w["batch_size"], "epochs": w["fit"].get("epochs")}
    lines += ["", "## Winner", "",
              f"`{w['model']}`, retrained from scratch on {w['trained_on']} into `{w['run_dir']}` "
              f"(`kerazoo train --config {w['config']}` repeats it):", "",
              ", ".join(f"`{k}`={_value(v)}" for k, v in settings.items() if v is not None), ""]
    cv = card.get("cv")
    if cv:
        how = ("the search's own folds of the training split" if cv["from"] == "search"
               else "folds of the data it was retrained on")
        lines += [f"Cross-validated ({cv['folds']} {how}): "
                  + ", ".join(f"{k} {v:.4f} ± {(cv['std'].get(k) or 0):.4f}" for k, v in sorted(cv["mean"].items()))
                  + ".", ""]
    if card.get("test"):
        lines += ["Test split (measured once, after the search): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in sorted(card["test"].items())) + ".", ""]
    if card.get("export"):
        lines += [f"Exported to `{card['export']['directory']}`; its `MODEL_CARD.md` describes the files, "
                  f"their inputs and outputs and their fidelity.", ""]
    return "\n".join(lines)


def write_model_card(directory: str | Path, card: dict) -> dict[str, Path]:
    """Write `model_card.json` and `model_card.md` into `directory`; returns their paths (`json`, `md`).

    Example:
    >>> import tempfile
    >>> card = {"title": "t", "created": "2026", "versions": {}, "data": {"source": "iris", "task": "multiclass",
    ...         "kind": "tabular", "input_shape": [4], "sizes": {}, "seed": 0}, "search": {"families": ["mlp"],
    ...         "tuner": "random", "objective": {"name": "val_loss", "direction": "min"}, "epochs_per_trial": 1,
    ...         "trials": 0, "completed": 0, "failed": 0, "per_family": {}, "space": {}, "best_trial": None,
    ...         "best_score": None}, "winner": {"model": "mlp", "overrides": {}, "compile": {}, "batch_size": 32,
    ...         "fit": {}, "trained_on": "train", "run_dir": None, "config": "best.json"}}
    >>> sorted(p.name for p in write_model_card(tempfile.mkdtemp(), card).values())
    ['model_card.json', 'model_card.md']
    """
    from kerazoo.io import write_json, write_text

    directory = Path(directory)
    write_json(directory / "model_card.json", card)
    write_text(directory / "model_card.md", render_card(card))
    return {"json": directory / "model_card.json", "md": directory / "model_card.md"}

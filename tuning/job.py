"""Search jobs as YAML files: the schema, and `load_job` that validates one.

```yaml
model: cnn                      # a registered model, a list of them or `auto` (a search across families)
data: digits                    # a source, or {source, validation_split, test_split, batch_size, ...}
space:                          # changes to the model's space and the training settings
  filters: [[16, 32, 64], [32, 64, 128]]
  dropout: {max_value: 0.3}
  learning_rate: {type: float, min_value: 1.0e-4, max_value: 1.0e-2, sampling: log}
tuner: bayesian                 # random, bayesian, hyperband or grid
objective: val_accuracy         # or {name: val_f1, direction: max, folds: 5} (5-fold cross-validated)
budget: {max_trials: 10, executions_per_trial: 1, epochs: 10, patience: null, hyperband_factor: 3}
seed: 0                         # splits, oracle, weights and shuffling
output: runs/tune-digits-cnn    # the search directory
winner: {retrain: true, merge_validation: true, epochs: null, patience: 10, rescore_folds: null, export: null}
                                # (winner.epochs: auto trains as long as `kerazoo train` would)
isolate_trials: true            # trials in recycled worker processes (false: in this process, for debugging)
trials_per_worker: 16           # a worker is replaced after this many trials...
worker_memory: null             # ...or once its memory passes this many MiB
```

The file is read with a PyYAML `SafeLoader` (no Python objects) that also reads
`1e-4` as a number, as YAML 1.2 does. Every error names the file and the field.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerazoo.errors import JobError
from tuning.workers import DEFAULT_TRIALS_PER_WORKER

__all__ = ["Job", "JobError", "load_job", "FIELDS"]

FIELDS = ("model", "data", "space", "tuner", "objective", "budget", "seed", "output", "precision",
          "isolate_trials", "trials_per_worker", "worker_memory", "tensorboard", "winner")
DATA_FIELDS = ("source", "validation_split", "test_split", "batch_size", "task", "kind", "label",
               "image_size", "name")
BUDGET_FIELDS = ("max_trials", "executions_per_trial", "epochs", "patience", "hyperband_factor")
WINNER_FIELDS = ("retrain", "merge_validation", "epochs", "patience", "rescore_folds", "export")
EXPORT_FIELDS = ("formats", "quantize")


@dataclass
class Job:
    """A validated search job (see the module docstring for the YAML form).

    Example:
    >>> job = load_job({"model": "mlp", "data": "iris", "budget": {"max_trials": 3, "epochs": 2}})
    >>> job.model, job.data, job.tuner, job.max_trials, job.output
    ('mlp', {'source': 'iris'}, 'bayesian', 3, 'runs/tune-mlp')
    """

    model: str | list
    data: dict
    space: dict = field(default_factory=dict)
    tuner: str = "bayesian"
    objective: Any = None
    max_trials: int = 10
    executions_per_trial: int = 1
    epochs: int = 10
    patience: int | None = None
    hyperband_factor: int = 3
    seed: int = 0
    output: str = ""
    precision: str | None = None
    isolate_trials: bool | None = None
    trials_per_worker: int = DEFAULT_TRIALS_PER_WORKER
    worker_memory: float | None = None
    tensorboard: bool = True
    retrain: bool = True
    merge_validation: bool = True
    winner_epochs: int | str | None = None
    winner_patience: int = 10
    rescore_folds: int | None = None
    export: dict | None = None
    path: str = "job"


def _safe_loader():
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader (plain data only) that reads `1e-4` as a float, as YAML 1.2 does."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."))
    return Loader


def _fail(where: str, message: str) -> JobError:
    return JobError(f"{where}: {message}")


def _keys(where: str, mapping: Any, allowed: tuple, what: str) -> dict:
    if not isinstance(mapping, Mapping):
        raise _fail(where, f"expected a mapping of {what} fields, got {type(mapping).__name__} {mapping!r}")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _fail(where, f"unknown {what} field {key!r}{hint} (fields: {', '.join(allowed)})")
    return dict(mapping)


def _int(where: str, value: Any, *, minimum: int = 1, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(where, f"expected an int >= {minimum}, got {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false, got {value!r}")
    return value


def _str(where: str, value: Any, *, choices: tuple | None = None, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(where, f"expected a string, got {value!r}")
    if choices and value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _fail(where, f"{value!r} is not one of {', '.join(choices)}{hint}")
    return value


def export_available() -> bool:
    """Whether the `export` package provides `export_model` (it is optional)."""
    try:
        import export
    except ImportError:
        return False
    return callable(getattr(export, "export_model", None))


_NESTED = {"budget": BUDGET_FIELDS, "winner": WINNER_FIELDS, "data": DATA_FIELDS}


def _check_indentation(name: str, raw: Mapping) -> None:
    """A block's fields written at the top level (not indented under `budget:`): say so, not 'unknown field'.

    Example:
    >>> _check_indentation("job.yaml", {"model": "mlp", "budget": None, "max_trials": 3})
    Traceback (most recent call last):
    ...
    kerazoo.errors.JobError: job.yaml: max_trials is a field of budget, but it is not indented under `budget:` (YAML reads it as a job field); indent it by two spaces below `budget:`
    """
    for key in raw:
        if key in FIELDS:
            continue
        parent = next((p for p, fields in _NESTED.items() if key in fields), None)
        if parent is not None and (parent not in raw or raw[parent] is None):
            raise JobError(f"{name}: {key} is a field of {parent}, but it is not indented under `{parent}:` "
                           f"(YAML reads it as a job field); indent it by two spaces below `{parent}:`")


def _model(name: str, value: Any) -> str | list:
    """The job's `model`: a registered name, `auto`, or a list of registered names.

    Example:
    >>> _model("job.yaml", ["cnn", "vitt"])
    Traceback (most recent call last):
    ...
    kerazoo.errors.JobError: job.yaml: model: unknown model 'vitt'; did you mean: vit? (`kerazoo models` lists them all)
    """
    from kerazoo.registry import get_entry
    from tuning.families import AUTO, resolve_families

    if isinstance(value, list):
        try:
            return list(resolve_families(value))
        except ValueError as err:
            raise JobError(f"{name}: {err}") from None
    model = _str(f"{name}: model", value)
    if model == AUTO:
        return model
    try:
        get_entry(model)
    except KeyError as err:
        raise JobError(f"{name}: model: {err.args[0]}") from None
    return model


def load_job(source: str | os.PathLike | Mapping) -> Job:
    """Read and validate a search job: a YAML file, or the same data as a dict.

    Checks every field's type and range, that the model exists, and that every
    space key is a model argument or a training setting (the objective is
    checked against the data's task when the job runs).

    Args:
        source: a path to a `.yaml` file, or a mapping.

    Returns:
        A `Job`.

    Raises:
        JobError: (a ValueError) one line naming the file, the field and the
            problem: not YAML, an unknown field, a wrong type, an unknown model
            or space key.

    Example:
    >>> load_job({"model": "mlp", "data": "iris", "budgett": {}})
    Traceback (most recent call last):
    ...
    kerazoo.errors.JobError: job: unknown job field 'budgett'; did you mean 'budget'? (fields: model, data, space, tuner, objective, budget, seed, output, precision, isolate_trials, trials_per_worker, worker_memory, tensorboard, winner)
    >>> load_job({"model": "mlpp", "data": "iris"})
    Traceback (most recent call last):
    ...
    kerazoo.errors.JobError: job: model: unknown model 'mlpp'; did you mean: mlp? (`kerazoo models` lists them all)
    >>> load_job({"model": "mlp", "data": "iris", "budget": {"epochs": "ten"}})
    Traceback (most recent call last):
    ...
    kerazoo.errors.JobError: job: budget.epochs: expected an int >= 1, got 'ten'
    """
    import yaml

    if isinstance(source, Mapping):
        name, raw, stem = "job", source, None
    else:
        path = Path(source)
        name, stem = str(path), path.stem
        try:
            text = path.read_text()
        except OSError as err:
            raise JobError(f"{name}: cannot read the job file: {err.strerror}") from None
        try:
            raw = yaml.load(text, Loader=_safe_loader())  # noqa: S506  (a SafeLoader subclass)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise JobError(f"{name}: not valid YAML{where}: {problem}") from None
        if raw is None:
            raise JobError(f"{name}: the job file is empty; it needs at least `model:` and `data:`")
    if not isinstance(raw, Mapping):
        raise JobError(f"{name}: expected a mapping of job fields (model, data, ...), got {type(raw).__name__}")
    _check_indentation(name, raw)
    raw = _keys(name, raw, FIELDS, "job")
    for required in ("model", "data"):
        if required not in raw:
            raise JobError(f"{name}: {required}: missing (a job needs at least `model:` and `data:`)")

    model = _model(name, raw["model"])

    data = raw["data"]
    if isinstance(data, str):
        data = {"source": data}
    data = _keys(f"{name}: data", data, DATA_FIELDS + ("seed",), "data")
    if "seed" in data:
        raise JobError(f"{name}: data.seed: the top-level `seed` seeds the splits too (so that "
                       f"`kerazoo train --config best.json` repeats them); remove data.seed")
    _str(f"{name}: data.source", data.get("source"))
    for key in ("validation_split", "test_split"):
        if key in data and not (isinstance(data[key], (int, float)) and not isinstance(data[key], bool)
                                and 0 <= data[key] < 1):
            raise JobError(f"{name}: data.{key}: expected a number in [0, 1), got {data[key]!r}")
    if "batch_size" in data:
        _int(f"{name}: data.batch_size", data["batch_size"])

    space = raw.get("space") or {}
    if not isinstance(space, Mapping):
        raise JobError(f"{name}: space: expected a mapping of name -> values, got {space!r}")
    from tuning.families import is_family_search, resolve_families, resolve_search_space

    try:
        resolve_search_space(resolve_families(model) if is_family_search(model) else model, space)
    except (ValueError, TypeError) as err:
        raise JobError(f"{name}: {err if str(err).startswith('space') else f'space: {err}'}") from None

    from tuning import TUNERS

    tuner = _str(f"{name}: tuner", raw.get("tuner", "bayesian"), choices=TUNERS)
    objective = raw.get("objective")
    if objective is not None:
        if isinstance(objective, Mapping):
            _keys(f"{name}: objective", objective, ("name", "direction", "folds"), "objective")
            _str(f"{name}: objective.name", objective.get("name"))
            _str(f"{name}: objective.direction", objective.get("direction", "min"), choices=("min", "max"))
            if "folds" in objective:
                _int(f"{name}: objective.folds", objective["folds"], minimum=2)
        else:
            _str(f"{name}: objective", objective)

    budget = _keys(f"{name}: budget", raw.get("budget") or {}, BUDGET_FIELDS, "budget")
    job = Job(model=model, data=data, space=dict(space), tuner=tuner, objective=objective, path=name)
    job.max_trials = _int(f"{name}: budget.max_trials", budget.get("max_trials", job.max_trials))
    job.executions_per_trial = _int(f"{name}: budget.executions_per_trial",
                                    budget.get("executions_per_trial", job.executions_per_trial))
    job.epochs = _int(f"{name}: budget.epochs", budget.get("epochs", job.epochs))
    job.patience = _int(f"{name}: budget.patience", budget.get("patience"), optional=True)
    job.hyperband_factor = _int(f"{name}: budget.hyperband_factor",
                                budget.get("hyperband_factor", job.hyperband_factor), minimum=2)
    job.seed = _int(f"{name}: seed", raw.get("seed", 0), minimum=0)
    label = model if isinstance(model, str) else "families"
    job.output = _str(f"{name}: output", raw.get("output", f"runs/tune-{stem or label}"))
    job.precision = _str(f"{name}: precision", raw.get("precision"), optional=True,
                         choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    if raw.get("isolate_trials") is not None:
        job.isolate_trials = _bool(f"{name}: isolate_trials", raw["isolate_trials"])
    job.trials_per_worker = _int(f"{name}: trials_per_worker", raw.get("trials_per_worker", job.trials_per_worker))
    memory = raw.get("worker_memory")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, (int, float)) or memory <= 0):
        raise JobError(f"{name}: worker_memory: expected a positive number of MiB, got {memory!r}")
    job.worker_memory = memory
    job.tensorboard = _bool(f"{name}: tensorboard", raw.get("tensorboard", True))

    winner = _keys(f"{name}: winner", raw.get("winner") or {}, WINNER_FIELDS, "winner")
    job.retrain = _bool(f"{name}: winner.retrain", winner.get("retrain", True))
    job.merge_validation = _bool(f"{name}: winner.merge_validation", winner.get("merge_validation", True))
    job.winner_epochs = winner.get("epochs")
    if job.winner_epochs != "auto":  # "auto": as many as `kerazoo train` would train
        job.winner_epochs = _int(f"{name}: winner.epochs", job.winner_epochs, optional=True)
    job.winner_patience = _int(f"{name}: winner.patience", winner.get("patience", 10))
    job.rescore_folds = _int(f"{name}: winner.rescore_folds", winner.get("rescore_folds"), minimum=2, optional=True)
    export = winner.get("export")
    if export is not None:
        if export is True:
            export = {}
        export = _keys(f"{name}: winner.export", export, EXPORT_FIELDS, "export")
        formats = export.get("formats", ["savedmodel"])
        formats = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else formats
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
            raise JobError(f"{name}: winner.export.formats: expected a list of format names, got {formats!r}")
        export["formats"] = formats
        quantize = export.get("quantize")
        quantize = [q.strip() for q in quantize.split(",")] if isinstance(quantize, str) else quantize
        if quantize is not None and not (isinstance(quantize, list) and all(isinstance(q, str) for q in quantize)):
            raise JobError(f"{name}: winner.export.quantize: expected mode names (dynamic, float16, int8), "
                           f"got {quantize!r}")
        export["quantize"] = quantize
        if not job.retrain:
            raise JobError(f"{name}: winner.export: exporting needs the retrained winner; set winner.retrain: true")
        if not export_available():
            raise JobError(f"{name}: winner.export: the `export` package with export_model() is not installed "
                           f"here; remove winner.export")
        job.export = export
    return job

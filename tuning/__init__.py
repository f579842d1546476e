"""Hyperparameter search over the zoo's declared search spaces (KerasTuner).

`search` runs a KerasTuner search over a registered model's search space plus its
training settings (or across model families: a list of them, or "auto"); `run_job` runs a search job written as YAML (`kerazoo tune
job.yaml`): search, results, the winner retrained on train + validation, tested,
optionally exported. Searches resume where they stopped and spread over
processes with KerasTuner's chief/worker mode. Importing `tuning` imports
neither TensorFlow nor KerasTuner: they load on first use.

>>> import tuning
>>> sorted(tuning.resolve_space("mlp", {"width": [8, 16]}).entries)[:3]
['batch_norm', 'batch_size', 'depth']
"""

from __future__ import annotations

#: The KerasTuner tuners a search can use.
TUNERS = ("random", "bayesian", "hyperband", "grid")

_LAZY = {
    "search": "tuning.searching",
    "SearchResult": "tuning.searching",
    "ZooHyperModel": "tuning.hypermodel",
    "load_job": "tuning.job",
    "Job": "tuning.job",
    "JobError": "tuning.job",
    "run_job": "tuning.run",
    "JobResult": "tuning.run",
    "resolve_space": "tuning.spaces",
    "ResolvedSpace": "tuning.spaces",
    "resolve_objective": "tuning.objective",
    "resolve_search_space": "tuning.families",
    "FamilySpace": "tuning.families",
    "auto_families": "tuning.families",
    "resolve_families": "tuning.families",
    "retrain": "tuning.run",
    "rescore": "tuning.run",
}

__all__ = ["TUNERS", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tuning' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

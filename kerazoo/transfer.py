"""Fine-tuning: a trained (or pretrained) model's features, a new head, and two phases.

`finetune` takes a source model (a run directory, a `.keras` file, a registered
name such as the Keras Applications backbones, or a `keras.Model`), replaces
its head for the new data's task and classes, adapts its input when the new
images differ in size, channels or value range, and trains in phases: first the
new head alone with the backbone frozen, then the chosen backbone layers with a
lower learning rate. BatchNormalization layers of the source stay frozen, so in
inference mode (Keras 3 runs a frozen BatchNormalization layer with its moving
statistics), unless `train_batchnorm=True`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerazoo.modelinfo import record_info
from kerazoo.runlock import holds_run_dir
from kerazoo.surgery import (
    adapt_inputs,
    feature_output,
    head_layers,
    leaf_layers,
    load_source,
    new_head,
)

__all__ = ["finetune", "FinetuneResult", "plan_finetune", "FinetunePlan"]

log = logging.getLogger("kerazoo")



@dataclass
class FinetuneResult:
    """What `finetune` returns.

    Attributes:
        model: the fine-tuned model (after the last phase).
        history: metric name -> one value per epoch, the phases one after the
            other; `history["phase"]` says which phase each epoch belongs to.
        metrics: `{"validation": {...}, "test": {...}}` after the last phase.
        phases: one dict a phase: learning rate, epochs run, trainable
            parameters, frozen layers and that phase's metrics.
        adaptation: the input adaptations made (resizing, channels, value
            range), as logged; empty when the data fits the source as it is.
        run_dir: the run directory, when one was written.
        fits: each phase's `FitResult`.
    """

    model: Any = field(repr=False)
    history: dict
    metrics: dict
    phases: list
    adaptation: list
    run_dir: Path | None = None
    fits: list = field(default_factory=list, repr=False)


def _as_bundle(data):
    from kerazoo.data import Data, load_data

    if isinstance(data, Data):
        return data
    if isinstance(data, (str, os.PathLike)):
        return load_data(data)
    if isinstance(data, tuple) and len(data) == 2:
        return load_data(data, test_split=0.0)
    raise TypeError(f"data must be load_data()'s result, a source name or a tuple (x, y), "
                    f"got {type(data).__name__}")


def _select(layers: list, choice, *, what: str, last: bool = False) -> list:
    """The layers `choice` names: all, the first (or last) N holding weights, or wildcards."""
    if choice in ("backbone", "all"):
        return list(layers)
    weighted = [layer for layer in layers if layer.weights]
    if isinstance(choice, bool):
        raise TypeError(f"{what} must be 'backbone', an int or a list of layer names, got {choice!r}")
    if isinstance(choice, int):
        if not 0 <= choice <= len(weighted):
            raise ValueError(f"{what}={choice}: the backbone has {len(weighted)} layers with weights; "
                             f"expected 0 to {len(weighted)}")
        chosen = set(map(id, weighted[len(weighted) - choice:] if last else weighted[:choice]))
        return [layer for layer in layers if id(layer) in chosen]
    if isinstance(choice, str):
        choice = [choice]
    if isinstance(choice, (list, tuple)):
        out = []
        for pattern in choice:
            hits = [layer for layer in layers if fnmatch.fnmatch(layer.name, str(pattern))]
            if not hits:
                names = ", ".join(layer.name for layer in weighted[:12])
                raise ValueError(f"{what}: {pattern!r} matches no backbone layer; some are: {names}")
            out.extend(h for h in hits if h not in out)
        return out
    raise TypeError(f"{what} must be 'backbone', an int or a list of layer names, got {choice!r}")


def _per_phase(value, phases: int, what: str) -> tuple:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        if phases != 1 and what == "learning_rates":
            raise ValueError(f"learning_rates needs one rate a phase ({phases}), e.g. (1e-3, 1e-5); "
                             f"got {value!r}")
        return (value,) * phases
    value = tuple(value)
    if len(value) != phases:
        raise ValueError(f"{what} needs one value a phase ({phases}), got {value!r}")
    return value


def _trainable_params(model) -> int:
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@dataclass
class FinetunePlan:
    """What `plan_finetune` returns: the new model and what each phase trains.

    Attributes:
        model: the new model: the source's layers (shared), input adapters
            and the new head.
        phases: 1 or 2.
        adaptation: the input adaptations made, as logged.
        settings: the choices, as recorded in a run's `config.json`.
        frozen: one list a phase of the layers frozen in it.
    """

    model: Any = field(repr=False)
    phases: int
    adaptation: list
    settings: dict
    frozen: list = field(repr=False, default_factory=list)
    leaves: list = field(repr=False, default_factory=list)

    def apply(self, phase: int) -> None:
        """Set every layer's `trainable` for `phase` (1 or 2); compile after it."""
        frozen = set(map(id, self.frozen[phase - 1]))
        for layer in self.leaves:
            layer.trainable = id(layer) not in frozen

    def trainable_layers(self, phase: int) -> list[str]:
        """The names of the layers with weights that train in `phase`."""
        frozen = set(map(id, self.frozen[phase - 1]))
        return [layer.name for layer in self.leaves if layer.weights and id(layer) not in frozen]


def plan_finetune(
    source: Any,
    data: Any,
    *,
    freeze: str | int | list = "backbone",
    unfreeze: str | int | list = "all",
    head: str | dict = "new",
    features: str | None = None,
    phases: int = 2,
    train_batchnorm: bool = False,
    overrides: dict | None = None,
    safe_mode: bool = True,
) -> FinetunePlan:
    """The model `finetune` trains and the layers each phase trains, without training.

    Takes `finetune`'s arguments of the same names (see there).

    Returns:
        A `FinetunePlan`; `plan.trainable_layers(phase)` names what trains.

    Raises:
        ValueError: as `finetune`.

    Example:
    >>> from kerazoo import build, load_data
    >>> data = load_data("iris")
    >>> plan = plan_finetune(build("mlp", data.spec, depth=1, width=8), data, unfreeze=["dense_*"])
    >>> plan.trainable_layers(1), plan.trainable_layers(2)
    (['predictions'], ['dense_0', 'predictions'])
    """
    import keras

    if phases not in (1, 2):
        raise ValueError(f"phases must be 1 or 2, got {phases!r}")
    if head not in ("new", "keep") and not isinstance(head, dict):
        raise ValueError(f"head must be 'new', 'keep' or a dict with 'units', got {head!r}")
    spec = _as_bundle(data).spec if not hasattr(data, "input_shape") else data
    model, info, source_range, what = load_source(source, spec, overrides=overrides, safe_mode=safe_mode)
    log.info("kerazoo: fine-tuning %s (%s) on %s", what, info.get("model", model.name), spec.summary())
    source_leaves = leaf_layers(model)
    inputs, adapted, notes, fixed = adapt_inputs(model, source_range, spec)
    if head == "keep":
        if features is not None:
            raise ValueError("features names where a new head attaches; head='keep' keeps the old one")
        if model.output_shape[-1] != spec.num_outputs or (info.get("spec") or {}).get("task", spec.task) != spec.task:
            raise ValueError(f"head='keep': the source outputs {model.output_shape[-1]} values "
                             f"({(info.get('spec') or {}).get('task', 'its task')}), the data needs "
                             f"{spec.num_outputs} ({spec.task}); use head='new'")
        new = model if inputs is None else keras.Model(inputs, model(adapted), name=model.name)
        heads = head_layers(model)
    else:
        cut = feature_output(model, features)
        if inputs is None:
            new = keras.Model(model.inputs, new_head(cut, spec, head), name=model.name)
        else:
            body = keras.Model(model.inputs, cut, name=f"{model.name}_body")
            new = keras.Model(inputs, new_head(body(adapted), spec, head), name=model.name)
        heads = []
    leaves = leaf_layers(new)
    in_source = set(map(id, source_leaves)) - set(map(id, heads))
    backbone = [layer for layer in leaves if id(layer) in in_source]
    frozen1 = _select(backbone, freeze, what="freeze")
    thawed = _select(frozen1, unfreeze, what="unfreeze", last=True) if phases == 2 else []
    if phases == 2 and not frozen1:
        raise ValueError(f"freeze={freeze!r} freezes nothing, so a second phase has nothing to unfreeze; "
                         f"pass phases=1 to train everything at once")
    if phases == 2 and not any(layer.weights for layer in thawed):
        raise ValueError(f"unfreeze={unfreeze!r} unfreezes no layer with weights; pass phases=1 to train "
                         f"the head alone")
    always = list(fixed) + [layer for layer in backbone  # BatchNormalization stays in inference mode
                            if isinstance(layer, keras.layers.BatchNormalization) and not train_batchnorm]
    frozen = [frozen1 + always, [layer for layer in frozen1 if layer not in thawed] + always][:phases]
    record_info(new, model=info.get("model", model.name), overrides=info.get("overrides", {}),
                config=info.get("config", {}), spec=spec.to_dict())
    settings = {"source": str(source) if isinstance(source, (str, os.PathLike)) else what,
                "source_model": info.get("model", model.name), "head": head, "features": features,
                "freeze": freeze, "unfreeze": unfreeze, "train_batchnorm": train_batchnorm,
                "adaptation": notes}
    return FinetunePlan(model=new, phases=phases, adaptation=notes, settings=settings, frozen=frozen,
                        leaves=leaves)


@holds_run_dir  # the whole run directory, phases and top level, is this call's (kerazoo.runlock)
def finetune(
    source: Any,
    data: Any,
    *,
    freeze: str | int | list = "backbone",
    unfreeze: str | int | list = "all",
    head: str | dict = "new",
    features: str | None = None,
    phases: int = 2,
    learning_rates: tuple | float | None = None,
    epochs: tuple | int | None = None,
    train_batchnorm: bool = False,
    overrides: dict | None = None,
    compile_args: dict | None = None,
    run_dir: str | os.PathLike | None = None,
    seed: int | None = None,
    patience: int = 10,
    callbacks: str | list = "default",
    verbose: int | str = "auto",
    safe_mode: bool = True,
) -> FinetuneResult:
    """Fine-tune a trained or pretrained model on new data, in one or two phases.

    The source's head is replaced by a new one for the data's task and classes.
    When the data's images differ from the source's in size, channels or value
    range, layers in front of the source adapt them (resizing, gray to RGB,
    rescaling), and each adaptation is logged and recorded. Phase one trains
    the new layers with the layers `freeze` names frozen; phase two also
    trains the frozen layers `unfreeze` names, at the lower second learning
    rate. The source's BatchNormalization layers stay frozen throughout (in
    inference mode) unless `train_batchnorm=True`. With `phases=1`, only the
    first phase runs.

    With `run_dir`, each phase writes a complete run under `phase1/`,
    `phase2/`, and the top level is a run of the final model (`config.json`
    with a `finetune` section, `history.csv` of both phases with a `phase`
    column, `metrics.json`, `model.keras`, `manifest.json`), which `load_run`,
    `kerazoo evaluate` and `kerazoo export` read.

    Args:
        source: a run directory, a `.keras` file, a registered model name
            (built for the data, with `overrides`; e.g. `"mobilenet_v2"`) or
            a `keras.Model` (copied; the original stays as it is).
        data: `load_data()`'s result, a source name for it, or `(x, y)`.
        freeze: what phase one freezes: `"backbone"` (every source layer but
            the head), an int N (the first N source layers that hold weights)
            or a list of layer names and wildcards. Defaults to "backbone".
        unfreeze: what phase two trains of the frozen layers: `"all"`, an int
            N (the last N frozen layers that hold weights, nearest the head)
            or a list of names and wildcards. Defaults to "all".
        head: `"new"` (a new output layer), `"keep"` (the source's head; its
            outputs must fit the data) or a dict `{"units": 128, "dropout":
            0.2, "activation": "relu"}` for a hidden layer before the new
            output layer. Defaults to "new".
        features: the layer whose output the new head takes, e.g.
            `"global_pool"` to drop the source's dense layer as well. Defaults
            to None (what the source's output layer took).
        phases: 1 or 2. Defaults to 2.
        learning_rates: one peak learning rate a phase, each decayed by the
            compiled schedule (cosine by default). Defaults to (1e-3, 1e-3)
            (1e-3 with one phase): on the digits transfer of
            `benchmarks/defaults_sweep.py` a second phase at 1e-4 scored 3
            points less and at 1e-5 20 points less. For a large backbone
            pretrained on ImageNet, the usual recipe is lower, e.g. (1e-3, 1e-5).
        epochs: most epochs a phase: one a phase, or one for each; `"auto"`
            as in `fit` (at least 10 epochs and 300 steps). Defaults to "auto".
        train_batchnorm: let the source's BatchNormalization layers train
            (batch statistics) when not frozen. Defaults to False.
        overrides: builder arguments for a registered name, e.g.
            `{"weights": "imagenet"}`.
        compile_args: other `compile_model` arguments (optimizer, schedule,
            weight_decay, ...), for every phase.
        run_dir: where to write the run. Defaults to None (nothing written).
        seed: `fit`'s seed, for every phase. Defaults to None.
        patience: early stopping's patience in each phase. Defaults to 10.
        callbacks: `fit`'s callbacks preset or list. Defaults to "default".
        verbose: Keras' progress display. Defaults to "auto".
        safe_mode: load source files in Keras' safe mode. Defaults to True.

    Returns:
        A `FinetuneResult`: the model, both phases' history, final metrics,
        each phase's settings, and the input adaptations made.

    Raises:
        ValueError: a source that is not a run, a file or a registered name;
            non-image data whose shape differs from the source's; a `freeze`
            or `unfreeze` that names no layer; a kept head that does not fit.
        WeightsUnavailableError: a backbone's pretrained weights that could
            not be downloaded (`kerazoo.models.applications`).

    Example:
    >>> from kerazoo import build, load_data
    >>> data = load_data("iris", validation_split=0.0)
    >>> source = build("mlp", data.spec, depth=1, width=8)  # stands for a trained model
    >>> result = finetune(source, data, epochs=(1, 1), verbose=0)
    >>> [p["phase"] for p in result.phases], result.history["phase"]
    ([1, 2], [1.0, 2.0])
    >>> result.phases[0]["trainable_params"] < result.phases[1]["trainable_params"]
    True
    """
    from kerazoo import runs
    from kerazoo.compiling import compile_model
    from kerazoo.train import fit

    rates = _per_phase((1e-3, 1e-3)[:phases] if learning_rates is None else learning_rates, phases,
                       "learning_rates")
    counts = _per_phase("auto" if epochs is None else epochs, phases, "epochs")
    data = _as_bundle(data)
    plan = plan_finetune(source, data, freeze=freeze, unfreeze=unfreeze, head=head, features=features,
                         phases=phases, train_batchnorm=train_batchnorm, overrides=overrides,
                         safe_mode=safe_mode)
    new = plan.model
    run_dir = Path(run_dir) if run_dir is not None else None
    fits, summary = [], []
    for phase in range(1, phases + 1):
        plan.apply(phase)
        compile_model(new, learning_rate=rates[phase - 1], **(compile_args or {}))
        n_frozen = sum(1 for layer in plan.leaves if layer.weights and not layer.trainable)
        entry = {"phase": phase, "learning_rate": rates[phase - 1], "max_epochs": counts[phase - 1],
                 "trainable_params": _trainable_params(new), "frozen_layers": n_frozen}
        log.info("kerazoo: phase %d/%d: training %s parameters (%d layers frozen), learning rate %g, "
                 "up to %s epochs", phase, phases, f"{entry['trainable_params']:,}", n_frozen,
                 rates[phase - 1], counts[phase - 1])
        result = fit(new, data, epochs=counts[phase - 1], run_dir=run_dir / f"phase{phase}" if run_dir else None,
                     seed=seed, patience=patience, callbacks=callbacks, verbose=verbose,
                     config={"finetune": {**plan.settings, "phase": phase, **entry}})
        entry.update(epochs=result.epochs, metrics=result.metrics)
        fits.append(result)
        summary.append(entry)
    history = _merge_histories([f.history for f in fits])
    result = FinetuneResult(model=new, history=history, metrics=fits[-1].metrics, phases=summary,
                            adaptation=plan.adaptation, run_dir=run_dir, fits=fits)
    if run_dir is not None:
        _write_top_level(run_dir, result, plan.settings, phases)
        runs.save_model(new, run_dir / "model.keras")
        runs.finish_run(run_dir)
    return result


def _merge_histories(histories: list) -> dict:
    keys = []
    for h in histories:
        keys.extend(k for k in h if k not in keys)
    out = {k: [] for k in keys}
    out["phase"] = []
    for phase, h in enumerate(histories, 1):
        n = len(next(iter(h.values()), []))
        for k in keys:
            out[k].extend(h.get(k, [float("nan")] * n))
        out["phase"].extend([float(phase)] * n)
    return out


def _write_top_level(run_dir: Path, result: FinetuneResult, settings: dict, phases: int) -> None:
    from kerazoo import io, runs

    config = json.loads((run_dir / f"phase{phases}" / "config.json").read_text())
    config["finetune"] = {**settings, "phases": [{k: v for k, v in p.items() if k != "metrics"}
                                                 for p in result.phases]}
    io.write_json(run_dir / "config.json", config)
    runs.write_history(run_dir / "history.csv", result.history)
    io.write_json(run_dir / "metrics.json", {
        **result.metrics, "epochs": sum(p["epochs"] for p in result.phases),
        "train_seconds": round(sum(f.seconds for f in result.fits), 3),
        "phases": [{"phase": p["phase"], **p["metrics"]} for p in result.phases]})

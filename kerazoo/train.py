"""Training: `fit` with callback presets, and `evaluate` (compiling is `kerazoo.compiling`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from kerazoo import budget, io, runs
from kerazoo.compat import reset_initial_epoch
from kerazoo.compiling import build_training_state, compile_model
from kerazoo.console import progress_verbose, training_interrupts
from kerazoo.distribute import distribution_info, is_chief
from kerazoo.modelinfo import model_info
from kerazoo.runlock import holds_run_dir
from kerazoo.spec import DataSpec

__all__ = ["fit", "evaluate", "FitResult", "CALLBACK_PRESETS"]

log = logging.getLogger("kerazoo")

CALLBACK_PRESETS = ("default", "minimal", "none")


@dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
        history: metric name -> one value per epoch run.
        metrics: `{"validation": {...}, "test": {...}}` of the final (restored best) model.
        epochs: epochs run (early stopping may end it before `epochs`).
        seconds: wall time of training.
        run_dir: the run directory, when one was written.
    """

    history: dict
    metrics: dict
    epochs: int
    seconds: float
    run_dir: Path | None = None
    model: Any = field(default=None, repr=False)


def _as_data(data, model):
    from kerazoo.data import Data, load_data

    if isinstance(data, Data):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        task = (model_info(model).get("spec") or {}).get("task")
        return load_data(data, test_split=0.0, task=task)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        shape = tuple(model.input_shape[1:])
        spec = DataSpec(shape, task="regression", kind="tabular", name="dataset")
        return Data(train=data, validation=None, test=None, spec=spec, source="dataset")
    raise TypeError(f"data must be load_data()'s result, a tuple (x, y) or a tf.data.Dataset, "
                    f"got {type(data).__name__}")


def _reseeded(data, seed: int):
    """The bundle with its training pipeline shuffled afresh from `seed`.

    A seeded tf.data shuffle keeps its state across iterations of one dataset, so
    a second `fit` on the same bundle would see other batches: rebuild it. A
    training pipeline the caller put in place of the bundle's is kept as given.
    """
    from dataclasses import replace

    if not data.rebuilds("train"):  # the caller's own pipeline (`replace(data, train=...)`): trained as given
        return data
    if data.train_pipeline is not None:
        train = data.train_pipeline(batch_size=data.options.get("batch_size", 32), seed=seed)
    elif data.arrays and "train" in data.arrays:
        from kerazoo.data import make_pipeline

        x, y = data.arrays["train"]
        train = make_pipeline(x, y, batch_size=data.options.get("batch_size", 32), shuffle=True, seed=seed,
                              dtype=data.spec.input_dtype)
    else:
        return data
    return replace(data, train=train, made={**data.made, "train": train})  # still the bundle's own


def _validation_examples(data) -> int | None:
    """Predictions the validation split scores: a row each, or for a language model a token each
    (a window of 128 tokens is 128 next-token predictions); None when unknown."""
    labels = data.split_labels("validation")  # a language model's are its windows' next tokens, a token each
    if labels is None:
        return None
    return int(labels.size) if data.spec.task == "causal_lm" else len(labels)


def _steps_taken(model) -> int:
    value = model.optimizer.iterations.value  # a MirroredVariable under tf.distribute
    return int(value.numpy() if hasattr(value, "numpy") else value)


def _batched_for(data, strategy):
    """Re-batch every split to `batch_size * replicas` when the strategy has several replicas.

    The rule: the batch size given to `load_data` is per replica, and the global
    batch grows with the number of replicas, so each device sees the same batch.
    """
    from dataclasses import replace

    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    per_replica = data.options.get("batch_size", 32)
    if replicas == 1 or data.options.get("global_batch_size"):
        return data
    global_batch = per_replica * replicas
    log.info("kerazoo: %s with %d replicas: batch %d per replica x %d = global batch %d",
             type(strategy).__name__, replicas, per_replica, replicas, global_batch)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    from kerazoo.data import make_pipeline

    def rebatch(split):
        ds = getattr(data, split)
        if ds is None:
            return None
        rebuild = data.rebuilds(split)  # False: the caller's own pipeline, re-batched as it is (below)
        if rebuild and split == "train" and data.train_pipeline is not None:
            ds = data.train_pipeline(batch_size=global_batch, seed=data.options.get("seed", 0))
        elif rebuild and data.arrays and split in data.arrays:  # keeps the number of batches known
            x, y = data.arrays[split]
            ds = make_pipeline(x, y, batch_size=global_batch, shuffle=split == "train",
                               seed=data.options.get("seed", 0), dtype=data.spec.input_dtype)
        else:
            ds = ds.unbatch().batch(global_batch).prefetch(tf.data.AUTOTUNE)
        return ds.with_options(options)

    return replace(data, train=rebatch("train"), validation=rebatch("validation"), test=rebatch("test"),
                   options={**data.options, "global_batch_size": global_batch})


def check_model_fits(model, spec: DataSpec) -> None:
    """Refuse data whose input shape or output size the model cannot take."""
    name = getattr(model, "name", "model")
    want = tuple(model.input_shape[1:])
    have = tuple(spec.input_shape)
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
        raise ValueError(f"model {name!r} takes inputs of shape {want}, but data {spec.name!r} has "
                         f"{have}; build the model for the data: build(name, data.spec)")
    if model_info(model) and spec.name != "dataset" and model.output_shape[-1] != spec.num_outputs:
        raise ValueError(f"model {name!r} has {model.output_shape[-1]} outputs, but data {spec.name!r} "
                         f"needs {spec.num_outputs} ({spec.task}); build the model for the data: "
                         f"build(name, data.spec)")


def make_callbacks(preset: str | list, *, run_dir: Path | None, has_validation: bool, patience: int,
                   constant_lr: bool, resume: bool = False) -> list:
    """The callback preset by name, with any user callbacks appended (`resume`: append to history.csv)."""
    items = preset if isinstance(preset, (list, tuple)) else [preset]
    names = [c for c in items if isinstance(c, str)]
    extra = [c for c in items if not isinstance(c, str)]
    for n in names:
        if n not in CALLBACK_PRESETS:
            raise ValueError(f"callbacks preset must be one of {list(CALLBACK_PRESETS)}, got {n!r}")
    name = names[0] if names else "default"
    from kerazoo.resume import NaNGuard, StopOnInterrupt

    out = [NaNGuard()]  # a TerminateOnNaN that remembers the epoch and step
    if name == "default" and has_validation:
        out.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                 restore_best_weights=True, verbose=0))
        if constant_lr:
            out.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                         patience=max(2, patience // 3), verbose=0))
    if run_dir is not None and name != "none":
        out.append(keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume))
        if name == "default":
            out.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0))
    return out + extra + [StopOnInterrupt()]  # last: a finished epoch is logged and kept before a Ctrl-C stops it


@holds_run_dir  # a second writer of the same run directory is refused (kerazoo.runlock)
def fit(
    model,
    data,
    *,
    epochs: int | str = "auto",
    callbacks: str | list = "default",
    run_dir: str | Path | None = None,
    seed: int | None = None,
    patience: int = 10,
    verbose: int | str = "auto",
    config: dict | None = None,
    augment: str | dict | list | None = None,
    augment_on: str = "data",
) -> FitResult:
    """Train a model on a data bundle with the zoo's callbacks, and evaluate it.

    The `"default"` callbacks preset: TerminateOnNaN; with validation data,
    early stopping on the validation loss that restores the best weights (and
    reduce-on-plateau when the schedule is constant); with a `run_dir`, a CSV
    history and TensorBoard logs. A validation split of fewer than 50
    examples does not steer training (`kerazoo.budget`): the whole budget is
    trained, and the log says so. `"minimal"` keeps only TerminateOnNaN and the
    CSV history, `"none"` only TerminateOnNaN. A list adds your own callbacks to
    the preset named in it (or to `"default"`).

    With `run_dir`, the run directory is written: `config.json` first, then
    `history.csv`, `metrics.json`, `model.keras` and last `manifest.json`.
    While training, `checkpoint/` holds the last saved epoch (weights and
    optimizer state; every epoch unless epochs are shorter than ten saves,
    `kerazoo.resume.backup_due`): calling `fit` again on an unfinished run
    directory resumes from it (`kerazoo.resume`). A NaN or infinite loss
    stops training; with `run_dir` the run is marked failed and
    `TrainingDiverged` is raised, without one a warning names the epoch and
    step.

    Args:
        model: a compiled Keras model, usually from `build`.
        data: `load_data()`'s result, a tuple `(x, y)` (10% held out for
            validation), or a `tf.data.Dataset` of batches.
        epochs: the most epochs to run, or `"auto"`: at least 10 epochs and
            at least 300 optimizer steps (`kerazoo.budget.auto_epochs`), so
            50 examples get 150 epochs and the digits 10; a model may register
            its own floors (the gpt's 12 epochs and 4,680 steps) or epochs.
            Defaults to "auto".
        callbacks: a preset name, or a list of preset names and callbacks.
            Defaults to "default".
        run_dir: where to write the run. Defaults to None (nothing written).
        seed: seeds Python, NumPy and TensorFlow before training (set it before
            `build` as well for identical initial weights). Defaults to None.
        patience: early stopping's patience in epochs. Defaults to 10.
        verbose: Keras' progress display: "auto" (a progress bar on a terminal
            or in a notebook, one line an epoch otherwise), 0, 1 or 2.
        config: extra settings to record in the run's `config.json`.
        augment: training-only augmentation (`kerazoo.augment`): a preset name
            (`"none"`, `"light"`, `"medium"`, `"heavy"`; what each holds follows
            the data's kind), a dict of settings over a preset
            (`{"rotation": 0.1, "flip": "horizontal"}`), or a list of Keras
            layers. Validation and test data are never augmented, and the
            model saved and returned holds no augmentation. Defaults to None.
        augment_on: where augmentation runs: `"data"` (mapped over the
            training tf.data pipeline's batches, in parallel on the host CPU)
            or `"model"` (inside the training step, on the accelerator).
            Defaults to "data": it overlaps with the training step through
            the pipeline's prefetch and leaves the step XLA-compilable
            (RandomRotation, RandomZoom and RandomTranslation are not); on
            2 CPU cores the two sides measured within noise of each other
            (`benchmarks/augment_throughput.py`).

    After training, a model holding BatchNormalization layers whose
    validation accuracy (inference mode) is 20 points or more below its
    training-mode accuracy, or that has no validation split of 50 examples, is
    scored in inference mode on up to 1,000 training examples; if that too is
    20 points or more below, a warning names the likely cause
    (`kerazoo.diagnostics`).

    Returns:
        A `FitResult` with the history and the final validation/test metrics.

    Raises:
        ValueError: data whose shape or classes the model cannot take.
        kerazoo.errors.TrainingDiverged: the loss became NaN (with `run_dir`).
        kerazoo.errors.RunDirInUse: another process is writing `run_dir`.

    Example:
    >>> from kerazoo import build, load_data
    >>> data = load_data("iris", batch_size=16)
    >>> model = build("mlp", data.spec, width=16)
    >>> result = fit(model, data, epochs=2, verbose=0)
    >>> result.epochs, sorted(result.metrics)
    (2, ['test', 'validation'])
    """
    requested = epochs
    budget.resolve_epochs(epochs, None)  # a bad value fails before any work
    data = _as_data(data, model)
    check_model_fits(model, data.spec)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        data = _reseeded(data, seed)
    strategy = model.distribute_strategy
    data = _batched_for(data, strategy)
    from kerazoo import augment as augmentation

    if augment_on not in augmentation.AUGMENT_ON:
        raise ValueError(f"augment_on must be one of {list(augmentation.AUGMENT_ON)}, got {augment_on!r}")
    augmenter = augmentation.make_augmenter(augment, data.spec)  # after seeding: its draws repeat
    if augmentation.random_layers(model):
        log.warning("kerazoo: model %r holds augmentation layers (%s): they are saved and exported with "
                    "it; pass them to fit(augment=[...]) to keep them to training", model.name,
                    ", ".join(augmentation.random_layers(model)))
    if getattr(model, "optimizer", None) is None:
        compile_model(model, task=data.spec.task)
    settings = model_info(model).get("compile", {})
    steps = int(data.train.cardinality())
    epochs, note = budget.resolve_epochs(epochs, steps if steps > 0 else None, training=_registered_training(model))
    if note:
        log.info("kerazoo: %s", note)
    n_validation = _validation_examples(data)
    steer = data.validation is not None and budget.steers(n_validation)
    if data.validation is not None and not steer and callbacks != "none":
        log.info("kerazoo: the validation split holds %d examples, too few to steer training (early stopping "
                 "takes %d or more): training all %d epochs; validation figures are reported, not used",
                 n_validation, budget.MIN_VALIDATION, epochs)
    if settings and _steps_taken(model) == 0 and settings["schedule"] != "constant":
        if steps > 0:
            with strategy.scope():
                compile_model(model, **settings, decay_steps=steps * epochs)
        else:
            log.warning("kerazoo: the training data's length is unknown, so the %r schedule "
                        "cannot be sized; training with a constant learning rate", settings["schedule"])
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and not is_chief():
        log.info("kerazoo: not the chief worker: leaving the run directory to the chief")
        run_dir = None
    from kerazoo import resume

    resumed, earlier = None, {}
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / runs.MANIFEST).unlink(missing_ok=True)  # being (re)written: unfinished until the end
        resumed = resume.checkpoint_epoch(run_dir)  # a killed run's last saved epoch: continue there
        earlier = resume.history_before(run_dir / "history.csv", resumed or 0)
        info = model_info(model)
        io.write_json(run_dir / "config.json", {
            "model": info.get("model", model.name), "overrides": info.get("overrides", {}),
            "config": info.get("config", {}), "spec": data.spec.to_dict(),
            "data": {"source": data.source,
                     **{k: v for k, v in data.options.items() if k != "global_batch_size"}},
            "compile": {k: v for k, v in settings.items() if isinstance(v, (str, int, float, bool, type(None)))},
            "fit": {"epochs": epochs, "epochs_requested": requested, "early_stopping": steer,
                    "patience": patience, "seed": seed,
                    "callbacks": callbacks if isinstance(callbacks, str) else "custom",
                    "augment": ([type(a).__name__ for a in augment] if isinstance(augment, (list, tuple))
                                else augment),
                    "augment_on": augment_on, "augmentation": augmenter and augmenter.describe()},
            "distribution": {**distribution_info(strategy, model.dtype_policy.name),
                             "global_batch_size": data.options.get("global_batch_size")},
            **(config or {}), "versions": runs.versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        if getattr(data, "tokenizer", None) is not None:  # text: generate, export and fine-tuning read it back
            data.tokenizer.save(run_dir)
    cbs = make_callbacks(callbacks, run_dir=run_dir, has_validation=steer,
                         patience=patience, constant_lr=settings.get("schedule", "constant") == "constant",
                         resume=bool(resumed))
    guard = next(c for c in cbs if isinstance(c, resume.NaNGuard))
    if run_dir is not None:
        cbs.insert(len(cbs) - 1, resume.RunBackup(run_dir, guard))  # after the CSV logger: a row is never lost
    on_data = augmenter if augment_on == "data" else None
    train = augmentation.augment_dataset(data.train, on_data, deterministic=seed is not None)  # train only
    start = time.perf_counter()
    try:
        with augmentation.augmented_training(model, None if on_data else augmenter), training_interrupts():
            build_training_state(model, train.element_spec)  # the first training step is traced once, not twice
            history = model.fit(train, validation_data=data.validation, epochs=epochs, callbacks=cbs,
                                shuffle=False, verbose=progress_verbose(verbose))
    finally:
        reset_initial_epoch(model)  # set by a restored checkpoint; a later fit starts afresh
    seconds = time.perf_counter() - start
    hist = resume.joined_history(earlier, {k: [float(v) for v in vals] for k, vals in history.history.items()})
    epochs_run = len(next(iter(hist.values()), []))
    if guard.diverged is not None:
        diverged = resume.diverged(guard, run_dir, hist, epochs)
        if run_dir is not None:
            raise diverged
        log.warning("kerazoo: %s", diverged)
    _warn_if_inference_lags(model, data, hist, cbs)
    _say_if_stopped_early(cbs, epochs)
    metrics = {}
    for split in ("validation", "test"):
        ds = getattr(data, split)
        if ds is not None:
            metrics[split] = evaluate(model, ds)
    _warn_if_no_better_than_baseline(model, data, metrics, requested=requested, steps=steps, epochs=epochs)
    metrics["epochs"] = epochs_run
    metrics["train_seconds"] = round(seconds, 3)
    if resumed:
        metrics["resumed_at_epoch"] = resumed
    if run_dir is not None:
        runs.write_history(run_dir / "history.csv", hist)
        io.write_json(run_dir / "metrics.json", metrics)
        runs.save_model(model, run_dir / "model.keras")
        runs.finish_run(run_dir)
        resume.remove_checkpoint(run_dir)  # the run is complete: nothing left to resume
    return FitResult(history=hist, metrics={k: v for k, v in metrics.items() if isinstance(v, dict)},
                     epochs=epochs_run, seconds=seconds, run_dir=run_dir, model=model)


def _registered_training(model) -> dict:
    """The training defaults the model's registry entry declares (`register(training=...)`), if any."""
    name = model_info(model).get("model")
    if not name:
        return {}
    from kerazoo.registry import get_entry

    try:
        return get_entry(name).training
    except KeyError:  # a model recorded under a name no longer registered
        return {}


def _early_stopper(callbacks: list):
    """The `keras.callbacks.EarlyStopping` among `callbacks`, or None."""
    return next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)


def _say_if_stopped_early(callbacks: list, epochs: int) -> None:
    """Log the epoch early stopping ended at and the epoch whose weights are kept: the bar shows only `61/936`."""
    stopper = _early_stopper(callbacks)
    if stopper is None or stopper.stopped_epoch <= 0:
        return
    kept = (f"; the weights of epoch {stopper.best_epoch + 1} are kept"
            if stopper.restore_best_weights and stopper.best_weights is not None else "")
    log.info("kerazoo: stopped early after epoch %d of %d: %s did not improve for %d epochs%s",
             stopper.stopped_epoch + 1, epochs, stopper.monitor, stopper.patience, kept)


def _warn_if_inference_lags(model, data, history: dict, callbacks: list) -> None:
    """Warn when inference mode scores far below training mode on the training examples."""
    from kerazoo import diagnostics

    if "accuracy" not in history or not data.arrays or "train" not in data.arrays \
            or not diagnostics.batchnorm_layers(model):
        return
    stopper = _early_stopper(callbacks)
    epoch = stopper.best_epoch if stopper is not None and stopper.best_weights is not None else -1
    examples = _validation_examples(data)  # the count that decides whether validation steers training
    if examples is not None and budget.steers(examples) and "val_accuracy" in history \
            and history["accuracy"][epoch] - history["val_accuracy"][epoch] < diagnostics.GAP:
        return  # the validation score, taken in inference mode with these weights, keeps up: nothing lags
    x, y = data.arrays["train"]
    warning = diagnostics.inference_gap(model, x, y, history["accuracy"][epoch])
    if warning:
        log.warning("kerazoo: warning: %s", warning)


def _warn_if_no_better_than_baseline(model, data, metrics: dict, *, requested, steps: int, epochs: int) -> None:
    """Warn when the held-out score is no better than a rule that ignores the inputs, and say what to try."""
    from kerazoo import diagnostics

    split = "test" if "test" in metrics else "validation"
    warning = diagnostics.held_out_warning(data, metrics[split], split=split) if split in metrics else ""
    if not warning:
        return
    auto = budget.resolve_epochs("auto", steps if steps > 0 else None, training=_registered_training(model))[0]
    if requested != "auto" and 0 < steps and epochs < auto:
        warning += (f"; it trained {steps * epochs:,} optimizer steps ({epochs} epochs of {steps}), fewer than the "
                    f"{steps * auto:,} that epochs='auto' trains here")
    else:
        warning += "; check that each label belongs to its input"
    log.warning("kerazoo: warning: %s", warning)


def evaluate(model, data, *, split: str = "test") -> dict[str, float]:
    """Evaluate a model on one split of a data bundle (or on a dataset or `(x, y)`).

    Args:
        model: a compiled Keras model.
        data: `load_data()`'s result, a `tf.data.Dataset`, or a tuple `(x, y)`.
        split: which split of a bundle. Defaults to "test".

    Returns:
        Metric name -> value.

    Example:
    >>> from kerazoo import build, load_data
    >>> data = load_data("wine")
    >>> sorted(evaluate(build("mlp", data.spec), data))
    ['accuracy', 'f1', 'loss']
    """
    from kerazoo.data import Data

    if isinstance(data, Data):
        check_model_fits(model, data.spec)
        ds = getattr(data, split, None)
        if ds is None:
            raise ValueError(f"split must be one of train, validation, test with data; {split!r} has none")
    elif isinstance(data, tuple):
        ds = data
    else:
        ds = data
    if isinstance(ds, tuple):
        out = model.evaluate(ds[0], ds[1], verbose=0, return_dict=True)
    else:
        out = model.evaluate(ds, verbose=0, return_dict=True)
    return {k: float(v) for k, v in out.items()}

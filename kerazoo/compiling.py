"""Compiling: the optimizer, schedule, loss and metrics a model's task calls for (`compile_model`).

`build(..., compile=True)` and `fit` both compile through here, so a model is
compiled the same way whichever path made it.
"""

from __future__ import annotations

import logging
from typing import Any

import keras

from kerazoo import objectives
from kerazoo.compat import flatten_layers
from kerazoo.modelinfo import model_info, record_info

__all__ = ["compile_model", "build_training_state", "lm_jit_compile", "check_jit_compile", "default_loss_and_metrics", "task_of", "OPTIMIZERS", "SCHEDULES"]

OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
SCHEDULES = ("cosine", "linear", "constant")
log = logging.getLogger("kerazoo")
LM_WARMUP, LM_CLIPNORM = 0.05, 1.0  # compile_model's defaults for causal_lm
LM_XLA_STEPS = 1000  # a causal_lm fit this long compiles with XLA on the CPU too (lm_jit_compile)


def task_of(model) -> str:
    """The task of a model: the zoo's record of it, else read off its output layer.

    Example:
    >>> from kerazoo import build
    >>> task_of(build("mlp", input_shape=(4,), num_classes=1, task="regression"))
    'regression'
    """
    info = model_info(model)
    if "spec" in info:
        return info["spec"]["task"]
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "linear")
    units = model.output_shape[-1]
    if len(model.output_shape) == 3 and "int" in str(model.inputs[0].dtype):
        return "causal_lm"  # token windows in, a distribution over the vocabulary at every step out
    if activation == "softmax":
        return "multiclass"
    if activation == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    return "regression"


def _text_units(model) -> dict:
    """Bytes and characters a token stands for, from the model's data spec (1.0 where not recorded)."""
    spec = model_info(model).get("spec") or {}
    return {"bytes_per_token": float(spec.get("bytes_per_token") or 1.0),
            "chars_per_token": float(spec.get("chars_per_token") or spec.get("bytes_per_token") or 1.0),
            "chars_per_id": spec.get("chars_per_id")}


def check_jit_compile(value: Any) -> bool | str:
    """`value` itself, if it is a `jit_compile` setting: True, False or "auto".

    `compile_model` and `kerazoo.generate` both check theirs here, so 1, 0 or a
    typo such as "yes" (which Keras would read as True) fails with one message.

    Raises:
        ValueError: anything else.

    Example:
    >>> check_jit_compile("auto"), check_jit_compile(False)
    ('auto', False)
    >>> check_jit_compile(1)
    Traceback (most recent call last):
    ...
    ValueError: jit_compile must be True, False or 'auto', got 1
    """
    if not (isinstance(value, bool) or (isinstance(value, str) and value == "auto")):
        raise ValueError(f"jit_compile must be True, False or 'auto', got {value!r}")
    return value


def lm_jit_compile(model, steps: int | None = None) -> bool | str:
    """What `jit_compile="auto"` means for a language model: XLA on the CPU too, for a long fit.

    Keras' `"auto"` leaves XLA off on machines with no accelerator. A language
    model's training step is many small operations that XLA fuses: the `gpt`
    trains 1.09x faster with it on the CPU, to the same figures
    (`benchmarks/lm_sweep.py`, docs/benchmarks.md). But compiling costs seconds
    a fit, more than a short fit gains, so XLA is chosen only when the fit runs
    `LM_XLA_STEPS` (1,000) steps or more (`fit` tells `compile_model` its
    steps when it sizes the schedule). Under a `tf.distribute` strategy, with
    an accelerator, or with a layer that cannot be compiled, Keras decides as
    usual (`"auto"`).

    Example:
    >>> from kerazoo import build
    >>> model = build("gpt-nano", compile=False)
    >>> lm_jit_compile(model, steps=2340), lm_jit_compile(model, steps=30), lm_jit_compile(model)
    (True, 'auto', 'auto')
    """
    import tensorflow as tf

    if steps is None or steps < LM_XLA_STEPS:
        return "auto"
    if tf.distribute.has_strategy() or tf.config.list_physical_devices("GPU"):
        return "auto"
    if not all(getattr(layer, "supports_jit", True) for layer in flatten_layers(model)):
        return "auto"
    return True


def _optimizer(name, learning_rate, weight_decay, clipnorm):
    if not isinstance(name, str):
        return name
    kwargs = {"learning_rate": learning_rate}
    if clipnorm:
        kwargs["clipnorm"] = clipnorm
    if name == "adamw":
        return keras.optimizers.AdamW(weight_decay=weight_decay, **kwargs)
    if name == "adam":
        return keras.optimizers.Adam(**kwargs)
    if name == "sgd":
        return keras.optimizers.SGD(momentum=0.9, nesterov=True, weight_decay=weight_decay or None, **kwargs)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)} or a keras optimizer, got {name!r}")


def _schedule(schedule, learning_rate, decay_steps, warmup):
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    if not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup must be a share of the steps in [0, 1), got {warmup!r}")
    if schedule == "constant" or not decay_steps:
        return learning_rate  # the length of a decay is known once fit sees the data
    warmup_steps = int(warmup * decay_steps)
    if schedule == "cosine":
        if warmup_steps:
            return keras.optimizers.schedules.CosineDecay(
                0.0, decay_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps)
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    return keras.optimizers.schedules.PolynomialDecay(learning_rate, decay_steps, end_learning_rate=0.0)


def default_loss_and_metrics(task: str, label_smoothing: float = 0.0, *, bytes_per_token: float = 1.0,
                             chars_per_token: float = 1.0, chars_per_id=None):
    """The loss and metrics `"auto"` picks for a task.

    causal_lm: cross-entropy on the logits, next-token accuracy, perplexity,
    bits per byte and bits per character (`bytes_per_token` converts from
    tokens; `chars_per_id`, else `chars_per_token`, counts the characters, so
    the figures compare across tokenizers; label smoothing does not apply).
    """
    if task == "causal_lm":
        from kerazoo.lm.metrics import BitsPerByte, BitsPerCharacter, Perplexity

        return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), Perplexity(),
                 BitsPerByte(bytes_per_token=bytes_per_token), BitsPerCharacter(chars_per_token=chars_per_token, chars_per_id=chars_per_id)])
    if task == "multiclass":
        return (objectives.CategoricalCrossentropy(label_smoothing=label_smoothing),
                [objectives.CategoricalAccuracy(), objectives.F1(average="macro")])
    if task == "binary":
        return (keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing),
                [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc"),
                 objectives.F1(threshold=0.5, average="macro")])
    if task == "multilabel":
        return (keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing),
                [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc", multi_label=True),
                 objectives.F1(threshold=0.5, average="macro")])
    if task == "regression":
        return keras.losses.MeanSquaredError(), [keras.metrics.MeanAbsoluteError(name="mae")]
    raise ValueError(f"unknown task {task!r}")


def compile_model(
    model,
    *,
    optimizer: str | Any = "adamw",
    learning_rate: float = 1e-3,
    schedule: str = "cosine",
    warmup: float | None = None,
    weight_decay: float = 1e-4,
    clipnorm: float | None = None,
    label_smoothing: float = 0.0,
    loss: str | Any = "auto",
    metrics: str | list = "auto",
    task: str | None = None,
    jit_compile: bool | str = "auto",
    decay_steps: int | None = None,
):
    """Compile a model with sound defaults for its task.

    `"auto"` loss and metrics follow the task: cross-entropy, accuracy and macro
    F1 for classification (plus AUC for binary), mean squared error and mean
    absolute error for regression. The multiclass loss and metrics take integer
    class ids and one-hot or soft labels alike. A decaying schedule needs the
    number of steps: `fit` supplies it, so until then the rate is constant.

    Args:
        model: a Keras model (from `build`, or your own).
        optimizer: "adamw", "adam", "sgd" (Nesterov momentum 0.9), "rmsprop" or
            a Keras optimizer. Defaults to "adamw".
        learning_rate: the peak learning rate. Defaults to 1e-3.
        schedule: "cosine", "linear" or "constant". Defaults to "cosine".
        warmup: the share of steps spent warming up linearly. Defaults to 0
            (0.05 for causal_lm).
        weight_decay: decoupled weight decay (adamw, sgd). Defaults to 1e-4.
        clipnorm: clip each gradient to this norm; 0 turns it off. Defaults
            to None (no clipping; 1.0 for causal_lm).
        label_smoothing: for classification losses. Defaults to 0.
        loss: "auto", or anything `keras.Model.compile` takes.
        metrics: "auto", or anything `keras.Model.compile` takes.
        task: the task, when the model did not come from `build`. Defaults to
            the model's, else inferred from its output layer.
        jit_compile: XLA compilation, as in `keras.Model.compile`. Defaults to
            "auto" (for causal_lm, `lm_jit_compile`: XLA on the CPU too for a
            fit of 1,000 steps or more).
        decay_steps: the schedule's length in steps; `fit` sets it.

    Returns:
        The model, compiled.

    Example:
    >>> from kerazoo import build
    >>> model = compile_model(build("mlp", input_shape=(4,), num_classes=3, compile=False),
    ...                       learning_rate=3e-3, schedule="constant")
    >>> model.loss.name, [m.name for m in model.metrics][:1]
    ('categorical_crossentropy', ['loss'])
    >>> compile_model(model, optimizer="adagrad")
    Traceback (most recent call last):
    ...
    ValueError: optimizer must be one of ['adamw', 'adam', 'sgd', 'rmsprop'] or a keras optimizer, got 'adagrad'
    """
    if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    check_jit_compile(jit_compile)
    if (task or task_of(model)) == "causal_lm":  # language models: warm up and clip by default
        warmup = LM_WARMUP if warmup is None else warmup
        clipnorm = LM_CLIPNORM if clipnorm is None else clipnorm
    warmup = 0.0 if warmup is None else warmup
    settings = dict(optimizer=optimizer, learning_rate=learning_rate, schedule=schedule, warmup=warmup,
                    weight_decay=weight_decay, clipnorm=clipnorm, label_smoothing=label_smoothing,
                    loss=loss, metrics=metrics, task=task, jit_compile=jit_compile)
    task = task or task_of(model)
    lr = _schedule(schedule, learning_rate, decay_steps, warmup)
    opt = _optimizer(optimizer, lr, weight_decay, clipnorm)
    lm = _text_units(model) if task == "causal_lm" else {}
    auto_loss, auto_metrics = default_loss_and_metrics(task, label_smoothing, **lm)
    if task == "causal_lm" and jit_compile == "auto":  # recorded as "auto": resolved where it is compiled
        jit_compile = lm_jit_compile(model, decay_steps)
    model.compile(optimizer=opt, loss=auto_loss if loss == "auto" else loss,
                  metrics=auto_metrics if metrics == "auto" else metrics, jit_compile=jit_compile)
    record_info(model, compile=settings)
    return model


def build_training_state(model, data_batch) -> bool:
    """Create the optimizer's and the compiled metrics' variables now, before the first training step.

    Keras' TensorFlow trainer creates them inside the first traced training step
    when no distribution strategy is set, and a `tf.function` that creates
    variables is traced twice: every `fit` paid for tracing its training step
    twice before its first batch. `kerazoo.fit` calls this; what is trained
    does not change.

    Args:
        model: a compiled Keras model.
        data_batch: a batch, or a dataset's `element_spec`: `(x, y)` or
            `(x, y, sample_weight)`.

    Returns:
        True when the state was built here; False when the model is not
        compiled, its optimizer is built already, or Keras cannot build it
        from shapes alone (then the first step builds it, as without this).

    Example:
    >>> import tensorflow as tf
    >>> from kerazoo import build
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> spec = (tf.TensorSpec((None, 4)), tf.TensorSpec((None,), tf.int32))
    >>> build_training_state(model, spec), model.optimizer.built, build_training_state(model, spec)
    (True, True, False)
    """
    from kerazoo import compat

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built:
        return False
    try:
        with model.distribute_strategy.scope():
            compat.symbolic_build(model, data_batch)
    except (ValueError, RuntimeError, TypeError) as err:  # Keras builds it in the first step, as before
        log.debug("the training state is left to the first step: %s", err)
        return False
    return True

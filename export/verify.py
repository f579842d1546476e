"""Verification: reload an artifact with its real consumer and compare it with Keras.

A SavedModel is reloaded with `tf.saved_model.load` and a TFLite file with
`ai_edge_litert.interpreter.Interpreter`; a batch of real inputs goes through
it and through the Keras model, and the maximum absolute difference of the
outputs, the top-1 agreement (classification) or the relative error
(regression), the accuracy on the held-out examples beside Keras' and the
single-example latency are recorded.

Float32 artifacts must agree within a tolerance, measured on the zoo's models
(TensorFlow 2.21): they differ from Keras by at most ~3e-6, so the tolerance is
1e-4. An output passes when `|artifact - keras| <= tol + tol * |keras|`
element-wise (the relative part covers regression values of any scale).
Quantized files ("dynamic", "float16", "int8") are held to a fidelity threshold
per task instead (`export.fidelity`): float16 weights cost up to ~8e-3 on the
image models but 0.037 on a tabular transformer whose answers they keep, so an
element-wise tolerance would refuse good files.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from kerazoo.errors import VerificationError
from kerazoo.tasks import classes_from_outputs, get_task

__all__ = ["Verification", "compare", "verify_savedmodel", "verify_tflite", "run_savedmodel", "run_tflite",
           "TOLERANCES", "VerificationError", "held_out_score", "latency_ms"]

TOLERANCES = {"float32": 1e-4}
BATCH = 256
LATENCY_CALLS = 30


@dataclass
class Verification:
    """What verifying one artifact found.

    Attributes:
        artifact: the file (or folder) checked.
        consumer: what reloaded it (`tf.saved_model.load`, the LiteRT interpreter).
        precision: "float32", "float16", "dynamic" or "int8".
        examples: inputs compared.
        max_abs_diff: the largest absolute output difference from Keras.
        top1_agreement: the share of examples whose predicted class(es) match
            Keras' (None for regression).
        relative_error: regression: mean |artifact - keras| / mean |keras|.
        tolerance: the float tolerance applied (None for quantized files).
        threshold: the fidelity threshold applied to a quantized file:
            `{"metric": "top1_agreement", "min": 0.98}` or
            `{"metric": "relative_error", "max": 0.02}`.
        held_out: the score on the held-out examples (the run's test split) beside
            the Keras model's: `{"metric", "value", "keras", "examples"}`.
        latency_ms: median single-example latency in this consumer, milliseconds.
        status: "ok" (within tolerance and threshold), "reported" (figures only),
            "failed", "kept" (failed its threshold, written because asked), or
            "skipped" (could not run here; see `note`).
        note: why a check failed or was skipped.
    """

    artifact: str
    consumer: str
    precision: str
    examples: int = 0
    max_abs_diff: float | None = None
    top1_agreement: float | None = None
    relative_error: float | None = None
    tolerance: float | None = None
    threshold: dict | None = None
    held_out: dict | None = None
    latency_ms: float | None = None
    status: str = "ok"
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status in ("ok", "reported", "skipped", "kept")

    def to_dict(self) -> dict:
        return asdict(self)


def _main(outputs: dict):
    if "probabilities" in outputs:
        return outputs["probabilities"]
    return next(v for k, v in outputs.items() if k != "classes")  # values, or a language model's logits


def _agreement(reference, outputs: dict, task: str) -> float | None:
    import numpy as np

    if not get_task(task).classification:
        return None
    want = classes_from_outputs(reference, task)
    got = np.asarray(outputs["classes"]) if "classes" in outputs else None
    if got is None:
        return None
    same = got == want
    if same.ndim > 1:
        same = same.all(axis=tuple(range(1, same.ndim)))
    return float(same.mean())


def held_out_score(task: str, labels, predicted) -> tuple[str, float] | None:
    """The held-out metric of one model's outputs: accuracy (classification) or MAE (regression).

    Args:
        task: "multiclass", "binary", "multilabel", "regression" or "causal_lm".
        labels: the true labels (class ids, 0/1 flags, values, or next-token ids).
        predicted: classes (classification, causal_lm: token ids) or values (regression).

    Returns:
        `(metric name, value)`, or None for a task without one.

    Example:
    >>> import numpy as np
    >>> held_out_score("multiclass", np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0]))
    ('accuracy', 0.75)
    >>> held_out_score("regression", np.array([1.0, 3.0]), np.array([[2.0], [3.0]]))
    ('mae', 0.5)
    """
    import numpy as np

    y = np.asarray(labels)
    p = np.asarray(predicted)
    if task == "regression":
        return "mae", float(np.abs(p.reshape(y.shape).astype("float64") - y).mean())
    if task in ("multiclass", "binary", "causal_lm"):
        return "accuracy", float((p.reshape(y.shape) == y).mean())
    if task == "multilabel":
        return "binary_accuracy", float((p.reshape(y.shape) == y).mean())
    return None


def judge_outputs(result: Verification, reference, outputs: dict, task: str, labels=None) -> Verification:
    """Fill `result` with an artifact's agreement with the Keras model's `reference` outputs.

    Example:
    >>> import numpy as np
    >>> ref = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> found = Verification(artifact="model.tflite", consumer="LiteRT", precision="float32")
    >>> judged = judge_outputs(found, ref, {"probabilities": ref + 1e-6, "classes": [0, 1]}, "multiclass")
    >>> judged.top1_agreement, judged.status
    (1.0, 'ok')
    """
    import numpy as np

    ref = np.asarray(reference, dtype="float64")
    out = np.asarray(_main(outputs), dtype="float64").reshape(ref.shape)
    result.top1_agreement = _agreement(ref, outputs, task)
    if task == "regression":
        scale = float(np.abs(ref).mean())
        result.relative_error = float(np.abs(out - ref).mean() / scale) if scale > 0 else float(np.abs(out).mean())
    if labels is not None and len(labels):
        n = len(labels)
        mine = out[:n] if task == "regression" else np.asarray(outputs["classes"])[:n]
        keras = ref[:n] if task == "regression" else classes_from_outputs(ref[:n], task)
        score, keras_score = held_out_score(task, labels, mine), held_out_score(task, labels, keras)
        if score is not None:
            result.held_out = {"metric": score[0], "value": score[1], "keras": keras_score[1], "examples": n}
    return compare(result, ref, out)


def latency_ms(call, x, *, calls: int = LATENCY_CALLS) -> float:
    """The median time of `call(x[:1])` over `calls` calls after two warm-up calls, in milliseconds.

    Example:
    >>> import numpy as np
    >>> latency_ms(lambda x: x * 2, np.zeros((4, 3)), calls=5) >= 0
    True
    """
    import statistics
    import time

    one = x[:1]
    for _ in range(2):
        call(one)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call(one)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def compare(result: Verification, ref, out, *, what: str = "outputs") -> Verification:
    """Judge an artifact's `out` against Keras' `ref` (same shape): max |diff|, NaN, tolerance.

    Sets `examples`, `max_abs_diff`, `tolerance`, `status` ("ok", "reported" for
    precisions held to no tolerance, "failed") and, on failure, `note`, which
    names `what` was compared. A value passes when `|out - ref| <= tol + tol * |ref|`.

    Example:
    >>> import numpy as np
    >>> r = compare(Verification("model.tflite", "LiteRT", "float32"), np.ones((2, 3)), np.ones((2, 3)))
    >>> r.status, r.max_abs_diff, r.tolerance
    ('ok', 0.0, 0.0001)
    """
    import numpy as np

    diff = np.abs(out - ref)
    result.examples = int(len(ref))
    result.max_abs_diff = float(diff.max()) if diff.size else 0.0
    if not np.isfinite(out).all():
        result.status, result.note = "failed", f"the artifact's {what} hold NaN or infinite values"
        return result
    tol = TOLERANCES.get(result.precision)
    result.tolerance = tol
    if tol is None:
        result.status = "reported"
    elif np.all(diff <= tol + tol * np.abs(ref)):
        result.status = "ok"
    else:
        worst = int(np.argmax(diff.reshape(len(ref), -1).max(axis=1)))
        result.status = "failed"
        result.note = (f"{what} differ from Keras by up to {result.max_abs_diff:.3g} (tolerance {tol:g}; "
                       f"worst at example {worst})")
    return result


def run_savedmodel(path: str | os.PathLike, x) -> dict:
    """Run inputs through a SavedModel's `serving_default` signature, reloaded with `tf.saved_model.load`.

    Args:
        path: the SavedModel folder.
        x: an array of inputs, batch dimension first.

    Returns:
        Output name -> NumPy array.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> {k: v.shape for k, v in sorted(run_savedmodel(path, np.zeros((5, 4), "float32")).items())}
    {'classes': (5,), 'probabilities': (5, 3)}
    """
    return savedmodel_runner(path)(x)


def savedmodel_runner(path: str | os.PathLike, *, loaded=None):
    """A function `x -> outputs` over a SavedModel's `serving_default`, loaded once (see `run_savedmodel`).

    `loaded` is the SavedModel already loaded with `tf.saved_model.load` (see
    `load_or_none`); by default it is loaded from `path`.
    """
    import numpy as np
    import tensorflow as tf

    loaded = loaded if loaded is not None else tf.saved_model.load(os.fspath(path))
    fn = loaded.signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()

    def run(x) -> dict:
        parts = [fn(**{name: tf.constant(np.asarray(x[i:i + BATCH]), dtype=spec.dtype)})
                 for i in range(0, len(x), BATCH)]
        return {k: np.concatenate([p[k].numpy() for p in parts]) for k in parts[0]}

    return run


def run_tflite(path: str | os.PathLike, x, *, num_threads: int | None = None) -> dict:
    """Run inputs through a TFLite file with the LiteRT interpreter (`ai_edge_litert`).

    Float inputs are quantized for a file with int8 inputs, and int8 outputs are
    dequantized, with the scale and zero point stored in the file.

    Args:
        path: the `.tflite` file.
        x: an array of inputs, batch dimension first.
        num_threads: interpreter threads. Defaults to the interpreter's default.

    Returns:
        Output name -> NumPy array (float for dequantized outputs).

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel, convert_tflite
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), os.path.join(folder, "sm"))
    >>> with open(os.path.join(folder, "m.tflite"), "wb") as f:
    ...     _ = f.write(convert_tflite(os.path.join(folder, "sm")))
    >>> run_tflite(os.path.join(folder, "m.tflite"), np.zeros((5, 4), "float32"))["probabilities"].shape
    (5, 3)
    """
    return tflite_runner(path, num_threads=num_threads)(x)


def tflite_runner(path: str | os.PathLike, *, num_threads: int | None = None):
    """A function `x -> outputs` over a TFLite file's signature, its interpreter built once (see `run_tflite`)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
    runner = interpreter.get_signature_runner("serving_default")
    (name, detail), = runner.get_input_details().items()
    out_details = runner.get_output_details()

    def run(x) -> dict:
        x = np.asarray(x)
        if detail["dtype"] == np.int8 and x.dtype != np.int8:
            scale, zero = detail["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        else:
            x = x.astype(detail["dtype"])
        parts = [runner(**{name: x[i:i + BATCH]}) for i in range(0, len(x), BATCH)]
        out = {}
        for key in parts[0]:
            value = np.concatenate([p[key] for p in parts])
            scale, zero = out_details[key]["quantization"]
            if out_details[key]["dtype"] in (np.int8, np.uint8) and scale:
                value = (value.astype("float32") - zero) * scale
            out[key] = value
        return out

    return run


def load_or_none(path: str | os.PathLike):
    """The SavedModel at `path` loaded with `tf.saved_model.load`, or None when it does not load.

    An export loads its SavedModel once for its checks (verification, warm-up
    records); None lets `verify_savedmodel` load it again and report why it fails.

    Example:
    >>> import tempfile
    >>> load_or_none(tempfile.mkdtemp()) is None  # an empty folder is no SavedModel
    True
    """
    import tensorflow as tf

    try:
        return tf.saved_model.load(os.fspath(path))
    except Exception:
        return None


def verify_savedmodel(path: str | os.PathLike, x, reference, *, task: str = "multiclass", labels=None,
                      latency: bool = True, loaded=None) -> Verification:
    """Reload a SavedModel with `tf.saved_model.load` and compare its outputs with Keras'.

    Args:
        path: the SavedModel folder.
        x: an array of real inputs.
        reference: the Keras model's outputs on `x` (probabilities or values).
        task: the model's task. Defaults to "multiclass".
        labels: the true labels of the first `len(labels)` inputs (the held-out
            ones): their score is recorded beside Keras'. Defaults to None.
        latency: time single-example calls. Defaults to True.
        loaded: the SavedModel already loaded with `tf.saved_model.load`.
            Defaults to loading it from `path`.

    Returns:
        A `Verification`; its status is "failed" beyond the float32 tolerance.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(model, path)
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> v = verify_savedmodel(path, x, model.predict(x, verbose=0))
    >>> v.status, v.top1_agreement, v.max_abs_diff < 1e-4
    ('ok', 1.0, True)
    """
    result = Verification(artifact=os.path.basename(os.fspath(path)) or os.fspath(path),
                          consumer="tf.saved_model.load", precision="float32")
    try:
        run = savedmodel_runner(path, loaded=loaded)
        outputs = run(x)
    except Exception as err:  # the file does not load or run: that is the finding
        result.status, result.note = "failed", f"does not run: {str(err).splitlines()[0][:300]}"
        return result
    if latency:
        result.latency_ms = latency_ms(run, x)
    return judge_outputs(result, reference, outputs, task, labels)


def verify_tflite(path: str | os.PathLike, x, reference, *, task: str = "multiclass",
                  quantize: str | None = None, labels=None, latency: bool = True) -> Verification:
    """Run a TFLite file in the LiteRT interpreter and compare its outputs with Keras'.

    Args:
        path: the `.tflite` file.
        x: an array of real inputs.
        reference: the Keras model's outputs on `x`.
        task: the model's task. Defaults to "multiclass".
        quantize: how the file was quantized (None for float32): float32 files
            are held to the float32 tolerance; quantized files are "reported" here
            (`export.fidelity.judge` then holds them to their task's threshold).
        labels: the true labels of the first `len(labels)` inputs. Defaults to None.
        latency: time single-example calls (in a fresh interpreter). Defaults to True.

    Returns:
        A `Verification`. A file with select-TF (Flex) ops cannot run in the
        Python interpreter: its status is "skipped".

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel, convert_tflite
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_savedmodel(model, os.path.join(folder, "sm"))
    >>> with open(os.path.join(folder, "model.tflite"), "wb") as f:
    ...     _ = f.write(convert_tflite(os.path.join(folder, "sm")))
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> v = verify_tflite(os.path.join(folder, "model.tflite"), x, model.predict(x, verbose=0))
    >>> v.consumer, v.status, v.top1_agreement
    ('ai_edge_litert.interpreter.Interpreter', 'ok', 1.0)
    """
    from export.tflite import tflite_ops

    result = Verification(artifact=os.path.basename(os.fspath(path)),
                          consumer="ai_edge_litert.interpreter.Interpreter",
                          precision=quantize or "float32")
    try:
        outputs = run_tflite(path, x)
        if latency:
            result.latency_ms = latency_ms(tflite_runner(path), x)
    except Exception as err:
        flex = [op for op in _safe_ops(tflite_ops, path) if op.startswith("Flex")]
        if flex:
            result.status = "skipped"
            result.note = (f"holds select-TF ops ({', '.join(flex)}) that need the Flex delegate, "
                           f"which the Python LiteRT interpreter lacks")
        else:
            result.status, result.note = "failed", f"does not run: {str(err).splitlines()[0][:300]}"
        return result
    return judge_outputs(result, reference, outputs, task, labels)


def _safe_ops(fn, path) -> list[str]:
    try:
        return fn(path)
    except Exception:
        return []


def reference_outputs(model: Any, x):
    """The Keras model's outputs on `x` (inference mode), as float32."""
    import numpy as np

    return np.asarray(model.predict(x, batch_size=BATCH, verbose=0), dtype="float32")

"""Optional ONNX export: the SavedModel's `serving_default` through tf2onnx, run by onnxruntime.

Needs the `onnx` extra (`pip install "kerazoo[onnx]"`: tf2onnx, onnx, onnxruntime). The
ONNX graph keeps the signature's names: input `inputs`, outputs `probabilities` and
`classes` (or `values`), batch dimension free.

tf2onnx 1.17 does not convert TensorFlow's `Erfc` op, which Keras' exact GELU (the
transformer's and the vit's MLPs) traces to under TF 2.21: it copies the node through
as is, and onnxruntime refuses the file ("This is an invalid model ... Erfc"). The
conversion maps it to `1 - Erf(x)` (`_erfc_handler`); remove that when tf2onnx maps
Erfc itself (`test_export_of_every_family` fails for the transformer without it).
"""

from __future__ import annotations

import logging
import os

__all__ = ["onnx_available", "convert_onnx", "run_onnx", "verify_onnx", "ONNX_OPSET"]

ONNX_OPSET = 17
MISSING = ("format 'onnx' needs tf2onnx and onnxruntime, which are not installed: "
           "pip install \"kerazoo[onnx]\"")


def onnx_available() -> bool:
    """Whether tf2onnx and onnxruntime can be imported.

    Example:
    >>> onnx_available()  # with the onnx extra installed (the test extra installs it too)
    True
    """
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("tf2onnx", "onnxruntime"))


def _erfc_handler(ctx, node, name, args):
    """tf2onnx custom op handler: TensorFlow's `Erfc(x)` as ONNX `1 - Erf(x)` (opset 9 and up)."""
    import numpy as np
    from tf2onnx import utils

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    erf = ctx.make_node("Erf", [x], shapes=[ctx.get_shape(x)], dtypes=[dtype])
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, utils.map_onnx_to_numpy_type(dtype)))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])
    return node


def convert_onnx(saved_model_dir: str | os.PathLike, path: str | os.PathLike, *, opset: int = ONNX_OPSET) -> None:
    """Convert a SavedModel's `serving_default` signature to an ONNX file with tf2onnx.

    Args:
        saved_model_dir: a SavedModel folder (`write_savedmodel` writes one).
        path: the `.onnx` file to write.
        opset: the ONNX opset. Defaults to 17.

    Raises:
        ValueError: tf2onnx or onnxruntime is not installed.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), os.path.join(folder, "sm"))
    >>> convert_onnx(os.path.join(folder, "sm"), os.path.join(folder, "model.onnx"))
    >>> os.path.getsize(os.path.join(folder, "model.onnx")) > 0
    True
    """
    if not onnx_available():
        raise ValueError(MISSING)
    import tensorflow as tf
    import tf2onnx

    from export.tflite import quiet_stderr

    loaded = tf.saved_model.load(os.fspath(saved_model_dir))  # kept alive: it owns the variables
    signature = loaded.signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()
    input_signature = [tf.TensorSpec(spec.shape, spec.dtype, name=name)]

    @tf.function(input_signature=input_signature)
    def serve(inputs):
        return signature(**{name: inputs})

    log = logging.getLogger("tf2onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with quiet_stderr():
            tf2onnx.convert.from_function(serve, input_signature=input_signature, opset=opset,
                                          custom_op_handlers={"Erfc": (_erfc_handler, [])},
                                          output_path=os.fspath(path))
    finally:
        log.setLevel(level)
        del loaded


def run_onnx(path: str | os.PathLike, x) -> dict:
    """Run inputs through an ONNX file with onnxruntime (CPU).

    Args:
        path: the `.onnx` file.
        x: an array of inputs, batch dimension first.

    Returns:
        Output name -> NumPy array.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), os.path.join(folder, "sm"))
    >>> convert_onnx(os.path.join(folder, "sm"), os.path.join(folder, "model.onnx"))
    >>> run_onnx(os.path.join(folder, "model.onnx"), np.zeros((5, 4), "float32"))["probabilities"].shape
    (5, 3)
    """
    return onnx_runner(path)(x)


def onnx_runner(path: str | os.PathLike):
    """A function `x -> outputs` over an ONNX file, its onnxruntime session built once (see `run_onnx`)."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    names = [o.name for o in session.get_outputs()]

    def run(x) -> dict:
        x = np.asarray(x).astype("int32" if "int" in inp.type else "float32")
        return dict(zip(names, session.run(names, {inp.name: x})))

    return run


def verify_onnx(path: str | os.PathLike, x, reference, *, task: str = "multiclass", labels=None,
                latency: bool = True):
    """Run an ONNX file in onnxruntime and compare its outputs with Keras' (float32 tolerance).

    Args:
        path: the `.onnx` file.
        x: an array of real inputs.
        reference: the Keras model's outputs on `x`.
        task: the model's task. Defaults to "multiclass".
        labels: the true labels of the first `len(labels)` inputs. Defaults to None.
        latency: time single-example calls. Defaults to True.

    Returns:
        A `Verification` (consumer `onnxruntime.InferenceSession`).

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_savedmodel(model, os.path.join(folder, "sm"))
    >>> convert_onnx(os.path.join(folder, "sm"), os.path.join(folder, "model.onnx"))
    >>> x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    >>> verify_onnx(os.path.join(folder, "model.onnx"), x, model.predict(x, verbose=0)).status
    'ok'
    """
    from export.verify import Verification, judge_outputs, latency_ms

    result = Verification(artifact=os.path.basename(os.fspath(path)), consumer="onnxruntime.InferenceSession",
                          precision="float32")
    try:
        run = onnx_runner(path)
        outputs = run(x)
    except Exception as err:
        result.status, result.note = "failed", f"does not run: {str(err).splitlines()[0][:300]}"
        return result
    if latency:
        result.latency_ms = latency_ms(run, x)
    return judge_outputs(result, reference, outputs, task, labels)

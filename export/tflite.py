"""TFLite conversion: float32, dynamic-range, float16 and full-integer int8.

Converted from the SavedModel's `serving_default` signature with
`tf.lite.TFLiteConverter`, builtin ops only unless select-TF ops are asked for
(a file with select ops needs the Flex delegate on the device, and the Python
interpreter cannot run it). Full-integer int8 calibrates on representative
inputs: a few hundred training examples.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from typing import Any

from kerazoo.errors import ConversionError

__all__ = ["convert_tflite", "tflite_ops", "inspect_tflite", "representative_inputs", "tflite_filename",
           "ConversionError", "QUANTIZE"]

QUANTIZE = ("dynamic", "float16", "int8")
REPRESENTATIVE_EXAMPLES = 300


def tflite_filename(quantize: str | None = None) -> str:
    """The file name of a TFLite artifact in an export folder.

    Example:
    >>> tflite_filename(), tflite_filename("int8")
    ('model.tflite', 'model_int8.tflite')
    """
    return "model.tflite" if quantize in (None, "float32") else f"model_{quantize}.tflite"


def representative_inputs(data: Any, *, limit: int = REPRESENTATIVE_EXAMPLES, input_rank: int | None = None):
    """Up to `limit` input examples, as one NumPy array, from what a user may pass.

    Args:
        data: an array of inputs, a tuple `(x, y)`, a `tf.data.Dataset` (of inputs
            or of `(x, y)`, batched or not), or a callable returning an iterable
            of such batches.
        limit: the most examples kept. Defaults to 300.
        input_rank: the rank of one example; tells a batched dataset from an
            unbatched one. Defaults to a guess (batched).

    Returns:
        A NumPy array of examples, batch dimension first.

    Raises:
        ValueError: no examples.

    Example:
    >>> import numpy as np
    >>> representative_inputs((np.zeros((500, 4)), np.zeros(500)), limit=100).shape
    (100, 4)
    """
    import numpy as np

    if callable(data):
        data = data()
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        data = data[0]
    if hasattr(data, "shape") and not hasattr(data, "element_spec"):
        x = np.asarray(data)
    else:
        chunks, count = [], 0
        for item in data:
            if isinstance(item, (tuple, list)):
                item = item[0]
            if isinstance(item, dict):
                item = next(iter(item.values()))
            item = np.asarray(item)
            if input_rank is not None and item.ndim == input_rank:
                item = item[None]
            chunks.append(item)
            count += len(item)
            if count >= limit:
                break
        x = np.concatenate(chunks) if chunks else np.zeros((0,))
    if len(x) == 0:
        raise ValueError("representative_data holds no examples")
    return x[:limit]


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the converter's C++ chatter (its Python exception carries the details)."""
    try:
        fd = os.dup(2)
    except OSError:  # pragma: no cover  (no stderr to silence)
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)


def _unsupported(message: str) -> str:
    found = []
    for label in ("TF Select ops", "Custom ops"):
        m = re.search(rf"{label}: ([^\n]+)", message)
        if m:
            found.append(m.group(1).strip())
    return ", ".join(found)


def convert_tflite(
    saved_model_dir: str | os.PathLike,
    *,
    quantize: str | None = None,
    representative_data: Any = None,
    int8_io: bool = False,
    select_ops: bool = False,
) -> bytes:
    """Convert a SavedModel's `serving_default` signature to a TFLite flatbuffer.

    Args:
        saved_model_dir: a SavedModel folder (`write_savedmodel` writes one).
        quantize: None (float32), "dynamic" (int8 weights, float activations),
            "float16" (float16 weights) or "int8" (full-integer: weights and
            activations). Defaults to None.
        representative_data: calibration inputs for "int8" (anything
            `representative_inputs` takes). Required for "int8".
        int8_io: with "int8", make the file's float inputs and outputs int8 too
            (their scale and zero point are in the file). Defaults to False.
        select_ops: allow select-TF ops beside the builtins (the file then needs
            the Flex delegate on the device). Defaults to False, with a warning when True.

    Returns:
        The `.tflite` file's bytes.

    Raises:
        ValueError: an unknown `quantize`, "int8" without representative data,
            or `int8_io` without "int8".
        ConversionError: ops that the allowed op sets lack; the message names them.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> convert_tflite(path)[4:8]
    b'TFL3'
    >>> convert_tflite(path, quantize="int4")
    Traceback (most recent call last):
    ...
    ValueError: quantize must be one of None, 'dynamic', 'float16', 'int8'; got 'int4'
    """
    if quantize not in (None, *QUANTIZE):
        raise ValueError(f"quantize must be one of None, {', '.join(map(repr, QUANTIZE))}; got {quantize!r}")
    if int8_io and quantize != "int8":
        raise ValueError(f"int8_io (int8 inputs and outputs) needs quantize='int8', got quantize={quantize!r}")
    if quantize == "int8" and representative_data is None:
        raise ValueError("quantize='int8' needs representative data to calibrate activations: pass "
                         "representative_data=x_train[:300] (a few hundred training inputs, an array or a "
                         "tf.data.Dataset), or export a run directory, whose training data is used")
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(os.fspath(saved_model_dir),
                                                         signature_keys=["serving_default"])
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS]
    if select_ops:
        warnings.warn("select_ops=True: the TFLite file may hold select-TF ops; a device needs the Flex "
                      "delegate (tensorflow-lite-select-tf-ops) to run it, and its size grows by megabytes",
                      UserWarning, stacklevel=2)
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        x = representative_inputs(representative_data)
        x = x.astype("int32" if np.issubdtype(x.dtype, np.integer) else "float32")  # token ids stay ids

        def calibration():
            for i in range(len(x)):
                yield [np.asarray(x[i:i + 1])]

        converter.representative_dataset = calibration
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        with _quiet_stderr():
            return converter.convert()
    except Exception as err:
        message = str(err)
        names = _unsupported(message)
        if names and not select_ops and "TF Select ops" in message:
            raise ConversionError(
                f"TFLite conversion failed: the model uses ops that TFLite's builtin set lacks ({names}); "
                f"pass select_ops=True (--select-ops) to allow TensorFlow ops (the device then needs the "
                f"Flex delegate), or replace those ops in the model") from None
        if names:
            raise ConversionError(f"TFLite conversion failed: no TFLite kernel for {names}") from None
        last = [line for line in message.splitlines() if line.strip()][-1:] or [type(err).__name__]
        raise ConversionError(f"TFLite conversion failed: {last[0].strip()[:300]}") from None


def inspect_tflite(model: str | os.PathLike | bytes) -> dict:
    """A TFLite file's ops and its signature's inputs and outputs (dtype, shape, quantization).

    Args:
        model: a `.tflite` path or its bytes.

    Returns:
        `{"ops": [...], "inputs": {name: {...}}, "outputs": {name: {...}}}`; an
        int8 input or output carries its `scale` and `zero_point`.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> inspect_tflite(convert_tflite(path))["inputs"]
    {'inputs': {'shape': [None, 4], 'dtype': 'float32'}}
    """
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (bytes, bytearray)):
        interpreter = Interpreter(model_content=bytes(model))
    else:
        interpreter = Interpreter(model_path=os.fspath(model))
    runner = interpreter.get_signature_runner("serving_default")

    def io(details: dict) -> dict:
        out = {}
        for name, d in sorted(details.items()):
            info = {"shape": [None if s < 0 else int(s) for s in d["shape_signature"]],
                    "dtype": d["dtype"].__name__}
            scale, zero = d["quantization"]
            if scale:
                info.update(scale=float(scale), zero_point=int(zero))
            out[name] = info
        return out

    from kerazoo._compat import tflite_ops_details

    return {"ops": sorted({op["op_name"] for op in tflite_ops_details(interpreter)}),
            "inputs": io(runner.get_input_details()), "outputs": io(runner.get_output_details())}


def tflite_ops(model: str | os.PathLike | bytes) -> list[str]:
    """The distinct op names in a TFLite file, sorted (select-TF ops start with "Flex").

    Args:
        model: a `.tflite` path or its bytes.

    Returns:
        Sorted op names.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3, depth=1, batch_norm=False), path)
    >>> tflite_ops(convert_tflite(path))
    ['ARG_MAX', 'FULLY_CONNECTED', 'SOFTMAX']
    """
    return inspect_tflite(model)["ops"]

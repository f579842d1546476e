"""Export of zoo models to SavedModel and TFLite, every artifact verified.

`export_model` writes what a model server or a phone loads, laid out for
TensorFlow Serving (`<out>/<model_name>/<version>/`), and proves each file
computes what the Keras model computes: each is reloaded by its real consumer
and compared with Keras on real inputs, and a quantized file must keep the
model's answers (`export.fidelity`, `export.int8`). Beside the SavedModel go
TensorFlow Serving's warm-up records and a serving manifest, and `serve` answers
TensorFlow Serving's REST API over an export root, for development and tests
(`kerazoo serve`). Importing `export` costs no
TensorFlow; the modules import it when they run.

>>> import export
>>> export.FORMATS, export.QUANTIZE
(('savedmodel', 'tflite', 'onnx'), ('dynamic', 'float16', 'int8'))
"""

from export.api import DEFAULT_FORMATS, FORMATS, Artifact, ExportResult, export_model
from export.fidelity import FidelityError, threshold_for
from export.int8 import int8_attempts
from export.manifest import serving_manifest, write_manifest
from export.metadata import model_card, read_metadata, write_metadata
from export.onnx_format import convert_onnx, onnx_available, run_onnx, verify_onnx
from export.savedmodel import float32_copy, write_savedmodel
from export.server import serve, server_process
from export.tflite import QUANTIZE, ConversionError, convert_tflite, inspect_tflite, tflite_ops
from export.verify import (
    TOLERANCES,
    Verification,
    VerificationError,
    run_savedmodel,
    run_tflite,
    verify_savedmodel,
    verify_tflite,
)
from export.warmup import check_warmup, read_warmup, write_warmup

__all__ = ["export_model", "ExportResult", "Artifact", "FORMATS", "DEFAULT_FORMATS", "QUANTIZE", "TOLERANCES",
           "write_savedmodel", "float32_copy", "convert_tflite", "inspect_tflite", "tflite_ops",
           "verify_savedmodel", "verify_tflite", "run_savedmodel", "run_tflite", "Verification",
           "ConversionError", "VerificationError", "model_card", "read_metadata", "write_metadata",
           "onnx_available", "convert_onnx", "run_onnx", "verify_onnx", "FidelityError", "threshold_for",
           "int8_attempts", "write_warmup", "read_warmup", "check_warmup", "serving_manifest", "write_manifest",
           "serve", "server_process"]

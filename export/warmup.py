"""TensorFlow Serving's warm-up records: `assets.extra/tf_serving_warmup_requests` beside the SavedModel.

TensorFlow Serving runs the requests of this file through a model version
before it marks the version available, so the first real requests do not pay
the graph's lazy initialisation. The file is a TFRecord of `PredictionLog`
protos (from `tensorflow-serving-api`, the same protos TF Serving reads), each
a `PredictRequest` holding one real example for the `serving_default`
signature. `check_warmup` parses the file back and runs every request through
the SavedModel, as the export's verification does.
"""

from __future__ import annotations

import os
from pathlib import Path

from kerazoo.errors import VerificationError

__all__ = ["WARMUP_FILE", "WARMUP_RECORDS", "write_warmup", "read_warmup", "check_warmup"]

WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
WARMUP_RECORDS = 5  # one example a request; TF Serving reads at most 1000


def write_warmup(folder: str | os.PathLike, examples, *, model_name: str,
                 signature_name: str = "serving_default", input_name: str = "inputs") -> Path:
    """Write `assets.extra/tf_serving_warmup_requests`: one `PredictRequest` a example, as `PredictionLog` records.

    Args:
        folder: the SavedModel folder (the version folder).
        examples: the inputs, batch first; each becomes a request of batch one.
            At most `WARMUP_RECORDS` are written.
        model_name: the model's name in the requests' `model_spec`.
        signature_name: the signature the requests call. Defaults to "serving_default".
        input_name: the signature's input. Defaults to "inputs".

    Returns:
        The file written.

    Example:
    >>> import tempfile, numpy as np
    >>> path = write_warmup(tempfile.mkdtemp(), np.zeros((8, 4), "float32"), model_name="mlp")
    >>> path.relative_to(path.parents[1]).as_posix(), [r["inputs"].shape for r in read_warmup(path.parents[1])]
    ('assets.extra/tf_serving_warmup_requests', [(1, 4), (1, 4), (1, 4), (1, 4), (1, 4)])
    """
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    from kerazoo.io import atomic_write

    examples = np.asarray(examples)[:WARMUP_RECORDS]
    if not len(examples):
        raise ValueError("write_warmup needs at least one example, got an empty array")
    path = Path(folder) / WARMUP_FILE

    def write(tmp):
        with tf.io.TFRecordWriter(tmp) as writer:
            for example in examples:
                request = predict_pb2.PredictRequest()
                request.model_spec.name = model_name
                request.model_spec.signature_name = signature_name
                request.inputs[input_name].CopyFrom(tf.make_tensor_proto(example[None]))
                log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
                writer.write(log.SerializeToString())

    atomic_write(path, write)
    return path


def read_warmup(folder: str | os.PathLike) -> list[dict]:
    """The warm-up records of a SavedModel folder, parsed as `PredictionLog`s: each request's inputs as arrays.

    Raises:
        FileNotFoundError: the folder holds no warm-up file.

    Example:
    >>> import tempfile
    >>> read_warmup(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: no warm-up records: .../assets.extra/tf_serving_warmup_requests does not exist
    """
    path = Path(folder) / WARMUP_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no warm-up records: {path} does not exist")
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(raw)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"{path}: a record holds a {log.WhichOneof('log_type')}, not a predict_log")
        request = log.predict_log.request
        records.append({"model_name": request.model_spec.name, "signature_name": request.model_spec.signature_name,
                        **{name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}})
    return records


def check_warmup(folder: str | os.PathLike, *, loaded=None) -> dict:
    """Parse the warm-up records back and run each request through the SavedModel's signature it names.

    Each request must name an existing signature, give exactly its inputs with
    their dtypes and compatible shapes, and get finite outputs. `kerazoo serve`
    runs them so when it loads a version, as TensorFlow Serving does.

    Args:
        folder: the SavedModel folder.
        loaded: the SavedModel, already loaded with `tf.saved_model.load`. Defaults
            to loading it from `folder`.

    Returns:
        `{"file", "records", "consumer", "status": "ok"}`.

    Raises:
        export.VerificationError: a record the signature does not accept, naming why.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> _ = write_warmup(path, np.ones((2, 4), "float32"), model_name="mlp")
    >>> check_warmup(path)["records"]
    2
    """
    import numpy as np
    import tensorflow as tf

    loaded = loaded if loaded is not None else tf.saved_model.load(os.fspath(folder))
    records = read_warmup(folder)
    if not records:
        raise VerificationError(f"{WARMUP_FILE} holds no records")
    for i, record in enumerate(records):
        name = record.pop("signature_name") or "serving_default"
        record.pop("model_name")
        if name not in loaded.signatures:
            raise VerificationError(f"{WARMUP_FILE}: record {i} calls signature {name!r}, which the SavedModel "
                                    f"lacks (it has {', '.join(loaded.signatures)})")
        fn = loaded.signatures[name]
        specs = fn.structured_input_signature[1]
        if set(record) != set(specs):
            raise VerificationError(f"{WARMUP_FILE}: record {i} gives inputs {sorted(record)}; signature {name!r} "
                                    f"takes {sorted(specs)}")
        for key, value in record.items():
            spec = specs[key]
            if value.dtype != spec.dtype.as_numpy_dtype or not spec.shape.is_compatible_with(value.shape):
                raise VerificationError(f"{WARMUP_FILE}: record {i} input {key!r} is {value.dtype} {value.shape}; "
                                        f"the signature takes {spec.dtype.name} {spec.shape}")
        outputs = fn(**{k: tf.constant(v) for k, v in record.items()})
        if not all(np.isfinite(v.numpy()).all() for v in outputs.values() if v.dtype.is_floating):
            raise VerificationError(f"{WARMUP_FILE}: record {i} gives NaN or infinite outputs")
    return {"file": WARMUP_FILE, "records": len(records), "consumer": "tf.saved_model.load", "status": "ok"}

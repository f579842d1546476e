"""The serving manifest beside a SavedModel: `serving.json` and `request.json`, read from the real signature.

`serving.json` names the signatures, their inputs and outputs with dtypes and
shapes (as `saved_model.pb` declares them, not as the exporter meant them), the
warm-up records, and ready-to-run request examples: the REST URL, a `curl`
command that posts `request.json` (one real example), a Python client snippet
and the `docker run tensorflow/serving` command that serves the folder. The
same client code works against `kerazoo serve` (development) and TensorFlow
Serving (production).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["MANIFEST_FILE", "REQUEST_FILE", "signature_defs", "signatures", "serving_manifest", "write_manifest",
           "add_serving_files", "REST_PORT"]

MANIFEST_FILE = "serving.json"
REQUEST_FILE = "request.json"
REST_PORT = 8501  # TensorFlow Serving's REST port


def signature_defs(folder: str | os.PathLike) -> dict:
    """The SavedModel's signature defs as TensorFlow Serving's metadata shows them (`saved_model.pb` parsed).

    Signatures whose names start with `__` (the init op) are left out.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> sig = signature_defs(path)["serving_default"]
    >>> sig["method_name"], sig["inputs"]["inputs"]["dtype"], sig["inputs"]["inputs"]["tensor_shape"]["dim"]
    ('tensorflow/serving/predict', 'DT_FLOAT', [{'size': '-1'}, {'size': '4'}])
    """
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((Path(folder) / "saved_model.pb").read_bytes())
    defs = saved.meta_graphs[0].signature_def
    return {name: json_format.MessageToDict(defs[name], preserving_proto_field_name=True)
            for name in sorted(defs) if not name.startswith("__")}


def _tensor(info: dict) -> dict:
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2

    dims = info.get("tensor_shape", {})
    shape = None if dims.get("unknown_rank") else [int(d.get("size", -1)) for d in dims.get("dim", [])]
    return {"dtype": tf.as_dtype(types_pb2.DataType.Value(info["dtype"])).name, "shape": shape,
            "tensor": info.get("name")}


def signatures(folder: str | os.PathLike) -> dict:
    """Each signature's inputs and outputs as `{"dtype", "shape", "tensor"}` (-1: any size), from `saved_model.pb`.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> sig = signatures(path)["serving_default"]
    >>> sig["inputs"]["inputs"]["shape"], sig["outputs"]["classes"]["dtype"]
    ([-1, 4], 'int64')
    """
    return {name: {"method_name": sig.get("method_name"),
                   "inputs": {k: _tensor(v) for k, v in sorted(sig.get("inputs", {}).items())},
                   "outputs": {k: _tensor(v) for k, v in sorted(sig.get("outputs", {}).items())}}
            for name, sig in signature_defs(folder).items()}


PYTHON_CLIENT = '''\
import json
import urllib.request

URL = "{url}"  # kerazoo serve, or TensorFlow Serving: the same API
with open("{request}") as f:  # or: body = {{"instances": x.tolist()}}, one row an example
    body = json.load(f)
request = urllib.request.Request(URL, data=json.dumps(body).encode(), headers={{"Content-Type": "application/json"}})
with urllib.request.urlopen(request) as response:
    predictions = json.load(response)["predictions"]  # one {kind} a row{names}
print(predictions[0])
'''


def serving_manifest(folder: str | os.PathLike, *, model_name: str, version: int, example=None,
                     host: str = "localhost", port: int = REST_PORT) -> dict:
    """The serving manifest of a SavedModel folder: signatures, warm-up records and request examples.

    Args:
        folder: the version folder (it holds `saved_model.pb`).
        model_name: the model's name in the URL (its folder in the export root).
        version: the version number.
        example: one input example (no batch dimension) for the request body.
            Defaults to zeros of the signature's shape.
        host: the host in the URLs. Defaults to "localhost".
        port: the REST port in the URLs. Defaults to 8501, TensorFlow Serving's.

    Returns:
        A dict: `model`, `version`, `signatures`, `rest` (`predict_url`,
        `metadata_url`, `body`, `curl`), `python`, `docker`, `warmup`.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "3")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> manifest = serving_manifest(path, model_name="mlp", version=3)
    >>> manifest["rest"]["predict_url"], manifest["rest"]["body"]
    ('http://localhost:8501/v1/models/mlp:predict', {'signature_name': 'serving_default', 'instances': [[0.0, 0.0, 0.0, 0.0]]})
    >>> manifest["rest"]["curl"]
    'curl -s -X POST -H "Content-Type: application/json" -d @request.json http://localhost:8501/v1/models/mlp:predict'
    """
    import numpy as np

    from export.warmup import WARMUP_FILE

    folder = Path(folder)
    sigs = signatures(folder)
    main = sigs["serving_default"]
    (input_name, spec), = main["inputs"].items()
    if example is None:
        example = np.zeros([max(d, 1) for d in spec["shape"][1:]], dtype=spec["dtype"])
    example = np.asarray(example, dtype=spec["dtype"])
    if example.dtype.kind == "f":  # the shortest text that reads back as the same float32: 1.3, not 1.2999999523
        example = np.vectorize(lambda v: float(str(v)), otypes=[object])(example)
    body = {"signature_name": "serving_default", "instances": [example.tolist()]}
    base = f"http://{host}:{port}/v1/models/{model_name}"
    outputs = list(main["outputs"])
    kind = "object" if len(outputs) > 1 else "value"
    names = f" ({', '.join(outputs)})" if len(outputs) > 1 else f" ({outputs[0]})"
    warmup = folder / WARMUP_FILE
    return {
        "model": model_name, "version": version, "signatures": sigs,
        "rest": {"predict_url": f"{base}:predict", "metadata_url": f"{base}/metadata", "status_url": base,
                 "request_file": REQUEST_FILE, "body": body,
                 "curl": f'curl -s -X POST -H "Content-Type: application/json" -d @{REQUEST_FILE} {base}:predict'},
        "python": PYTHON_CLIENT.format(url=f"{base}:predict", request=REQUEST_FILE, kind=kind, names=names),
        "docker": (f"docker run -p {port}:8501 --mount type=bind,source=$(pwd)/{model_name},"
                   f"target=/models/{model_name} -e MODEL_NAME={model_name} -t tensorflow/serving"),
        "serve": f"kerazoo serve EXPORT_ROOT --port {port}",
        "warmup": {"file": WARMUP_FILE, "records": _count(warmup)} if warmup.is_file() else None,
    }


def _count(path: Path) -> int:
    from export.warmup import read_warmup

    return len(read_warmup(path.parents[1]))


def write_manifest(folder: str | os.PathLike, *, model_name: str, version: int, example=None) -> dict:
    """Write `serving.json` and `request.json` (the REST body of one example) into a SavedModel folder.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "1")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> sorted(write_manifest(path, model_name="mlp", version=1)["signatures"])
    ['serving_default']
    >>> sorted(p for p in os.listdir(path) if p.endswith(".json"))
    ['request.json', 'serving.json']
    """
    from kerazoo.io import write_json, write_text

    manifest = serving_manifest(folder, model_name=model_name, version=version, example=example)
    write_json(Path(folder) / MANIFEST_FILE, manifest)
    write_text(Path(folder) / REQUEST_FILE, json.dumps(manifest["rest"]["body"]) + "\n")
    return manifest


def add_serving_files(folder: str | os.PathLike, examples, *, model_name: str, version: int,
                      verify: bool = True, loaded=None) -> dict:
    """Write the warm-up records (`export.warmup`) and the serving manifest into a SavedModel folder.

    Args:
        folder: the version folder holding the SavedModel.
        examples: real inputs, batch first: the first few become the warm-up
            requests, the first one the manifest's request example.
        model_name: the model's name.
        version: the version number.
        verify: parse the warm-up records back and run them through the
            SavedModel (`export.warmup.check_warmup`). Defaults to True.
        loaded: the SavedModel already loaded with `tf.saved_model.load`, for
            that check. Defaults to loading it from `folder`.

    Returns:
        What `metadata.json` records under `serving`: the files, and the warm-up
        check (None when `verify` is False).

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> path = os.path.join(tempfile.mkdtemp(), "1")
    >>> _ = write_savedmodel(build("mlp", input_shape=(4,), num_classes=3), path)
    >>> add_serving_files(path, np.ones((9, 4), "float32"), model_name="mlp", version=1)["warmup"]
    {'file': 'assets.extra/tf_serving_warmup_requests', 'records': 5, 'consumer': 'tf.saved_model.load', 'status': 'ok'}
    """
    from export.warmup import WARMUP_FILE, check_warmup, write_warmup

    (input_name, _), = signatures(folder)["serving_default"]["inputs"].items()
    write_warmup(folder, examples, model_name=model_name, input_name=input_name)
    checked = check_warmup(folder, loaded=loaded) if verify else None
    write_manifest(folder, model_name=model_name, version=version, example=examples[0])
    return {"manifest": MANIFEST_FILE, "request": REQUEST_FILE, "warmup_file": WARMUP_FILE, "warmup": checked}

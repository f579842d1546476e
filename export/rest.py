"""TensorFlow Serving's REST request and response bodies: JSON in, arrays to the signature, JSON out.

The predict body names the signature (`signature_name`, default
`serving_default`) and gives the inputs in the row format (`instances`: a list,
one example a row; a row is the value of the single input, or an object of
named inputs) or the columnar format (`inputs`: the value of the single input,
or an object of named inputs, each batch first). The answer is `predictions`
(row format: one value a row for a single output, else one object a row) or
`outputs` (columnar: the value, or an object of named outputs). A request that
does not fit is answered `{"error": message}` with TensorFlow Serving's status
code (400 for a malformed body, a wrong shape or dtype; 404 for an unknown
model or version; 413 for a body over the limit).
"""

from __future__ import annotations

import json

__all__ = ["RestError", "parse_body", "request_arrays", "response_body", "to_array"]


class RestError(Exception):
    """A request answered with an HTTP error status and `{"error": message}`.

    Example:
    >>> err = RestError("Servable not found for request: Latest(x)", status=404)
    >>> err.status, str(err)
    (404, 'Servable not found for request: Latest(x)')
    """

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_body(body: bytes) -> dict:
    """The JSON object of a predict request.

    Example:
    >>> parse_body(b'{"instances": [[1, 2]]}')
    {'instances': [[1, 2]]}
    >>> parse_body(b'{"instances": [1,')
    Traceback (most recent call last):
    ...
    export.rest.RestError: JSON Parse error: Expecting value at offset 17
    """
    try:
        payload = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except UnicodeDecodeError as err:
        raise RestError(f"JSON Parse error: the body is not UTF-8 text ({err.reason} at offset {err.start})") from None
    except json.JSONDecodeError as err:
        raise RestError(f"JSON Parse error: {err.msg} at offset {err.pos}") from None
    if not isinstance(payload, dict):
        raise RestError(f"the request body must be a JSON object with 'instances' or 'inputs', "
                        f"got a JSON {type(payload).__name__}")
    return payload


def to_array(value, *, name: str, dtype: str, shape: list | None):
    """A JSON value as an array of the signature input's dtype, its shape checked against the signature's.

    Args:
        value: nested lists of numbers (booleans for a bool input).
        name: the input's name, for the messages.
        dtype: the input's dtype ("float32", "int32", ...).
        shape: the signature's shape, -1 for a free dimension; None for any.

    Raises:
        RestError: ragged lists, values of another kind (text, fractions for an
            integer input, out of range), or a shape that does not fit (400).

    Example:
    >>> to_array([[1, 2.5]], name="inputs", dtype="float32", shape=[-1, 2])
    array([[1. , 2.5]], dtype=float32)
    >>> to_array([[1, 2]], name="inputs", dtype="float32", shape=[-1, 3])
    Traceback (most recent call last):
    ...
    export.rest.RestError: input 'inputs': expected shape (-1, 3) (-1: any size), got (1, 2)
    >>> to_array([[1.5]], name="inputs", dtype="int32", shape=[-1, 1])
    Traceback (most recent call last):
    ...
    export.rest.RestError: input 'inputs': expected int32 values (whole numbers in [-2147483648, 2147483647]), got 1.5
    """
    import numpy as np

    try:
        raw = np.array(value, dtype=object)
    except ValueError:
        raw = None
    if raw is None or raw.dtype != object or any(isinstance(v, (list, dict)) for v in raw.reshape(-1)):
        raise RestError(f"input {name!r}: the lists are ragged (rows of different lengths) or hold objects; "
                        f"every row must have the same shape")
    flat = raw.reshape(-1)
    want = np.dtype(dtype)
    if want.kind == "b":
        bad = next((v for v in flat if not isinstance(v, bool)), None)
        if bad is not None:
            raise RestError(f"input {name!r}: expected {dtype} values (true or false), got {bad!r}")
        array = raw.astype(bool)
    else:
        bad = next((v for v in flat if isinstance(v, bool) or not isinstance(v, (int, float))), None)
        if bad is not None:
            raise RestError(f"input {name!r}: expected {dtype} values (numbers), got {json.dumps(bad)}")
        if want.kind in "iu":
            info = np.iinfo(want)
            bad = next((v for v in flat if float(v) != int(v) or not info.min <= int(v) <= info.max), None)
            if bad is not None:
                raise RestError(f"input {name!r}: expected {dtype} values (whole numbers in [{info.min}, "
                                f"{info.max}]), got {bad!r}")
        array = raw.astype(want)
    if shape is not None and (array.ndim != len(shape) or any(d not in (-1, g) for d, g in zip(shape, array.shape))):
        raise RestError(f"input {name!r}: expected shape ({', '.join(map(str, shape))}) (-1: any size), "
                        f"got ({', '.join(map(str, array.shape))}{',' if array.ndim == 1 else ''})")
    return array


def request_arrays(payload: dict, inputs: dict) -> tuple[dict, str]:
    """The signature's input arrays from a predict body, and its format ("row" or "columnar").

    Args:
        payload: the parsed body (`parse_body`).
        inputs: the signature's inputs, name -> `{"dtype", "shape"}`.

    Raises:
        RestError: no or both of `instances` and `inputs`, an empty list, missing or
            unknown input names, a value that does not fit (400).

    Example:
    >>> spec = {"inputs": {"dtype": "float32", "shape": [-1, 2]}}
    >>> arrays, fmt = request_arrays({"instances": [[1, 2], {"inputs": [3, 4]}]}, spec)
    >>> arrays["inputs"].tolist(), fmt
    ([[1.0, 2.0], [3.0, 4.0]], 'row')
    >>> request_arrays({"inputs": {"inputs": [[1, 2]]}}, spec)[0]["inputs"].shape
    (1, 2)
    >>> request_arrays({"instances": []}, spec)
    Traceback (most recent call last):
    ...
    export.rest.RestError: 'instances' is empty: give one row an example
    """
    has_rows, has_columns = "instances" in payload, "inputs" in payload
    if has_rows == has_columns:
        raise RestError("the request body must hold exactly one of 'instances' (row format) or 'inputs' "
                        "(columnar format)" + ("; it holds both" if has_rows else f"; it holds {sorted(payload)}"))
    names = list(inputs)
    if has_rows:
        rows = payload["instances"]
        if not isinstance(rows, list):
            raise RestError(f"'instances' must be a list, one row an example; got a JSON {type(rows).__name__}")
        if not rows:
            raise RestError("'instances' is empty: give one row an example")
        columns = {n: [] for n in names}
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                if len(names) != 1:
                    raise RestError(f"instance {i}: this signature takes several inputs ({', '.join(names)}); "
                                    f"give each row as an object of them")
                row = {names[0]: row}
            _check_names(row, names, f"instance {i}")
            for n in names:
                columns[n].append(row[n])
        values, fmt = columns, "row"
    else:
        given = payload["inputs"]
        if len(names) == 1 and not (isinstance(given, dict) and names[0] in given):
            given = {names[0]: given}  # the single input's value itself
        elif not isinstance(given, dict):
            raise RestError(f"'inputs' must be an object of the inputs {', '.join(names)}")
        _check_names(given, names, "'inputs'")
        values, fmt = given, "columnar"
    arrays = {n: to_array(values[n], name=n, dtype=inputs[n]["dtype"], shape=inputs[n]["shape"]) for n in names}
    batches = {len(a) for a in arrays.values() if a.ndim}
    if len(batches) > 1:
        raise RestError(f"the inputs have different batch sizes: {sorted(batches)}")
    return arrays, fmt


def _check_names(given: dict, names: list, where: str) -> None:
    missing, unknown = [n for n in names if n not in given], [k for k in given if k not in names]
    if missing or unknown:
        raise RestError(f"{where}: " + "; ".join(
            ([f"missing input(s) {', '.join(map(repr, missing))}"] if missing else []) +
            ([f"unknown input(s) {', '.join(map(repr, unknown))} (the signature takes {', '.join(names)})"]
             if unknown else [])))


def response_body(outputs: dict, fmt: str) -> dict:
    """The answer to a predict request: `predictions` (row format) or `outputs` (columnar), as TF Serving gives.

    Example:
    >>> import numpy as np
    >>> out = {"probabilities": np.array([[0.25, 0.75]], "float32"), "classes": np.array([1])}
    >>> response_body(out, "row")
    {'predictions': [{'classes': 1, 'probabilities': [0.25, 0.75]}]}
    >>> response_body({"values": np.array([[1.5], [2.0]], "float32")}, "columnar")
    {'outputs': [[1.5], [2.0]]}
    """
    names = sorted(outputs)
    if fmt == "columnar":
        return {"outputs": outputs[names[0]].tolist() if len(names) == 1 else {n: outputs[n].tolist() for n in names}}
    if len(names) == 1:
        return {"predictions": outputs[names[0]].tolist()}
    rows = {len(outputs[n]) for n in names}
    if len(rows) > 1:
        raise RestError("the outputs have different batch sizes; ask for the columnar format ('inputs')",
                        status=400)
    return {"predictions": [{n: outputs[n][i].tolist() for n in names} for i in range(rows.pop())]}

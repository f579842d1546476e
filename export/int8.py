"""Full-integer int8 TFLite files that keep the Keras model's answers: a ladder of recipes.

A plain int8 conversion gives every tensor one int8 scale, and some tensors cannot
live with one. Measured with TensorFlow Lite's quantization debugger
(`tf.lite.experimental.QuantizationDebugger`, error of each op's int8 output, in
quantization steps; rounding alone is 0.29):

- the in-model `Normalization` of tabular data: its input spans the raw features
  (breast_cancer: 1e-3 to 4e3), so `(x - mean)` gets a step of ~16 and the small
  features vanish: 12.9 steps on breast_cancer, 177 on wine (top-1 agreement 61-65%);
- `LayerNormalization` computed in int8 (its mean and variance): 92% on a tabular
  transformer even with the preprocessing in float;
- the causal mask of a language model's attention (scores set to a large negative
  number): the scores, their scaling and the mask share one int8 scale spanning
  1e9, and next-token agreement falls to 76%.

`int8_attempts` yields the recipes in order, the cheapest first; the export keeps
the first whose file passes the fidelity threshold:

1. "all int8": the whole graph in int8 (weights per channel), as the converter does.
2. "preprocessing and head in float": the model's `Normalization`/`Rescaling`
   layers and its output layer(s) stay float; the body is int8.
3. "+ normalization and attention in float": also every `LayerNormalization`
   (and Group/Unit normalization) and, in each `MultiHeadAttention`, every op but
   its dense projections (scores, mask, softmax).
4. "+ the layers the debugger flags": also every op whose int8 output still errs by
   more than one quantization step, found with the debugger (three rounds at most).

Recipes 2-4 go through the debugger's selective quantization
(`QuantizationDebugOptions(denylisted_nodes=...)`); their float ops are named after
the Keras layers they come from, and the export records them.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field

__all__ = ["Int8Attempt", "int8_attempts", "int8_ladder", "float_layer_groups", "RECIPES"]

RECIPES = ("all int8", "preprocessing and head in float", "+ normalization and attention in float",
           "+ the layers the debugger flags")
DEBUG_EXAMPLES = 32
FLAG_STEPS = 1.0
ROUNDING_STEPS = 0.29  # the error of rounding alone, in quantization steps (1/sqrt(12))


@dataclass
class Int8Attempt:
    """One int8 conversion of the ladder.

    Attributes:
        recipe: which of `RECIPES`.
        content: the `.tflite` bytes.
        float_layers: the Keras layers (paths) kept in float, with their class.
        float_ops: how many ops of the int8 graph were kept in float.
        worst: the debugger's worst ops (`[{"op", "tensor", "steps"}]`, error in
            quantization steps), when the debugger ran.
        note: why no further recipe followed (the debugger could not run), or "".
    """

    recipe: str
    content: bytes
    float_layers: list = field(default_factory=list)
    float_ops: int = 0
    worst: list = field(default_factory=list)
    note: str = ""

    def summary(self) -> dict:
        """The attempt as `metadata.json` keeps it (no bytes)."""
        return {"recipe": self.recipe, "float_layers": self.float_layers, "float_ops": self.float_ops,
                "bytes": len(self.content), **({"debugger_worst": self.worst} if self.worst else {}),
                **({"note": self.note} if self.note else {})}


def _sublayers(layer, path=(), seen=None):
    """Every layer inside `layer` (nested ones too), as (path of names, layer), first seen first."""
    import keras

    seen = set() if seen is None else seen
    for value in list(vars(layer).values()):
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for sub in items:
            if isinstance(sub, keras.layers.Layer) and sub is not layer and id(sub) not in seen:
                seen.add(id(sub))
                yield (*path, sub.name), sub
                yield from _sublayers(sub, (*path, sub.name), seen)


def float_layer_groups(model) -> dict:
    """The Keras layers each recipe keeps in float, by group: paths of layer names with their class.

    Returns:
        `{"preprocessing": [...], "head": [...], "normalization": [...], "attention": [...]}`,
        each a list of `(path, class name)`; a path is a tuple of layer names from the
        model down (`("block_0", "norm1")`).

    Example:
    >>> from kerazoo import build
    >>> from kerazoo.spec import DataSpec
    >>> spec = DataSpec((4,), num_classes=3, kind="tabular", mean=[0.0] * 4, variance=[1.0] * 4)
    >>> groups = float_layer_groups(build("mlp", spec))
    >>> groups["preprocessing"], groups["head"]
    ([(('normalize',), 'Normalization')], [(('predictions',), 'Dense')])
    """
    import keras

    top = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    weighted = [i for i, layer in enumerate(top) if layer.weights]
    head = top[weighted[-1]:] if weighted else top[-1:]
    everything = [((layer.name,), layer) for layer in top]
    for layer in top:
        everything += [((layer.name, *p), sub) for p, sub in _sublayers(layer)]
    norms = tuple(c for c in (getattr(keras.layers, n, None) for n in
                              ("LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization"))
                  if c is not None)

    def pick(classes):
        return [(path, type(layer).__name__) for path, layer in everything if isinstance(layer, classes)]

    return {"preprocessing": pick((keras.layers.Normalization, keras.layers.Rescaling)),
            "head": [((layer.name,), type(layer).__name__) for layer in head],
            "normalization": pick(norms),
            "attention": pick((keras.layers.MultiHeadAttention,))}


def _pattern(path) -> re.Pattern:
    """TFLite tensor names carry the layers' name scopes, each maybe suffixed `_1`."""
    return re.compile(r"(^|[/;])" + "".join(rf"{re.escape(name)}(_\d+)?/" for name in path))


def _nodes(names: dict, paths, *, skip_ops=()) -> list[str]:
    patterns = [_pattern(p) for p in paths]
    return [n for n, op in names.items() if op not in skip_ops and any(p.search(n) for p in patterns)]


@contextlib.contextmanager
def _quiet():
    from export.tflite import quiet_stderr

    with warnings.catch_warnings(), quiet_stderr():
        warnings.simplefilter("ignore")  # the debugger builds tf.lite.Interpreter, which warns it is deprecated
        yield


def _stats(debugger) -> list[dict]:
    """The debugger's per-op figures: op, tensor, and the error in quantization steps."""
    import io

    import numpy as np

    with _quiet():
        debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    import csv

    rows = []
    for row in csv.DictReader(io.StringIO(buffer.getvalue())):
        scale = float(row["scale"] or 0)
        mse = float(row["mean_squared_error"] or 0)
        steps = float(np.sqrt(mse) / scale) if scale > 0 and np.isfinite(mse) else 0.0
        rows.append({"op": row["op_name"], "tensor": row["tensor_name"], "steps": round(steps, 3)})
    return rows


def _safe_stats(debugger) -> list[dict]:
    try:
        return _stats(debugger)
    except Exception:  # the debug model does not run (its interpreter refuses an op): no figures
        return []


def _worst(rows: list[dict], n: int = 3) -> list[dict]:
    return [r for r in sorted(rows, key=lambda r: -r["steps"]) if r["steps"] > ROUNDING_STEPS * 2][:n]


def int8_attempts(saved_model_dir, model, representative, *, int8_io: bool = False, first: int = 0):
    """Yield `Int8Attempt`s, one per recipe, cheapest first; stop iterating once one is good enough.

    Args:
        saved_model_dir: the SavedModel to convert.
        model: the Keras model it was written from (its layers name the float ops).
        representative: calibration inputs (an array).
        int8_io: int8 inputs and outputs: only "all int8" fits (float edges would
            undo them). Defaults to False.
        first: the index of the first recipe to try. Defaults to 0.

    Yields:
        `Int8Attempt`; recipes that would keep the same ops as an earlier one are skipped.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from kerazoo import build
    >>> from export import write_savedmodel
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> path = os.path.join(tempfile.mkdtemp(), "sm")
    >>> _ = write_savedmodel(model, path)
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> [(a.recipe, a.content[4:8]) for a in int8_attempts(path, model, x)][:2]
    [('all int8', b'TFL3'), ('preprocessing and head in float', b'TFL3')]
    """
    import numpy as np
    import tensorflow as tf

    from export.tflite import convert_tflite

    x = np.asarray(representative)
    x = x.astype("int32" if np.issubdtype(x.dtype, np.integer) else "float32")
    plain = None
    if first <= 0:
        plain = Int8Attempt(RECIPES[0], convert_tflite(saved_model_dir, quantize="int8", representative_data=x,
                                                       int8_io=int8_io))
        if int8_io:
            plain.note = ("int8 inputs and outputs (int8_io) leave only the all-int8 recipe: an int8 input "
                          "cannot carry features of different scales to a float preprocessing layer")
        yield plain
    if int8_io:
        return

    def calibration():
        for i in range(len(x)):
            yield [x[i:i + 1]]

    def debug_data():
        for i in range(min(len(x), DEBUG_EXAMPLES)):
            yield [x[i:i + 1]]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = calibration
    try:
        with _quiet():
            debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=debug_data)
        rows = _stats(debugger)
    except Exception as err:  # e.g. its interpreter's XNNPACK delegate refuses an op: no selective recipe
        if plain is not None:
            plain.note = f"the quantization debugger could not run this model ({str(err).splitlines()[0][:200]})"
        return
    names = {r["tensor"]: r["op"] for r in rows}
    if plain is not None:
        plain.worst = _worst(rows)  # the diagnosis of the all-int8 file, for the record
    groups = float_layer_groups(model)

    outputs = [n for n in names if n.startswith("StatefulPartitionedCall")]  # the signature's outputs
    layers = {1: [], 2: []}
    denied = {1: list(outputs), 2: []}
    for step, group, skip in ((1, "preprocessing", ()), (1, "head", ()), (2, "normalization", ()),
                              (2, "attention", ("FULLY_CONNECTED",))):
        for path, kind in groups[group]:
            found = _nodes(names, [path], skip_ops=skip)
            if found:  # a layer whose ops the converter folded away costs nothing and is not listed
                denied[step] += found
                layers[step].append((path, kind))
    denied[2] = denied[1] + denied[2]
    layers[2] = layers[1] + layers[2]
    done = [set()]
    for step in (1, 2, 3):
        if step == 3:
            deny, layers[3] = list(denied[2]), list(layers[2])
            for _ in range(3):  # what the debugger flags once the earlier ops are float
                rows = _set_options(debugger, deny) and _safe_stats(debugger)
                if not rows:
                    break
                flagged = [r["tensor"] for r in rows if r["steps"] > FLAG_STEPS and r["tensor"] not in deny]
                if not flagged:
                    break
                deny += flagged
            layers[3] = layers[3] + [((f"{names[n]} {n}",), "flagged by the debugger")
                                     for n in deny if n not in denied[2]]
        else:
            deny = list(dict.fromkeys(denied[step]))
        if step < first or set(deny) in done or len(set(deny)) >= len(names):
            continue
        done.append(set(deny))
        if not _set_options(debugger, deny):
            continue
        worst = _worst(_safe_stats(debugger) or [])
        try:
            with _quiet():
                content = debugger.get_nondebug_quantized_model()
        except Exception:  # this denylist does not convert: the next recipe may
            continue
        kept = list(dict.fromkeys(f"{'/'.join(p)} ({kind})" for p, kind in layers[step]))
        yield Int8Attempt(RECIPES[step], content, float_layers=kept, float_ops=len(set(deny)), worst=worst)


def _set_options(debugger, deny: list[str]) -> bool:
    """Point the debugger at a denylist; False when nothing would be left in int8."""
    import tensorflow as tf

    try:
        with _quiet():
            debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=list(dict.fromkeys(deny)))
    except (ValueError, RuntimeError):  # every op is float ("check if the quantized model is in debug mode"),
        return False                    # or the debug model does not build
    return True


def int8_ladder(sm_dir, tmp, model, representative, *, make, gate, done, int8_io=False, verified=True):
    """Try the int8 recipes in turn (`export.int8.int8_attempts`); return the first file within the threshold.

    `make(content)` writes the file into `tmp`, verifies it and returns its `Artifact`.
    When every recipe fails, the closest file is rewritten and the gate raises
    `FidelityError` (or keeps it, asked to). Unverified, the safest recipe
    (normalization and attention in float) is taken as it is.
    """
    from export.fidelity import judge

    tried = []
    for attempt in int8_attempts(sm_dir, model, representative, int8_io=int8_io, first=0 if verified else 2):
        artifact = make(attempt.content)
        judge(artifact.verification, gate.threshold)
        tried.append((attempt, artifact))
        if artifact.verification is None or artifact.verification.status != "failed":
            break
    if not tried:  # the safer recipes would leave nothing in int8: the plain one it is
        attempt = next(int8_attempts(sm_dir, model, representative, int8_io=int8_io))
        tried.append((attempt, make(attempt.content)))
    attempt, artifact = tried[-1]
    if artifact.verification is not None and artifact.verification.status == "failed":
        attempt, artifact = min(tried, key=lambda t: _distance(t[1].verification, gate.threshold))
        (tmp / artifact.file).write_bytes(attempt.content)  # report (or keep) the closest attempt
    summaries = [_attempt_figures(a, art) for a, art in tried]
    artifact.quantization = {"recipe": attempt.recipe, "float_layers": attempt.float_layers,
                             "float_ops": attempt.float_ops, "attempts": summaries,
                             **({"debugger_worst": attempt.worst} if attempt.worst else {})}
    gate.check(artifact, done, summaries)
    return artifact


def _distance(v, threshold: dict) -> float:
    """How far a failed verification is from its threshold (did not run: infinitely)."""
    value = None if v is None else getattr(v, threshold["metric"], None)
    if value is None or v.max_abs_diff is None:
        return float("inf")
    return threshold["min"] - value if "min" in threshold else value - threshold["max"]


def _attempt_figures(attempt, artifact) -> dict:
    out = attempt.summary()
    v = artifact.verification
    if v is not None:
        out.update({k: getattr(v, k) for k in ("top1_agreement", "relative_error", "max_abs_diff", "held_out", "status")
                    if getattr(v, k) is not None})
    return out

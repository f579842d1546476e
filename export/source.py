"""What an export reads: the model and its run, the examples it verifies on, and the ones it calibrates on.

A run directory brings its model, its config and its data (reloaded as
`kerazoo evaluate` does); a bare Keras model brings only itself, so the
examples then come from `verify_data` / `representative_data` or, failing
those, random inputs in the input range (with a warning).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerazoo.modelinfo import model_info
from kerazoo.tasks import get_task

__all__ = ["ExportSource", "load_source", "run_config", "split_examples", "split_inputs", "synthetic_inputs",
           "verification_inputs", "warmup_examples", "balanced_examples", "representative_examples", "VERIFY_EXAMPLES", "VERIFY_MIN"]

VERIFY_EXAMPLES = 1000
VERIFY_MIN = 300


@dataclass
class ExportSource:
    """The model to export, its name and task, and (for a run) the run and its data, loaded once.

    Example:
    >>> from kerazoo import build
    >>> source = load_source(build("mlp", input_shape=(4,), num_classes=3))
    >>> source.name, source.task, source.run is None
    ('mlp', 'multiclass', True)
    """

    model: Any
    name: str
    task: str
    spec: dict | None = None
    run: Any = None
    data: Any = None
    data_error: str = ""

    def load_data(self):
        """The run's data, reloaded as `kerazoo evaluate` does (once); None when it cannot be."""
        if self.run is None or self.data is not None or self.data_error:
            return self.data
        from kerazoo.data import load_data

        data_cfg = dict(self.run.config.get("data", {}))
        source = data_cfg.pop("source", None)
        opts = {k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg.items()}
        try:
            self.data = load_data(source, **opts)
        except Exception as err:  # e.g. a tfds source on a machine without its data
            self.data_error = f"the run's data {source!r} does not load here ({err})"
        return self.data


def load_source(obj) -> ExportSource:
    """A Keras model, a run directory or a `.keras` file as an `ExportSource`; a damaged run fails here.

    Example:
    >>> load_source(42)
    Traceback (most recent call last):
    ...
    TypeError: model_or_run_dir must be a Keras model, a run directory or a .keras file, got int
    """
    from export.savedmodel import model_task

    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if path.suffix == ".keras" and path.is_file():
            from kerazoo.runs import load_model

            model = load_model(path)
            return ExportSource(model=model, name=model.name, task=model_task(model))
        from kerazoo.runs import check_run, load_run

        check_run(path)  # a missing, unfinished or damaged run fails here, with the reason
        run = load_run(path)
        return ExportSource(model=run.model, name=run.model_name, task=run.spec.task, spec=run.config.get("spec"),
                       run=run)
    if not hasattr(obj, "inputs") or not hasattr(obj, "predict"):
        raise TypeError(f"model_or_run_dir must be a Keras model, a run directory or a .keras file, "
                        f"got {type(obj).__name__}")
    info = model_info(obj)
    return ExportSource(model=obj, name=info.get("model", obj.name), task=model_task(obj), spec=info.get("spec"))


def split_examples(data, split: str, limit: int):
    """Up to `limit` examples of a split as `(x, y)` (y None when the split holds no labels), or None.

    Example:
    >>> from kerazoo import load_data
    >>> x, y = split_examples(load_data("iris"), "test", 5)
    >>> x.shape, y.shape
    ((5, 4), (5,))
    """
    import numpy as np

    if data.arrays and split in data.arrays:
        x, y = data.arrays[split]
        return x[:limit], (None if y is None else np.asarray(y)[:limit])
    dataset = getattr(data, split, None)
    if dataset is None:
        return None
    rank = len(data.spec.input_shape)
    xs, ys, count = [], [], 0
    for item in dataset:
        x, y = (item[0], item[1]) if isinstance(item, (tuple, list)) and len(item) > 1 else (item, None)
        x = np.asarray(x)
        if x.ndim == rank:
            x, y = x[None], (None if y is None else np.asarray(y)[None])
        xs.append(x)
        ys.append(None if y is None else np.asarray(y))
        count += len(x)
        if count >= limit:
            break
    if not xs:
        return None
    labels = None if any(y is None for y in ys) else np.concatenate(ys)[:limit]
    return np.concatenate(xs)[:limit], labels


def split_inputs(data, split: str, limit: int):
    """The inputs of `split_examples`, or None.

    Example:
    >>> from kerazoo import load_data
    >>> split_inputs(load_data("iris"), "validation", 3).shape
    (3, 4)
    """
    found = split_examples(data, split, limit)
    return None if found is None else found[0]


def synthetic_inputs(model, spec: dict | None, n: int = 64):
    """Random inputs shaped and ranged as the model's: token ids, pixels in the value range, or features.

    Example:
    >>> from kerazoo import build
    >>> x = synthetic_inputs(build("cnn", input_shape=(8, 8, 1), num_classes=10), {"value_range": (0, 16)}, n=3)
    >>> x.shape, bool(x.min() >= 0 and x.max() <= 16)
    ((3, 8, 8, 1), True)
    """
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (n, *tuple(model.inputs[0].shape[1:]))
    dtype = str(model.inputs[0].dtype)
    spec = spec or {}
    if "int" in dtype:
        return rng.integers(0, spec.get("vocab_size") or 2, size=shape).astype(dtype)
    if spec.get("value_range"):
        low, high = spec["value_range"]
        return rng.uniform(low, high, size=shape).astype(dtype)
    if spec.get("mean") is not None:
        mean, std = np.asarray(spec["mean"]), np.sqrt(np.asarray(spec["variance"]))
        return (mean + std * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def verification_inputs(source: ExportSource, verify_data, representative):
    """Inputs to compare on, the labels of the first (held-out) ones or None, and a description.

    A run's test split comes first; when it holds fewer than `VERIFY_MIN` examples
    (the bundled tabular sets: 30 to 114), the validation and then the training split
    top it up, so that a fidelity share rests on a few hundred examples.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> source = load_source(build("mlp", input_shape=(4,), num_classes=3))
    >>> x, labels, what = verification_inputs(source, (np.zeros((20, 4)), np.zeros(20)), None)
    >>> x.shape, labels.shape, what
    ((20, 4), (20,), 'the inputs passed as verify_data (20 examples)')
    """
    import numpy as np

    from export.tflite import representative_inputs

    if verify_data is not None:
        x = representative_inputs(verify_data, limit=VERIFY_EXAMPLES)
        labels = None
        if isinstance(verify_data, tuple) and len(verify_data) == 2 and hasattr(verify_data[1], "shape"):
            labels = np.asarray(verify_data[1])[:len(x)]
        return x, labels, f"the inputs passed as verify_data ({len(x)} examples)"
    if source.run is not None:
        data = source.load_data()
        if data is not None:
            parts, names, labels = [], [], None
            for split in ("test", "validation", "train"):
                have = sum(len(p) for p in parts)
                if parts and have >= VERIFY_MIN:
                    break
                found = split_examples(data, split, VERIFY_MIN - have if parts else VERIFY_EXAMPLES)
                if found is None or not len(found[0]):
                    continue
                if not parts and split != "train":
                    labels = found[1]  # the held-out examples come first
                parts.append(found[0])
                names.append(f"{split} split" if len(parts) == 1 else
                             f"{len(found[0])} {'training' if split == 'train' else split} examples")
            if parts:
                x = np.concatenate(parts)
                what = " topped up with ".join([names[0], " and ".join(names[1:])]) if len(names) > 1 else names[0]
                return x, labels, f"the run's {what} ({len(x)} examples)"
    if representative is not None:
        return representative, None, f"the representative data ({len(representative)} examples)"
    warnings.warn("export: no real inputs to verify on (pass verify_data=..., or export a run directory); "
                  "verifying on random inputs in the input range", UserWarning, stacklevel=3)
    x = synthetic_inputs(source.model, source.spec)
    return x, None, f"random inputs in the input range ({len(x)} examples; no real data was given)"


def warmup_examples(source: ExportSource, x, n: int = 5):
    """The examples the warm-up records and the request example are made of: the first verification inputs
    (held-out ones first), else a run's test split, else random inputs in the input range.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> source = load_source(build("mlp", input_shape=(4,), num_classes=3))
    >>> warmup_examples(source, np.ones((20, 4), "float32")).shape, warmup_examples(source, None).shape
    ((5, 4), (5, 4))
    """
    if x is not None:
        return x[:n]
    data = source.load_data() if source.run is not None else None
    found = split_inputs(data, "test", n) if data is not None else None
    return found if found is not None and len(found) else synthetic_inputs(source.model, source.spec, n)


def balanced_examples(x, y, limit: int):
    """Up to `limit` examples taking each class in turn, so calibration sees every class.

    Example:
    >>> import numpy as np
    >>> balanced_examples(np.arange(10), np.array([0] * 8 + [1] * 2), 4).tolist()
    [0, 1, 8, 9]
    """
    import numpy as np

    y = np.asarray(y).reshape(len(y), -1)
    keys = y[:, 0] if y.shape[1] == 1 else y.argmax(-1)
    order = []
    queues = [list(np.flatnonzero(keys == k)) for k in np.unique(keys)]
    while len(order) < min(limit, len(x)):
        for q in queues:
            if q and len(order) < limit:
                order.append(q.pop(0))
    return x[np.sort(order)]


def representative_examples(source: ExportSource, representative_data, input_rank: int):
    """The inputs int8 calibration runs on: those given, else the run's training split, class by class.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> source = load_source(build("mlp", input_shape=(4,), num_classes=3))
    >>> representative_examples(source, np.ones((10, 4), "float32"), input_rank=2).shape
    (10, 4)
    """
    from export.tflite import REPRESENTATIVE_EXAMPLES, representative_inputs

    if representative_data is not None:
        return representative_inputs(representative_data, input_rank=input_rank)
    data = source.load_data()
    if data is None:
        why = f": {source.data_error}" if source.data_error else ""
        raise ValueError("quantize='int8' needs representative data to calibrate activations" + why +
                         "; pass representative_data=x_train[:300] (a few hundred training inputs, an array "
                         "or a tf.data.Dataset)" + ("" if source.run else ", or export a run directory, "
                                                    "whose training data is used"))
    if get_task(source.task).one_label and data.arrays and "train" in data.arrays:
        x, y = data.arrays["train"]
        if y is not None:
            return balanced_examples(x, y, REPRESENTATIVE_EXAMPLES)
    return split_inputs(data, "train", REPRESENTATIVE_EXAMPLES)


def run_config(obj) -> dict:
    """A run directory's config.json, read without loading TensorFlow ({} for anything else).

    Example:
    >>> run_config("model.keras")
    {}
    """
    if not isinstance(obj, (str, os.PathLike)) or Path(obj).suffix == ".keras":
        return {}
    from kerazoo.runs import check_run

    check_run(obj)
    try:
        import json

        config = json.loads((Path(obj) / "config.json").read_text())
        return config if isinstance(config, dict) else {}
    except (OSError, ValueError):
        return {}

"""Every registered model exports: a SavedModel and a TFLite file (and ONNX), each verified by its consumer.

Parametrized over `list_models()` as timm's tests are, so a new family is exported without a new line
here. Named sizes of one builder (resnet20 and resnet56, the gpt sizes) share its code: the smallest
stands for them; mobilenet_v2 stands for the Keras Applications, which share one wrapper. Untrained weights are enough (export must reproduce whatever the weights are); models
are built small where their size is only a setting (widths, depths), and the Keras Applications at
32x32 instead of 224x224. A language model takes its own path (`export.lm`).
"""

from __future__ import annotations

import numpy as np
import pytest

from kerazoo import build, describe, list_models
from kerazoo.registry import get_entry

SMALLEST = ("gpt-nano", "resnet20", "mobilenet_v2")  # the named size that stands for its builder
SMALL = {  # settings that only shrink a model (the family's code paths stay the same)
    "cnn": {"filters": (8, 16), "dense_units": 16},
    "mlp": {"width": 16},
    "vit": {"dim": 32, "num_layers": 2, "num_heads": 2},
    "transformer": {"dim": 32, "num_layers": 2, "num_heads": 2},
    "gpt-nano": {"num_layers": 2, "dim": 32, "num_heads": 2},
    "mobilenet_v2": {"alpha": 0.35},
}
APPLICATIONS = set(list_models(tags="applications"))
EXTRA_TASKS = [("mlp", "multilabel"), ("cnn", "regression")]  # beside each family's own task


def _builder(name: str):
    """What a model's export depends on in the zoo: its builder; the Keras Applications share one wrapper
    (`kerazoo/models/applications.py`: preprocessing, backbone, head), so mobilenet_v2 stands for the three
    (exporting efficientnet_b0 and resnet50 as well took 70 and 30 s more on 2 cores, and tested no zoo code more)."""
    return "applications" if name in APPLICATIONS else get_entry(name).fn


def _one_name_per_builder() -> list[str]:
    seen, names = set(), []
    for name in sorted(list_models(), key=lambda n: n not in SMALLEST):
        if _builder(name) not in seen:
            seen.add(_builder(name))
            names.append(name)
    return sorted(names)


CASES = [(name, None) for name in _one_name_per_builder()] + EXTRA_TASKS


def _inputs(spec, n: int = 24) -> np.ndarray:
    """Inputs the model takes: token ids below the vocabulary (windows of 16 for a language model),
    pixels in the value range."""
    rng = np.random.default_rng(0)
    shape = (n, 16) if spec.task == "causal_lm" else (n, *spec.input_shape)
    if spec.kind == "tokens":
        return rng.integers(0, spec.vocab_size, shape).astype("int32")
    low, high = spec.value_range or (-2.0, 2.0)
    return rng.uniform(low, high, shape).astype("float32")


def _build(name: str, task: str | None):
    entry = get_entry(name)
    spec = entry.default_spec
    if name in APPLICATIONS:
        spec = spec.with_(input_shape=(32, 32, 3))
    if task is not None:
        spec = spec.with_(task=task, num_classes=5 if task == "multilabel" else 1 if task == "regression" else 2)
    return build(name, spec, compile=False, **SMALL.get(name, {})), spec


@pytest.mark.parametrize("name,task", CASES, ids=[n if t is None else f"{n}-{t}" for n, t in CASES])
def test_export_of_every_family(name, task, tmp_path):
    from export import export_model, run_onnx
    from export.verify import run_savedmodel, run_tflite

    model, spec = _build(name, task)
    x = _inputs(spec)
    if spec.task == "causal_lm":
        from export.lm import export_lm

        result = export_lm(model, tmp_path, seq_len=16, verify_data=x)
        keras_out, out_name = np.asarray(model(x, training=False)), "logits"
    else:
        formats = ("savedmodel", "tflite") if name in APPLICATIONS else ("savedmodel", "tflite", "onnx")
        result = export_model(model, tmp_path, formats=formats, verify_data=x)
        keras_out = model.predict(x, verbose=0)
        out_name = "values" if spec.task == "regression" else "probabilities"
    assert {a.verification.status for a in result.artifacts} == {"ok"}, [a.verification for a in result.artifacts]
    assert not [op for op in result["model.tflite"].ops if op.startswith("Flex")]  # builtin ops only
    dtype = "int32" if spec.kind == "tokens" else "float32"
    assert result.metadata["inputs"]["inputs"]["dtype"] == dtype
    expected = {"causal_lm": {"logits"}, "regression": {"values"}}.get(spec.task, {"probabilities", "classes"})
    assert set(result.metadata["outputs"]) == expected
    # and independently of the export's own check: each file run by its consumer, against Keras
    runs = {"saved_model.pb": run_savedmodel(result.path, x), "model.tflite": run_tflite(result.path / "model.tflite", x)}
    if (result.path / "model.onnx").exists():
        runs["model.onnx"] = run_onnx(result.path / "model.onnx", x)
    for file, outputs in runs.items():
        assert set(outputs) == expected, file
        np.testing.assert_allclose(outputs[out_name], keras_out, atol=2e-4, rtol=1e-3, err_msg=file)
    if "classes" in expected:  # a class id a row; for multilabel, a 0/1 flag a label
        classes = {"multiclass": keras_out.argmax(-1), "binary": (keras_out[:, 0] > 0.5).astype(int),
                   "multilabel": (keras_out > 0.5).astype(int)}[spec.task]
        for file, outputs in runs.items():
            agree = np.mean(np.asarray(outputs["classes"]).reshape(classes.shape) == classes)
            assert agree >= 0.95, (file, agree)  # float noise may flip a row that sits on the boundary


def test_every_family_is_exported_here():
    """A family with no case above would be a registered model nobody exports."""
    covered = {_builder(name) for name, _ in CASES}
    assert covered == {_builder(name) for name in list_models()}
    assert {t for n, t in CASES if t} | {describe(n)["default_output"].split(",")[0] for n, _ in CASES} >= {
        "multiclass", "binary", "regression", "multilabel", "causal_lm"}

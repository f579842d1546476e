"""Every registered model builds, trains a short epoch on bundled data and reloads identically.

Parametrized over `list_models()`, so a new family is covered without a new line here.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from kerazoo import build, describe, fit, list_models, load_data


@pytest.fixture(scope="module")
def tabular():
    return load_data("breast_cancer", seed=0)


@pytest.fixture(scope="module")
def text():
    return load_data("text:pydoc", seq_len=32)


def _data_for(name, digits, tabular, request):
    if "causal_lm" in describe(name)["tasks"]:  # language models train on windows of the bundled text
        return request.getfixturevalue("text")
    return digits if "image" in describe(name)["inputs"] else tabular


# The Keras Applications backbones (mobilenet_v2, efficientnet_b0, resnet50) take 85-280 s each here to
# trace one training step on 2 CPU cores (measured): tests/test_finetune.py trains mobilenet_v2's head
# and reloads it instead, and test_head_follows_task below still builds all three.
SLOW_TO_TRAIN = set(list_models(tags="applications"))
SMALLEST = {"gpt-nano"}


def _one_name_per_builder():
    """Named variants (resnet20, resnet56) share their family's function: train each function once,
    through its smallest named size where one is registered (gpt-nano for the gpt family)."""
    from kerazoo.registry import get_entry

    seen, names = set(), []
    for name in sorted(list_models(), key=lambda n: n not in SMALLEST):
        fn = get_entry(name).fn
        if fn not in seen and name not in SLOW_TO_TRAIN:
            seen.add(fn)
            names.append(name)
    return names


@pytest.mark.parametrize("name", _one_name_per_builder())
def test_trains_saves_and_reloads(name, digits, tabular, tmp_path, request):
    import keras

    keras.utils.set_random_seed(0)
    data = small(_data_for(name, digits, tabular, request), train_batches=3, eval_batches=1)
    model = build(name, data.spec)
    result = fit(model, data, epochs=1, verbose=0, callbacks="none")
    assert result.epochs == 1
    assert np.isfinite(result.history["loss"][0])
    x = data.arrays["test"][0][:16]
    before = model.predict(x, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects: the zoo's layers are registered
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), before, rtol=1e-5, atol=1e-6)
    if data.spec.task == "multiclass":
        np.testing.assert_allclose(before.sum(axis=1), 1.0, atol=1e-5)  # probabilities


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("task,units,activation", [("binary", 1, "sigmoid"), ("regression", 1, "linear"),
                                                   ("multilabel", 5, "sigmoid"), ("multiclass", 7, "softmax")])
def test_head_follows_task(name, task, units, activation):
    if task not in describe(name)["tasks"]:
        pytest.skip(f"{name} does not support {task}")
    kwargs = {"num_classes": units} if task in ("multiclass", "multilabel") else {}
    if name in SLOW_TO_TRAIN:  # the Keras Applications: 32x32, their smallest, not 224x224 (the head is the same)
        kwargs["input_shape"] = (32, 32, 3)
    model = build(name, task=task, compile=False, **kwargs)
    assert model.output_shape == (None, units)
    assert model.layers[-1].activation.__name__ == activation
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"

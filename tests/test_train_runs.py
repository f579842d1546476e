"""compile_model, fit, evaluate and the run directory, on real bundled data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import small

from kerazoo import build, compile_model, evaluate, fit, load_data, load_run
from kerazoo.runs import RunError


@pytest.fixture(scope="module")
def iris():
    return load_data("iris", seed=0, batch_size=16)


def test_fit_learns_iris(iris):
    import keras

    keras.utils.set_random_seed(0)
    model = build("mlp", iris.spec, width=32)
    result = fit(model, iris, epochs=40, verbose=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.metrics["test"]["accuracy"] >= 0.9


def test_same_seed_same_history(iris):
    import keras

    histories = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        model = build("mlp", iris.spec, width=16)
        histories.append(fit(model, iris, epochs=3, seed=3, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-6)


def test_a_training_pipeline_put_in_the_bundles_place_is_trained_as_given_when_seeded(iris):
    from dataclasses import replace

    model = build("mlp", iris.spec, width=8)
    fit(model, replace(iris, train=iris.train.take(2)), epochs=1, seed=0, verbose=0, callbacks="none")
    assert int(model.optimizer.iterations.numpy()) == 2  # not rebuilt from the bundle's arrays (6 batches)
    model = build("mlp", iris.spec, width=8)
    fit(model, iris, epochs=1, seed=0, verbose=0, callbacks="none")
    assert int(model.optimizer.iterations.numpy()) == int(iris.train.cardinality()) > 2


def test_run_directory_written_and_read_back(digits, tmp_path):
    data = small(digits)
    model = build("cnn", data.spec, filters=(8, 16))
    run_dir = tmp_path / "run"
    result = fit(model, data, epochs=2, run_dir=run_dir, verbose=0)
    for name in ("config.json", "history.csv", "metrics.json", "model.keras", "manifest.json"):
        assert (run_dir / name).is_file(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "cnn" and config["overrides"] == {"filters": [8, 16]}
    assert config["data"]["source"] == "digits" and config["versions"]["tensorflow"]
    run = load_run(run_dir)
    assert run.spec == data.spec and run.model_name == "cnn"
    assert len(run.history["loss"]) == result.epochs == 2
    x = data.arrays["test"][0][:20]
    np.testing.assert_allclose(run.model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert evaluate(run.model, data) == pytest.approx(result.metrics["test"], rel=1e-5)


def test_unfinished_and_damaged_runs_refused(digits, tmp_path):
    data = small(digits, 2, 1)
    run_dir = tmp_path / "run"
    fit(build("mlp", data.spec, width=8), data, epochs=1, run_dir=run_dir, verbose=0)
    (run_dir / "metrics.json").write_text('{"test": {"accuracy": 1.0}}')
    with pytest.raises(RunError, match="metrics.json changed"):
        load_run(run_dir)
    (run_dir / "manifest.json").unlink()
    with pytest.raises(RunError, match="unfinished"):
        load_run(run_dir)
    with pytest.raises(RunError, match="not a kerazoo run"):
        load_run(tmp_path)


def test_fit_refuses_data_the_model_cannot_take(digits):
    model = build("cnn")  # 32x32x3 by default
    with pytest.raises(ValueError, match=r"takes inputs of shape \(32, 32, 3\).*\(8, 8, 1\)"):
        fit(model, digits, epochs=1, verbose=0)
    model = build("cnn", input_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match="has 3 outputs.*needs 10"):
        fit(model, digits, epochs=1, verbose=0)


@pytest.mark.parametrize("source,task,metrics", [
    ("breast_cancer", "binary", {"accuracy", "auc", "f1", "loss"}),
    ("diabetes", "regression", {"mae", "loss"}),
    ("wine", "multiclass", {"accuracy", "f1", "loss"}),
])
def test_auto_loss_and_metrics_follow_task(source, task, metrics):
    data = load_data(source)
    assert data.spec.task == task
    model = build("mlp", data.spec, width=16)
    result = fit(model, data, epochs=2, verbose=0)
    assert set(result.metrics["test"]) == metrics


def test_regression_predicts_raw_targets():
    import keras

    keras.utils.set_random_seed(0)
    data = load_data("diabetes")
    model = build("mlp", data.spec, width=64, dropout=0.1)
    result = fit(model, data, epochs=20, verbose=0)  # MAE 43 after 20 (the mean predicts 59)
    y = data.arrays["test"][1]
    pred = model.predict(data.arrays["test"][0], verbose=0)[:, 0]
    baseline = np.abs(y - y.mean()).mean()
    assert np.abs(pred - y).mean() == pytest.approx(result.metrics["test"]["mae"], rel=1e-3)
    assert result.metrics["test"]["mae"] < 0.85 * baseline  # better than predicting the mean


def test_soft_labels_train_with_the_same_loss(iris):
    """One compiled loss takes soft labels and class ids, and is the cross-entropy for each."""
    x, y = iris.arrays["train"]
    soft = np.eye(3, dtype="float32")[y] * 0.8 + 0.2 / 3
    model = build("mlp", iris.spec, width=8, dropout=0.0)
    loss = model.loss
    model.fit(x, soft, epochs=1, verbose=0)
    assert model.loss is loss  # not recompiled between the two kinds of labels
    p = np.clip(model.predict(x, verbose=0).astype("float64"), 1e-7, 1.0)
    soft_ce = float(np.mean(-(soft * np.log(p)).sum(axis=1)))
    assert model.evaluate(x, soft, verbose=0, return_dict=True)["loss"] == pytest.approx(soft_ce, rel=1e-4)
    x_test, y_test = iris.arrays["test"]  # integer labels after soft ones
    p = np.clip(model.predict(x_test, verbose=0).astype("float64"), 1e-7, 1.0)
    assert evaluate(model, iris)["loss"] == pytest.approx(float(np.mean(-np.log(p[np.arange(len(y_test)), y_test]))),
                                                        rel=1e-4)


def test_early_stopping_restores_the_best_weights_and_says_so(digits, tmp_path, caplog):
    """From epoch 3 on, noise is added to the output layer before each epoch: validation loss gets worse,
    training stops after `patience` such epochs, and the model returned, scored and saved is the best one."""
    import logging

    import keras

    caplog.set_level(logging.INFO, logger="kerazoo")

    class Worsen(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch >= 2:
                kernel = self.model.layers[-1].kernel
                noise = np.random.default_rng(epoch).normal(0, 1.0, kernel.shape).astype("float32")
                kernel.assign(kernel.numpy() + noise)

    keras.utils.set_random_seed(0)
    model = build("mlp", digits.spec, width=32)
    result = fit(model, digits, epochs=12, patience=2, seed=0, verbose=0, run_dir=tmp_path / "run",
                 callbacks=["default", Worsen()])
    val_loss = result.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert result.epochs == len(val_loss) == best + 3 < 12, val_loss  # stopped 2 epochs after the best
    assert val_loss[-1] > val_loss[best] + 0.1
    assert (f"stopped early after epoch {best + 3} of 12: val_loss did not improve for 2 epochs; "
            f"the weights of epoch {best + 1} are kept") in caplog.text
    x, y = digits.arrays["validation"]
    restored = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert restored == pytest.approx(val_loss[best], rel=1e-4)  # the best epoch's weights, not the last
    assert result.metrics["validation"]["loss"] == pytest.approx(val_loss[best], rel=1e-4)
    saved = load_run(tmp_path / "run").model
    assert saved.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(val_loss[best], rel=1e-4)


def test_schedule_sized_by_fit(iris):
    import keras

    model = build("mlp", iris.spec, compile={"schedule": "cosine", "learning_rate": 0.01})
    fit(model, iris, epochs=2, verbose=0, callbacks="none")
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.decay_steps == 2 * int(iris.train.cardinality())


def test_compile_model_errors():
    model = build("mlp", input_shape=(4,), num_classes=3, compile=False)
    with pytest.raises(ValueError, match="schedule must be one of"):
        compile_model(model, schedule="step")
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        compile_model(model, learning_rate=-1)


def test_fit_traces_the_training_step_once(iris):
    """The optimizer's and the metrics' variables exist before the first step: TensorFlow traces it once."""
    model = build("mlp", iris.spec, width=8)
    traces, own_step = [], model.train_step

    def counted(data):  # Python runs once per trace
        traces.append(1)
        return own_step(data)

    model.train_step = counted
    fit(model, iris, epochs=2, verbose=0, callbacks="none")
    assert len(traces) == 1 and model.optimizer.built


def test_callback_presets(iris, tmp_path):
    import keras

    class Counter(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            Counter.epochs += 1

    fit(build("mlp", iris.spec, width=8), iris, epochs=2, verbose=0, callbacks=["minimal", Counter()])
    assert Counter.epochs == 2
    with pytest.raises(ValueError, match="callbacks preset must be one of"):
        fit(build("mlp", iris.spec), iris, epochs=1, verbose=0, callbacks="everything")

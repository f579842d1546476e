"""Evaluation reports against scikit-learn, the PNG plots, cross-validation and `kerazoo evaluate`."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sklearn import metrics as skm

from kerazoo import build, cross_validate, fit, load_data, report
from kerazoo.evaluation import report_from_predictions
from kerazoo.plots import plot_confusion_matrix, plot_history, plot_misclassified
from kerazoo.runs import check_run


@pytest.fixture(scope="module")
def digits_run(digits, tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("runs") / "cnn-digits"
    result = fit(build("cnn", digits.spec, filters=(8, 16), dense_units=16), digits, epochs=1, run_dir=run_dir,
                 seed=0, verbose=0, callbacks="minimal")
    return run_dir, result.model


def _png(path):
    from matplotlib import image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    pixels = image.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50, (path, pixels.shape)
    assert pixels[..., :3].std() > 0.01, f"{path} is blank"  # more than one colour
    return pixels


def test_multiclass_report_matches_scikit_learn(digits, digits_run):
    _, model = digits_run
    rep = report(model, digits)
    x, y = digits.arrays["test"]
    probs = model.predict(x, verbose=0)
    pred = probs.argmax(axis=1)
    assert rep.task == "multiclass" and rep.examples == len(y) == 360
    assert rep.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert rep.metrics["accuracy"] == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"],
                                                    abs=1e-6)
    for average in ("precision", "recall", "f1"):
        fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[average]
        assert rep.metrics[average] == pytest.approx(fn(y, pred, average="macro", zero_division=0))
    per_f1 = skm.f1_score(y, pred, average=None, labels=range(10), zero_division=0)
    assert [rep.per_class[str(c)]["f1"] for c in range(10)] == pytest.approx(per_f1)
    assert [rep.per_class[str(c)]["support"] for c in range(10)] == list(np.bincount(y, minlength=10))
    assert rep.confusion_matrix == skm.confusion_matrix(y, pred, labels=range(10)).tolist()
    assert rep.metrics["top_5_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=5, labels=range(10)))
    assert "roc_auc" not in rep.metrics
    table = rep.table()
    assert table.splitlines()[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert "macro" in table and "top_5_accuracy" in table


def test_binary_and_regression_reports_match_scikit_learn():
    import keras

    keras.utils.set_random_seed(0)
    data = load_data("breast_cancer")
    model = build("mlp", data.spec, depth=1, width=16)
    fit(model, data, epochs=1, verbose=0, callbacks="none")
    rep = report(model, data)
    x, y = data.arrays["test"]
    p = model.predict(x, verbose=0).reshape(-1)
    y = y.reshape(-1).astype(int)
    assert rep.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert rep.metrics["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5, average="macro"))
    assert rep.confusion_matrix == skm.confusion_matrix(y, p >= 0.5).tolist()
    assert list(rep.per_class) == ["malignant", "benign"]  # the data's class names

    data = load_data("diabetes")
    model = build("mlp", data.spec, depth=1, width=16)
    fit(model, data, epochs=1, verbose=0, callbacks="none")
    rep = report(model, data)
    x, y = data.arrays["test"]
    pred = model.predict(x, verbose=0).reshape(-1).astype("float64")  # the report scores in float64
    assert rep.metrics == pytest.approx({"mse": skm.mean_squared_error(y, pred),
                                         "mae": skm.mean_absolute_error(y, pred), "r2": skm.r2_score(y, pred)})
    assert rep.metrics["mse"] == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rel=1e-4)
    assert "r2" in rep.table()


def test_multilabel_report():
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    p = np.array([[0.9, 0.2, 0.7], [0.1, 0.4, 0.8], [0.6, 0.7, 0.3], [0.2, 0.1, 0.4]])
    rep = report_from_predictions(y, p, task="multilabel", class_names=["a", "b", "c"])
    pred = (p >= 0.5).astype(int)
    assert rep.metrics["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert rep.metrics["subset_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert rep.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, average="macro"))
    assert list(rep.per_class) == ["a", "b", "c"]


def test_plots_are_valid_non_blank_pngs(digits, digits_run, tmp_path):
    run_dir, model = digits_run
    rep = report(model, digits, out=tmp_path, history=run_dir / "history.csv")
    assert json.loads((tmp_path / "report.json").read_text())["metrics"] == pytest.approx(rep.metrics)
    for name in ("history.png", "confusion_matrix.png", "misclassified.png"):
        _png(tmp_path / name)
    phases = {"loss": [1.0, 0.8, 0.7, 0.5], "val_loss": [1.1, 0.9, 0.8, 0.7], "accuracy": [0.5, 0.6, 0.7, 0.8],
              "phase": [1.0, 1.0, 2.0, 2.0]}
    _png(plot_history(phases, tmp_path / "phases.png"))
    _png(plot_confusion_matrix([[3, 1], [0, 4]], tmp_path / "cm.png", class_names=["no", "yes"]))
    x = np.random.default_rng(0).random((6, 8, 8, 3))
    _png(plot_misclassified(x, [0, 1, 2, 0, 1, 2], [0, 2, 2, 1, 1, 0], tmp_path / "wrong.png", class_names="abc"))
    _png(plot_misclassified(x, [0, 1], [0, 1], tmp_path / "none.png"))  # nothing wrong: a note, not a blank
    with pytest.raises(ValueError, match="no metric to plot"):
        plot_history({}, tmp_path / "empty.png")


def test_five_fold_cross_validation_returns_five_scores():
    cv = cross_validate("mlp", "iris", k=5, epochs=1, overrides={"depth": 1, "width": 8}, validation_split=0.0,
                        callbacks="none")
    assert len(cv.scores) == 5 and cv.k == 5 and cv.stratified
    assert sorted(cv.mean) == sorted(cv.std) == ["accuracy", "f1", "loss"]
    for metric in cv.mean:
        values = [s[metric] for s in cv.scores]
        assert cv.mean[metric] == pytest.approx(np.mean(values)) and cv.std[metric] == pytest.approx(np.std(values))
    assert "fold 5" in cv.table()
    x = np.random.default_rng(0).random((12, 3)).astype("float32")
    y = np.array([0] * 9 + [1] * 3)
    with pytest.raises(ValueError, match="class '1' has 3 examples; 5 stratified folds need at least 5"):
        cross_validate("mlp", (x, y), k=5, epochs=1)


def test_cli_evaluate_writes_a_report_and_the_run_stays_valid(digits_run, capsys):
    from kerazoo.cli import main

    logger = logging.getLogger("kerazoo")
    handlers, level = list(logger.handlers), logger.level
    run_dir, _ = digits_run
    try:
        assert main(["evaluate", str(run_dir)]) == 0
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    printed = capsys.readouterr().out
    assert "macro" in printed and "top_5_accuracy" in printed and f"report written to {run_dir / 'report'}" in printed
    for name in ("report.json", "history.png", "confusion_matrix.png", "misclassified.png"):
        assert (run_dir / "report" / name).exists(), name
    check_run(run_dir)  # the manifest still matches: the report lives in a sub-folder

"""Evaluation reports: what a model gets right and wrong on one split.

`report` scores a model on one split the way a reader wants it: per class and
macro precision, recall and F1, the confusion matrix, ROC AUC (binary) and
top-k accuracy (more than 5 classes) for classification; MSE, MAE and R^2 for
regression. It prints as a table and saves as JSON, with PNG plots (learning
curves, the confusion matrix, misclassified images) drawn by matplotlib's Agg
canvas, without pyplot, so no display and no global backend are touched.
The plots live in `kerazoo.plots`, cross-validation in `kerazoo.crossval`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerazoo.console import format_number, text_table
from kerazoo.modelinfo import model_info
from kerazoo.plots import plot_confusion_matrix, plot_history, plot_misclassified
from kerazoo.tasks import get_task

__all__ = ["report", "report_from_predictions", "Report"]

log = logging.getLogger("kerazoo")


@dataclass
class Report:
    """An evaluation report: what `report` and `report_from_predictions` return.

    Attributes:
        task: `multiclass`, `binary`, `multilabel` or `regression`.
        metrics: the overall metrics (`accuracy`, `precision`, `recall`, `f1`
            macro-averaged, `roc_auc`, `top_5_accuracy`; or `mse`, `mae`, `r2`).
        per_class: class (or label, or target) name -> its metrics.
        confusion_matrix: rows true classes, columns predicted (classification).
        class_names: the classes' names, in label order.
        split: the split scored.
        examples: how many examples were scored.
    """

    task: str
    metrics: dict
    per_class: dict = field(default_factory=dict)
    confusion_matrix: list | None = None
    class_names: list | None = None
    split: str = "test"
    examples: int = 0

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return {"task": self.task, "split": self.split, "examples": self.examples, "metrics": self.metrics,
                "per_class": self.per_class, "confusion_matrix": self.confusion_matrix,
                "class_names": self.class_names}

    def table(self, *, overall: bool = True) -> str:
        """The report as a text table: per class, then macro and (with `overall`) overall metrics."""
        lines = []
        if self.per_class:
            cols = list(next(iter(self.per_class.values())))
            rows = [("class" if self.task != "regression" else "target", *cols)]
            rows += [(name, *(format_number(v[c]) for c in cols)) for name, v in self.per_class.items()]
            if self.task != "regression":
                rows.append(("macro", *(format_number(self.metrics.get(c, self.examples if c == "support" else ""))
                                       for c in cols)))
            lines += text_table(rows) + [""]
        if not overall:
            return "\n".join(lines).rstrip("\n")
        skip = {"precision", "recall", "f1"} if self.task != "regression" else set()
        rows = [("metric", self.split)] + [(k, format_number(v)) for k, v in self.metrics.items() if k not in skip]
        lines += text_table(rows)
        return "\n".join(lines)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON, atomically; returns the path."""
        from kerazoo.io import write_json

        write_json(path, self.to_dict())
        return Path(path)


def report_from_predictions(
    y_true: np.ndarray | list,
    y_pred: np.ndarray | list,
    *,
    task: str,
    class_names: list | tuple | None = None,
    top_k: int = 5,
    threshold: float = 0.5,
    split: str = "test",
) -> Report:
    """A report from labels and a model's outputs (probabilities or values).

    Args:
        y_true: class ids (multiclass), 0/1 (binary, multilabel) or values.
        y_pred: the model's outputs: class probabilities `(n, classes)`, the
            positive class's probability `(n,)` or `(n, 1)` (binary), label
            probabilities (multilabel), or predicted values (regression).
        task: `multiclass`, `binary`, `multilabel` or `regression`.
        class_names: names for the classes (labels, targets). Defaults to
            their indices.
        top_k: k of the top-k accuracy, reported when there are more than 5
            classes. Defaults to 5.
        threshold: the probability from which binary and multilabel outputs
            count as positive. Defaults to 0.5.
        split: the split's name, for the table. Defaults to "test".

    Returns:
        A `Report`.

    Example:
    >>> rep = report_from_predictions([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.1], task="binary")
    >>> rep.metrics["accuracy"], rep.metrics["roc_auc"], rep.confusion_matrix
    (0.75, 1.0, [[2, 0], [1, 1]])
    >>> report_from_predictions([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], task="regression").metrics
    {'mse': 0.333..., 'mae': 0.333..., 'r2': 0.5}
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype="float64")
    n = len(y_true)
    if task == "regression":
        t = y_true.reshape(n, -1).astype("float64")
        p = y_pred.reshape(n, -1)
        out = {"mse": float(skm.mean_squared_error(t, p)), "mae": float(skm.mean_absolute_error(t, p)),
               "r2": float(skm.r2_score(t, p))}
        per = {}
        if t.shape[1] > 1:
            names = [str(c) for c in (class_names or range(t.shape[1]))]
            per = {names[j]: {"mse": float(skm.mean_squared_error(t[:, j], p[:, j])),
                              "mae": float(skm.mean_absolute_error(t[:, j], p[:, j])),
                              "r2": float(skm.r2_score(t[:, j], p[:, j]))} for j in range(t.shape[1])}
        return Report(task=task, metrics=out, per_class=per, class_names=list(names) if per else None,
                      split=split, examples=n)
    if task == "multilabel":
        t = y_true.reshape(n, -1).astype("int64")
        pred = (y_pred.reshape(n, -1) >= threshold).astype("int64")
        labels = t.shape[1]
        names = [str(c) for c in (class_names or range(labels))]
        p, r, f, s = skm.precision_recall_fscore_support(t, pred, zero_division=0)
        out = {"accuracy": float((t == pred).mean()), "subset_accuracy": float(skm.accuracy_score(t, pred)),
               **_macro(p, r, f)}
        if all(0 < t[:, j].sum() < n for j in range(labels)):
            out["roc_auc"] = float(skm.roc_auc_score(t, y_pred.reshape(n, -1), average="macro"))
        return Report(task=task, metrics=out, per_class=_per_class(names, p, r, f, s),
                      confusion_matrix=skm.multilabel_confusion_matrix(t, pred).tolist(),
                      class_names=names, split=split, examples=n)
    if task not in ("multiclass", "binary"):
        raise ValueError(f"task must be multiclass, binary, multilabel or regression, got {task!r}")
    t = y_true.reshape(-1).astype("int64")
    if task == "binary":
        scores = y_pred.reshape(-1)
        pred = (scores >= threshold).astype("int64")
        classes = 2
    else:
        probs = y_pred.reshape(n, -1)
        pred = probs.argmax(axis=1)
        classes = probs.shape[1]
    labels = list(range(classes))
    names = [str(c) for c in (class_names or labels)]
    p, r, f, s = skm.precision_recall_fscore_support(t, pred, labels=labels, zero_division=0)
    out = {"accuracy": float(skm.accuracy_score(t, pred)), **_macro(p, r, f)}
    if task == "binary":
        out["roc_auc"] = float(skm.roc_auc_score(t, scores)) if 0 < t.sum() < n else float("nan")
    elif classes > 5 and top_k < classes:
        out[f"top_{top_k}_accuracy"] = float(skm.top_k_accuracy_score(t, probs, k=top_k, labels=labels))
    return Report(task=task, metrics=out, per_class=_per_class(names, p, r, f, s),
                  confusion_matrix=skm.confusion_matrix(t, pred, labels=labels).tolist(),
                  class_names=names, split=split, examples=n)


def _macro(p, r, f) -> dict:
    return {"precision": float(np.mean(p)), "recall": float(np.mean(r)), "f1": float(np.mean(f))}


def _per_class(names, p, r, f, s) -> dict:
    return {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(names)}


def _split_arrays(data, split: str):
    from kerazoo.data import Data

    if isinstance(data, tuple) and len(data) == 2:
        return np.asarray(data[0]), np.asarray(data[1])
    if not isinstance(data, Data):
        raise TypeError(f"data must be load_data()'s result or a tuple (x, y), got {type(data).__name__}")
    if data.arrays and split in data.arrays:
        return data.arrays[split]
    ds = getattr(data, split, None)
    if ds is None:
        raise ValueError(f"split must be one of train, validation, test with data; {split!r} has none")
    xs, ys = zip(*((np.asarray(x), np.asarray(y)) for x, y in ds.as_numpy_iterator()))
    return np.concatenate(xs), np.concatenate(ys)


def report(
    model: Any,
    data: Any,
    *,
    split: str = "test",
    out: str | os.PathLike | None = None,
    history: dict | str | os.PathLike | None = None,
    plots: bool = True,
    top_k: int = 5,
    threshold: float = 0.5,
    max_examples: int = 25,
) -> Report:
    """Score a model on one split of the data and, with `out`, write the report and its plots.

    With `out`, the folder receives `report.json`, and with `plots`:
    `confusion_matrix.png` (classification), `misclassified.png` (image
    classification: a grid of wrongly predicted examples) and `history.png`
    (learning curves, when `history` is given).

    Args:
        model: a Keras model (classification models output probabilities, as
            the zoo's do).
        data: `load_data()`'s result or a tuple `(x, y)`.
        split: the split of a bundle. Defaults to "test".
        out: a folder to write into (a run's `report/`). Defaults to None.
        history: a run's history (a dict or a `history.csv` path) to plot.
        plots: write the PNG plots. Defaults to True.
        top_k: k of the top-k accuracy (more than 5 classes). Defaults to 5.
        threshold: the positive threshold (binary, multilabel). Defaults to 0.5.
        max_examples: most misclassified examples drawn. Defaults to 25.

    Returns:
        A `Report`; `report(...).table()` prints it.

    Example:
    >>> from kerazoo import build, load_data
    >>> data = load_data("wine")
    >>> rep = report(build("mlp", data.spec), data)
    >>> rep.examples, sorted(rep.metrics), len(rep.confusion_matrix)
    (36, ['accuracy', 'f1', 'precision', 'recall'], 3)
    """
    x, y = _split_arrays(data, split)
    info = model_info(model)
    spec = getattr(data, "spec", None)
    task = spec.task if spec is not None else (info.get("spec") or {}).get("task")
    if task is None:
        from kerazoo.compiling import task_of

        task = task_of(model)
    names = list(spec.class_names) if spec is not None and spec.class_names else None
    y_pred = model.predict(x, verbose=0, batch_size=256)
    rep = report_from_predictions(y, y_pred, task=task, class_names=names, top_k=top_k, threshold=threshold,
                                  split=split)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        rep.save(out / "report.json")
        if plots:
            if history is not None:
                plot_history(history, out / "history.png")
            if get_task(task).one_label:
                plot_confusion_matrix(rep.confusion_matrix, out / "confusion_matrix.png",
                                      class_names=rep.class_names)
                kind = spec.kind if spec is not None else ("image" if x.ndim == 4 else "tabular")
                if kind == "image":
                    predicted = (np.asarray(y_pred).reshape(len(x), -1).argmax(axis=1) if task == "multiclass"
                                 else (np.asarray(y_pred).reshape(-1) >= threshold).astype(int))
                    plot_misclassified(x, np.asarray(y).reshape(-1).astype(int), predicted,
                                       out / "misclassified.png", class_names=rep.class_names,
                                       max_examples=max_examples)
    return rep

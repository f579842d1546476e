"""Evaluation reports, plots and cross-validation.

`report` scores a model on one split the way a reader wants it: per class and
macro precision, recall and F1, the confusion matrix, ROC AUC (binary) and
top-k accuracy (more than 5 classes) for classification; MSE, MAE and R^2 for
regression. It prints as a table and saves as JSON, with PNG plots (learning
curves, the confusion matrix, misclassified images) drawn by matplotlib's Agg
canvas, without pyplot, so no display and no global backend are touched.
`cross_validate` trains a zoo model on k stratified folds and summarizes each
metric by its mean and standard deviation.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["report", "report_from_predictions", "Report", "plot_history", "plot_confusion_matrix",
           "plot_misclassified", "cross_validate", "CrossValidation"]

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
            rows += [(name, *(_fmt(v[c]) for c in cols)) for name, v in self.per_class.items()]
            if self.task != "regression":
                rows.append(("macro", *(_fmt(self.metrics.get(c, self.examples if c == "support" else ""))
                                       for c in cols)))
            lines += _table(rows) + [""]
        if not overall:
            return "\n".join(lines).rstrip("\n")
        skip = {"precision", "recall", "f1"} if self.task != "regression" else set()
        rows = [("metric", self.split)] + [(k, _fmt(v)) for k, v in self.metrics.items() if k not in skip]
        lines += _table(rows)
        return "\n".join(lines)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON, atomically; returns the path."""
        from kerazoo.io import write_json

        write_json(path, self.to_dict())
        return Path(path)


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _table(rows) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


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
    info = getattr(model, "_kerazoo", None) or {}
    spec = getattr(data, "spec", None)
    task = spec.task if spec is not None else (info.get("spec") or {}).get("task")
    if task is None:
        from kerazoo.train import _task_of

        task = _task_of(model)
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
            if task in ("multiclass", "binary"):
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


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path) -> Path:
    from kerazoo.io import atomic_write

    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def plot_history(history: dict | str | os.PathLike, path: str | os.PathLike) -> Path:
    """Learning curves: one panel a metric, training and validation, as a PNG.

    A `phase` column (a fine-tuning run's history) draws a dashed line where
    each phase begins.

    Args:
        history: metric -> per-epoch values, or a run's `history.csv`.
        path: the PNG file to write.

    Returns:
        The path written.

    Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.png"
    >>> plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, path).stat().st_size > 0
    True
    """
    if not isinstance(history, dict):
        from kerazoo.runs import read_history

        history = read_history(history)
    phases = history.get("phase")
    names = [k for k in history if not k.startswith("val_") and k not in ("phase", "learning_rate", "epoch")]
    names = names or [k for k in history if k.startswith("val_")]
    if not names:
        raise ValueError("history holds no metric to plot")
    fig = _figure(4.0 * len(names), 3.2)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", markersize=3, label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", markersize=3, label="validation")
        if phases:
            for i in range(1, len(phases)):
                if phases[i] != phases[i - 1]:
                    ax.axvline(i + 0.5, color="gray", linestyle="--", linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_confusion_matrix(matrix: np.ndarray | list, path: str | os.PathLike, *, class_names: list | None = None) -> Path:
    """The confusion matrix as a PNG heat map, counts written in the cells.

    Args:
        matrix: rows true classes, columns predicted classes.
        path: the PNG file to write.
        class_names: the axes' labels. Defaults to the class indices.

    Returns:
        The path written.

    Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cm.png"
    >>> plot_confusion_matrix([[5, 1], [0, 4]], path, class_names=["no", "yes"]).exists()
    True
    """
    cm = np.asarray(matrix)
    k = cm.shape[0]
    names = [str(c) for c in (class_names or range(k))]
    side = min(3.0 + 0.45 * k, 16.0)
    fig = _figure(side + 1.0, side)
    ax = fig.subplots()
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")
    if k <= 30:
        threshold = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > threshold else "black")
    return _save(fig, path)


def plot_misclassified(x: np.ndarray, y_true: np.ndarray | list, y_pred: np.ndarray | list, path: str | os.PathLike, *, class_names: list | None = None,
                       max_examples: int = 25) -> Path:
    """A grid of the misclassified images, each titled "true -> predicted", as a PNG.

    Args:
        x: images `(n, height, width, channels)` (raw pixels; each is scaled
            to its own range for display).
        y_true, y_pred: class ids.
        path: the PNG file to write.
        class_names: names for the titles. Defaults to the class ids.
        max_examples: most images drawn. Defaults to 25.

    Returns:
        The path written (a note in the image when nothing was misclassified).

    Example:
    >>> import tempfile, pathlib
    >>> x = np.random.default_rng(0).random((4, 8, 8, 1))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wrong.png"
    >>> plot_misclassified(x, [0, 1, 1, 0], [0, 0, 1, 1], path).exists()
    True
    """
    x = np.asarray(x)
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:max_examples]
    names = [str(c) for c in class_names] if class_names else None

    def name(c):
        return names[c] if names and 0 <= c < len(names) else str(c)

    if not len(wrong):
        fig = _figure(4.0, 1.5)
        fig.text(0.5, 0.5, "no misclassified examples", ha="center", va="center", fontsize=12)
        return _save(fig, path)
    cols = min(5, len(wrong))
    rows = math.ceil(len(wrong) / cols)
    fig = _figure(2.0 * cols, 2.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        image = x[i].astype("float64")
        if image.ndim == 3 and image.shape[-1] not in (1, 3):
            image = image[..., 0]
        low, high = image.min(), image.max()
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(f"{name(int(y_true[i]))} -> {name(int(y_pred[i]))}", fontsize=9)
    fig.suptitle(f"misclassified ({len(wrong)} shown)")
    return _save(fig, path)


@dataclass
class CrossValidation:
    """What `cross_validate` returns.

    Attributes:
        scores: one dict of test-fold metrics a fold.
        mean, std: each metric's mean and (population) standard deviation.
        k: the number of folds.
        stratified: whether the folds keep the class proportions.
    """

    scores: list
    mean: dict
    std: dict
    k: int
    stratified: bool = True

    def table(self) -> str:
        """Each metric's mean and standard deviation over the folds, and each fold's value."""
        rows = [("metric", "mean", "std", *(f"fold {i + 1}" for i in range(self.k)))]
        rows += [(m, _fmt(self.mean[m]), _fmt(self.std[m]), *(_fmt(s[m]) for s in self.scores))
                 for m in self.mean]
        return "\n".join(_table(rows))

    def to_dict(self) -> dict:
        """The result as JSON-ready data."""
        return {"k": self.k, "stratified": self.stratified, "mean": self.mean, "std": self.std,
                "scores": self.scores}


def cross_validate(
    model_name: str,
    data: Any,
    k: int = 5,
    *,
    epochs: int | str = "auto",
    seed: int = 0,
    overrides: dict | None = None,
    compile: bool | dict = True,
    validation_split: float = 0.1,
    patience: int = 10,
    callbacks: str | list = "default",
    verbose: int | str = 0,
) -> CrossValidation:
    """Train a zoo model on k folds and score each held-out fold: mean and std of each metric.

    The folds cover every example of the data (all its splits together) and
    are stratified for multiclass and binary data (plain shuffled folds
    otherwise), seeded. Each fold trains a fresh model on the other k - 1
    folds, with `validation_split` of them held out for early stopping, and
    the in-model preprocessing statistics (tabular mean and variance,
    regression targets) come from that fold's training part only.

    Args:
        model_name: a registered model.
        data: `load_data()`'s result, a source name, or a tuple `(x, y)`.
        k: the number of folds (at least 2). Defaults to 5.
        epochs: most epochs a fold, or "auto" (as in `fit`). Defaults to "auto".
        seed: seeds the folds, and fold i's weights and shuffling (seed + i).
            Defaults to 0.
        overrides: the builder's arguments.
        compile: `build`'s compile argument. Defaults to True.
        validation_split: the share of each fold's training part held out
            for early stopping; 0 for none. Defaults to 0.1.
        patience: early stopping's patience. Defaults to 10.
        callbacks: `fit`'s callbacks. Defaults to "default".
        verbose: Keras' progress display. Defaults to 0.

    Returns:
        A `CrossValidation`: `scores` (k dicts), `mean`, `std`; `.table()`.

    Raises:
        ValueError: k below 2, or a class with fewer than k examples.

    Example:
    >>> cv = cross_validate("mlp", "iris", k=2, epochs=1, validation_split=0.0, overrides={"depth": 1})
    >>> len(cv.scores), sorted(cv.mean)
    (2, ['accuracy', 'f1', 'loss'])
    """
    import keras
    from sklearn.model_selection import KFold, StratifiedKFold

    from kerazoo.data import Data, from_arrays, load_data
    from kerazoo.registry import build
    from kerazoo.train import fit

    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int of at least 2, got {k!r}")
    if not isinstance(data, Data):
        data = load_data(data) if isinstance(data, (str, os.PathLike)) else load_data(data, test_split=0.0)
    spec = data.spec
    parts = [data.arrays[s] for s in ("train", "validation", "test") if data.arrays and s in data.arrays]
    if not parts:
        raise ValueError(f"cross_validate needs in-memory data; {data.source!r} has no arrays")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    stratified = spec.task in ("multiclass", "binary")
    labels = y.reshape(len(y), -1)[:, 0].astype("int64") if stratified else None
    if stratified:
        ids, counts = np.unique(labels, return_counts=True)
        if counts.min() < k:
            name = (spec.class_names or [str(i) for i in range(spec.num_classes)])[int(ids[counts.argmin()])]
            raise ValueError(f"class {name!r} has {counts.min()} examples; {k} stratified folds need at "
                             f"least {k} of each class; lower k")
        folds = StratifiedKFold(k, shuffle=True, random_state=seed).split(x, labels)
    else:
        folds = KFold(k, shuffle=True, random_state=seed).split(x)
    keep = {f: getattr(spec, f) for f in ("value_range", "class_names", "vocab_size")
            if getattr(spec, f) is not None}
    if spec.task in ("multiclass", "multilabel"):
        keep["num_classes"] = spec.num_classes
    batch_size = data.options.get("batch_size", 32)
    scores = []
    for i, (train_idx, test_idx) in enumerate(folds):
        fold = from_arrays(x[train_idx], y[train_idx], name=f"{spec.name}-fold{i + 1}", source=data.source,
                           options={**data.options, "fold": i + 1, "k": k}, validation_split=validation_split,
                           test_split=0.0, batch_size=batch_size, seed=seed, task=spec.task, kind=spec.kind,
                           test_data=(x[test_idx], y[test_idx]), **keep)
        keras.utils.set_random_seed(seed + i)
        model = build(model_name, fold.spec, compile=compile, **(overrides or {}))
        result = fit(model, fold, epochs=epochs, seed=seed + i, patience=patience, callbacks=callbacks,
                     verbose=verbose)
        scores.append(result.metrics["test"])
        log.info("kerazoo: fold %d/%d: %s", i + 1, k,
                 ", ".join(f"{m} {v:.4f}" for m, v in result.metrics["test"].items()))
    metrics = list(scores[0])
    mean = {m: float(np.mean([s[m] for s in scores])) for m in metrics}
    std = {m: float(np.std([s[m] for s in scores])) for m in metrics}
    return CrossValidation(scores=scores, mean=mean, std=std, k=k, stratified=stratified)

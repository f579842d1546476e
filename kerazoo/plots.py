"""Plots a reader would rather look at: learning curves, the confusion matrix, misclassified images, a search.

Drawn by matplotlib's Agg canvas, without pyplot, so no display and no global
backend are touched; each PNG is written atomically.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = ["plot_history", "plot_confusion_matrix", "plot_misclassified", "plot_search"]


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
        y_true: the true class ids.
        y_pred: the predicted class ids.
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


def plot_search(trials: list[dict], objective: tuple[str, str], path: str | os.PathLike) -> Path:
    """A search's objective trial by trial, and the best so far (what a search writes as `search.png`).

    Args:
        trials: one dict a trial with `trial_id`, `status` and `score` (and
            `score_std` for a cross-validated objective, drawn as error bars),
            as `tuning.results.trial_rows` gives them.
        objective: `(name, "min" or "max")`.
        path: the PNG to write.

    Returns:
        The path written. Trials that did not complete are marked on the axis.

    Example:
    >>> import tempfile
    >>> rows = [{"trial_id": "0", "status": "COMPLETED", "score": 0.5}, {"trial_id": "1", "status": "FAILED",
    ...          "score": None}, {"trial_id": "2", "status": "COMPLETED", "score": 0.3, "score_std": 0.05}]
    >>> plot_search(rows, ("val_loss", "min"), tempfile.mkdtemp() + "/search.png").read_bytes()[:4]
    b'\\x89PNG'
    """
    name, direction = objective
    order = sorted(trials, key=lambda t: int(t["trial_id"]) if str(t["trial_id"]).isdigit() else t["trial_id"])
    fig = _figure(7.0, 3.8)
    ax = fig.subplots()
    done = [(i + 1, t) for i, t in enumerate(order) if t.get("status") == "COMPLETED" and t.get("score") is not None]
    if done:
        xs, scores = [i for i, _ in done], [t["score"] for _, t in done]
        spread = [t.get("score_std") or 0.0 for _, t in done]
        pick = min if direction == "min" else max
        best = [pick(scores[: j + 1]) for j in range(len(scores))]
        if any(spread):
            ax.errorbar(xs, scores, yerr=spread, fmt="o", capsize=3, label=f"trial: {name} (mean ± std over folds)")
        else:
            ax.plot(xs, scores, "o", label=f"trial: {name}")
        ax.step(xs, best, where="post", label="best so far")
        ax.annotate(f"{best[-1]:.4g}", (xs[-1], best[-1]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    failed = [i + 1 for i, t in enumerate(order) if not (t.get("status") == "COMPLETED" and t.get("score") is not None)]
    if failed:
        ax.plot(failed, [0] * len(failed), "x", color="tab:red", transform=ax.get_xaxis_transform(),
                clip_on=False, label="did not complete")
    ax.set_xlabel("trial, in the order of their ids")
    ax.set_ylabel(name)
    ax.set_title(f"{len(order)} trials, {'lower' if direction == 'min' else 'higher'} is better")
    ax.grid(alpha=0.3)
    if done or failed:
        ax.legend(fontsize=8)
    return _save(fig, path)

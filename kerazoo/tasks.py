"""The tasks the zoo knows, one row each: what the head outputs, how labels are cast, what is served and scored.

Every module that behaves by task reads this table, so a task's knowledge is in
one place: the model families (the head's activation), `load_data` (label
dtype, stratified splits), `compile_model` (the default loss and metrics, in
`kerazoo.compiling`, keyed by the same names), `report`, the exports (the
serving signature's outputs, the classes derived from probabilities) and the
fidelity gate (the metric a quantized file is held to). Importing it costs no
TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Task", "TASKS", "SUPERVISED", "get_task", "classes_from_outputs"]


@dataclass(frozen=True)
class Task:
    """One task's row.

    Attributes:
        name: the task's name, as `DataSpec.task` holds it.
        activation: the output layer's activation (None: linear values or logits).
        classification: whether the model predicts classes.
        one_label: one class per example (multiclass, binary): splits are stratified.
        label_dtype: the dtype labels are cast to for training.
        served: the serving signature's outputs.
        report_metric: the held-out metric an export reports beside the Keras model's.
        fidelity: the figure a quantized file is held to by the export's gate (`top1_agreement`,
            next-token for causal_lm, or `relative_error`).
    """

    name: str
    activation: str | None
    classification: bool
    one_label: bool
    label_dtype: str
    served: tuple
    report_metric: str
    fidelity: str


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("multiclass", "softmax", True, True, "int64", ("probabilities", "classes"), "accuracy", "top1_agreement"),
    Task("binary", "sigmoid", True, True, "float32", ("probabilities", "classes"), "accuracy", "top1_agreement"),
    Task("regression", None, False, False, "float32", ("values",), "mae", "relative_error"),
    Task("multilabel", "sigmoid", True, False, "float32", ("probabilities", "classes"), "binary_accuracy",
         "top1_agreement"),
    Task("causal_lm", None, False, False, "int32", ("logits",), "accuracy", "top1_agreement"),
)}

#: The tasks of models that map an example to labels or values (every task but causal_lm).
SUPERVISED = ("multiclass", "binary", "regression", "multilabel")


def get_task(name: str) -> Task:
    """The row of task `name`, or a ValueError listing the tasks.

    Example:
    >>> get_task("binary").activation, get_task("binary").one_label
    ('sigmoid', True)
    >>> get_task("ranking")
    Traceback (most recent call last):
    ...
    ValueError: task must be one of ['multiclass', 'binary', 'regression', 'multilabel', 'causal_lm'], got 'ranking'
    """
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"task must be one of {list(TASKS)}, got {name!r}") from None


def classes_from_outputs(probabilities, task: str):
    """The classes a classifier's probabilities stand for: argmax (multiclass), > 0.5 (binary, each label).

    The serving signature's `classes` output and every check of it use this rule.

    Example:
    >>> import numpy as np
    >>> classes_from_outputs(np.array([[0.2, 0.8], [0.9, 0.1]]), "multiclass").tolist()
    [1, 0]
    >>> classes_from_outputs(np.array([[0.7], [0.2]]), "binary").tolist()
    [1, 0]
    """
    import numpy as np

    p = np.asarray(probabilities)
    if task == "multiclass":
        return p.argmax(-1)
    if task == "binary":
        return (p[..., 0] > 0.5).astype("int64")
    if task == "multilabel":
        return (p > 0.5).astype("int64")
    raise ValueError(f"task {task!r} predicts no classes")

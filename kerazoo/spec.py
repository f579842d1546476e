"""`DataSpec`: what a model needs to know about its data, and nothing more.

A spec travels from `load_data` to `build`, into a run's `config.json` and back.
It is plain data (JSON round-trips) and importing it costs no TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kerazoo.tasks import TASKS as _TASK_TABLE
from kerazoo.tasks import get_task

__all__ = ["DataSpec", "TASKS", "KINDS"]

TASKS = tuple(_TASK_TABLE)
KINDS = ("image", "tabular", "sequence", "tokens")


@dataclass(frozen=True)
class DataSpec:
    """The shape and meaning of a data set's inputs and targets.

    Args:
        input_shape: one example's shape, without the batch dimension.
        task: one of `"multiclass"`, `"binary"`, `"regression"`, `"multilabel"`,
            or `"causal_lm"` (token windows -> next-token logits over `vocab_size` ids).
        num_classes: classes for classification; targets for regression.
            Defaults to 1 for binary and regression, `vocab_size` for causal_lm.
        kind: `"image"` (height, width, channels), `"tabular"` (features,),
            `"sequence"` (steps, features) or `"tokens"` (integer ids, steps,).
        class_names: optional names, index `i` naming class `i`.
        name: the data set's name, for logs and run directories.
        value_range: the raw input range `(low, high)` of image pixels; models
            rescale inside themselves so they take raw inputs.
        mean: per-feature means of the training split for tabular and
            sequence data; models normalize inside themselves.
        variance: per-feature variances of the training split, as `mean`.
        vocab_size: the number of token ids, for `"tokens"`.
        bytes_per_token: for tokens from text: the average UTF-8 bytes a token
            stands for on the training text (1.0 for bytes); bits-per-byte
            metrics use it.
        chars_per_token: for tokens from text: the average characters a token
            stands for on the training text.
        chars_per_id: for tokens from text: the characters each token id
            stands for (`Tokenizer.chars_per_id`); bits-per-character metrics
            count a block's characters with it, so figures compare across
            tokenizers and blocks.
        input_dtype: the dtype a served model takes.
        target_mean: regression targets' means on the training split; the
            head scales its outputs back, so models predict raw values.
        target_std: regression targets' standard deviations, as `target_mean`.

    Example:
    >>> spec = DataSpec(input_shape=(8, 8, 1), task="multiclass", num_classes=10, kind="image")
    >>> spec.num_outputs, spec.rank
    (10, 3)
    >>> DataSpec.from_dict(spec.to_dict()) == spec
    True
    """

    input_shape: tuple
    task: str = "multiclass"
    num_classes: int | None = None
    kind: str = "tabular"
    class_names: tuple | None = None
    name: str = "data"
    value_range: tuple | None = None
    mean: tuple | None = field(default=None, repr=False)
    variance: tuple | None = field(default=None, repr=False)
    vocab_size: int | None = None
    input_dtype: str = "float32"
    target_mean: tuple | None = field(default=None, repr=False)
    target_std: tuple | None = field(default=None, repr=False)
    bytes_per_token: float | None = field(default=None, repr=False)
    chars_per_token: float | None = field(default=None, repr=False)
    chars_per_id: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        shape = tuple(self.input_shape)
        if not shape or not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
            raise ValueError(
                f"input_shape must be a non-empty tuple of positive ints (batch dimension excluded), "
                f"got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {self.task!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        n = self.num_classes
        if self.task == "causal_lm":
            if self.kind != "tokens" or not self.vocab_size:
                raise ValueError(f"task 'causal_lm' needs kind 'tokens' and a vocab_size, got kind {self.kind!r}")
            if n is not None and n != self.vocab_size:
                raise ValueError(f"causal_lm predicts one of vocab_size={self.vocab_size} ids; num_classes "
                                 f"must match it or be None, got {n}")
            n = self.vocab_size
        if n is None:
            if self.task in ("multiclass", "multilabel"):
                raise ValueError(f"task {self.task!r} needs num_classes")
            n = 1
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"num_classes must be a positive int, got {self.num_classes!r}")
        if self.task == "multiclass" and n < 2:
            raise ValueError(f"multiclass needs num_classes >= 2, got {n}")
        if self.task == "binary":
            n = 2
        object.__setattr__(self, "num_classes", n)
        if self.kind == "tokens":
            if not self.vocab_size:
                raise ValueError("kind 'tokens' needs vocab_size")
            object.__setattr__(self, "input_dtype", "int32")
        for name in ("class_names", "value_range", "mean", "variance", "target_mean", "target_std"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if self.class_names is not None and self.task != "regression" and len(self.class_names) != n:
            raise ValueError(f"class_names has {len(self.class_names)} names for {n} classes")

    @property
    def rank(self) -> int:
        return len(self.input_shape)

    @property
    def num_outputs(self) -> int:
        """Units of the output layer: 1 for binary, else `num_classes`."""
        return 1 if self.task == "binary" else self.num_classes

    @property
    def is_classification(self) -> bool:
        return get_task(self.task).classification

    def with_(self, **changes: Any) -> DataSpec:
        """A copy with some fields changed.

        Example:
        >>> DataSpec((4,), task="regression").with_(name="x").name
        'x'
        """
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict) -> DataSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def summary(self) -> str:
        """One line for logs.

        Example:
        >>> DataSpec((8, 8, 1), num_classes=10, kind="image", name="digits").summary()
        'digits: image (8, 8, 1) -> multiclass, 10 classes'
        """
        out = f"{self.name}: {self.kind} {self.input_shape} -> {self.task}"
        if self.task in ("multiclass", "multilabel"):
            out += f", {self.num_classes} classes"
        elif self.task == "regression" and self.num_classes > 1:
            out += f", {self.num_classes} targets"
        elif self.task == "causal_lm":
            out += f", {self.vocab_size} ids"
        return out

"""The fidelity gate: how close a quantized file must stay to the Keras model, per task.

Every quantized TFLite file ("dynamic", "float16", "int8") is compared with the
Keras model on the verification inputs, and held to one threshold per task:

| task | measure | default |
| --- | --- | --- |
| multiclass, binary, multilabel | top-1 agreement (all labels alike, multilabel) | >= 0.98 |
| regression | relative error, mean abs(file - keras) / mean abs(keras) | <= 0.02 |
| causal_lm | next-token agreement (argmax of the logits, every position) | >= 0.95 |

A language model's threshold is lower because its argmax runs over the whole
vocabulary and a small model's top two tokens are often near-ties; its held-out
next-token accuracy, recorded beside Keras', is the check on what matters.

A file outside its threshold stops the export with `FidelityError` (exit code 1
from `kerazoo export`), after the int8 fallbacks (`export.int8`) have been tried,
unless the caller asks to keep it (`keep_failing=True`, `--keep-failing`): it is
then written with status "kept".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from export.verify import Verification
from kerazoo.errors import FidelityError

__all__ = ["FidelityError", "Gate", "threshold_for", "check_thresholds", "judge", "describe", "MIN_AGREEMENT",
           "MAX_RELATIVE_ERROR", "MIN_NEXT_TOKEN_AGREEMENT", "GATED"]

MIN_AGREEMENT = 0.98
MAX_RELATIVE_ERROR = 0.02
MIN_NEXT_TOKEN_AGREEMENT = 0.95
GATED = ("dynamic", "float16", "int8")


def check_thresholds(min_agreement=None, max_relative_error=None) -> None:
    """Refuse thresholds that are not numbers in range, naming the argument.

    Example:
    >>> check_thresholds(0.95, 0.05)
    >>> check_thresholds(min_agreement=98)
    Traceback (most recent call last):
    ...
    ValueError: min_agreement must be a share in [0, 1] (0.98 for 98%), got 98
    """
    for name, value, high in (("min_agreement", min_agreement, 1.0), ("max_relative_error", max_relative_error, None)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                value < 0 or (high is not None and value > high):
            expected = "a share in [0, 1] (0.98 for 98%)" if high else "a number >= 0 (0.02 for 2%)"
            raise ValueError(f"{name} must be {expected}, got {value!r}")


def threshold_for(task: str, *, min_agreement: float | None = None, max_relative_error: float | None = None) -> dict:
    """The fidelity threshold of a task: `{"metric", "min" or "max", "label"}`.

    Args:
        task: the model's task ("multiclass", "binary", "multilabel", "regression", "causal_lm").
        min_agreement: overrides the agreement threshold (classification and
            language models). Defaults to 0.98 (0.95 for a language model).
        max_relative_error: overrides the regression threshold. Defaults to 0.02.

    Example:
    >>> threshold_for("multiclass")
    {'metric': 'top1_agreement', 'min': 0.98, 'label': 'top-1 agreement'}
    >>> threshold_for("regression", max_relative_error=0.05)
    {'metric': 'relative_error', 'max': 0.05, 'label': 'relative error'}
    >>> threshold_for("multiclass", max_relative_error=0.05)
    Traceback (most recent call last):
    ...
    ValueError: max_relative_error applies to regression models; this model is multiclass: set min_agreement instead (got max_relative_error=0.05)
    """
    check_thresholds(min_agreement, max_relative_error)
    if task == "regression" and min_agreement is not None:
        raise ValueError(f"min_agreement applies to classifiers and language models; this model is a regression "
                         f"model: set max_relative_error instead (got min_agreement={min_agreement!r})")
    if task != "regression" and max_relative_error is not None:
        raise ValueError(f"max_relative_error applies to regression models; this model is {task}: set "
                         f"min_agreement instead (got max_relative_error={max_relative_error!r})")
    if task == "regression":
        bound = MAX_RELATIVE_ERROR if max_relative_error is None else float(max_relative_error)
        return {"metric": "relative_error", "max": bound, "label": "relative error"}
    if task == "causal_lm":
        bound = MIN_NEXT_TOKEN_AGREEMENT if min_agreement is None else float(min_agreement)
        return {"metric": "top1_agreement", "min": bound, "label": "next-token agreement"}
    bound = MIN_AGREEMENT if min_agreement is None else float(min_agreement)
    return {"metric": "top1_agreement", "min": bound, "label": "top-1 agreement"}


def _pct(value: float) -> str:
    return f"{100 * value:.2f}".rstrip("0").rstrip(".") + "%"


def describe(v: Verification) -> str:
    """A quantized file's fidelity figure against its threshold, in words.

    Example:
    >>> v = Verification("model_int8.tflite", "LiteRT", "int8", examples=300, top1_agreement=0.614,
    ...                  threshold={"metric": "top1_agreement", "min": 0.98, "label": "top-1 agreement"})
    >>> describe(v)
    'top-1 agreement 61.4% on 300 examples (threshold >= 98%)'
    """
    t = v.threshold or {}
    value = getattr(v, t.get("metric", "top1_agreement"), None)
    if value is None:
        return "no fidelity figure"
    bound = f">= {100 * t['min']:g}%" if "min" in t else f"<= {100 * t['max']:g}%"
    return f"{t.get('label', t.get('metric'))} {_pct(value)} on {v.examples} examples (threshold {bound})"


def judge(v: Verification | None, threshold: dict) -> Verification | None:
    """Hold a quantized file's verification to its threshold: status "ok" or "failed", with a note.

    Float32 files and files that did not run or were skipped are left as they are.

    Example:
    >>> t = threshold_for("multiclass")
    >>> judge(Verification("m.tflite", "LiteRT", "int8", top1_agreement=0.99, status="reported"), t).status
    'ok'
    >>> v = judge(Verification("m.tflite", "LiteRT", "int8", examples=114, top1_agreement=0.614,
    ...                        status="reported"), t)
    >>> v.status, v.note
    ('failed', 'top-1 agreement 61.4% on 114 examples (threshold >= 98%)')
    """
    if v is None or v.precision not in GATED or v.status not in ("ok", "reported"):
        return v
    v.threshold = dict(threshold)
    value = getattr(v, threshold["metric"], None)
    if value is None:
        return v
    inside = value >= threshold["min"] if "min" in threshold else value <= threshold["max"]
    v.status = "ok" if inside else "failed"
    if not inside:
        v.note = describe(v)
    return v


@dataclass
class Gate:
    """The fidelity threshold quantized files are held to, and whether a failing one is kept.

    Example:
    >>> gate = Gate(threshold_for("multiclass"))
    >>> gate.threshold["min"], gate.keep_failing
    (0.98, False)
    """

    threshold: dict
    keep_failing: bool = False

    def check(self, artifact, done: list, attempts: list | None = None) -> None:
        """Judge a quantized artifact; raise `FidelityError` (or mark it kept) when it fails."""
        v = judge(artifact.verification, self.threshold)
        if v is None or v.status != "failed" or v.max_abs_diff is None:  # passed, or did not run at all
            return
        if self.keep_failing:
            v.status = "kept"
            warnings.warn(f"{artifact.file} ({v.precision}) kept though outside its threshold: {v.note or describe(v)}",
                          UserWarning, stacklevel=4)
            return
        tried = ""
        if attempts and len(attempts) > 1:
            tried = "; tried " + ", ".join(f"{a['recipe']}: {_figure(a, self.threshold)}" for a in attempts)
        worst = (artifact.quantization or {}).get("debugger_worst")
        if worst:
            tried += "; the quantization debugger's worst ops in it: " + ", ".join(
                f"{w['op']} {w['tensor'].split(';')[0]} ({w['steps']:g} steps)" for w in worst)
        tried += "".join(f"; {a['note']}" for a in attempts or [] if a.get("note"))
        knob = "max_relative_error= (--max-relative-error)" if "max" in self.threshold else \
            "min_agreement= (--min-agreement)"
        raise FidelityError(f"{artifact.file} ({v.precision}) does not keep the Keras model's answers: "
                            f"{v.note or describe(v)}{tried}; nothing was written. Pass keep_failing=True "
                            f"(--keep-failing) to write it anyway, or set {knob}", artifacts=[*done, artifact])


def _figure(attempt: dict, threshold: dict) -> str:
    value = attempt.get(threshold["metric"])
    return "did not run" if value is None else _pct(value)

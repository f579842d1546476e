"""The fidelity report: one row per exported file, kept in `metadata.json`, printed by `kerazoo export`,
and shown in the model card.

Each row holds the file's size (and its share of the float32 TFLite file), the
largest output difference from Keras, the top-1 agreement (relative error for
regression), the held-out score beside the Keras model's, the single-example
latency, the check, and for int8 the recipe and what was kept in float.
"""

from __future__ import annotations

from export.metadata import human_size
from export.tflite import tflite_filename

__all__ = ["fidelity_report", "render_table", "render_markdown"]

FIELDS = ("max_abs_diff", "top1_agreement", "relative_error", "held_out", "latency_ms", "tolerance", "threshold")


def fidelity_report(artifacts: list) -> list[dict]:
    """One row per `Artifact`: size (and share of the float32 TFLite file), fidelity, held-out score, latency.

    Example:
    >>> from export import Artifact
    >>> fidelity_report([Artifact("model.tflite", "tflite", "float32", bytes=1000, sha256="")])
    [{'artifact': 'model.tflite', 'format': 'tflite', 'precision': 'float32', 'bytes': 1000, 'share_of_float32': 1.0, 'status': 'not verified'}]
    """
    float_size = next((a.bytes for a in artifacts if a.file == tflite_filename(None)), None)
    rows = []
    for a in artifacts:
        row = {"artifact": a.file, "format": a.format, "precision": a.precision, "bytes": a.bytes}
        if a.format == "tflite" and float_size:
            row["share_of_float32"] = round(a.bytes / float_size, 4)
        v = a.verification
        if v is not None:
            row.update({k: getattr(v, k) for k in FIELDS if getattr(v, k) is not None})
        row["status"] = v.status if v is not None else "not verified"
        q = getattr(a, "quantization", None)
        if q:
            row.update(recipe=q["recipe"], kept_in_float=q["float_layers"],
                       tried=[{"recipe": t["recipe"], **{k: t[k] for k in ("top1_agreement", "relative_error")
                                                           if t.get(k) is not None}} for t in q["attempts"]])
        rows.append(row)
    return rows


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _score(h: dict | None, key: str = "value") -> str:
    if not h:
        return "-"
    return f"{h[key]:.4g}" if h["metric"] == "mae" else _pct(h[key])


def _check(row: dict) -> str:
    t = row.get("threshold")
    if t:
        return f"{row['status']} ({'>=' if 'min' in t else '<='} {100 * t.get('min', t.get('max')):g}%)"
    return row["status"] + (f" (tol {row['tolerance']:g})" if row.get("tolerance") is not None else "")


def _cells(rows: list[dict], *, share: str = "") -> tuple[list[str], list[tuple], dict | None]:
    """The header, the cells of each row, and the Keras model's held-out score."""
    regression = any(r.get("relative_error") is not None for r in rows)
    keras = next((r["held_out"] for r in rows if r.get("held_out")), None)
    header = ["artifact", "precision", "size", "max |diff|", "rel. error" if regression else "agreement",
              f"held-out {keras['metric']}" if keras else "held-out", "latency", "check"]
    cells = []
    for r in rows:
        size = human_size(r["bytes"])
        if r.get("share_of_float32") is not None and r["artifact"] != tflite_filename(None):
            size += f" ({100 * r['share_of_float32']:.0f}%{share})"
        diff = "-" if r.get("max_abs_diff") is None else f"{r['max_abs_diff']:.2g}"
        fidelity = _pct(r.get("relative_error") if regression else r.get("top1_agreement"))
        latency = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.2f} ms"
        cells.append((r["artifact"], r["precision"], size, diff, fidelity, _score(r.get("held_out")), latency,
                      _check(r)))
    return header, cells, keras


def _recipes(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        if "recipe" not in r:
            continue
        kept = ", ".join(r["kept_in_float"]) if r["kept_in_float"] else "nothing"
        line = f"{r['artifact']}: recipe '{r['recipe']}', kept in float: {kept}"
        if len(r["tried"]) > 1:
            line += "; tried " + ", ".join(
                f"{t['recipe']} {_pct(t.get('relative_error', t.get('top1_agreement')))}" for t in r["tried"])
        lines.append(line)
    return lines


def render_table(rows: list[dict]) -> str:
    """The report as a text table (what `kerazoo export` prints), with each int8 recipe below it.

    Example:
    >>> print(render_table([{"artifact": "model.tflite", "precision": "float32", "bytes": 2048,
    ...                      "status": "not verified"}]))
    artifact      precision  size     max |diff|  agreement  held-out  latency  check
    ------------  ---------  -------  ----------  ---------  --------  -------  ------------
    model.tflite  float32    2.0 KiB  -           -          -         -        not verified
    """
    header, cells, keras = _cells(rows)
    table = [tuple(header), *cells]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if keras:
        lines.insert(0, f"Keras model: held-out {keras['metric']} {_score(keras)} ({keras['examples']} examples)")
    return "\n".join(lines + _recipes(rows))


def render_markdown(rows: list[dict]) -> str:
    """The report as a Markdown table (the model card's), the Keras model's held-out score below it.

    Example:
    >>> print(render_markdown([{"artifact": "model.tflite", "precision": "float32", "bytes": 2048, "status": "ok",
    ...                         "tolerance": 1e-4, "top1_agreement": 1.0}]))
    | artifact | precision | size | max abs diff | agreement | held-out | latency (1 example) | check |
    | --- | --- | --- | --- | --- | --- | --- | --- |
    | `model.tflite` | float32 | 2.0 KiB | - | 100.00% | - | - | ok (tol 0.0001) |
    """
    header, cells, keras = _cells(rows, share=" of float32")
    header = [h.replace("max |diff|", "max abs diff").replace("latency", "latency (1 example)") for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join((f"`{c[0]}`", *c[1:])) + " |" for c in cells]
    if keras:
        lines += ["", f"The Keras model's held-out {keras['metric']}: {_score(keras)} ({keras['examples']} examples)."]
    return "\n".join(lines)

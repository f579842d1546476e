"""Export of language models (the `gpt` family): windows of token ids in, next-token logits out.

`export_lm` writes the same layout as `export_model` (`<out>/<model_name>/<version>/`:
SavedModel, `model.tflite`, `metadata.json`, `MODEL_CARD.md`), with a
`serving_default` signature that maps a batch of token windows `inputs` (int32,
`(batch, seq_len)`) to `logits` (float32, `(batch, seq_len, vocab)`): the logits
at position `t` score the token after position `t`. The signature is written
with `keras.export.ExportArchive` and an endpoint that calls
`model(x, training=False)`; TFLite is converted from it with builtin ops only.
The tokenizer (`tokenizer.json`, and `tokenizer.model` for SentencePiece) is
copied beside the artifacts, so a client turns text into ids and back.

Every artifact is reloaded by its real consumer (`tf.saved_model.load`, the LiteRT
interpreter) and compared with the Keras model on real windows (the run's test
split): logits within the float32 tolerance, and the agreement of the predicted
next tokens. Quantized files ("dynamic", "float16", "int8") are held to a
next-token agreement of 0.95 (`export.fidelity`); the int8 file is built with
the recipes of `export.int8` (a plain int8 graph loses a quarter of the next
tokens to the causal mask sharing one int8 scale with the attention scores; the
attention and normalization kept in float bring it back), and the held-out
next-token accuracy is recorded beside Keras'.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from export.layout import clean_stale, partial_prefix
from export.verify import TOLERANCES, Verification, compare
from kerazoo.io import replace_dir, temp_dir
from kerazoo.modelinfo import model_info
from kerazoo.tasks import get_task

__all__ = ["export_lm", "write_lm_savedmodel", "LM_OUTPUT"]

LM_OUTPUT = get_task("causal_lm").served[0]  # "logits"
VERIFY_WINDOWS = 64
CALIBRATION_WINDOWS = 128


def write_lm_savedmodel(model: Any, path: str | os.PathLike, *, seq_len: int) -> dict:
    """Write a SavedModel whose `serving_default` maps token windows to next-token logits.

    Args:
        model: a zoo `gpt` (token ids in, logits out).
        path: the folder to write.
        seq_len: the window length the signature takes.

    Returns:
        The signature: `{"inputs": {...}, "outputs": {"logits": {...}}}`.

    Example:
    >>> import tempfile, os
    >>> from kerazoo import build
    >>> sig = write_lm_savedmodel(build("gpt-nano", num_layers=1), os.path.join(tempfile.mkdtemp(), "sm"), seq_len=16)
    >>> sig["inputs"]["inputs"], sig["outputs"]["logits"]
    ({'shape': [None, 16], 'dtype': 'int32'}, {'shape': [None, 16, 256], 'dtype': 'float32'})
    """
    import keras
    import tensorflow as tf

    from export.savedmodel import float32_copy

    model = float32_copy(model)

    @tf.function(input_signature=[tf.TensorSpec((None, seq_len), tf.int32, name="inputs")])
    def serve(inputs):
        return {LM_OUTPUT: tf.cast(model(inputs, training=False), tf.float32)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve)
    archive.write_out(os.fspath(path), verbose=False)
    outputs = serve.get_concrete_function().structured_outputs
    return {"inputs": {"inputs": {"shape": [None, seq_len], "dtype": "int32"}},
            "outputs": {k: {"shape": v.shape.as_list(), "dtype": v.dtype.name} for k, v in outputs.items()}}


def _names(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def _judge(result: Verification, reference, logits, labels=None) -> Verification:
    import numpy as np

    from export.verify import held_out_score

    ref = np.asarray(reference, dtype="float64")
    out = np.asarray(logits, dtype="float64").reshape(ref.shape)
    result.top1_agreement = float((out.argmax(-1) == ref.argmax(-1)).mean())
    if labels is not None and len(labels):
        n = len(labels)
        metric, value = held_out_score("causal_lm", labels, out[:n].argmax(-1))
        result.held_out = {"metric": "next-token accuracy", "value": value,
                           "keras": held_out_score("causal_lm", labels, ref[:n].argmax(-1))[1], "examples": n}
    return compare(result, ref, out, what="logits")


def _verify(kind: str, path: Path, x, reference, precision: str, labels=None, loaded=None) -> Verification:
    from export.verify import latency_ms, savedmodel_runner, tflite_runner

    consumer = "tf.saved_model.load" if kind == "savedmodel" else "ai_edge_litert.interpreter.Interpreter"
    result = Verification(artifact=path.name, consumer=consumer, precision=precision)
    try:
        run = savedmodel_runner(path.parent, loaded=loaded) if kind == "savedmodel" else tflite_runner(path)
        outputs = run(x)
        result.latency_ms = latency_ms(run if kind == "savedmodel" else tflite_runner(path), x)
    except Exception as err:  # the file does not load or run: that is the finding
        result.status, result.note = "failed", f"does not run: {str(err).splitlines()[0][:300]}"
        return result
    return _judge(result, reference, outputs[LM_OUTPUT], labels)


def _run_text(run, seq_len: int):
    """The run's text windows, reloaded as the run read them, or None (with a warning) when they do not load."""
    if run is None:
        return None
    from kerazoo.data import load_data

    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in run.config.get("data", {}).items()
            if k != "source"}
    opts.update(tokenizer=str(run.path), seq_len=seq_len)
    try:
        return load_data(run.config["data"]["source"], **opts)
    except Exception as err:  # e.g. the text is no longer where the run read it
        warnings.warn(f"export: the run's data does not load here ({err}); verifying on random token windows",
                      UserWarning, stacklevel=4)
        return None


def _windows_for(data, seq_len: int, model, verify_data):
    """Real token windows to verify on, their next tokens (held-out ones) or None, and a description."""
    import numpy as np

    if verify_data is not None:
        x = np.asarray(verify_data[0] if isinstance(verify_data, tuple) else verify_data, dtype="int32")
        y = np.asarray(verify_data[1])[:VERIFY_WINDOWS, :seq_len] if isinstance(verify_data, tuple) else None
        return x[:VERIFY_WINDOWS, :seq_len], y, \
            f"the windows passed as verify_data ({min(len(x), VERIFY_WINDOWS)})"
    if data is not None and data.arrays:
        for split in ("test", "validation", "train"):
            if split in data.arrays:
                x, y = data.arrays[split]
                return x[:VERIFY_WINDOWS], (y[:VERIFY_WINDOWS] if split != "train" else None), \
                    f"the run's {split} split ({len(x[:VERIFY_WINDOWS])} windows of {seq_len} tokens)"
    vocab = int(model.output_shape[-1])
    x = np.random.default_rng(0).integers(0, vocab, size=(16, seq_len)).astype("int32")
    return x, None, f"random token windows (16 of {seq_len} tokens; no real text was given)"


def _calibration_windows(data, representative_data, seq_len: int):
    """Token windows to calibrate int8 activations on: given ones, else the run's training windows."""
    import numpy as np

    if representative_data is not None:
        x = representative_data[0] if isinstance(representative_data, tuple) else representative_data
        return np.asarray(x, dtype="int32")[:CALIBRATION_WINDOWS, :seq_len]
    if data is None or not data.arrays or "train" not in data.arrays:
        raise ValueError("quantize='int8' needs token windows to calibrate activations: export a language-model "
                         "run directory (its training text is used) or pass representative_data=windows "
                         "(an int array, (windows, seq_len))")
    return np.asarray(data.arrays["train"][0][:CALIBRATION_WINDOWS], dtype="int32")


def export_lm(
    model_or_run_dir: Any,
    out_dir: str | os.PathLike = "exports",
    *,
    formats: str | tuple = ("savedmodel", "tflite"),
    quantize: str | tuple | None = None,
    seq_len: int | None = None,
    tokenizer: Any = None,
    version: int | None = None,
    overwrite: bool = False,
    verify: bool = True,
    verify_data: Any = None,
    model_name: str | None = None,
    representative_data: Any = None,
    min_agreement: float | None = None,
    keep_failing: bool = False,
):
    """Export a language model as a verified SavedModel and TFLite file, its tokenizer beside them.

    Args:
        model_or_run_dir: a language-model run directory, or a zoo `gpt` model.
        out_dir: the root of the export tree. Defaults to "exports".
        formats: "savedmodel", "tflite", or both. Defaults to both.
        quantize: None, or one or more of "dynamic", "float16", "int8": extra
            TFLite files, each held to the next-token agreement threshold; int8
            keeps the attention and normalization in float if it must (see
            `export.int8`). Defaults to None.
        seq_len: the window length of the signature. Defaults to the run's
            (128 for a bare model), at most the model's context.
        tokenizer: for a bare model: a `Tokenizer` or a folder holding one.
            Defaults to the run's (bytes for a bare model).
        version: the version folder's number. Defaults to the next free one.
        overwrite: replace an existing version. Defaults to False.
        verify: reload and compare every artifact. Defaults to True.
        verify_data: token windows to verify on. Defaults to the run's test split.
        model_name: the model's folder name. Defaults to the zoo name.
        representative_data: token windows to calibrate "int8" on. Defaults to
            128 of the run's training windows.
        min_agreement: the least next-token agreement a quantized file may
            have. Defaults to 0.95.
        keep_failing: write a quantized file outside its threshold (status
            "kept") instead of stopping. Defaults to False.

    Returns:
        An `export.ExportResult`.

    Raises:
        ValueError: a bad option, a model that is not a language model, or
            `seq_len` beyond the model's context.
        FileExistsError: the version exists and `overwrite` is False.
        export.VerificationError: a float32 artifact whose logits differ from Keras'.
        export.FidelityError: a quantized file outside its threshold.

    Example:
    >>> import tempfile
    >>> from kerazoo import build
    >>> result = export_lm(build("gpt-nano", num_layers=1), tempfile.mkdtemp(), seq_len=16)
    >>> [a.file for a in result.artifacts], [a.verification.status for a in result.artifacts]
    (['saved_model.pb', 'model.tflite'], ['ok', 'ok'])
    >>> sorted(p.name for p in result.path.iterdir() if p.suffix == ".json")
    ['metadata.json', 'request.json', 'serving.json', 'tokenizer.json']
    """
    from export.api import Artifact, ExportResult
    from export.verify import VerificationError

    formats = tuple(dict.fromkeys(_names(formats)))
    if not formats or any(f not in ("savedmodel", "tflite") for f in formats):
        raise ValueError(f"formats: a language model exports as savedmodel and/or tflite, got {formats!r}")
    modes = tuple(dict.fromkeys(q for q in _names(quantize) if q not in ("none", "float32")))
    for q in modes:
        if q not in ("dynamic", "float16", "int8"):
            raise ValueError(f"quantize for a language model: one or more of 'dynamic', 'float16', 'int8'; "
                             f"got {q!r}")
    if modes and "tflite" not in formats:
        raise ValueError(f"quantize={','.join(modes)} applies to TFLite files; add 'tflite' to formats")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValueError(f"version must be a positive int, got {version!r}")
    from export.fidelity import threshold_for

    threshold = threshold_for("causal_lm", min_agreement=min_agreement)

    from kerazoo.lm.generate import resolve_model_and_tokenizer
    from kerazoo.lm.model import context_length

    run = None
    if isinstance(model_or_run_dir, (str, os.PathLike)):
        from kerazoo.runs import load_run

        run = load_run(model_or_run_dir)
        if run.spec.task != "causal_lm":
            raise ValueError(f"{str(model_or_run_dir)!r} is a {run.spec.task} run; export it with export_model")
    model, tok = resolve_model_and_tokenizer(run or model_or_run_dir, tokenizer)
    info = model_info(model)
    name = model_name or info.get("model") or model.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(name)):
        raise ValueError(f"model_name must be a folder name of letters, digits, '.', '_' and '-', got {name!r}")
    context = context_length(model)
    seq_len = seq_len or (run.spec.input_shape[0] if run is not None else min(128, context))
    if not isinstance(seq_len, int) or not 1 <= seq_len <= context:
        raise ValueError(f"seq_len must be an int in [1, {context}] (the model's context), got {seq_len!r}")

    root = Path(out_dir) / name
    numbers = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()] if root.is_dir() else []
    version = version or max(numbers, default=0) + 1
    target = root / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(f"export {str(target)!r} already exists; pass overwrite=True (--overwrite) to "
                              f"replace it, or another version")
    text = _run_text(run, seq_len) if (verify and verify_data is None) or \
        ("int8" in modes and representative_data is None) else None
    windows = _calibration_windows(text, representative_data, seq_len) if "int8" in modes else None
    x, labels, x_note = _windows_for(text, seq_len, model, verify_data) if verify else (None, None, "not verified")
    from export.fidelity import Gate

    gate = Gate(threshold, keep_failing=keep_failing)
    root.mkdir(parents=True, exist_ok=True)
    clean_stale(root)
    tmp = temp_dir(root, partial_prefix(version))
    try:
        result = _build(model, tmp, name=name, version=version, formats=formats, modes=modes, seq_len=seq_len,
                        tok=tok, run=run, x=x, labels=labels, x_note=x_note, windows=windows, gate=gate,
                        Artifact=Artifact, ExportResult=ExportResult, VerificationError=VerificationError)
        replace_dir(tmp, target, overwrite=True)  # refused above unless overwrite
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.path = target
    return result


def _build(model, tmp: Path, *, name, version, formats, modes, seq_len, tok, run, x, labels, x_note, windows,
           gate, Artifact, ExportResult, VerificationError):
    import hashlib

    import numpy as np

    from export.metadata import environment, file_info, write_metadata
    from export.report import fidelity_report
    from export.savedmodel import float32_copy
    from export.tflite import convert_tflite, inspect_tflite, tflite_filename
    from export.verify import load_or_none

    model = float32_copy(model)
    keep_savedmodel = "savedmodel" in formats
    sm_dir = tmp if keep_savedmodel else tmp / ".savedmodel-scratch"
    signature = write_lm_savedmodel(model, sm_dir, seq_len=seq_len)
    reference = np.asarray(model(x, training=False), dtype="float32") if x is not None else None
    artifacts = []

    def check(artifact):
        v = artifact.verification
        if v is not None and v.status == "failed":
            raise VerificationError(f"{artifact.file} ({v.precision}) failed verification against the Keras "
                                    f"model: {v.note}; nothing was written")
        artifacts.append(artifact)

    if keep_savedmodel:
        parts = [p for p in ("saved_model.pb", "variables", "assets", "fingerprint.pb") if (tmp / p).exists()]
        infos = [(p, file_info(tmp / p)) for p in parts]
        digest = hashlib.sha256("\n".join(f"{p}:{i['sha256']}" for p, i in infos).encode()).hexdigest()
        loaded = load_or_none(tmp) if x is not None else None  # once, for the verification and the warm-up check
        v = (_verify("savedmodel", tmp / "saved_model.pb", x, reference, "float32", labels, loaded=loaded)
             if x is not None else None)
        check(Artifact("saved_model.pb", "savedmodel", "float32", bytes=sum(i["bytes"] for _, i in infos),
                       sha256=digest, verification=v))
        # warm-up records and serving.json, beside the SavedModel
        from export.manifest import add_serving_files

        examples = x if x is not None else _windows_for(None, seq_len, model, None)[0]
        serving = add_serving_files(tmp, examples, model_name=name, version=version, verify=x is not None,
                                    loaded=loaded)

    def tflite(mode, content=None):
        path = tmp / tflite_filename(mode)
        path.write_bytes(convert_tflite(sm_dir, quantize=mode) if content is None else content)
        details = inspect_tflite(path)
        v = _verify("tflite", path, x, reference, mode or "float32", labels) if x is not None else None
        return Artifact(path.name, "tflite", mode or "float32", ops=details["ops"],
                        io={"inputs": details["inputs"], "outputs": details["outputs"]}, verification=v,
                        **file_info(path))

    if "tflite" in formats:
        for mode in (None, *modes):
            if mode == "int8":
                from export.int8 import int8_ladder

                artifact = int8_ladder(sm_dir, tmp, model, windows, make=lambda c: tflite("int8", c), gate=gate,
                                       done=artifacts, verified=x is not None)
            else:
                artifact = tflite(mode)
                if mode is not None:
                    gate.check(artifact, artifacts)
            check(artifact)
    if not keep_savedmodel:
        shutil.rmtree(sm_dir)
    tok.save(tmp)
    info = model_info(model)
    spec = run.config.get("spec") if run is not None else info.get("spec")
    metadata = {
        "model": name, "version": version, "task": "causal_lm",
        "zoo_model": info.get("model"), "config": info.get("config"),
        "inputs": signature["inputs"], "outputs": signature["outputs"],
        "preprocessing": (f"token ids from the tokenizer beside this file ({tok.kind}, {tok.vocab_size} ids; "
                          f"kerazoo.lm.load_tokenizer(FOLDER)); windows of {seq_len} tokens; the logits at "
                          f"position t score the token after position t"),
        "tokenizer": tok.config(), "spec": spec,
        "source": {"run": str(run.path), "metrics": run.metrics, "data": run.config.get("data")}
        if run is not None else {"model": model.name},
        "reference": "the Keras model", "verification_inputs": x_note,
        "tolerances": TOLERANCES, "select_ops": False,
        "fidelity": {"threshold": gate.threshold, "keep_failing": gate.keep_failing,
                     "report": fidelity_report(artifacts)},
        "versions": environment(),
        "artifacts": [a.to_dict() for a in artifacts],
        "serving": serving if keep_savedmodel else None,
    }
    write_metadata(tmp, metadata)
    return ExportResult(path=tmp, model_name=name, version=version, artifacts=artifacts, metadata=metadata)

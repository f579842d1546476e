"""`export_model`: a model or a run directory in, verified serving artifacts out.

Layout (TensorFlow Serving's): `<out>/<model_name>/<version>/` holds the
SavedModel (`saved_model.pb`, `variables/`), the TFLite files (`model.tflite`,
`model_<quantize>.tflite`), `metadata.json` and `MODEL_CARD.md`; beside the
SavedModel, TensorFlow Serving's warm-up records
(`assets.extra/tf_serving_warmup_requests`) and the serving manifest
(`serving.json`, `request.json`: `export.manifest`). Everything is
built in a hidden temporary folder beside the version folder and renamed into
place once every artifact is verified; a failure removes the temporary folder
(and any folder the export created), so nothing partial is left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export.fidelity import Gate
from export.layout import clean_stale, next_version, partial_prefix, refuse_existing
from export.report import fidelity_report, render_table
from export.source import (
    ExportSource,
    load_source,
    representative_examples,
    run_config,
    verification_inputs,
)
from export.tflite import QUANTIZE, tflite_filename
from export.verify import Verification, VerificationError
from kerazoo.io import make_dirs, replace_dir, temp_dir
from kerazoo.modelinfo import model_info

__all__ = ["export_model", "ExportResult", "Artifact", "FORMATS", "DEFAULT_FORMATS", "QUANTIZE"]

FORMATS = ("savedmodel", "tflite", "onnx")
DEFAULT_FORMATS = ("savedmodel", "tflite")
SAVEDMODEL_FILES = ("saved_model.pb", "variables", "assets", "fingerprint.pb")


@dataclass
class Artifact:
    """One exported file and what verifying it found.

    Attributes:
        file: its name inside the version folder (`saved_model.pb` stands for the
            whole SavedModel: it and `variables/`).
        format: "savedmodel", "tflite" or "onnx".
        precision: "float32", "dynamic", "float16" or "int8".
        bytes: its size on disk (the SavedModel's files together).
        sha256: its SHA-256 (the SavedModel's files together).
        ops: a TFLite file's ops.
        io: a TFLite file's inputs and outputs (dtype, shape, int8 scale and zero point).
        verification: the `Verification`, or None when verification was off.
        quantization: an int8 file's recipe: `{"recipe", "float_layers" (what was
            kept in float), "float_ops", "attempts" (each recipe tried, with its figures)}`.
    """

    file: str
    format: str
    precision: str
    bytes: int
    sha256: str
    ops: list | None = None
    io: dict | None = None
    verification: Verification | None = None
    quantization: dict | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "verification" and v is not None}
        out["verification"] = self.verification.to_dict() if self.verification else None
        return out


@dataclass
class ExportResult:
    """What `export_model` returns.

    Attributes:
        path: the version folder, `<out>/<model_name>/<version>`.
        model_name: the model's folder name.
        version: the version number.
        artifacts: one `Artifact` a file, in the order written.
        metadata: the content of `metadata.json`.
    """

    path: Path
    model_name: str
    version: int
    artifacts: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, file: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.file == file:
                return artifact
        raise KeyError(f"no artifact {file!r}; this export holds {', '.join(a.file for a in self.artifacts)}")

    def table(self) -> str:
        """The fidelity report: each artifact's size, fidelity, held-out score, latency and check, as text.

        Example:
        >>> print(ExportResult(Path("."), "m", 1, [Artifact("model.tflite", "tflite", "float32", 2048, "")]).table())
        artifact      precision  size     max |diff|  agreement  held-out  latency  check
        ------------  ---------  -------  ----------  ---------  --------  -------  ------------
        model.tflite  float32    2.0 KiB  -           -          -         -        not verified
        """
        return render_table(fidelity_report(self.artifacts))


def _as_tuple(value, what: str) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        return tuple(value)
    except TypeError:
        raise ValueError(f"{what} must be a name or a sequence of names, got {value!r}") from None


def _check_options(formats, quantize, version, int8_io, model_name):
    formats = _as_tuple(formats, "formats")
    if not formats:
        raise ValueError(f"formats must name at least one of {', '.join(FORMATS)}")
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"formats: unknown format {f!r}; expected one or more of {', '.join(FORMATS)}")
    if "onnx" in formats:
        from export.onnx_format import MISSING, onnx_available

        if not onnx_available():
            raise ValueError(MISSING)
    modes = tuple(q for q in _as_tuple(quantize, "quantize") if q not in ("none", "float32"))
    for q in modes:
        if q not in QUANTIZE:
            raise ValueError(f"quantize must be None or one or more of {', '.join(map(repr, QUANTIZE))}; "
                             f"got {q!r}")
    if modes and "tflite" not in formats:
        raise ValueError(f"quantize={','.join(modes)} applies to TFLite files; add 'tflite' to formats")
    if int8_io and "int8" not in modes:
        raise ValueError("int8_io (int8 inputs and outputs) needs quantize='int8'")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValueError(f"version must be a positive int (TensorFlow Serving's version folders are "
                         f"numbers), got {version!r}")
    if model_name is not None:
        _check_name(model_name)
    return tuple(dict.fromkeys(formats)), tuple(dict.fromkeys(modes))


def _check_name(name) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(name)):
        raise ValueError(f"model_name must be a folder name of letters, digits, '.', '_' and '-', "
                         f"got {name!r}")


def export_model(
    model_or_run_dir: Any,
    out_dir: str | os.PathLike = "exports",
    *,
    formats: str | tuple = DEFAULT_FORMATS,
    quantize: str | tuple | None = None,
    representative_data: Any = None,
    version: int | None = None,
    overwrite: bool = False,
    int8_io: bool = False,
    select_ops: bool = False,
    verify: bool = True,
    verify_data: Any = None,
    model_name: str | None = None,
    min_agreement: float | None = None,
    max_relative_error: float | None = None,
    keep_failing: bool = False,
) -> ExportResult:
    """Export a model as a verified SavedModel and TFLite files, laid out for TensorFlow Serving.

    Writes `<out_dir>/<model_name>/<version>/`: the SavedModel (a
    `serving_default` signature taking raw inputs named `inputs`, batch free,
    returning `probabilities` and `classes`, or `values` for regression),
    `model.tflite` (float32) and one `model_<mode>.tflite` per `quantize` mode,
    `metadata.json` and `MODEL_CARD.md`. Beside the SavedModel: warm-up records for
    TensorFlow Serving (`assets.extra/tf_serving_warmup_requests`, from the first
    verification inputs, parsed back and run through the SavedModel) and the
    serving manifest (`serving.json` and `request.json`). Versions count up from 1.

    Each artifact is reloaded by its real consumer (`tf.saved_model.load`, the
    LiteRT interpreter) and compared with the Keras model on real inputs: by
    default the run's test split (topped up to 300 examples from the validation
    and training splits). Float32 files beyond tolerance (1e-4) fail the export.
    Quantized files (dynamic, float16, int8) must keep the model's answers: top-1
    agreement >= 0.98 (classification) or relative error <= 0.02 (regression);
    an int8 file that falls short is rebuilt with parts of the graph in float
    (`export.int8`), and if none passes the export stops with
    `export.FidelityError`. The folder is built aside and renamed into place: a
    failure leaves nothing.

    Args:
        model_or_run_dir: a Keras model, a run directory, or a `.keras` file.
        out_dir: the root of the export tree. Defaults to "exports".
        formats: "savedmodel", "tflite", "onnx" (needs the `onnx` extra), or several
            (a tuple or "savedmodel,tflite"). Defaults to ("savedmodel", "tflite").
            TFLite and ONNX are converted from a SavedModel either way.
        quantize: None, or one or more of "dynamic", "float16", "int8": each adds
            a quantized TFLite file beside the float32 one. Defaults to None.
        representative_data: calibration inputs for "int8" (an array, `(x, y)`
            or a `tf.data.Dataset`); for a run, 300 of its training examples, each
            class in turn. Defaults to None.
        version: the version folder's number. Defaults to the next free one.
        overwrite: replace an existing version. Defaults to False.
        int8_io: int8 inputs and outputs for the "int8" file (then only the
            all-int8 recipe applies). Defaults to False.
        select_ops: allow select-TF ops in TFLite files (warns: the device
            then needs the Flex delegate). Defaults to False.
        verify: verify every artifact. Defaults to True.
        verify_data: the inputs to verify on (an array, or `(x, y)`, whose labels
            give the held-out score). Defaults to the run's test split.
        model_name: the model's folder name. Defaults to the zoo name.
        min_agreement: the least top-1 agreement a quantized file of a
            classifier may have. Defaults to 0.98.
        max_relative_error: the largest relative error (mean abs difference over
            mean abs Keras value) a quantized file of a regressor may have.
            Defaults to 0.02.
        keep_failing: write a quantized file that stays outside its threshold
            (status "kept", with a warning) instead of stopping. Defaults to False.

    Returns:
        An `ExportResult` with the folder, the version and each `Artifact`.

    Raises:
        ValueError: a bad option, an unknown format or quantize mode, or "int8"
            without representative data; `kerazoo.errors.RunError` for a bad run.
        FileExistsError: the version exists and `overwrite` is False.
        export.ConversionError: ops that TFLite's allowed op sets lack.
        export.VerificationError: a float artifact that differs from Keras.
        export.FidelityError: a quantized file outside its threshold.

    Example:
    >>> import tempfile, numpy as np
    >>> from kerazoo import build
    >>> model = build("mlp", input_shape=(4,), num_classes=3)
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> result = export_model(model, tempfile.mkdtemp(), verify_data=x)
    >>> result.version, [a.file for a in result.artifacts]
    (1, ['saved_model.pb', 'model.tflite'])
    >>> [a.verification.status for a in result.artifacts]
    ['ok', 'ok']
    >>> export_model(model, tempfile.mkdtemp(), quantize="int8")
    Traceback (most recent call last):
    ...
    ValueError: quantize='int8' needs representative data to calibrate activations; pass representative_data=x_train[:300] (a few hundred training inputs, an array or a tf.data.Dataset), or export a run directory, whose training data is used
    """
    from export.fidelity import check_thresholds, threshold_for

    formats, modes = _check_options(formats, quantize, version, int8_io, model_name)
    check_thresholds(min_agreement, max_relative_error)
    config = run_config(model_or_run_dir)
    task = (config.get("spec") or {}).get("task") if isinstance(config.get("spec"), dict) else None
    if task:  # a threshold that does not fit the task, refused before TensorFlow loads
        threshold_for(task, min_agreement=min_agreement, max_relative_error=max_relative_error)
    early = model_name or config.get("model")
    if early and version is not None and (Path(out_dir) / early / str(version)).exists() and not overwrite:
        refuse_existing(Path(out_dir) / early / str(version))  # before loading TensorFlow and the model
    source = load_source(model_or_run_dir)
    from export.savedmodel import check_single_input

    check_single_input(source.model)
    if int8_io and "float" not in str(source.model.inputs[0].dtype):
        raise ValueError(f"int8_io quantizes float inputs; this model takes {source.model.inputs[0].dtype}")
    name = model_name or source.name
    _check_name(name)
    input_rank = len(source.model.inputs[0].shape) - 1
    representative = representative_examples(source, representative_data, input_rank) if "int8" in modes else None

    root = Path(out_dir) / name
    version = version or next_version(root)
    target = root / str(version)
    if target.exists() and not overwrite:
        refuse_existing(target)
    x, labels, x_note = verification_inputs(source, verify_data, representative) if verify else (None, None, "")
    gate = Gate(threshold_for(source.task, min_agreement=min_agreement, max_relative_error=max_relative_error),
                keep_failing=keep_failing)

    created = make_dirs(root)
    clean_stale(root)
    tmp = temp_dir(root, partial_prefix(version))
    try:
        result = _build(source, tmp, name=name, version=version, formats=formats, modes=modes,
                        representative=representative, int8_io=int8_io, select_ops=select_ops,
                        x=x, labels=labels, x_note=x_note, gate=gate)
        replace_dir(tmp, target, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    result.path = target
    return result


def _build(source: ExportSource, tmp: Path, *, name, version, formats, modes, representative, int8_io,
           select_ops, x, labels, x_note, gate) -> ExportResult:
    from export.metadata import environment, file_info, preprocessing_note, write_metadata
    from export.savedmodel import float32_copy, write_savedmodel
    from export.verify import load_or_none, reference_outputs, verify_savedmodel

    model = float32_copy(source.model)
    reference_note = "the Keras model" if model is source.model else \
        "a float32 copy of the mixed-precision Keras model (same weights)"
    keep_savedmodel = "savedmodel" in formats
    sm_dir = tmp if keep_savedmodel else tmp / ".savedmodel-scratch"
    signature = write_savedmodel(model, sm_dir, task=source.task)
    reference = reference_outputs(model, x) if x is not None else None
    check_kw = dict(task=source.task, labels=labels)
    artifacts = []
    if keep_savedmodel:
        info = _savedmodel_info(tmp)
        loaded = load_or_none(tmp) if x is not None else None  # once, for the verification and the warm-up check
        check = verify_savedmodel(tmp, x, reference, loaded=loaded, **check_kw) if x is not None else None
        if check is not None:
            check.artifact = "saved_model.pb"
        artifacts.append(Artifact("saved_model.pb", "savedmodel", "float32", verification=check, **info))
        _raise_if_failed(artifacts[-1])
        # warm-up records and serving.json, beside the SavedModel
        from export.manifest import add_serving_files
        from export.source import warmup_examples

        serving = add_serving_files(tmp, warmup_examples(source, x), model_name=name, version=version,
                                    verify=x is not None, loaded=loaded)
    if "tflite" in formats:
        for mode in (None, *modes):
            if mode == "int8":
                artifacts.append(_int8_artifact(sm_dir, tmp, model, representative, int8_io=int8_io, x=x,
                                                reference=reference, check_kw=check_kw, gate=gate, done=artifacts))
            else:
                artifacts.append(_tflite_artifact(sm_dir, tmp, mode, select_ops=select_ops, x=x,
                                                  reference=reference, check_kw=check_kw))
                if mode is not None:
                    gate.check(artifacts[-1], artifacts[:-1])
            _raise_if_failed(artifacts[-1])
            _warn_if_skipped(artifacts[-1])
    if "onnx" in formats:
        from export.onnx_format import convert_onnx, verify_onnx

        path = tmp / "model.onnx"
        convert_onnx(sm_dir, path)
        check = verify_onnx(path, x, reference, **check_kw) if x is not None else None
        artifacts.append(Artifact(path.name, "onnx", "float32", verification=check, **file_info(path)))
        _raise_if_failed(artifacts[-1])
    if not keep_savedmodel:
        shutil.rmtree(sm_dir)
    from export.verify import TOLERANCES

    spec = source.spec or {}
    run = source.run
    info = model_info(source.model)
    metadata = {
        "model": name, "version": version, "task": source.task,
        "zoo_model": info.get("model"), "config": info.get("config"), "overrides": info.get("overrides"),
        "inputs": signature["inputs"], "outputs": signature["outputs"],
        "class_names": spec.get("class_names"),
        "preprocessing": preprocessing_note(spec),
        "augmentation": "none: augmentation is training-only and never in the exported graph",
        "spec": spec or None,
        "source": {"run": str(run.path), "metrics": run.metrics,
                   "data": run.config.get("data")} if run is not None else {"model": source.model.name},
        "reference": reference_note,
        "verification_inputs": x_note or "not verified",
        "tolerances": TOLERANCES, "select_ops": select_ops,
        "fidelity": {"threshold": gate.threshold, "keep_failing": gate.keep_failing,
                     "report": fidelity_report(artifacts)},
        "versions": environment(),
        "artifacts": [a.to_dict() for a in artifacts],
        "serving": serving if keep_savedmodel else None,
    }
    write_metadata(tmp, metadata)
    return ExportResult(path=tmp, model_name=name, version=version, artifacts=artifacts, metadata=metadata)


def _tflite_artifact(sm_dir, tmp: Path, mode, *, select_ops, x, reference, check_kw, content=None,
                     precision=None) -> Artifact:
    from export.metadata import file_info
    from export.tflite import convert_tflite, inspect_tflite
    from export.verify import verify_tflite

    if content is None:
        content = convert_tflite(sm_dir, quantize=mode, select_ops=select_ops)
    path = tmp / tflite_filename(mode)
    path.write_bytes(content)
    details = inspect_tflite(path)
    check = verify_tflite(path, x, reference, quantize=mode, **check_kw) if x is not None else None
    return Artifact(path.name, "tflite", precision or mode or "float32", ops=details["ops"],
                    io={"inputs": details["inputs"], "outputs": details["outputs"]},
                    verification=check, **file_info(path))


def _int8_artifact(sm_dir, tmp: Path, model, representative, *, int8_io, x, reference, check_kw, gate,
                   done) -> Artifact:
    """The int8 file: the recipes of `export.int8` in turn, until one keeps the model's answers."""
    def make(content: bytes) -> Artifact:
        return _tflite_artifact(sm_dir, tmp, "int8", select_ops=False, x=x, reference=reference,
                                check_kw=check_kw, content=content)

    from export.int8 import int8_ladder

    return int8_ladder(sm_dir, tmp, model, representative, make=make, gate=gate, done=done, int8_io=int8_io,
                       verified=x is not None)


def _savedmodel_info(folder: Path) -> dict:
    from export.metadata import file_info

    total, digests = 0, []
    for part in SAVEDMODEL_FILES:
        if (folder / part).exists():
            info = file_info(folder / part)
            total += info["bytes"]
            digests.append(f"{part}:{info['sha256']}")
    import hashlib

    return {"bytes": total, "sha256": hashlib.sha256("\n".join(digests).encode()).hexdigest()}


def _raise_if_failed(artifact: Artifact) -> None:
    v = artifact.verification
    if v is not None and v.status == "failed":
        raise VerificationError(f"{artifact.file} ({v.precision}) failed verification against the Keras "
                                f"model: {v.note}; nothing was written")


def _warn_if_skipped(artifact: Artifact) -> None:
    v = artifact.verification
    if v is not None and v.status == "skipped":
        warnings.warn(f"{artifact.file}: not verified: {v.note}", UserWarning, stacklevel=3)

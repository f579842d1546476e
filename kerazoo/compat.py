"""Every private API of another library that the zoo uses, behind one version guard.

A private name (`keras.src...`, `keras_tuner.src...`, a leading-underscore
attribute) can change in any release. Each one the zoo touches is reached only
through a function here, which checks that the installed version is one the
zoo was tested with (`TESTED`) and that the name is still there; if it is not,
the error says which package, which version was tested, and how to install it.
An untested but working version gets one warning. `tests/test_compat.py`
checks each name against the installed libraries, so an upgrade that breaks
one fails the suite instead of a user's run.

| package | private names | used by |
| --- | --- | --- |
| keras | `keras.src.backend.config.keras_home`; `Layer._flatten_layers`; `Model._initial_epoch`; `Model._symbolic_build`; `BackupAndRestore._save_model` and its paths | the Applications weights message, augmentation, `fit`, `kerazoo.resume` |
| keras_hub | `TransformerDecoder._self_attention_layer` and its feed-forward layers; `CachedMultiHeadAttention._query_dense` and its key, value and output projections | the gpt's LoRA and its key/value cache |
| keras_tuner | `keras_tuner.src.engine.tuner_utils`, `keras_tuner.src.distribute`, `keras_tuner.src.protos`; `Oracle._retry_queue`; the `Tuner` methods the zoo's tuner overrides | `tuning` |
| ai_edge_litert | `Interpreter._get_ops_details` | `export.tflite` (the ops in a file) |

Importing this module imports none of those libraries.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings

__all__ = ["TESTED", "check_version", "keras_home", "flatten_layers", "reset_initial_epoch",
           "BACKUP_AND_RESTORE_MEMBERS", "check_backup_and_restore", "self_attention", "attention_projections",
           "feedforward_projections",
           "tuner_utils", "oracle_client", "oracle_chief", "tuner_protos", "retry_queue",
           "TUNER_OVERRIDES", "check_tuner_overrides", "tflite_ops_details", "symbolic_build"]

#: package -> (lowest tested version, first untested version): what `setup.cfg` allows.
TESTED = {
    "keras": ("3.5", "3.16"),
    "keras-hub": ("0.18", "0.33"),
    "keras-tuner": ("1.4", "1.5"),
    "ai-edge-litert": ("1.0", "2.4"),
}
_warned: set[tuple] = set()


def _version_tuple(text: str) -> tuple:
    out = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def check_version(package: str, *, version: str | None = None) -> str:
    """The installed version of `package`, warning once when it is outside what the zoo was tested with.

    Args:
        package: a distribution name in `TESTED`.
        version: the version to judge. Defaults to the installed one.

    Returns:
        The version.

    Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = check_version("keras-tuner", version="1.4.8"), check_version("keras-tuner", version="9.0")
    >>> [str(w.message).split(" (")[0] for w in caught]
    ['keras-tuner 9.0 is outside the versions kerazoo was tested with']
    """
    version = version or importlib.metadata.version(package)
    low, high = TESTED[package]
    if not _version_tuple(low) <= _version_tuple(version) < _version_tuple(high) and (package, version) not in _warned:
        _warned.add((package, version))
        warnings.warn(f"{package} {version} is outside the versions kerazoo was tested with (>={low},<{high}); "
                      f"kerazoo uses private parts of it that may have changed", RuntimeWarning, stacklevel=3)
    return version


def _missing(package: str, what: str) -> RuntimeError:
    low, high = TESTED[package]
    version = importlib.metadata.version(package)
    return RuntimeError(f"kerazoo needs {what} from {package}, which {package} {version} no longer has; kerazoo "
                        f"was tested with {package}>={low},<{high}: pip install '{package}>={low},<{high}'")


def _member(obj, name: str, package: str, what: str):
    check_version(package)
    try:
        return getattr(obj, name)
    except AttributeError:
        raise _missing(package, what) from None


def _module(path: str, package: str):
    check_version(package)
    try:
        return importlib.import_module(path)
    except ImportError:
        raise _missing(package, f"the module {path}") from None


# --- keras ---------------------------------------------------------------------------------------

def keras_home() -> str:
    """Where Keras caches downloads (`keras.src.backend.config.keras_home()`), else `KERAS_HOME` or ~/.keras.

    Example:
    >>> isinstance(keras_home(), str)
    True
    """
    import os

    try:
        return _module("keras.src.backend.config", "keras").keras_home()
    except (RuntimeError, AttributeError):
        return os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))


def flatten_layers(layer, *, include_self: bool = True, recursive: bool = True) -> list:
    """Every layer inside `layer`, nested layers and models opened (Keras' `Layer._flatten_layers`).

    Example:
    >>> import keras
    >>> inner = keras.Sequential([keras.layers.Dense(2)])
    >>> [type(x).__name__ for x in flatten_layers(keras.Sequential([inner]), include_self=False)]
    ['Sequential', 'Dense']
    """
    walk = _member(layer, "_flatten_layers", "keras", "Layer._flatten_layers")
    return list(walk(include_self=include_self, recursive=recursive))


def reset_initial_epoch(model) -> None:
    """Forget the epoch a restored checkpoint set (`Model._initial_epoch`), so a later `fit` starts at 0."""
    if hasattr(model, "_initial_epoch"):
        model._initial_epoch = None


def symbolic_build(model, data_batch) -> None:
    """Create the optimizer's, the metrics' and the loss's variables from a batch's shapes (`Model._symbolic_build`).

    What Keras' TensorFlow trainer does itself only under a distribution
    strategy; without one it leaves them to the first traced training step,
    which is then traced twice (a `tf.function` that creates variables is).

    Args:
        model: a compiled Keras model.
        data_batch: a batch, or its structure of `tf.TensorSpec`s (a dataset's
            `element_spec`): `(x, y)` or `(x, y, sample_weight)`.
    """
    _member(model, "_symbolic_build", "keras", "Model._symbolic_build")(data_batch=data_batch)


#: What `kerazoo.resume.RunBackup` overrides or reads of Keras' `BackupAndRestore`.
BACKUP_AND_RESTORE_MEMBERS = ("_save_model", "_weights_path", "_training_metadata_path", "_current_epoch",
                              "_last_batch_seen", "backup_dir")


def check_backup_and_restore(callback) -> None:
    """Refuse a Keras whose `BackupAndRestore` lacks what the zoo's atomic checkpoint relies on.

    Example:
    >>> import keras, tempfile
    >>> check_backup_and_restore(keras.callbacks.BackupAndRestore(tempfile.mkdtemp()))
    """
    for name in BACKUP_AND_RESTORE_MEMBERS:
        if name not in ("_current_epoch", "_last_batch_seen"):  # set once training starts
            _member(callback, name, "keras", f"BackupAndRestore.{name}")


# --- keras_hub -----------------------------------------------------------------------------------

def self_attention(block):
    """The self-attention layer of a KerasHub `TransformerDecoder` (its `_self_attention_layer`)."""
    return _member(block, "_self_attention_layer", "keras-hub", "TransformerDecoder._self_attention_layer")


def attention_projections(attention) -> tuple:
    """The query, key, value and output `EinsumDense` layers of a KerasHub attention layer."""
    return tuple(_member(attention, name, "keras-hub", f"CachedMultiHeadAttention.{name}")
                 for name in ("_query_dense", "_key_dense", "_value_dense", "_output_dense"))


def feedforward_projections(block) -> tuple:
    """The two feed-forward `Dense` layers of a KerasHub `TransformerDecoder`."""
    return tuple(_member(block, name, "keras-hub", f"TransformerDecoder.{name}")
                 for name in ("_feedforward_intermediate_dense", "_feedforward_output_dense"))


# --- keras_tuner ---------------------------------------------------------------------------------

def tuner_utils():
    """`keras_tuner.src.engine.tuner_utils` (`SaveBestEpoch`, `convert_hyperparams_to_hparams`)."""
    return _module("keras_tuner.src.engine.tuner_utils", "keras-tuner")


def oracle_client():
    """`keras_tuner.src.distribute.oracle_client` (a worker's client, and its `TIMEOUT`)."""
    return _module("keras_tuner.src.distribute.oracle_client", "keras-tuner")


def oracle_chief():
    """`keras_tuner.src.distribute.oracle_chief` (the chief's `OracleServicer`)."""
    return _module("keras_tuner.src.distribute.oracle_chief", "keras-tuner")


def tuner_protos():
    """`keras_tuner.src.protos` (the gRPC service of the distributed mode)."""
    return _module("keras_tuner.src.protos", "keras-tuner")


def retry_queue(oracle) -> list:
    """The trial ids an oracle will run again (`Oracle._retry_queue`)."""
    return _member(oracle, "_retry_queue", "keras-tuner", "Oracle._retry_queue")


#: The private `keras_tuner.Tuner` and `keras_tuner.Oracle` methods the zoo's tuner and oracles override or call.
TUNER_OVERRIDES = {"Tuner": ("_populate_initial_space", "_try_build", "_build_and_fit_model", "_build_hypermodel",
                             "_get_tuner_fname", "_get_checkpoint_fname", "_is_worker"),
                   "Oracle": ("_get_oracle_fname", "_get_trial_dir")}


def check_tuner_overrides() -> None:
    """Refuse a KerasTuner whose `Tuner` or `Oracle` lacks a method the zoo overrides or calls.

    Example:
    >>> check_tuner_overrides()
    """
    import keras_tuner as kt

    for cls, names in TUNER_OVERRIDES.items():
        for name in names:
            _member(getattr(kt, cls), name, "keras-tuner", f"{cls}.{name}")


# --- ai_edge_litert ------------------------------------------------------------------------------

def tflite_ops_details(interpreter) -> list[dict]:
    """Every op of a loaded TFLite file (`Interpreter._get_ops_details()`)."""
    return _member(interpreter, "_get_ops_details", "ai-edge-litert", "Interpreter._get_ops_details")()

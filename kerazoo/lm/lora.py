"""Fine-tuning a gpt: all weights, the top blocks only, or LoRA adapters through Keras' `enable_lora`.

LoRA adds a low-rank update `a @ b * alpha / rank` beside the attention
(query, key, value, output) and feed-forward kernels, and optionally the token
embedding. Keras' `layer.enable_lora(rank)` freezes only the kernel it adapts:
biases, LayerNorms and the embeddings stay trainable. `prepare_finetune` freezes
every variable but the adapters, so the base weights stay bit-identical and the
trainable parameters are exactly the adapters' (`parameter_counts`).

An adapter saves alone (`save_adapter`: the `lora_*` weights and their rank, a
few hundred kilobytes) and loads onto the same base model (`load_adapter`);
`merge_lora` folds it into the kernels and returns a plain model to export.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from kerazoo._compat import (
    attention_projections,
    feedforward_projections,
    flatten_layers,
    self_attention,
)

__all__ = ["enable_lora", "prepare_finetune", "parameter_counts", "lora_layers", "save_adapter",
           "load_adapter", "merge_lora", "METHODS", "ADAPTER_FILE"]

METHODS = ("full", "freeze", "lora")
ADAPTER_FILE = "adapter.npz"
ADAPTER_CONFIG = "adapter.json"
LORA_NAMES = ("lora_kernel_a", "lora_kernel_b", "lora_embeddings_a", "lora_embeddings_b")


def lora_layers(model, *, embedding: bool = False) -> dict:
    """The layers LoRA adapts, by path: each block's attention and feed-forward kernels (and the embedding).

    Example:
    >>> from kerazoo import build
    >>> sorted(lora_layers(build("gpt-nano", num_layers=1, compile=False)))[:3]
    ['block_0/feedforward_intermediate_dense', 'block_0/feedforward_output_dense', 'block_0/self_attention/attention_output']
    """
    from kerazoo.lm.model import gpt_layers

    parts = gpt_layers(model)
    out = {}
    for block in parts["blocks"]:
        for sub in (*attention_projections(self_attention(block)), *feedforward_projections(block)):
            out[sub.path] = sub
    if embedding:
        out[parts["embedding"].path] = parts["embedding"]
    return out


def _is_lora(variable) -> bool:
    return variable.path.rsplit("/", 1)[-1] in LORA_NAMES


def enable_lora(model, rank: int = 8, *, alpha: float | None = None, embedding: bool = False) -> Any:
    """Add LoRA adapters of `rank` to a gpt's attention and feed-forward kernels, freezing everything else.

    Args:
        model: a built zoo `gpt`.
        rank: the adapters' rank. Defaults to 8.
        alpha: the update's scale is `alpha / rank`. Defaults to `rank` (scale 1).
        embedding: adapt the token embedding too (it is also the output head).
            Defaults to False.

    Returns:
        The model, with only its adapters trainable (recompile before training;
        `fit` compiles an uncompiled model).

    Raises:
        ValueError: a rank that is not a positive int, or adapters already there.

    Example:
    >>> from kerazoo import build
    >>> model = enable_lora(build("gpt-nano", num_layers=1, compile=False), rank=2)
    >>> counts = parameter_counts(model)
    >>> counts["trainable"], counts["trainable"] < counts["total"] // 10
    (3168, True)
    """
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive int, got {rank!r}")
    targets = lora_layers(model, embedding=embedding)
    if any(getattr(layer, "lora_enabled", False) for layer in targets.values()):
        raise ValueError(f"model {model.name!r} already has LoRA adapters; merge_lora(model) folds them in first")
    for layer in targets.values():
        layer.enable_lora(rank, lora_alpha=alpha)
    for variable in model.variables:  # Keras leaves biases, norms and embeddings trainable: freeze them
        variable.trainable = _is_lora(variable)
    model._kerazoo_lora = {"rank": rank, "alpha": alpha if alpha is not None else rank, "embedding": embedding,
                           "layers": sorted(targets)}
    return model


def prepare_finetune(model, method: str = "lora", *, rank: int = 8, alpha: float | None = None,
                     embedding: bool = False, freeze_blocks: int = 0) -> dict:
    """Make a trained gpt ready to fine-tune: all weights, the blocks above the first N, or LoRA.

    Args:
        model: a trained zoo `gpt` (for example `load_run(path).model`).
        method: "full" (every weight trains), "freeze" (the embeddings and the
            first `freeze_blocks` blocks stay fixed) or "lora". Defaults to "lora".
        rank, alpha, embedding: LoRA's settings (see `enable_lora`).
        freeze_blocks: for "freeze": how many blocks from the bottom stay fixed.

    Returns:
        `parameter_counts(model)`: trainable and total parameters.

    Raises:
        ValueError: an unknown method, or more frozen blocks than the model has.

    Example:
    >>> from kerazoo import build
    >>> model = build("gpt-nano", compile=False)
    >>> c = prepare_finetune(model, "freeze", freeze_blocks=1)
    >>> 0 < c["trainable"] < c["total"]
    True
    """
    from kerazoo.lm.model import gpt_layers

    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    parts = gpt_layers(model)
    if method == "lora":
        enable_lora(model, rank, alpha=alpha, embedding=embedding)
        return parameter_counts(model)
    if isinstance(freeze_blocks, bool) or not isinstance(freeze_blocks, int) or \
            not 0 <= freeze_blocks <= len(parts["blocks"]):
        raise ValueError(f"freeze_blocks must be an int in [0, {len(parts['blocks'])}] (the model's blocks), "
                         f"got {freeze_blocks!r}")
    for variable in model.variables:
        variable.trainable = True
    if method == "freeze":
        frozen = [parts["embedding"], parts["positions"], *parts["blocks"][:freeze_blocks]]
        for layer in frozen:
            for variable in layer.variables:
                variable.trainable = False
    return parameter_counts(model)


def parameter_counts(model) -> dict:
    """Trainable and total parameters (each variable counted once), and the trainable share.

    Example:
    >>> from kerazoo import build
    >>> c = parameter_counts(build("gpt-nano", compile=False))
    >>> c["trainable"] == c["total"], c["share"]
    (True, 1.0)
    """
    seen, total, trainable = set(), 0, 0
    for variable in model.variables:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        n = int(np.prod(variable.shape))
        total += n
        trainable += n if variable.trainable else 0
    return {"trainable": trainable, "total": total, "share": round(trainable / total, 6) if total else 0.0}


def _adapter_weights(model) -> dict:
    return {v.path: np.asarray(v) for v in model.variables if _is_lora(v)}


def save_adapter(model, path: str | os.PathLike) -> list[Path]:
    """Save a LoRA model's adapters alone: `adapter.npz` (the `lora_*` weights) and `adapter.json`.

    Args:
        model: a gpt with adapters (`enable_lora`), trained.
        path: a folder.

    Returns:
        The files written.

    Raises:
        ValueError: a model without adapters.

    Example:
    >>> import tempfile
    >>> from kerazoo import build
    >>> model = enable_lora(build("gpt-nano", num_layers=1, compile=False), rank=2)
    >>> [p.name for p in save_adapter(model, tempfile.mkdtemp())]
    ['adapter.npz', 'adapter.json']
    """
    from kerazoo.io import atomic_write, write_json

    info = getattr(model, "_kerazoo_lora", None)
    weights = _adapter_weights(model)
    if not weights or info is None:
        raise ValueError(f"model {model.name!r} has no LoRA adapters to save; enable_lora(model, rank) first")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **weights)

    atomic_write(folder / ADAPTER_FILE, write)
    base = (getattr(model, "_kerazoo", None) or {})
    write_json(folder / ADAPTER_CONFIG, {**info, "model": base.get("model"), "config": base.get("config"),
                                         "parameters": int(sum(w.size for w in weights.values()))})
    return [folder / ADAPTER_FILE, folder / ADAPTER_CONFIG]


def load_adapter(model, path: str | os.PathLike) -> Any:
    """Put saved adapters on a base gpt: enable LoRA with their rank and assign their weights.

    Args:
        model: the base model the adapters were trained on (same shapes).
        path: the folder `save_adapter` wrote (a LoRA run directory holds one).

    Returns:
        The model, with the adapters (frozen base, as `enable_lora` leaves it).

    Raises:
        FileNotFoundError: no adapter there. ValueError: adapters that do not
            fit this model.
    """
    folder = Path(path)
    if not (folder / ADAPTER_FILE).is_file():
        raise FileNotFoundError(f"no adapter at {str(folder)!r} (expected {ADAPTER_FILE})")
    info = json.loads((folder / ADAPTER_CONFIG).read_text())
    enable_lora(model, int(info["rank"]), alpha=info.get("alpha"), embedding=bool(info.get("embedding")))
    with np.load(folder / ADAPTER_FILE) as saved:
        variables = {v.path: v for v in model.variables if _is_lora(v)}
        missing = sorted(set(variables) - set(saved.files))
        if missing or len(saved.files) != len(variables):
            raise ValueError(f"the adapter at {str(folder)!r} does not fit this model (missing: "
                             f"{', '.join(missing[:3]) or 'none'}; saved {len(saved.files)}, expected "
                             f"{len(variables)}); load it onto the model it was trained on")
        for key, variable in variables.items():
            if tuple(saved[key].shape) != tuple(variable.shape):
                raise ValueError(f"adapter weight {key} has shape {saved[key].shape}, the model's is "
                                 f"{tuple(variable.shape)}")
            variable.assign(saved[key])
    return model


def merge_lora(model) -> Any:
    """A plain copy of a LoRA model with each adapter folded into its kernel: `kernel + a @ b * alpha / rank`.

    The copy has no adapters and computes what the LoRA model computes (up to
    float rounding); it trains, saves and exports as any gpt. The LoRA model is
    left as it is.

    Args:
        model: a gpt with adapters.

    Returns:
        The merged model (uncompiled), carrying the zoo's record of the model.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> model = enable_lora(build("gpt-nano", num_layers=1, compile=False), rank=2)
    >>> merged = merge_lora(model)
    >>> x = np.arange(16, dtype="int32").reshape(1, 16)
    >>> bool(np.allclose(model(x), merged(x), atol=1e-5)), len(merged.variables) < len(model.variables)
    (True, True)
    """
    import keras

    import kerazoo.lm.metrics  # noqa: F401

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("lora_rank", "lora_alpha")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    config = strip(keras.saving.serialize_keras_object(model))
    merged = keras.saving.deserialize_keras_object(config)
    # Keras' own save path folds each adapter into its kernel (save_own_variables): reuse it layer by layer
    for source, target in zip(_leaf_layers(model), _leaf_layers(merged)):
        store: dict = {}
        source.save_own_variables(store)
        if store:
            target.load_own_variables(store)
    if hasattr(model, "_kerazoo"):
        merged._kerazoo = model._kerazoo
    return merged


def _leaf_layers(model) -> list:
    return flatten_layers(model, include_self=False)

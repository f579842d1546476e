"""`finetune_lm`: continue a language-model run on new text, with all weights, the top blocks, or LoRA.

The fine-tuned run is a run directory like any other (config, history, metrics,
model, tokenizer, manifest), whose `config.json` records the base run, the
method and the trainable and total parameter counts. A LoRA run also holds its
adapter alone (`adapter.npz`, `adapter.json`); with `adapter_only=True` it holds
only that (no `model.keras`), and `load_run` rebuilds the model from the base
run plus the adapter, merged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kerazoo.runlock import holds_run_dir

__all__ = ["finetune_lm", "DEFAULT_LEARNING_RATES"]

#: The learning rate each method starts from when none is given.
DEFAULT_LEARNING_RATES = {"lora": 2e-3, "freeze": 3e-4, "full": 3e-4}


@holds_run_dir  # the run directory is this call's until its adapter and manifest are written
def finetune_lm(
    base: Any,
    data: Any,
    *,
    method: str = "lora",
    rank: int = 8,
    alpha: float | None = None,
    embedding: bool = False,
    freeze_blocks: int = 0,
    epochs: int = 10,
    learning_rate: float | None = None,
    run_dir: str | os.PathLike | None = None,
    adapter_only: bool = False,
    seed: int | None = 0,
    patience: int = 10,
    callbacks: Any = "default",
    verbose: int | str = "auto",
):
    """Fine-tune a language-model run on new text.

    Args:
        base: the run directory of a trained gpt (or its `Run`).
        data: a text source (`"text:PATH"`), loaded with the base run's
            tokenizer and window length, or `load_data()`'s result made so.
        method: "lora" (adapters only), "freeze" (the first `freeze_blocks`
            blocks and the embeddings fixed) or "full". Defaults to "lora".
        rank: LoRA's rank. Defaults to 8.
        alpha: LoRA's scale numerator. Defaults to the rank.
        embedding: whether the token embedding gets an adapter too. Defaults
            to False.
        freeze_blocks: for "freeze": the number of bottom blocks kept fixed.
        epochs: the most epochs. Defaults to 10.
        learning_rate: the peak rate. Defaults to 2e-3 for LoRA, 3e-4 otherwise.
        run_dir: where to write the run. Defaults to None (nothing written).
        adapter_only: a LoRA run keeps its adapter alone, not the model.
        seed: as in `kerazoo.fit`. Defaults to 0.
        patience: as in `kerazoo.fit`. Defaults to 10.
        callbacks: as in `kerazoo.fit`. Defaults to "default".
        verbose: as in `kerazoo.fit`. Defaults to "auto".

    Returns:
        `kerazoo.fit`'s `FitResult`, with `parameters` (trainable, total, share)
        and `model` (the fine-tuned model; for LoRA, with its adapters).

    Raises:
        ValueError: a base that is not a language-model run, or a bad method.

    Example:
    >>> import pathlib, tempfile
    >>> from kerazoo import build, fit, load_data
    >>> from kerazoo.lm import pydoc_corpus
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text(pydoc_corpus(["pass", "break", "continue"]))
    >>> _ = (folder / "b.txt").write_text(pydoc_corpus(["del", "return"]))
    >>> data = load_data(f"text:{folder / 'a.txt'}", seq_len=32)
    >>> _ = fit(build("gpt-nano", data.spec, num_layers=1), data, epochs=1, run_dir=folder / "base", verbose=0)
    >>> result = finetune_lm(folder / "base", f"text:{folder / 'b.txt'}", rank=2, epochs=1, verbose=0)
    >>> result.parameters["trainable"] < result.parameters["total"] // 10
    True
    """
    from kerazoo.compiling import compile_model
    from kerazoo.data import Data, load_data
    from kerazoo.lm.lora import METHODS, prepare_finetune, save_adapter
    from kerazoo.modelinfo import record_info
    from kerazoo.runs import Run, finish_run, load_run
    from kerazoo.train import fit

    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if adapter_only and method != "lora":
        raise ValueError("adapter_only keeps a LoRA adapter alone; it goes with method='lora'")
    run = base if isinstance(base, Run) else load_run(base)
    if run.spec.task != "causal_lm":
        raise ValueError(f"finetune takes language-model runs (task causal_lm); {str(run.path)!r} is "
                         f"{run.spec.task!r}")
    if not isinstance(data, Data):
        data = load_data(data, tokenizer=str(run.path), seq_len=run.spec.input_shape[0])
    model = run.model
    record_info(model, spec=data.spec.to_dict())  # its context is the new windows (`context_length`), as on reload
    counts = prepare_finetune(model, method, rank=rank, alpha=alpha, embedding=embedding,
                              freeze_blocks=freeze_blocks)
    lr = DEFAULT_LEARNING_RATES[method] if learning_rate is None else learning_rate
    compile_model(model, learning_rate=lr, task="causal_lm")
    record = {"from": str(Path(run.path).resolve()), "method": method, "parameters": counts,
              **({"rank": rank, "alpha": alpha if alpha is not None else rank, "embedding": embedding}
                 if method == "lora" else {}),
              **({"freeze_blocks": freeze_blocks} if method == "freeze" else {}),
              "adapter_only": adapter_only}
    result = fit(model, data, epochs=epochs, run_dir=run_dir, seed=seed, patience=patience, callbacks=callbacks,
                 verbose=verbose, config={"finetune": record})
    if result.run_dir is not None and method == "lora":
        save_adapter(model, result.run_dir)
        if adapter_only:
            os.unlink(result.run_dir / "model.keras")
        finish_run(result.run_dir)  # the manifest again, with the adapter's files
    result.parameters = counts
    return result

"""A small GPT, end to end: pretrain on Python's documentation, sample, LoRA-fine-tune on new text, export.

    python examples/gpt_pydoc.py              # the gpt's default pretraining (12 epochs), then LoRA and export
    python examples/gpt_pydoc.py --quick      # a smoke run: a few steps of each stage

1. Pretrain the `gpt` on the bundled text (`text:pydoc`: Python's own documentation,
   no download) and report its held-out bits per character.
2. Sample from it with a key/value cache: greedy, then top-k with a seed.
3. Fine-tune it with LoRA (rank 8) on text it has never seen, the docstrings of a
   few standard-library modules: only the adapters train, the base weights stay.
4. Export the fine-tuned model as a SavedModel and a TFLite file, each verified
   against the Keras model, with its tokenizer beside them.

The same steps from the command line:

    kerazoo train gpt --data text:pydoc --out runs/gpt-pydoc
    kerazoo generate runs/gpt-pydoc --prompt 'The "with" statement' --sampler top_k --seed 0
    kerazoo train --init runs/gpt-pydoc --data text:docstrings.txt --lora 8 --out runs/gpt-lora
    kerazoo export runs/gpt-lora
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path

MODULES = ("collections", "itertools", "functools", "textwrap", "string", "json", "pathlib", "shutil",
           "heapq", "bisect", "statistics", "fractions", "dataclasses", "contextlib", "enum")


def stdlib_docstrings() -> str:
    """The docstrings of a few standard-library modules and their public members: new text for the model."""
    parts = []
    for name in MODULES:
        module = importlib.import_module(name)
        parts.append(f"{name}\n{'=' * len(name)}\n\n{inspect.getdoc(module) or ''}\n")
        for attr in sorted(getattr(module, "__all__", dir(module))):
            obj = getattr(module, attr, None)
            doc = inspect.getdoc(obj) if obj is not None and not attr.startswith("_") else None
            if doc and getattr(obj, "__module__", name).split(".")[0] == name:
                parts.append(f"{name}.{attr}\n\n{doc}\n")
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/gpt-pydoc-example", help="a new folder for the runs and exports")
    parser.add_argument("--epochs", type=int, default=None,
                        help="pretraining epochs (default: the gpt's own, as `kerazoo train gpt`)")
    parser.add_argument("--quick", action="store_true", help="tiny settings, to check that it runs")
    args = parser.parse_args(argv)

    import keras

    from kerazoo import build, fit, generate, load_data
    from kerazoo.lm import finetune_lm, text_metrics
    from kerazoo.runs import new_run_dir

    out = new_run_dir("example", args.out)
    keras.utils.set_random_seed(0)
    seq_len = 64 if args.quick else 128
    data = load_data("text:pydoc", seq_len=seq_len)
    print(f"data: {data.describe()}")

    # 1. pretrain
    overrides = {"num_layers": 1, "dim": 32} if args.quick else {}
    model = build("gpt-nano" if args.quick else "gpt", data.spec, **overrides)
    if args.quick:
        from dataclasses import replace

        data = replace(data, train=data.train.take(4))
    epochs = 1 if args.quick else (args.epochs or "auto")
    fit(model, data, epochs=epochs, run_dir=out / "pretrained", seed=0, verbose=2)
    held_out = text_metrics(model, data, "test")
    print(f"\npretrained: held-out bits per character {held_out['bits_per_char']:.3f} "
          f"(zlib -9 spends 1.95 on the same block, xz -9 1.41)")

    # 2. sample: the cache makes each new token one position's work
    prompt = 'The "with" statement'
    print(f"\ngreedy:  {prompt}{generate(out / 'pretrained', prompt, max_new_tokens=120)!r}")
    print(f"top-k 10: {prompt}{generate(out / 'pretrained', prompt, max_new_tokens=120, sampler='top_k', seed=0)!r}")

    # 3. LoRA on new text, with the pretrained model's tokenizer and window length
    text_file = out / "docstrings.txt"
    text_file.write_text(stdlib_docstrings()[:8000] if args.quick else stdlib_docstrings())
    result = finetune_lm(out / "pretrained", f"text:{text_file}", method="lora", rank=8,
                         epochs=1 if args.quick else 10, run_dir=out / "lora", verbose=2)
    counts = result.parameters
    print(f"\nLoRA: {counts['trainable']:,} of {counts['total']:,} parameters trained "
          f"({100 * counts['share']:.1f}%); held-out bits per byte on the new text "
          f"{result.metrics['test']['bits_per_byte']:.3f}")

    # 4. export, verified against the Keras model
    from export.lm import export_lm

    exported = export_lm(out / "lora", out / "exports")
    print(f"\n{exported.table()}\n\nexported to {exported.path}")
    print(f"\nexample done: runs and exports in {Path(out)}")


if __name__ == "__main__":
    main()

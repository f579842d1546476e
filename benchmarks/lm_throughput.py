"""Language-model throughput: training tokens per second, and generation with and without the cache.

    python benchmarks/lm_throughput.py                         # gpt-nano and gpt, windows of 128 bytes
    python benchmarks/lm_throughput.py --models gpt-mini --batch-size 64 --no-xla

Training: steps of `batch-size` windows of `seq-len` random token ids through
`model.fit` (the zoo's compile defaults), timed after warm-up steps (tracing and
compilation excluded). Generation: `kerazoo.generate` greedy, one prompt of 16
tokens, `--new-tokens` tokens, with KerasHub's key/value cache and without it
(the whole prefix recomputed at every step), timed after a warm-up call. Training
is timed again with XLA (`jit_compile=True`) unless `--no-xla`.
Saves benchmarks/results/lm_throughput.json; the device is the one TensorFlow
picks (a GPU when there is one).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def train_tokens_per_second(model, *, batch_size: int, seq_len: int, steps: int, warmup: int) -> float:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    vocab = int(model.output_shape[-1])
    x = rng.integers(0, vocab, size=(batch_size * 8, seq_len + 1)).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x[:, :-1], x[:, 1:])).batch(batch_size).repeat()
    model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size * seq_len / (time.perf_counter() - start)


def generate_tokens_per_second(model, *, new_tokens: int, cache: bool, repeats: int = 2) -> float:
    from kerazoo.lm.generate import generate

    prompt = "The \"for\" state"  # 16 bytes
    generate(model, prompt, max_new_tokens=new_tokens, cache=cache)  # warm-up: tracing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate(model, prompt, max_new_tokens=new_tokens, cache=cache)
        best = min(best, time.perf_counter() - start)
    return new_tokens / best


def render(saved: dict) -> str:
    """The README's table: training and generation tokens per second per model."""
    r = saved["result"]
    lines = ["| model | parameters | training tokens/s | with XLA | generation tokens/s, cache | without cache | "
             "cache speed-up |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in r["rows"]:
        xla = f"{row['train_xla']:,.0f}" if row.get("train_xla") else "-"
        lines.append(f"| `{row['model']}` | {row['parameters']:,} | {row['train']:,.0f} | {xla} | "
                     f"{row['cached']:,.1f} | {row['uncached']:,.1f} | {row['cached'] / row['uncached']:.1f}x |")
    lines += ["", f"Training: batches of {r['batch_size']} x {r['seq_len']} random token ids through `model.fit`, "
              f"{r['steps']} steps timed after {r['warmup']} warm-up steps. Generation: `kerazoo.generate`, greedy, "
              f"a 16-token prompt, {r['new_tokens']} new tokens, batch 1, the best of 2 calls after a warm-up. "
              + (f"On {r['device']}. " if "GPU" in r["device"] else "") + footer(saved)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gpt-nano,gpt", help="comma-separated registered names")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--new-tokens", type=int, default=100, help="tokens generated per call")
    parser.add_argument("--no-xla", action="store_true", help="skip the training run with XLA (jit_compile=True)")
    args = options(parser).parse_args(argv)

    import keras
    import tensorflow as tf

    from kerazoo import DataSpec, build

    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else f"{os.cpu_count()} CPU cores"
    spec = DataSpec((args.seq_len,), task="causal_lm", kind="tokens", vocab_size=256, name="bytes")
    timing = dict(batch_size=args.batch_size, seq_len=args.seq_len, steps=args.steps, warmup=args.warmup)
    rows = []
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        keras.utils.set_random_seed(0)
        model = build(name, spec, compile={"schedule": "constant", "jit_compile": False})
        row = {"model": name, "parameters": int(model.count_params()),
               "train": train_tokens_per_second(model, **timing),
               "cached": generate_tokens_per_second(model, new_tokens=args.new_tokens, cache=True),
               "uncached": generate_tokens_per_second(model, new_tokens=args.new_tokens, cache=False)}
        if not args.no_xla:
            keras.utils.set_random_seed(0)
            model = build(name, spec, compile={"schedule": "constant", "jit_compile": True})
            row["train_xla"] = train_tokens_per_second(model, **timing)
        rows.append(row)
        print(row, flush=True)
    result = {**{k: v for k, v in vars(args).items() if k not in ("note", "no_save", "no_xla")},
              "device": device, "rows": rows}
    publish("lm_throughput", result, args, render)


if __name__ == "__main__":
    main()

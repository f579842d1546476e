"""Language-model throughput: training tokens per second, and generation with and without the cache.

    python benchmarks/lm_throughput.py                         # gpt-nano and gpt, windows of 128 bytes
    python benchmarks/lm_throughput.py --models gpt-mini --batch-size 64 --no-xla

Training: steps of `batch-size` windows of `seq-len` random token ids through
`model.fit` (the zoo's compile defaults), after warm-up steps (tracing and
compilation excluded), the fastest of `--repeats` timed runs. Generation:
`kerazoo.generate` greedy, one prompt of 16 tokens, `--new-tokens` tokens, the
whole sampling loop compiled: with KerasHub's key/value cache under XLA, the
same without XLA, and without the cache (the whole window recomputed at every
step, XLA); then `--long-tokens` tokens, past the context (the window sliding,
the default `slide`), with the cache under XLA; each timed after a warm-up call
(tracing and compilation excluded; the warm-up's time is the compile column).
Training is timed again with XLA (`jit_compile=True`) unless `--no-xla`.
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


def best_seconds(call, repeats: int) -> float:
    """The shortest wall time of `repeats` calls of `call()`."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def train_tokens_per_second(model, *, batch_size: int, seq_len: int, steps: int, warmup: int,
                            repeats: int = 3) -> float:
    """Training tokens per second: the best of `repeats` runs of `steps` steps, after `warmup` steps."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    vocab = int(model.output_shape[-1])
    x = rng.integers(0, vocab, size=(batch_size * 8, seq_len + 1)).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x[:, :-1], x[:, 1:])).batch(batch_size).repeat()
    model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
    best = best_seconds(lambda: model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0), repeats)
    return steps * batch_size * seq_len / best


def generate_tokens_per_second(model, *, new_tokens: int, cache: bool, jit_compile: bool,
                               repeats: int = 2) -> tuple[float, float]:
    """Tokens per second (the best of `repeats` calls) and the first call's seconds (tracing, compiling)."""
    from kerazoo.lm.generate import generate

    prompt = "The \"for\" state"  # 16 bytes
    settings = dict(max_new_tokens=new_tokens, cache=cache, jit_compile=jit_compile)
    start = time.perf_counter()
    generate(model, prompt, **settings)  # warm-up: tracing and compiling
    first = time.perf_counter() - start
    return new_tokens / best_seconds(lambda: generate(model, prompt, **settings), repeats), first


def render(saved: dict) -> str:
    """The benchmark page's table: training and generation tokens per second per model."""
    r = saved["result"]
    lines = ["| model | parameters | training tokens/s | with XLA | generation tokens/s, cache + XLA | "
             "cache, no XLA | no cache | past the context | XLA compile |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in r["rows"]:
        xla = f"{row['train_xla']:,.0f}" if row.get("train_xla") else "-"
        lines.append(f"| `{row['model']}` | {row['parameters']:,} | {row['train']:,.0f} | {xla} | "
                     f"**{row['cached']:,.0f}** | {row['cached_no_xla']:,.0f} | {row['uncached']:,.0f} | "
                     f"{row['long']:,.0f} | {row['compile_seconds']:.1f} s |")
    repeats = r.get("repeats", 1)  # results saved before --repeats timed one run
    timed = f"the best of {repeats} runs of {r['steps']} steps" if repeats > 1 else f"{r['steps']} steps timed"
    lines += ["", f"Training: batches of {r['batch_size']} x {r['seq_len']} random token ids through `model.fit`, "
              f"{timed} after {r['warmup']} warm-up steps. Generation: `kerazoo.generate`, greedy, "
              f"a 16-token prompt, {r['new_tokens']} new tokens, batch 1, the whole sampling loop in one compiled "
              f"function, the best of 2 calls after a warm-up; past the context: {r['long_tokens']} new tokens, the "
              f"window sliding by an eighth of the context; XLA compile: the warm-up call with the cache and XLA. "
              + (f"On {r['device']}. " if "GPU" in r["device"] else "") + footer(saved)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gpt-nano,gpt", help="comma-separated registered names")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--repeats", type=int, default=3, help="timed training runs (the fastest counts)")
    parser.add_argument("--new-tokens", type=int, default=100, help="tokens generated per call")
    parser.add_argument("--long-tokens", type=int, default=2000, help="tokens generated past the context")
    parser.add_argument("--no-xla", action="store_true", help="skip the training run with XLA (jit_compile=True)")
    args = options(parser).parse_args(argv)

    import keras
    import tensorflow as tf

    from kerazoo import DataSpec, build

    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else f"{os.cpu_count()} CPU cores"
    spec = DataSpec((args.seq_len,), task="causal_lm", kind="tokens", vocab_size=256, name="bytes")
    timing = dict(batch_size=args.batch_size, seq_len=args.seq_len, steps=args.steps, warmup=args.warmup,
                  repeats=args.repeats)
    rows = []
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        keras.utils.set_random_seed(0)
        model = build(name, spec, compile={"schedule": "constant", "jit_compile": False})
        row = {"model": name, "parameters": int(model.count_params()),
               "train": train_tokens_per_second(model, **timing)}
        short = dict(new_tokens=args.new_tokens)
        row["cached"], row["compile_seconds"] = generate_tokens_per_second(model, cache=True, jit_compile=True, **short)
        row["cached_no_xla"] = generate_tokens_per_second(model, cache=True, jit_compile=False, **short)[0]
        row["uncached"] = generate_tokens_per_second(model, cache=False, jit_compile=True, **short)[0]
        row["long"] = generate_tokens_per_second(model, new_tokens=args.long_tokens, cache=True, jit_compile=True,
                                                 repeats=1)[0]
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

"""Language-model throughput: training tokens per second, and generation with and without the cache.

    python benchmarks/lm_throughput.py                         # gpt-nano and gpt, windows of 128 bytes
    python benchmarks/lm_throughput.py --models gpt-mini --batch-size 64 --jit-compile

Training: steps of `batch-size` windows of `seq-len` random token ids through
`model.fit` (the zoo's compile defaults), timed after warm-up steps (tracing and
compilation excluded). Generation: `kerazoo.generate` greedy, one prompt of 16
tokens, `--new-tokens` tokens, with KerasHub's key/value cache and without it
(the whole prefix recomputed at every step), timed after a warm-up call.
Prints a Markdown table; the device is the one TensorFlow picks (a GPU when
there is one).
"""

from __future__ import annotations

import argparse
import time


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gpt-nano,gpt", help="comma-separated registered names")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--new-tokens", type=int, default=100, help="tokens generated per call")
    parser.add_argument("--jit-compile", action="store_true", help="train with XLA")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from kerazoo import DataSpec, build

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({len(gpus)})" if gpus else "CPU"
    threads = tf.config.threading.get_intra_op_parallelism_threads() or "default"
    print(f"device: {device}; TensorFlow {tf.__version__}, Keras {keras.__version__}; intra-op threads {threads}")
    print(f"training: batches of {args.batch_size} x {args.seq_len} tokens; generation: 16-token prompt, "
          f"{args.new_tokens} new tokens, greedy, batch 1\n")
    print("| model | parameters | training tokens/s | generation tokens/s (cache) | "
          "generation tokens/s (no cache) | cache speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    spec = DataSpec((args.seq_len,), task="causal_lm", kind="tokens", vocab_size=256, name="bytes")
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        keras.utils.set_random_seed(0)
        model = build(name, spec, compile={"schedule": "constant", "jit_compile": bool(args.jit_compile)})
        train = train_tokens_per_second(model, batch_size=args.batch_size, seq_len=args.seq_len,
                                        steps=args.steps, warmup=args.warmup)
        cached = generate_tokens_per_second(model, new_tokens=args.new_tokens, cache=True)
        uncached = generate_tokens_per_second(model, new_tokens=args.new_tokens, cache=False)
        print(f"| `{name}` | {model.count_params():,} | {train:,.0f} | {cached:,.1f} | {uncached:,.1f} | "
              f"{cached / uncached:.1f}x |", flush=True)


if __name__ == "__main__":
    main()

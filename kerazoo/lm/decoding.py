"""The compiled sampling loop: next-token choice and a whole chunk of generation in one `tf.function`.

As KerasHub's `CausalLM.generate` does, the loop over new tokens is a
`tf.while_loop` inside one compiled function (XLA, `jit_compile=True`, unless
asked otherwise), over fixed-size buffers: a window of `W` token ids and, with the
cache, the key/value cache of those `W` positions. Python is back in hand only
between chunks (for streaming), not between tokens.

Sampling draws are stateless, keyed by `(seed, n)` for the n-th new token, so
the same seed repeats the same text, and the cached and uncached paths, which
compute the same logits, pick the same tokens.

When the window is full, a token is still drawn from all `W` tokens; then the
oldest `slide` leave to make room for it: the rest move to the front and the
cache is recomputed from them (learned absolute positions cannot be rolled), so
every token is predicted from between `W - slide + 1` and `W` tokens before it,
and with `slide=1` from exactly the last `W`.
"""

from __future__ import annotations

__all__ = ["pick_tokens", "decoder", "SAMPLERS"]

SAMPLERS = ("greedy", "top_k", "top_p")


def pick_tokens(logits, seed, *, sampler: str = "greedy", temperature=1.0, k: int = 10, p=0.9):
    """The next token of each row, from logits `(batch, vocab)`: greedy, top-k or top-p (nucleus).

    Draws are Gumbel-max over the kept logits divided by `temperature`, with
    stateless noise from `seed` (a pair of ints): the same logits and seed give
    the same tokens, compiled or not. Top-p keeps the likeliest tokens whose
    probabilities before them add up to less than `p` (always the likeliest),
    as KerasHub's `TopPSampler`.

    Args:
        logits: float `(batch, vocab)`.
        seed: int32 `(2,)`, the stateless seed.
        sampler: "greedy", "top_k" or "top_p". Defaults to "greedy".
        temperature: divides the logits before sampling. Defaults to 1.0.
        k: the tokens "top_k" samples among. Defaults to 10.
        p: the probability mass "top_p" samples from. Defaults to 0.9.

    Returns:
        int32 token ids `(batch,)`.

    Example:
    >>> import numpy as np
    >>> logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], "float32"))
    >>> int(pick_tokens(logits, [0, 1])[0])
    0
    >>> draws = [int(pick_tokens(logits, [0, n], sampler="top_k", k=2)[0]) for n in range(200)]
    >>> sorted(set(draws)), 0.5 < draws.count(0) / 200 < 0.75  # 0.5 / (0.5 + 0.3) = 0.625
    ([0, 1], True)
    >>> {int(pick_tokens(logits, [0, n], sampler="top_p", p=0.7)[0]) for n in range(100)}  # 0.5 + 0.3 >= 0.7
    {0, 1}
    """
    import tensorflow as tf

    logits = tf.cast(logits, "float32")
    if sampler == "greedy":
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    scaled = logits / tf.cast(temperature, "float32")
    width = k if sampler == "top_k" else int(logits.shape[-1])
    values, indices = tf.math.top_k(scaled, k=width)  # sorted, likeliest first
    if sampler == "top_p":
        probs = tf.nn.softmax(values, axis=-1)
        before = tf.cumsum(probs, axis=-1, exclusive=True)
        values = tf.where(before < tf.cast(p, "float32"), values, float("-inf"))
    uniform = tf.random.stateless_uniform(tf.shape(values), seed=tf.cast(seed, "int32"), minval=1e-20, maxval=1.0)
    choice = tf.argmax(values - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)
    return tf.gather(indices, choice, batch_dims=1)


_DECODERS: dict = {}


def decoder(model, *, cache: bool = True, sampler: str = "greedy", k: int = 10, slide: int = 1,
            chunk: int = 64, jit_compile: bool = True):
    """The compiled generation of up to `chunk` tokens, for one model and one setting (made once, then reused).

    The function returned takes the loop's state and returns it with the new
    tokens: `run(buffer, prompt, kv, index, seed, count, start, steps,
    temperature, p) -> (buffer, prompt, kv, index, seed, count, tokens)`: the window `(batch,
    W)` of token ids; which of them are prompt tokens to keep rather than draw
    (`(batch, W)` bool, for prompts of several lengths); the cache (zeros
    `empty_cache(model, batch, W)`, filled at the first step; any tensor
    without the cache); the position to fill next; the sampling seed `(2,)`;
    and the tokens drawn so far (0 at the start: the cache is filled then);
    then the first position drawn (the shortest prompt's length).
    `tokens` holds `(batch, chunk)` ids, of which the first `steps` are new.

    Args:
        model: a zoo `gpt`.
        cache: reuse keys and values of earlier positions. Defaults to True.
        sampler: "greedy", "top_k" or "top_p". Defaults to "greedy".
        k: for "top_k". Defaults to 10.
        slide: the tokens dropped from the front of a full window. Defaults to 1.
        chunk: the most tokens one call draws. Defaults to 64.
        jit_compile: compile with XLA. Defaults to True.
    """
    key = (id(model), cache, sampler, k, slide, chunk, jit_compile)
    if key not in _DECODERS or _DECODERS[key][0] is not model:
        if any(entry[0] is not model for entry in _DECODERS.values()):
            _DECODERS.clear()  # one model at a time: do not keep old models alive
        _DECODERS[key] = (model, _make_decoder(model, cache=cache, sampler=sampler, k=k, slide=slide,
                                               chunk=chunk, jit_compile=jit_compile))
    return _DECODERS[key][1]


def _make_decoder(model, *, cache, sampler, k, slide, chunk, jit_compile):
    import tensorflow as tf

    from kerazoo.lm.model import call_with_cache

    def shift(rows):
        width = tf.shape(rows)[1]
        return tf.concat([rows[:, slide:], tf.zeros_like(rows[:, :slide])], axis=1)[:, :width]

    def next_logits(buffer, kv, index, fresh):
        if not cache:
            return tf.gather(model(buffer, training=False), index - 1, axis=1), kv

        def prefill():  # the whole window through the blocks: the cache of every position
            return call_with_cache(model, buffer, tuple(tf.zeros_like(c) for c in kv), 0)[1]

        kv = tf.cond(fresh, prefill, lambda: kv)
        last = tf.slice(buffer, [0, index - 1], [-1, 1])
        logits, kv = call_with_cache(model, last, kv, index - 1)
        return logits[:, 0, :], kv

    def step(i, buffer, prompt, kv, index, seed, count, tokens, start, temperature, p):
        width = tf.shape(buffer)[1]
        # the cache is filled at the first token and after each slide (the window then starts before `start`)
        slid = tf.logical_and(tf.equal(index, width - slide + 1), index - count < start)
        refill = tf.logical_or(tf.equal(count, 0), slid)
        logits, kv = next_logits(buffer, kv, index, refill)  # from the window's tokens: at most `width`
        drawn = pick_tokens(logits, tf.stack([seed[0], seed[1] + count]), sampler=sampler, temperature=temperature,
                            k=k, p=p)
        full = tf.equal(index, width)  # no room for the new token: the oldest `slide` leave
        buffer, prompt = tf.cond(full, lambda: (shift(buffer), shift(prompt)), lambda: (buffer, prompt))
        index = tf.where(full, index - slide, index)
        at = tf.one_hot(index, width, on_value=True, off_value=False)[None, :]
        kept = tf.reduce_any(prompt & at, axis=1)
        chosen = tf.where(kept, tf.reduce_sum(tf.where(at, buffer, 0), axis=1), drawn)
        buffer = tf.where(at, chosen[:, None], buffer)
        tokens = tf.where(tf.one_hot(i, chunk, on_value=True, off_value=False)[None, :], chosen[:, None], tokens)
        return i + 1, buffer, prompt, kv, index + 1, seed, count + 1, tokens, start, temperature, p

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def run(buffer, prompt, kv, index, seed, count, start, steps, temperature, p):
        tokens = tf.zeros((tf.shape(buffer)[0], chunk), "int32")
        state = (tf.constant(0), buffer, prompt, kv, index, seed, count, tokens, start, temperature, p)
        out = tf.while_loop(lambda i, *rest: i < steps, step, state, maximum_iterations=chunk)
        return out[1:8]

    return run

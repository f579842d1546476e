"""Text generation: a prompt continued by a language model, any number of tokens, streamed if asked.

`generate` tokenizes the prompts, fills a window of token ids and runs the
compiled sampling loop of `kerazoo.lm.decoding` over it (the whole loop in one
`tf.function` with XLA, the key/value cache of KerasHub's
`CachedMultiHeadAttention` inside it) in chunks of `CHUNK` tokens, decoding
and streaming the text between chunks. Past the model's context the window
slides: the model reads the last `context - slide + 1` to `context` tokens.
`cache=False` runs the whole window through the model at every step instead;
the two give the same tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from kerazoo.compiling import check_jit_compile
from kerazoo.lm.decoding import SAMPLERS

__all__ = ["generate", "SAMPLERS", "CHUNK", "STREAM_CHUNK", "XLA_FROM", "check_sampler", "window_length", "resolve_model_and_tokenizer"]

#: The most tokens a compiled call draws before Python has the hand back.
CHUNK = 32
#: Tokens a compiled call draws between two pieces of streamed text.
STREAM_CHUNK = 8
#: `jit_compile="auto"` compiles with XLA from this many new tokens (all rows together): XLA
#: draws tokens about 7x faster but takes seconds longer to compile (benchmarks/lm_throughput.py).
XLA_FROM = 512


def check_sampler(sampler: str = "greedy", *, temperature: float = 1.0, k: int = 10, p: float = 0.9) -> None:
    """Refuse a sampler setting that cannot work, naming it: `"greedy"`, `"top_k"` (the `k` likeliest), `"top_p"`.

    Example:
    >>> check_sampler("top_k", k=5)
    >>> check_sampler("beam")
    Traceback (most recent call last):
    ...
    ValueError: sampler must be one of ['greedy', 'top_k', 'top_p'], got 'beam'
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if sampler == "top_k" and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive int, got {k!r}")
    if sampler == "top_p" and not (isinstance(p, (int, float)) and 0.0 < p <= 1.0):
        raise ValueError(f"p must be in (0, 1], got {p!r}")


def resolve_model_and_tokenizer(model_or_run: Any, tokenizer: Any = None):
    """The Keras model and the tokenizer for a run directory, a `Run` or a model.

    A run brings its own tokenizer (`tokenizer.json`); a bare model gets the
    byte tokenizer unless one is given.
    """
    from kerazoo.lm.tokenizers import Tokenizer, load_tokenizer
    from kerazoo.runs import Run, load_run

    run = model_or_run
    if isinstance(model_or_run, (str, os.PathLike)):
        run = load_run(model_or_run)
    if isinstance(run, Run):
        model = run.model
        if tokenizer is None:
            tokenizer = load_tokenizer(run.path)
    else:
        model = model_or_run
    if not hasattr(model, "predict"):
        raise TypeError(f"model_or_run must be a Keras model, a run directory or a Run, "
                        f"got {type(model_or_run).__name__}")
    if tokenizer is None:
        tokenizer = Tokenizer("byte")
    elif isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_tokenizer(tokenizer)
    vocab = int(model.output_shape[-1])
    if tokenizer.vocab_size != vocab:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} ids but the model predicts {vocab}; "
                         f"pass the tokenizer the model was trained with (its run directory holds it)")
    return model, tokenizer


class _Stream:
    """Emits the decoded text of row 0's new tokens as they come, holding back split characters."""

    def __init__(self, callback, tokenizer, start: int):
        self.callback, self.tokenizer, self.start = callback, tokenizer, start
        self.done, self.text = start, ""

    def upto(self, buffer, end: int, final: bool = False) -> None:
        if self.callback is None or end <= self.done:
            return
        self.done = end
        text = self.tokenizer.decode(np.asarray(buffer)[0, self.start:end])
        if not final:
            text = text.rstrip("\ufffd")  # an incomplete UTF-8 sequence: wait for its next bytes
        if final or (len(text) > len(self.text) and text.startswith(self.text)):
            if len(text) > len(self.text):
                self.callback(text[len(self.text):])
            self.text = text


def generate(
    model_or_run: Any,
    prompt: str | list,
    *,
    max_new_tokens: int = 200,
    sampler: str = "greedy",
    temperature: float = 1.0,
    k: int = 10,
    p: float = 0.9,
    seed: int | None = None,
    cache: bool = True,
    slide: int | None = None,
    jit_compile: bool | str = "auto",
    tokenizer: Any = None,
    stream: Callable[[str], None] | None = None,
) -> str | list:
    """Continue a prompt with a trained language model, for any number of tokens.

    The whole sampling loop runs compiled (`kerazoo.lm.decoding`), in chunks of
    `CHUNK` tokens (`STREAM_CHUNK` when streaming). The context is the window
    the model was trained on (`kerazoo.lm.model.context_length`); of a longer
    prompt the model reads the last `context` tokens. Beyond the context
    the window slides: when it is full, its oldest `slide` tokens leave and
    the cache is recomputed from the rest, so every new token is predicted
    from the last `context - slide + 1` to `context` tokens (with `slide=1`,
    exactly the last `context`; each token past the context then costs a pass
    over the whole window).

    Args:
        model_or_run: a run directory (its model and tokenizer), a `Run`, or
            a zoo `gpt` model (with `tokenizer`, else bytes).
        prompt: the text to continue, or a list of texts (one batch).
        max_new_tokens: tokens to generate, any number. Defaults to 200.
        sampler: "greedy" (the likeliest token), "top_k" (sample among the `k`
            likeliest) or "top_p" (sample among the likeliest whose
            probabilities add up to `p`). Defaults to "greedy".
        temperature: divides the logits before sampling. Defaults to 1.0.
        k: for "top_k". Defaults to 10.
        p: for "top_p". Defaults to 0.9.
        seed: the sampling seed: the same seed gives the same text. Defaults
            to None (fresh randomness).
        cache: reuse keys and values of earlier positions (KerasHub's
            `CachedMultiHeadAttention`). Defaults to True.
        slide: the tokens that leave a full window at once, in `[1, context)`.
            Defaults to None: an eighth of the context.
        jit_compile: compile the loop with XLA (`True`), without (`False`), or
            `"auto"`: with XLA from `XLA_FROM` new tokens, where its faster
            tokens repay its longer compilation. Defaults to "auto".
        tokenizer: a `Tokenizer` or a folder holding one; a run brings its own.
        stream: called with each new piece of text as soon as it is decoded
            (a single prompt only), e.g. `print(piece, end="", flush=True)`.

    Returns:
        The generated continuation (the prompt not included); a list for a
        list of prompts.

    Raises:
        ValueError: an empty prompt, a bad `max_new_tokens`, `slide`,
            `jit_compile` or sampler setting.

    Example:
    >>> from kerazoo import build
    >>> model = build("gpt-nano", num_layers=1, compile=False)
    >>> a = generate(model, "def ", max_new_tokens=8, sampler="top_k", seed=1)
    >>> a == generate(model, "def ", max_new_tokens=8, sampler="top_k", seed=1)
    True
    >>> page = generate(model, "def ", max_new_tokens=300, slide=64)  # past the 128-token context
    >>> generate(model, "x" * 300 + "def ", max_new_tokens=8) == generate(model, "x" * 124 + "def ", max_new_tokens=8)
    True
    """
    from kerazoo.lm.decoding import decoder
    from kerazoo.lm.model import context_length, empty_cache

    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    check_sampler(sampler, temperature=temperature, k=k, p=p)
    check_jit_compile(jit_compile)
    model, tokenizer = resolve_model_and_tokenizer(model_or_run, tokenizer)
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts or not all(isinstance(t, str) for t in prompts):
        raise TypeError("prompt must be a str or a non-empty list of str")
    if stream is not None and len(prompts) != 1:
        raise ValueError("stream goes with a single prompt")
    ids = [tokenizer.encode(t) for t in prompts]
    if any(len(i) == 0 for i in ids):
        raise ValueError("the prompt is empty; give at least one character to continue")
    context = context_length(model)
    ids = [i[-context:] for i in ids]  # the model reads at most the last `context` tokens of a prompt
    longest, shortest = max(len(i) for i in ids), min(len(i) for i in ids)
    total = longest + max_new_tokens
    width = window_length(total, context)
    slide = context // 8 if slide is None else slide
    if isinstance(slide, bool) or not isinstance(slide, int) or not 1 <= slide < context:
        raise ValueError(f"slide must be an int in [1, {context - 1}] (the context holds {context} tokens), "
                         f"got {slide!r}")
    batch = len(ids)
    buffer = np.zeros((batch, width), "int32")
    kept = np.zeros((batch, width), bool)
    for row, i in enumerate(ids):
        buffer[row, :len(i)] = i
        kept[row, :len(i)] = True
    kept[:, :shortest] = False  # positions before the first drawn one are never looked at again
    xla = batch * max_new_tokens >= XLA_FROM if jit_compile == "auto" else jit_compile
    run = decoder(model, cache=cache, sampler=sampler, k=k, slide=slide, chunk=CHUNK, jit_compile=xla)
    kv = empty_cache(model, batch, width) if cache else np.zeros((1,), "float32")
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed) % 2**31
    state = (buffer, kept, kv, np.int32(shortest), np.array([seed, 0], "int32"), np.int32(0))
    sequence = [buffer[:, :shortest]]
    streamer = _Stream(stream, tokenizer, len(ids[0]))
    done = shortest
    while done < total:
        steps = min(CHUNK if stream is None else STREAM_CHUNK, total - done)
        *state, tokens = run(*state, np.int32(shortest), np.int32(steps), np.float32(temperature), np.float32(p))
        sequence.append(np.asarray(tokens)[:, :steps])
        done += steps
        streamer.upto(np.concatenate(sequence, axis=1), done, final=done == total)
    out = np.concatenate(sequence, axis=1)
    texts = [tokenizer.decode(out[row, len(i):len(i) + max_new_tokens]) for row, i in enumerate(ids)]
    return texts[0] if isinstance(prompt, str) else texts


def window_length(total: int, context: int) -> int:
    """The tokens a generation's window holds: the context, or fewer when the text fits in fewer.

    A power of two from 64 up (so a handful of shapes are compiled), never
    beyond the context.

    Example:
    >>> window_length(116, 512), window_length(2016, 512), window_length(10, 16)
    (128, 512, 16)
    """
    return min(context, max(64, 1 << (total - 1).bit_length()))

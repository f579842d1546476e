"""Text generation with KerasHub's samplers and a key/value cache.

`generate` runs a KerasHub sampler (`GreedySampler`, `TopKSampler`, `TopPSampler`)
over a token buffer, with a `next` function that feeds one token at a time
through the model's cached path (`call_with_cache`, compiled once with
`tf.function`): attention reads earlier keys and values from the cache instead
of recomputing the prefix. `cache=False` runs the whole buffer through the model
at every step instead; greedy decoding gives the same tokens either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["generate", "SAMPLERS", "make_sampler", "resolve_model_and_tokenizer"]

SAMPLERS = ("greedy", "top_k", "top_p")


def make_sampler(sampler: str = "greedy", *, temperature: float = 1.0, k: int = 10, p: float = 0.9,
                 seed: int | None = None):
    """A KerasHub sampler by name: `"greedy"`, `"top_k"` (the `k` likeliest) or `"top_p"` (nucleus `p`).

    Example:
    >>> type(make_sampler("top_k", k=5, seed=0)).__name__
    'TopKSampler'
    >>> make_sampler("beam")
    Traceback (most recent call last):
    ...
    ValueError: sampler must be one of ['greedy', 'top_k', 'top_p'], got 'beam'
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    import keras_hub

    if sampler == "greedy":
        return keras_hub.samplers.GreedySampler(temperature=temperature)
    if sampler == "top_k":
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        return keras_hub.samplers.TopKSampler(k=k, seed=seed, temperature=temperature)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    return keras_hub.samplers.TopPSampler(p=p, seed=seed, temperature=temperature)


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


_STEPS: dict = {}


def _step_functions(model):
    """The compiled cached step and the compiled full forward pass of a model (made once per model)."""
    key = id(model)
    if key not in _STEPS or _STEPS[key][0] is not model:
        import tensorflow as tf

        from kerazoo.lm.model import call_with_cache

        @tf.function(reduce_retracing=True)
        def cached(tokens, cache, index):
            return call_with_cache(model, tokens, cache, index)

        @tf.function(reduce_retracing=True)
        def full(tokens):
            return model(tokens, training=False)

        _STEPS.clear()  # one model at a time: do not keep old models alive
        _STEPS[key] = (model, cached, full)
    return _STEPS[key][1:]


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
    tokenizer: Any = None,
    stream: Callable[[str], None] | None = None,
) -> str | list:
    """Continue a prompt with a trained language model.

    Args:
        model_or_run: a run directory (its model and tokenizer), a `Run`, or
            a zoo `gpt` model (with `tokenizer`, else bytes).
        prompt: the text to continue, or a list of texts (one batch).
        max_new_tokens: tokens to generate. Defaults to 200.
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
        tokenizer: a `Tokenizer` or a folder holding one; a run brings its own.
        stream: called with each new piece of text as soon as it is decoded
            (a single prompt only), e.g. `print(piece, end="", flush=True)`.

    Returns:
        The generated continuation (the prompt not included); a list for a
        list of prompts.

    Raises:
        ValueError: an empty prompt, a prompt longer than the model's context,
            more new tokens than the context leaves, or a bad sampler setting.

    Example:
    >>> from kerazoo import build
    >>> model = build("gpt-nano", num_layers=1, compile=False)
    >>> a = generate(model, "def ", max_new_tokens=8, sampler="top_k", seed=1)
    >>> a == generate(model, "def ", max_new_tokens=8, sampler="top_k", seed=1)
    True
    >>> generate(model, "x" * 300, max_new_tokens=1)
    Traceback (most recent call last):
    ...
    ValueError: the prompt is 300 tokens, longer than the model's context of 256 tokens; shorten it
    """
    from keras import ops

    from kerazoo.lm.model import context_length, empty_cache

    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
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
    longest, shortest = max(len(i) for i in ids), min(len(i) for i in ids)
    if longest > context:
        raise ValueError(f"the prompt is {longest} tokens, longer than the model's context of {context} "
                         f"tokens; shorten it")
    if longest + max_new_tokens > context:
        raise ValueError(f"the prompt ({longest} tokens) and max_new_tokens={max_new_tokens} exceed the model's "
                         f"context of {context} tokens; ask for at most {context - longest} new tokens")
    picker = make_sampler(sampler, temperature=temperature, k=k, p=p, seed=seed)
    total = longest + max_new_tokens
    buffer = np.zeros((len(ids), total), "int32")
    mask = np.zeros((len(ids), total), bool)
    for row, i in enumerate(ids):
        buffer[row, :len(i)] = i
        mask[row, :len(i)] = True
    cached_step, full = _step_functions(model)
    streamer = _Stream(stream, tokenizer, len(ids[0]))
    batch = len(ids)

    if cache:
        kv = empty_cache(model, batch, total)
        _, kv = cached_step(ops.convert_to_tensor(buffer), kv, ops.convert_to_tensor(0, "int32"))

        def next_logits(tokens, kv, index):
            streamer.upto(tokens, int(index))
            last = ops.slice(tokens, [0, index - 1], [batch, 1])
            logits, kv = cached_step(last, kv, index - 1)
            return logits[:, 0, :], None, kv
    else:
        kv = None

        def next_logits(tokens, kv, index):
            streamer.upto(tokens, int(index))
            logits = full(tokens)
            return ops.take(logits, index - 1, axis=1), None, kv

    out = picker(next_logits, ops.convert_to_tensor(buffer), cache=kv, index=shortest,
                 mask=ops.convert_to_tensor(mask), model=model)
    out = np.asarray(out)
    streamer.upto(out, total, final=True)
    texts = [tokenizer.decode(out[row, len(i):len(i) + max_new_tokens]) for row, i in enumerate(ids)]
    return texts[0] if isinstance(prompt, str) else texts

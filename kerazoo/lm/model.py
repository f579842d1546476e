"""`gpt`: a decoder-only causal transformer built from KerasHub's layers.

Token ids go through a `ReversibleEmbedding` (its transpose is the language-model
head: tied weights) plus a learned `PositionEmbedding`, then `num_layers` pre-norm
`TransformerDecoder` blocks (causal self-attention with KerasHub's
`CachedMultiHeadAttention`, and a GELU feed-forward), a final LayerNorm and the
head. The model outputs next-token logits `(batch, steps, vocab)` in float32:
the one family that serves logits rather than probabilities (a softmax over
every position of every window would only be thrown away by a sampler).

Named sizes fix the shape: `gpt-nano` trains on 2 CPU cores in minutes, `gpt`
(the family's defaults) is the default run on the bundled text (its minutes and
score on 2 CPU cores: docs/benchmarks.md), `gpt-mini` wants a longer CPU
budget, and `gpt-small` is sized for one GPU.
"""

from __future__ import annotations

from kerazoo.models.transformer import check_heads
from kerazoo.registry import register
from kerazoo.space import Choice, Float, Int
from kerazoo.spec import DataSpec

__all__ = ["gpt", "gpt_layers", "call_with_cache", "empty_cache", "context_length", "SIZES"]

DEFAULT_SPEC = DataSpec((128,), task="causal_lm", kind="tokens", vocab_size=256, name="bytes")
_TAGS = ("text", "language-model", "attention", "keras-hub")
_SPACE = {"dropout": Float(0.0, 0.3, step=0.05), "mlp_ratio": Choice([2.0, 4.0])}

#: What `kerazoo train gpt` uses unless told otherwise: on the bundled text
#: (`text:pydoc`, 390 steps of 8 windows an epoch) 12 epochs (its minutes on
#: 2 CPU cores: docs/benchmarks.md). A smaller text trains as many
#: steps, stopped early on its validation block: on 60,000 characters of it,
#: 12 epochs (612 steps) scored 3.94 bits per character, this floor 3.02
#: (stopped at epoch 40; benchmarks/results/lm_small_text.json).
GPT_TRAINING = {"min_epochs": 12, "min_steps": 4680, "learning_rate": 2e-3, "weight_decay": 0.1}

#: The named sizes: fixed arguments of the `gpt` builder (each with the usual
#: 4x feed-forward; the `gpt` itself trades it for depth, measured on the bundled text).
SIZES = {
    "gpt-nano": {"num_layers": 2, "dim": 64, "num_heads": 4, "mlp_ratio": 4.0, "max_length": 256},
    "gpt-mini": {"num_layers": 6, "dim": 256, "num_heads": 8, "mlp_ratio": 4.0, "max_length": 512},
    "gpt-small": {"num_layers": 8, "dim": 512, "num_heads": 8, "mlp_ratio": 4.0, "max_length": 1024},
}


@register("gpt-small", task="causal_lm", inputs="tokens", tags=(*_TAGS, "gpu"), space=_SPACE,
          default_spec=DataSpec((256,), task="causal_lm", kind="tokens", vocab_size=256, name="bytes"),
          defaults=SIZES["gpt-small"])
@register("gpt-mini", task="causal_lm", inputs="tokens", tags=_TAGS, space=_SPACE,
          default_spec=DEFAULT_SPEC, defaults=SIZES["gpt-mini"])
@register("gpt-nano", task="causal_lm", inputs="tokens", tags=_TAGS, space=_SPACE,
          default_spec=DEFAULT_SPEC, defaults=SIZES["gpt-nano"])
@register("gpt", task="causal_lm", inputs="tokens", tags=_TAGS, default_spec=DEFAULT_SPEC,
          training=GPT_TRAINING,
          space={"num_layers": Int(1, 8), "dim": Choice([64, 128, 192, 256]), "num_heads": Choice([2, 4, 8]),
                 **_SPACE})
def gpt(
    spec,
    *,
    num_layers: int = 6,
    dim: int = 128,
    num_heads: int = 4,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
    max_length: int = 512,
    tie_embeddings: bool = True,
):
    """A GPT: token and position embedding, pre-norm causal blocks, a language-model head.

    Built from KerasHub's `ReversibleEmbedding`, `PositionEmbedding` and
    `TransformerDecoder` (whose self-attention is a `CachedMultiHeadAttention`,
    so generation reuses keys and values). Takes token ids `(batch, steps)` of
    any length up to `max_length` and returns next-token logits `(batch, steps,
    vocab_size)`, float32. Default input: windows of 128 UTF-8 bytes (256 ids).
    `gpt-nano`, `gpt-mini` and `gpt-small` fix the size. The default shape, 6
    blocks x 128 with a 2x feed-forward, learns more in the default run's
    minutes on the bundled text than 4 blocks with the usual 4x
    (`benchmarks/lm_sweep.py`).

    Args:
        num_layers: decoder blocks. Defaults to 6.
        dim: the width of every token. Defaults to 128.
        num_heads: attention heads; must divide `dim`. Defaults to 4.
        mlp_ratio: the feed-forward width as a multiple of `dim`. Defaults to 2.0
            (the named sizes: 4.0).
        dropout: dropout on the embeddings and inside the blocks. Defaults to 0.
        max_length: the positions the model holds: the longest window it can
            train on and read (generation reads the windows it was built for,
            `context_length`). Defaults to 512.
        tie_embeddings: the head is the transposed token embedding. Defaults to True.

    Raises:
        ValueError: data that is not causal-LM tokens, `dim` not divisible by
            `num_heads`, or windows longer than `max_length`.

    Example:
    >>> from kerazoo import build
    >>> model = build("gpt-nano")
    >>> model.input_shape, model.output_shape
    ((None, None), (None, None, 256))
    >>> build("gpt-nano", input_shape=(512,))
    Traceback (most recent call last):
    ...
    ValueError: gpt: windows of 512 tokens are beyond the model's context (max_length=256); use a shorter seq_len or a larger max_length
    """
    import keras
    import keras_hub

    check_heads("gpt", dim, num_heads)
    if spec.task != "causal_lm" or spec.kind != "tokens" or spec.rank != 1:
        raise ValueError(f"gpt: takes causal_lm token windows (steps,), got {spec.kind} {spec.input_shape} "
                         f"for {spec.task!r}; load text with load_data('text:...')")
    seq_len = spec.input_shape[0]
    if seq_len is not None and seq_len > max_length:
        raise ValueError(f"gpt: windows of {seq_len} tokens are beyond the model's context "
                         f"(max_length={max_length}); use a shorter seq_len or a larger max_length")
    init = keras.initializers.RandomNormal(stddev=0.02)
    inputs = keras.Input((None,), dtype="int32", name="inputs")
    embedding = keras_hub.layers.ReversibleEmbedding(spec.vocab_size, dim, tie_weights=tie_embeddings,
                                                     embeddings_initializer=init, name="token_embedding")
    x = embedding(inputs)
    positions = keras_hub.layers.PositionEmbedding(max_length, initializer=init, name="position_embedding")(x)
    x = keras.layers.Add(name="embeddings_add")([x, positions])
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerDecoder(
            intermediate_dim=int(dim * mlp_ratio), num_heads=num_heads, dropout=dropout, activation="gelu",
            layer_norm_epsilon=1e-5, kernel_initializer=init, normalize_first=True, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = embedding(x, reverse=True)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(inputs, logits, name="gpt")


def gpt_layers(model) -> dict:
    """The model's parts by role: embedding, positions, dropout, blocks, norm, output.

    Raises:
        ValueError: a model that is not a zoo `gpt`.
    """
    try:
        blocks = sorted((layer for layer in model.layers if layer.name.startswith("block_")),
                        key=lambda layer: int(layer.name.split("_")[1]))
        return {"embedding": model.get_layer("token_embedding"),
                "positions": model.get_layer("position_embedding"),
                "dropout": model.get_layer("embeddings_dropout"), "blocks": blocks,
                "norm": model.get_layer("final_norm"), "output": model.get_layer("logits")}
    except ValueError:
        raise ValueError(f"model {model.name!r} is not a zoo gpt (no token_embedding, block_i, final_norm "
                         f"and logits layers); build one with build('gpt', data.spec)") from None


def context_length(model) -> int:
    """The most tokens the model reads at once: the windows it was built for, within its positions.

    A `gpt` holds `max_length` learned positions, but training windows of
    `seq_len` tokens train only the first `seq_len` of them; the rest keep
    their initial values, and a model reading past them writes noise. So the
    context is the window of the data the model was built for (recorded with
    it, and in its run), or all its positions when that length is not fixed.

    Example:
    >>> from kerazoo import DataSpec, build
    >>> context_length(build("gpt-nano", compile=False))  # 256 positions, built for windows of 128
    128
    >>> context_length(build("gpt-nano", DataSpec((None,), task="causal_lm", kind="tokens", vocab_size=256)))
    256
    """
    from kerazoo.modelinfo import model_info

    positions = int(gpt_layers(model)["positions"].sequence_length)
    window = ((model_info(model).get("spec") or {}).get("input_shape") or [None])[0]
    return min(positions, int(window)) if window else positions


def empty_cache(model, batch_size: int, length: int) -> tuple:
    """A zero key/value cache for `call_with_cache`: one `(batch, 2, length, heads, head_dim)` tensor per block.

    One tensor a block rather than one stacked tensor: a compiled loop then
    updates each in place instead of copying the whole cache at every token.

    Example:
    >>> from kerazoo import build
    >>> [tuple(c.shape) for c in empty_cache(build("gpt-nano", compile=False), 1, 16)]
    [(1, 2, 16, 4, 16), (1, 2, 16, 4, 16)]
    """
    from keras import ops

    from kerazoo.compat import self_attention

    blocks = gpt_layers(model)["blocks"]
    attention = self_attention(blocks[0])
    shape = (batch_size, 2, length, attention.num_heads, attention.key_dim)
    return tuple(ops.zeros(shape, dtype=blocks[0].compute_dtype) for _ in blocks)


def call_with_cache(model, token_ids, cache, index):
    """Run tokens at positions `index...` through the model, reading and updating the key/value cache.

    The same computation as `model(token_ids)` restricted to the new positions:
    attention reads the keys and values of earlier positions from `cache`
    (KerasHub's `TransformerDecoder(self_attention_cache=...)`), so each new
    token costs one position's work instead of the whole prefix's.

    Args:
        model: a zoo `gpt`.
        token_ids: int tokens `(batch, n)`, at positions `index ... index + n - 1`.
        cache: the cache from `empty_cache` (or the previous call): a tensor a block.
        index: the position of the first token.

    Returns:
        `(logits, cache)`: logits `(batch, n, vocab)` and the updated cache.

    Example:
    >>> import numpy as np
    >>> from kerazoo import build
    >>> model = build("gpt-nano", compile=False)
    >>> tokens = np.array([[72, 105, 33]], "int32")
    >>> first, cache = call_with_cache(model, tokens[:, :2], empty_cache(model, 1, 8), 0)
    >>> last, cache = call_with_cache(model, tokens[:, 2:], cache, 2)
    >>> bool(np.allclose(last[:, 0], model(tokens)[:, 2], atol=1e-5))
    True
    """
    from keras import ops

    parts = gpt_layers(model)
    x = parts["embedding"](token_ids)
    x = x + parts["positions"](x, start_index=index)
    caches = []
    for block, layer_cache in zip(parts["blocks"], cache):
        x, layer_cache = block(x, self_attention_cache=layer_cache, self_attention_cache_update_index=index)
        caches.append(layer_cache)
    x = parts["norm"](x)
    logits = ops.cast(parts["embedding"](x, reverse=True), "float32")
    return logits, tuple(caches)

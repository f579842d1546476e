"""Text for language models: windows of tokens and the next-token targets, held out in contiguous blocks.

Sources: `text:pydoc`, the text of Python's own documentation that ships with
every Python (`pydoc_data.topics`: 79 topics, about 465,000 characters, no
network); `text:PATH`, a UTF-8 `.txt` file or a folder of them (read in sorted
order); `tfds:tiny_shakespeare` (or any TensorFlow Datasets set with one text
feature) with `task="causal_lm"`, when a network or a prepared data dir is there.

The text is cut by characters into three contiguous blocks: training first, then
validation, and the test block last (`test_split` of the whole, `validation_split`
of the rest), so no held-out character is ever a training target. Each block is
tokenized on its own and cut into windows of `seq_len` tokens whose targets are
the same tokens shifted by one; a held-out window reads the one token before it,
so every token of the block is a target. Training windows are drawn at fresh
random offsets every epoch (`random_windows`, seeded), so no two epochs cut the
text alike; `arrays["train"]` keeps fixed cuts for what wants fixed windows
(calibration, checks). A subword tokenizer is trained on the training block only.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from kerazoo.data.arrays import Data, make_pipeline
from kerazoo.spec import DataSpec

__all__ = ["load_text", "read_text", "pydoc_corpus", "split_text", "text_metrics", "random_windows",
           "DEFAULT_SEQ_LEN", "DEFAULT_BATCH_SIZE"]

DEFAULT_SEQ_LEN = 128
#: Windows a training step: 8, not the zoo's 32, because on the bundled text more steps for the
#: same characters learn more per minute (`benchmarks/lm_sweep.py`, docs/benchmarks.md).
DEFAULT_BATCH_SIZE = 8


def pydoc_corpus(topics: Any = None, *, exclude: Any = ()) -> str:
    """The bundled corpus: Python's documentation topics (`pydoc_data.topics`), in sorted order.

    Args:
        topics: topic names to keep. Defaults to all 79.
        exclude: topic names to leave out.

    Returns:
        The topics' text, concatenated (each ends with a newline).

    Raises:
        ValueError: an unknown topic name.

    Example:
    >>> text = pydoc_corpus()
    >>> 400_000 < len(text) < 600_000, pydoc_corpus(["pass"]).splitlines()[0]
    (True, 'The "pass" statement')
    """
    from pydoc_data.topics import topics as all_topics

    names = sorted(all_topics) if topics is None else [topics] if isinstance(topics, str) else list(topics)
    excluded = {exclude} if isinstance(exclude, str) else set(exclude)
    unknown = sorted((set(names) | excluded) - set(all_topics))
    if unknown:
        raise ValueError(f"unknown pydoc topic(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(all_topics))}")
    return "".join(all_topics[n] for n in names if n not in excluded)


def read_text(source: str) -> tuple[str, str]:
    """The text of a source and its name: `text:pydoc`, `text:PATH` or `tfds:NAME`.

    Example:
    >>> text, name = read_text("text:pydoc")
    >>> name, len(text) > 400_000
    ('pydoc', True)
    >>> read_text("text:no/such.txt")
    Traceback (most recent call last):
    ...
    FileNotFoundError: text:no/such.txt: no such file or folder
    """
    if source.startswith("tfds:"):
        return _tfds_text(source[5:]), source[5:]
    path = source[5:] if source.startswith("text:") else source
    if path == "pydoc":
        return pydoc_corpus(), "pydoc"
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.txt") if f.is_file())
        if not files:
            raise ValueError(f"{source}: the folder holds no .txt files")
        return "\n".join(_read_file(f, source) for f in files), p.resolve().name
    if p.is_file():
        return _read_file(p, source), p.stem
    raise FileNotFoundError(f"{source}: no such file or folder")


def _read_file(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None


def _tfds_text(name: str) -> str:
    """All splits of a TensorFlow Datasets text set, concatenated in split order."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:  # pragma: no cover
        raise RuntimeError("tfds: tensorflow-datasets is not installed") from None
    try:
        splits = tfds.load(name, split=None)
    except Exception as err:
        raise RuntimeError(f"tfds:{name} could not be loaded ({str(err).splitlines()[0][:200]}); it needs "
                           f"network access or a prepared TFDS_DATA_DIR") from None
    order = [s for s in ("train", "validation", "test") if s in splits] + \
        sorted(s for s in splits if s not in ("train", "validation", "test"))
    parts = []
    for split in order:
        for example in tfds.as_numpy(splits[split]):
            texts = [v for v in example.values() if isinstance(v, bytes)] if isinstance(example, dict) else []
            if not texts:
                raise ValueError(f"tfds:{name}: examples hold no text feature; a language model needs text")
            parts.append(texts[0].decode("utf-8", errors="replace"))
    return "\n".join(parts)


def split_text(text: str, validation_split: float, test_split: float) -> dict[str, tuple[int, int]]:
    """Character bounds of the contiguous blocks: training, then validation, then test (last).

    Example:
    >>> split_text("x" * 1000, 0.05, 0.1)
    {'train': (0, 855), 'validation': (855, 900), 'test': (900, 1000)}
    """
    n = len(text)
    test_start = n - int(round(n * test_split))
    val_start = test_start - int(round(test_start * validation_split))
    return {"train": (0, val_start), "validation": (val_start, test_start), "test": (test_start, n)}


def _windows(tokens: np.ndarray, start: int, end: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole windows whose targets are tokens[start:end]; inputs are shifted one back."""
    first = start if start > 0 else 1  # the very first token of a text has nothing before it
    count = (end - first) // seq_len
    idx = first + np.arange(count)[:, None] * seq_len + np.arange(seq_len)[None, :]
    return tokens[idx - 1].astype("int32"), tokens[idx].astype("int32")


def random_windows(tokens: np.ndarray, start: int, end: int, seq_len: int, *, count: int, batch_size: int,
                   seed: int = 0):
    """Training windows at fresh random offsets every epoch: `count` a pass, batched, as a `tf.data.Dataset`.

    Each window's first target is drawn uniformly from the block's positions
    (`tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`), so
    every iteration of the dataset (every Keras epoch) cuts the text afresh,
    and the same seed gives the same cuts epoch after epoch, run after run. A
    window's inputs are its targets shifted one token back, as in `load_text`.

    Example:
    >>> tokens = np.arange(1000)
    >>> ds = random_windows(tokens, 0, 1000, 8, count=4, batch_size=4, seed=0)
    >>> (x, y), = ds.take(1).as_numpy_iterator()
    >>> bool((y - x == 1).all()), x.shape
    (True, (4, 8))
    >>> (again, _), = random_windows(tokens, 0, 1000, 8, count=4, batch_size=4, seed=0).as_numpy_iterator()
    >>> (second, _), = ds.as_numpy_iterator()  # the next epoch: other cuts
    >>> bool((again == x).all()), bool((second == x).all())
    (True, False)
    """
    import tensorflow as tf

    first = max(start, 1)  # the very first token of a text has nothing before it
    choices = end - seq_len - first + 1
    if choices < 1:
        raise ValueError(f"the block holds {end - start} tokens, fewer than one window of seq_len={seq_len}")
    stream = tf.constant(np.asarray(tokens, "int32"))
    steps = tf.range(seq_len, dtype="int64")

    def cut(draws):
        starts = first + tf.math.floormod(draws, choices)
        idx = starts[:, None] + steps[None, :]
        return tf.gather(stream, idx - 1), tf.gather(stream, idx)

    ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(count)
    return ds.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _resolve_tokenizer(tokenizer: Any, train_text: str):
    from kerazoo.lm.tokenizers import Tokenizer, load_tokenizer, train_tokenizer

    if tokenizer is None:
        tokenizer = "byte"
    if isinstance(tokenizer, Tokenizer):
        recorded = tokenizer.kind if tokenizer.kind == "byte" else f"sentencepiece:{tokenizer.vocab_size}"
        return tokenizer, recorded
    if isinstance(tokenizer, (str, os.PathLike)) and (Path(tokenizer).is_dir() or Path(tokenizer).is_file()):
        return load_tokenizer(tokenizer), os.fspath(tokenizer)
    if not isinstance(tokenizer, str):
        raise TypeError(f"tokenizer must be a name, a folder holding tokenizer.json or a Tokenizer, "
                        f"got {type(tokenizer).__name__}")
    return train_tokenizer(train_text, tokenizer), tokenizer


def load_text(
    source: str,
    *,
    seq_len: int | None = None,
    tokenizer: Any = None,
    validation_split: float = 0.05,
    test_split: float = 0.1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    task: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    image_size: Any = None,
    options: dict | None = None,
):
    """Load text as windows of tokens and next-token targets: what `load_data("text:...")` returns.

    Args:
        source: `"text:pydoc"`, `"text:PATH"` (a .txt file or a folder of them)
            or `"tfds:NAME"`.
        seq_len: tokens in a window. Defaults to 128.
        tokenizer: `"byte"` (UTF-8 bytes, the default), `"sentencepiece[:SIZE]"`
            (trained on the training block; 2,000 pieces), a folder holding a
            `tokenizer.json` (a run directory) or a `Tokenizer`.
        validation_split: the share of what precedes the test block held out
            for validation. Defaults to 0.05.
        test_split: the share of the text held out at its end. Defaults to 0.1.
        batch_size: windows in a batch. Defaults to 8.
        seed: the seed of the training windows' offsets, drawn afresh every
            epoch. Defaults to 0.
        task: `"causal_lm"` (the only one for text), or None.
        kind: `"tokens"`, or None.
        name: the data's name in logs and specs. Defaults to the source's.
        image_size: must be None (it applies to images).
        options: the settings to record for the run's config.

    Returns:
        A `kerazoo.data.Data` with `arrays` of windows, the `spec` (kind
        "tokens", task "causal_lm", `vocab_size`, `bytes_per_token`,
        `chars_per_token`, `chars_per_id`) and the
        `tokenizer`.

    Raises:
        ValueError: empty text, a block too short for one window, or settings
            that do not apply to text.

    Example:
    >>> data = load_text("text:pydoc", seq_len=64)
    >>> data.spec.summary(), data.spec.input_shape
    ('pydoc: tokens (64,) -> causal_lm, 256 ids', (64,))
    >>> x, y = data.arrays["test"]
    >>> bool((x[:, 1:] == y[:, :-1]).all())
    True
    """
    if task not in (None, "causal_lm"):
        raise ValueError(f"{source}: text trains language models: task must be 'causal_lm', got {task!r}")
    if kind not in (None, "tokens"):
        raise ValueError(f"{source}: text becomes token ids: kind must be 'tokens', got {kind!r}")
    if image_size is not None:
        raise ValueError(f"image_size resizes images; it does not apply to text ({source!r})")
    seq_len = DEFAULT_SEQ_LEN if seq_len is None else seq_len
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    text, default_name = read_text(source)
    name = name or default_name
    if not text.strip():
        raise ValueError(f"{source}: the text is empty; a language model needs text to learn from")
    bounds = split_text(text, validation_split, test_split)
    tok, recorded = _resolve_tokenizer(tokenizer, text[slice(*bounds["train"])])
    pieces, token_bounds, offset = [], {}, 0
    for split in ("train", "validation", "test"):
        ids = tok.encode(text[slice(*bounds[split])])
        pieces.append(ids)
        token_bounds[split] = (offset, offset + len(ids))
        offset += len(ids)
    tokens = np.concatenate(pieces)
    arrays = {}
    for split in ("train", "validation", "test"):
        start, end = token_bounds[split]
        if split != "train" and end == start:
            continue  # no block held out
        x, y = _windows(tokens, start, end, seq_len)
        if not len(x):
            setting = {"train": "validation_split and test_split", "validation": "validation_split",
                       "test": "test_split"}[split]
            raise ValueError(f"{name} ({split}): the block holds {end - start} tokens, fewer than one window of "
                             f"seq_len={seq_len}; lower seq_len, change {setting}, or use more text")
        arrays[split] = (x, y)
    train_chars = bounds["train"][1]
    train_tokens = token_bounds["train"][1]
    spec = DataSpec((seq_len,), task="causal_lm", kind="tokens", vocab_size=tok.vocab_size, name=name,
                    bytes_per_token=round(len(text[:train_chars].encode("utf-8")) / max(1, train_tokens), 6),
                    chars_per_token=round(train_chars / max(1, train_tokens), 6),
                    chars_per_id=tuple(int(c) for c in tok.chars_per_id()))
    options = {**(options or {}), "seq_len": seq_len, "tokenizer": recorded}
    pipes = {split: make_pipeline(x, y, batch_size=batch_size, shuffle=False, dtype="int32")
             for split, (x, y) in arrays.items() if split != "train"}

    def train_pipeline(batch_size: int = batch_size, seed: int = seed):
        return random_windows(tokens, *token_bounds["train"], seq_len, count=len(arrays["train"][0]),
                              batch_size=batch_size, seed=seed)

    data = Data(train=train_pipeline(), validation=pipes.get("validation"), test=pipes.get("test"), spec=spec,
                source=source, options=options, arrays=arrays, tokenizer=tok, train_pipeline=train_pipeline,
                text={"tokens": tokens, "bounds": token_bounds, "chars": bounds, "text": text})
    return data


def text_metrics(model, data, split: str = "test", *, stride: int | None = None, batch_size: int = 64) -> dict:
    """Exact held-out figures over every token of a block: bits per character, byte and token.

    Unlike the Keras metrics (whole windows only), every token of the block is
    scored once. With `stride` below the window length, windows overlap and
    each token is scored with at least `seq_len - stride` tokens of context.

    Args:
        model: a causal language model (logits out).
        data: `load_text()`'s (or `load_data("text:...")`'s) result.
        split: "validation" or "test". Defaults to "test".
        stride: tokens between windows. Defaults to the window length.
        batch_size: windows a forward pass. Defaults to 64.

    Returns:
        `{"bits_per_char", "bits_per_byte", "bits_per_token", "perplexity",
        "chars", "bytes", "tokens"}`.

    A model whose next-byte odds depend on the byte before (a bigram table) is
    scored exactly, every byte of the test block once, whatever the stride:

    Example:
    >>> import numpy as np
    >>> from kerazoo import load_data
    >>> data = load_data("text:pydoc", seq_len=32)
    >>> table = np.log(np.random.default_rng(0).dirichlet(np.ones(256), size=256))  # log p(next | previous)
    >>> bigram = lambda x, training=False: table[x]
    >>> tokens, (start, end) = data.text["tokens"], data.text["bounds"]["test"]
    >>> exact = -table[tokens[start - 1:end - 1], tokens[start:end]].sum() / np.log(2)
    >>> m = text_metrics(bigram, data, stride=16)
    >>> test_bytes = len(data.text["text"][data.text["chars"]["test"][0]:].encode())
    >>> bool(np.isclose(m["bits_per_byte"] * m["bytes"], exact, rtol=1e-9)), m["bytes"] == test_bytes
    (True, True)
    """
    info = getattr(data, "text", None)
    if info is None:
        raise ValueError("text_metrics needs load_data('text:...')'s result (it keeps the token stream)")
    tokens = info["tokens"]
    start, end = info["bounds"][split]
    if end <= start:
        raise ValueError(f"text_metrics: the data has no {split} block")
    seq_len = data.spec.input_shape[0]
    stride = seq_len if stride is None else stride
    if not 1 <= stride <= seq_len:
        raise ValueError(f"stride must be in [1, seq_len={seq_len}], got {stride!r}")
    # windows [s - 1, s - 1 + seq_len) score targets from max(s, scored_to) to s + seq_len
    first = max(start, 1)
    plans, scored = [], first
    s = first
    while scored < end:
        s = min(s, end - seq_len) if end - seq_len >= 1 else 1
        length = min(seq_len, end - s)
        plans.append((s, length, scored))
        scored = s + length
        s = s + stride
    total = 0.0
    for i in range(0, len(plans), batch_size):
        chunk = plans[i:i + batch_size]
        width = max(length for _, length, _ in chunk)
        x = np.zeros((len(chunk), width), "int32")
        for row, (s, length, _) in enumerate(chunk):
            x[row, :length] = tokens[s - 1:s - 1 + length]
        logits = np.asarray(model(x, training=False), dtype="float64")
        logits = logits - logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        for row, (s, length, from_) in enumerate(chunk):
            cols = np.arange(from_ - s, length)
            total -= logp[row, cols, tokens[s + cols]].sum()
    n_tokens = end - first
    tok = data.tokenizer
    c0, c1 = info["chars"][split]
    text = info["text"][c0:c1] if first == start else tok.decode(tokens[first:end])
    n_bytes, n_chars = len(text.encode("utf-8")), len(text)
    bits = total / math.log(2)
    return {"bits_per_char": float(bits / n_chars), "bits_per_byte": float(bits / n_bytes),
            "bits_per_token": float(bits / n_tokens), "perplexity": float(math.exp(total / n_tokens)),
            "chars": n_chars, "bytes": n_bytes, "tokens": int(n_tokens)}

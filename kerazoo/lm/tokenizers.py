"""Tokenizers that need no download: bytes by default, or a SentencePiece vocabulary trained on your text.

`Tokenizer("byte")` wraps KerasHub's `ByteTokenizer` (256 ids, one per UTF-8
byte: every text round-trips, whatever its characters). `train_tokenizer(text,
"sentencepiece:2000")` trains a unigram vocabulary on the corpus with the
`sentencepiece` trainer that `keras_hub.tokenizers.compute_sentence_piece_proto`
wraps, and serves it with KerasHub's `SentencePieceTokenizer`. KerasHub's helper
fixes NFKC normalization and whitespace collapsing, which would lose indentation
and characters; this one trains with identity normalization, whitespace kept and
byte fallback, so the subword vocabulary round-trips text exactly too.

A tokenizer saves into a folder (`tokenizer.json`, plus `tokenizer.model` for
SentencePiece): `fit` writes it into the run directory, and `generate`, `export`
and fine-tuning read it back from there.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Tokenizer", "train_tokenizer", "load_tokenizer", "TOKENIZERS", "TOKENIZER_FILE"]

TOKENIZERS = ("byte", "sentencepiece")
TOKENIZER_FILE = "tokenizer.json"
PROTO_FILE = "tokenizer.model"
DEFAULT_SUBWORDS = 2000
MIN_SUBWORDS = 264


class Tokenizer:
    """Text to token ids and back, saved beside the model that uses it.

    Args:
        kind: `"byte"` (UTF-8 bytes, 256 ids) or `"sentencepiece"`.
        proto: the SentencePiece model's bytes (for `"sentencepiece"`).
        bytes_per_token: the average UTF-8 bytes a token stood for on the
            text it was measured on (1.0 for bytes). Defaults to None.

    Example:
    >>> tok = Tokenizer("byte")
    >>> ids = tok.encode("naïve café")
    >>> tok.vocab_size, len(ids), tok.decode(ids)
    (256, 12, 'naïve café')
    """

    def __init__(self, kind: str = "byte", *, proto: bytes | None = None,
                 bytes_per_token: float | None = None):
        if kind not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {list(TOKENIZERS)}, got {kind!r}")
        if kind == "sentencepiece" and not proto:
            raise ValueError("a sentencepiece tokenizer needs its trained model (proto); "
                             "use train_tokenizer(text, 'sentencepiece:2000')")
        self.kind = kind
        self.proto = proto
        self.bytes_per_token = 1.0 if kind == "byte" else bytes_per_token
        self._impl = None

    @property
    def impl(self) -> Any:
        """The KerasHub tokenizer underneath (imported on first use)."""
        if self._impl is None:
            import keras_hub

            if self.kind == "byte":
                self._impl = keras_hub.tokenizers.ByteTokenizer(lowercase=False, errors="replace")
            else:
                self._impl = keras_hub.tokenizers.SentencePieceTokenizer(proto=self.proto)
        return self._impl

    @property
    def vocab_size(self) -> int:
        """The number of token ids."""
        if self.kind == "byte":
            return 256
        return int(self.impl.vocabulary_size())

    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text`, as an int32 array.

        Example:
        >>> Tokenizer().encode("hi").tolist()
        [104, 105]
        """
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        if not text:
            return np.zeros((0,), "int32")
        return np.asarray(self.impl.tokenize(text), dtype="int32").reshape(-1)

    def decode(self, ids: Any) -> str:
        """The text of token ids (an incomplete UTF-8 sequence decodes as U+FFFD).

        Example:
        >>> Tokenizer().decode([104, 105])
        'hi'
        """
        ids = np.asarray(ids, dtype="int32").reshape(-1)
        if not len(ids):
            return ""
        out = self.impl.detokenize(ids)
        out = out.numpy() if hasattr(out, "numpy") else out
        return out.decode("utf-8", errors="replace") if isinstance(out, bytes) else str(out)

    def chars_per_id(self) -> np.ndarray:
        """The characters of text each token id stands for: what bits per character count.

        A byte that starts a character (ASCII or a UTF-8 lead byte) counts 1,
        a continuation byte 0; a SentencePiece piece counts its characters
        (its byte-fallback pieces as bytes); control ids count 0. The sum over
        a text's ids is its length in characters (a SentencePiece text one
        more: the space the encoder puts before it).

        Example:
        >>> tok = Tokenizer()
        >>> text = "naïve café"
        >>> int(tok.chars_per_id()[tok.encode(text)].sum()), len(text), len(text.encode())
        (10, 10, 12)
        """
        def byte_chars(b: int) -> int:
            return 0 if 0x80 <= b < 0xC0 else 1

        if self.kind == "byte":
            return np.array([byte_chars(b) for b in range(256)], "float32")
        import sentencepiece as spm

        model = spm.SentencePieceProcessor(model_proto=self.proto)
        counts = [0 if model.is_control(i) or model.is_unknown(i) else
                  byte_chars(int(model.id_to_piece(i)[3:5], 16)) if model.is_byte(i) else len(model.id_to_piece(i))
                  for i in range(model.get_piece_size())]
        return np.array(counts, "float32")

    def config(self) -> dict:
        """What `tokenizer.json` holds."""
        return {"kind": self.kind, "vocab_size": self.vocab_size, "bytes_per_token": self.bytes_per_token,
                "files": [PROTO_FILE] if self.kind == "sentencepiece" else []}

    def save(self, folder: str | os.PathLike) -> list[Path]:
        """Write `tokenizer.json` (and `tokenizer.model`) into `folder`; returns the paths written.

        Example:
        >>> import tempfile
        >>> [p.name for p in Tokenizer().save(tempfile.mkdtemp())]
        ['tokenizer.json']
        """
        from kerazoo.io import atomic_write, write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        if self.kind == "sentencepiece":
            def write(tmp):
                with open(tmp, "wb") as f:
                    f.write(self.proto)

            atomic_write(folder / PROTO_FILE, write)
            written.append(folder / PROTO_FILE)
        write_json(folder / TOKENIZER_FILE, self.config())
        return [folder / TOKENIZER_FILE, *written]

    def __repr__(self) -> str:
        return f"Tokenizer({self.kind!r}, vocab_size={self.vocab_size})"


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer back from a run directory, an export folder or its `tokenizer.json`.

    Args:
        path: a folder holding `tokenizer.json`, or the file itself.

    Returns:
        The `Tokenizer`.

    Raises:
        FileNotFoundError: no tokenizer there.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = Tokenizer().save(folder)
    >>> load_tokenizer(folder)
    Tokenizer('byte', vocab_size=256)
    """
    path = Path(path)
    file = path if path.is_file() else path / TOKENIZER_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no tokenizer at {str(path)!r} (expected {TOKENIZER_FILE}); a language-model "
                                f"run directory holds one")
    try:
        config = json.loads(file.read_text())
        kind = config["kind"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{str(file)!r} is not a tokenizer file kerazoo wrote") from None
    proto = (file.parent / PROTO_FILE).read_bytes() if kind == "sentencepiece" else None
    return Tokenizer(kind, proto=proto, bytes_per_token=config.get("bytes_per_token"))


def parse_tokenizer(name: str) -> tuple[str, int | None]:
    """Read a tokenizer name: `"byte"`, `"sentencepiece"` or `"sentencepiece:SIZE"`.

    Example:
    >>> parse_tokenizer("sentencepiece:500"), parse_tokenizer("byte")
    (('sentencepiece', 500), ('byte', None))
    >>> parse_tokenizer("bpe")
    Traceback (most recent call last):
    ...
    ValueError: tokenizer must be 'byte', 'sentencepiece[:SIZE]' or a folder holding tokenizer.json, got 'bpe'
    """
    kind, _, size = str(name).partition(":")
    if kind not in TOKENIZERS or (kind == "byte" and size):
        raise ValueError(f"tokenizer must be 'byte', 'sentencepiece[:SIZE]' or a folder holding "
                         f"{TOKENIZER_FILE}, got {name!r}")
    if not size:
        return kind, (DEFAULT_SUBWORDS if kind == "sentencepiece" else None)
    try:
        n = int(size)
    except ValueError:
        n = 0
    if n < MIN_SUBWORDS:
        raise ValueError(f"tokenizer {name!r}: the vocabulary size must be an int of at least {MIN_SUBWORDS} "
                         f"(256 byte pieces stand for characters the vocabulary lacks)")
    return kind, n


def train_tokenizer(text: str, name: str = "byte") -> Tokenizer:
    """A tokenizer for `text`: bytes, or a SentencePiece vocabulary trained on it.

    Args:
        text: the training text.
        name: `"byte"`, `"sentencepiece"` (2,000 pieces) or `"sentencepiece:SIZE"`.
            Defaults to "byte".

    Returns:
        The `Tokenizer`, with `bytes_per_token` measured on `text`. Training is
        single-threaded and deterministic: the same text gives the same vocabulary.

    Raises:
        ValueError: an unknown name, or a vocabulary larger than the text allows.

    Example:
    >>> text = "the cat sat on the mat. " * 200
    >>> tok = train_tokenizer(text, "sentencepiece:300")
    >>> tok.vocab_size <= 300, tok.decode(tok.encode("the mat sat, naïvely")), tok.bytes_per_token > 1
    (True, 'the mat sat, naïvely', True)
    """
    kind, size = parse_tokenizer(name)
    if kind == "byte":
        return Tokenizer("byte")
    import sentencepiece as spm

    lines = [line[i:i + 1000] for line in text.splitlines(keepends=True)  # the trainer skips long lines
             for i in range(0, len(line), 1000)]
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=writer, vocab_size=size, model_type="unigram",
            normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
            byte_fallback=True, allow_whitespace_only_pieces=True, user_defined_symbols=["\n"],
            pad_id=0, unk_id=1, bos_id=2, eos_id=3, minloglevel=2, num_threads=1,
            hard_vocab_limit=False)
    except RuntimeError as err:
        message = str(err).splitlines()[-1]
        hint = ("; raise the vocabulary size: it holds 256 byte pieces and every character of the text"
                if "smaller than required" in message else "")
        raise ValueError(f"tokenizer {name!r}: SentencePiece could not train on this text: {message}{hint}") from None
    tok = Tokenizer("sentencepiece", proto=writer.getvalue())
    ids = tok.encode(text)
    tok.bytes_per_token = round(len(text.encode("utf-8")) / max(1, len(ids)), 6)
    return tok

"""Language models: the `gpt` family, text data, tokenizers, generation, LoRA and export.

Importing this package costs no TensorFlow or KerasHub: each module imports them
inside the functions that need them, and the names below load on first use.

>>> import kerazoo.lm
>>> sorted(kerazoo.lm.SIZES)
['gpt-mini', 'gpt-nano', 'gpt-small']
"""

from kerazoo.lm.model import SIZES
from kerazoo.sources import register_source

_LAZY = {
    "generate": "kerazoo.lm.generate",
    "Tokenizer": "kerazoo.lm.tokenizers",
    "train_tokenizer": "kerazoo.lm.tokenizers",
    "load_tokenizer": "kerazoo.lm.tokenizers",
    "load_text": "kerazoo.lm.data",
    "pydoc_corpus": "kerazoo.lm.data",
    "text_metrics": "kerazoo.lm.data",
    "enable_lora": "kerazoo.lm.lora",
    "prepare_finetune": "kerazoo.lm.lora",
    "save_adapter": "kerazoo.lm.lora",
    "load_adapter": "kerazoo.lm.lora",
    "merge_lora": "kerazoo.lm.lora",
    "finetune_lm": "kerazoo.lm.finetune",
    "parameter_counts": "kerazoo.lm.lora",
    "Perplexity": "kerazoo.lm.metrics",
    "BitsPerByte": "kerazoo.lm.metrics",
    "BitsPerCharacter": "kerazoo.lm.metrics",
}

__all__ = ["SIZES", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kerazoo.lm' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def _load_text(source, **kwargs):
    """`kerazoo.lm.load_text`, imported when text is first loaded (importing kerazoo stays light)."""
    from kerazoo.lm.data import load_text

    return load_text(source, **kwargs)


# batch_size is kerazoo.lm.data.DEFAULT_BATCH_SIZE (a test holds them equal: importing it here would load NumPy)
_TEXT = dict(validation_split=0.05, test_split=0.1, batch_size=8, options=("seq_len", "tokenizer"),
             describe="text sources ('text:pydoc', 'text:PATH')")
register_source("text:", _load_text, **_TEXT)
register_source("tfds:", _load_text, task="causal_lm", **_TEXT)

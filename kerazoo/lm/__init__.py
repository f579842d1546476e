"""Language models: the `gpt` family, text data, tokenizers, generation, LoRA and export.

Importing this package costs no TensorFlow or KerasHub: each module imports them
inside the functions that need them, and the names below load on first use.

>>> import kerazoo.lm
>>> sorted(kerazoo.lm.SIZES)
['gpt-mini', 'gpt-nano', 'gpt-small']
"""

from kerazoo.lm import data as _data  # noqa: F401  (registers the text: sources with kerazoo.data)
from kerazoo.lm.model import SIZES

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

"""kerazoo: a model zoo for Keras 3 on TensorFlow.

Name a model, get a compiled Keras model that the zoo can also train, tune,
distribute and export. Importing kerazoo costs no TensorFlow: the heavy parts
load on first use.

>>> import kerazoo
>>> "cnn" in kerazoo.list_models()
True
"""

import os as _os

import kerazoo.models  # noqa: F401  (each family registers itself into the registry)
from kerazoo._version import __version__
from kerazoo.modelinfo import model_info
from kerazoo.registry import build, describe, list_models, register
from kerazoo.space import Bool, Choice, Float, Int
from kerazoo.spec import DataSpec

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow C++ start-up chatter

_LAZY = {
    "load_data": "kerazoo.data",
    "Data": "kerazoo.data",
    "compile_model": "kerazoo.compiling",
    "fit": "kerazoo.train",
    "evaluate": "kerazoo.train",
    "FitResult": "kerazoo.train",
    "load_run": "kerazoo.runs",
    "load_model": "kerazoo.runs",
    "Run": "kerazoo.runs",
    "finetune": "kerazoo.transfer",
    "report": "kerazoo.evaluation",
    "cross_validate": "kerazoo.crossval",
    "generate": "kerazoo.lm.generate",
}

__all__ = ["__version__", "build", "describe", "list_models", "register", "DataSpec", "model_info",
           "Int", "Float", "Choice", "Bool", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kerazoo' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


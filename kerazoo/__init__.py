"""kerazoo: a model zoo for Keras 3 on TensorFlow.

Name a model, get a compiled Keras model that the zoo can also train, tune,
distribute and export. Importing kerazoo costs no TensorFlow: the heavy parts
load on first use.

>>> import kerazoo
>>> "cnn" in kerazoo.list_models()
True
"""

import os as _os
import sys as _sys
import types as _types

from kerazoo._version import __version__
from kerazoo.registry import build, describe, list_models, register
from kerazoo.space import Bool, Choice, Float, Int
from kerazoo.spec import DataSpec

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow C++ start-up chatter

_LAZY = {
    "load_data": "kerazoo.data",
    "Data": "kerazoo.data",
    "compile_model": "kerazoo.train",
    "fit": "kerazoo.train",
    "evaluate": "kerazoo.train",
    "FitResult": "kerazoo.train",
    "load_run": "kerazoo.runs",
    "load_model": "kerazoo.runs",
    "Run": "kerazoo.runs",
    "finetune": "kerazoo.finetune",
    "report": "kerazoo.report",
    "cross_validate": "kerazoo.report",
    "generate": "kerazoo.lm.generate",
}

__all__ = ["__version__", "build", "describe", "list_models", "register", "DataSpec",
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


class _Package(_types.ModuleType):
    """`kerazoo.finetune` and `kerazoo.report` are functions that share their module's name.

    Importing a submodule sets the package attribute of its name to the module;
    for a name of `_LAZY` that would hide the function, so it is left to `__getattr__`.
    """

    def __setattr__(self, name, value):
        if name in _LAZY and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package

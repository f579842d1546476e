"""The table of data sources that other modules add to: `load_data` hands a source to the row it matches.

`kerazoo.lm` registers its text sources here (`text:`, and `tfds:` with
`task="causal_lm"`), as model families register into the registry, so
`kerazoo.data` never imports the modules above it. Importing this module costs
nothing beyond the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Source", "SOURCES", "register_source", "find_source"]


@dataclass(frozen=True)
class Source:
    """A row of the table of sources that other modules add to: `load_data` hands it what matches.

    Attributes:
        prefix: the start of the source's name (`"text:"`).
        load: the loader; it takes the source and `load_data`'s keyword arguments.
        task: the row matches only for this task (`"tfds:"` text is `causal_lm`), or None.
        validation_split, test_split: this source's default shares.
        batch_size: this source's default batch size.
        options: the keyword arguments of `load_data` that apply to this source alone.
        describe: how error messages name the source.
        images: whether `value_range` applies.
    """

    prefix: str
    load: Callable
    task: str | None = None
    validation_split: float = 0.1
    test_split: float = 0.2
    batch_size: int = 32
    options: tuple = ()
    describe: str = ""
    images: bool = False


#: The sources other modules register (`register_source`), tried before the built-in ones.
SOURCES: list[Source] = []


def register_source(prefix: str, load: Callable, **row: Any) -> Source:
    """Add a row to `SOURCES`: names starting with `prefix` (and, if given, of `task`) go to `load`.

    `kerazoo.lm` registers its text sources this way, as model families register
    into the registry, so `kerazoo.data` never imports the modules above it.

    Example:
    >>> import kerazoo.lm  # registers the text sources
    >>> [(s.prefix, s.task) for s in SOURCES]
    [('text:', None), ('tfds:', 'causal_lm')]
    """
    source = Source(prefix, load, **row)
    SOURCES[:] = [s for s in SOURCES if (s.prefix, s.task) != (prefix, source.task)] + [source]
    return source


def find_source(source: Any, task: str | None) -> Source | None:
    """The registered row `source` (and `task`) matches, or None for the built-in sources.

    Example:
    >>> import kerazoo.lm  # registers the text sources
    >>> find_source("text:pydoc", None).describe, find_source("digits", None)
    ("text sources ('text:pydoc', 'text:PATH')", None)
    """
    if not isinstance(source, (str, os.PathLike)):
        return None
    name = os.fspath(source)
    return next((s for s in SOURCES if name.startswith(s.prefix) and s.task in (None, task)), None)

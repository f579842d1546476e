"""A griffe extension for the documentation site: the zoo's doctest examples rendered as code.

The zoo's docstrings end with an `Example:` section whose doctest lines (`>>> ...` and the
output below them) start at the section's own indentation, not under it; the test suite runs
them as they stand. Griffe's Google-style parser reads a section's body only when it is
indented, and reads `Example:` (singular) as an admonition, so without this the lines would
render as text and `>>>` as nested quotes. This extension renames such a section `Examples:`
and indents its body while the API reference is built (mkdocs.yml loads it); the source files
are not touched. tests/test_docs.py checks the rewrite.
"""

from __future__ import annotations

import re

import griffe

SECTION = re.compile(r"^Examples?:\s*$")
OTHER_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")


def indent_examples(text: str) -> str:
    """`text` with each unindented doctest `Example:` section as an indented `Examples:` section."""
    lines = text.split("\n")
    out, inside = [], False
    for i, line in enumerate(lines):
        if SECTION.match(line):
            following = next((nxt for nxt in lines[i + 1:] if nxt.strip()), "")
            inside = following.startswith(">>>")
            out.append("Examples:" if inside else line)
        elif inside and OTHER_SECTION.match(line):
            inside = False
            out.append(line)
        else:
            out.append("    " + line if inside and line.strip() else line)
    return "\n".join(out)


class DoctestExamples(griffe.Extension):
    """Renders the zoo's unindented `Example:` doctests as griffe's examples (code blocks)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)

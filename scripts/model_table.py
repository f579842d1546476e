"""Print the zoo's model table as Markdown, from the registry (README.md and docs/models.md embed it).

    python scripts/model_table.py            # print it
    python scripts/model_table.py --write    # rewrite the table in README.md between its markers

tests/test_readme.py fails when the README's table differs from this output.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

START, END = "<!-- model-table -->", "<!-- /model-table -->"


def model_table(*, link: str | None = None) -> str:
    """The table; with `link` (a page, or "" for the page itself), each name links to its section there."""
    from kerazoo.registry import describe, get_entry, list_models

    lines = ["| model | tasks | inputs | default input -> output | tuned arguments | summary |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in list_models():
        info = describe(name)
        summary = get_entry(name).doc.split("\n\n")[0].replace("\n", " ")
        shape = "x".join(map(str, info["default_input_shape"]))
        cell = f"`{name}`" if link is None else f"[`{name}`]({link}#{name})"
        lines.append(f"| {cell} | {', '.join(info['tasks'])} | {', '.join(info['inputs'])} | "
                     f"{shape} -> {info['default_output']} | {', '.join(info['space']) or '-'} | {summary} |")
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{model_table(link='docs/models.md')}\n{END}", text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        path = Path(__file__).resolve().parent.parent / "README.md"
        path.write_text(readme_with_table(path.read_text()))
    else:
        print(model_table())

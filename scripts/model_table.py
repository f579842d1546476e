"""Print the zoo's model table as Markdown, from the registry (README.md embeds it).

    python scripts/model_table.py            # print it
    python scripts/model_table.py --write    # rewrite the table in README.md between its markers

tests/test_readme.py fails when the README's table differs from this output.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

START, END = "<!-- model-table -->", "<!-- /model-table -->"


def model_table() -> str:
    from kerazoo.registry import describe, get_entry, list_models

    lines = ["| model | tasks | inputs | default input -> output | tuned arguments | summary |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in list_models():
        info = describe(name)
        summary = get_entry(name).doc.split("\n\n")[0].replace("\n", " ")
        shape = "x".join(map(str, info["default_input_shape"]))
        lines.append(f"| `{name}` | {', '.join(info['tasks'])} | {', '.join(info['inputs'])} | "
                     f"{shape} -> {info['default_output']} | {', '.join(info['space']) or '-'} | {summary} |")
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{model_table()}\n{END}", text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        path = Path(__file__).resolve().parent.parent / "README.md"
        path.write_text(readme_with_table(path.read_text()))
    else:
        print(model_table())

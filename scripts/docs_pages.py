"""Generate the documentation's reference parts: the models from the registry, the CLI from its parser.

Every `<!-- docs:NAME -->` ... `<!-- /docs:NAME -->` block in docs/**/*.md is replaced by
what `BLOCKS[NAME]()` returns:

- `models` (docs/models.md): the model table, then each family's arguments, defaults and
  search space from `kerazoo.describe`, and its docstring's description of each argument;
- `cli` (docs/cli.md): every command of `kerazoo.cli.make_parser()` with every argument and
  its help.

    python scripts/docs_pages.py            # list the blocks and whether each is current
    python scripts/docs_pages.py --write    # rewrite them

tests/test_docs.py fails when a page differs from what this writes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- docs:([\w-]+) -->\n)(.*?)(<!-- /docs:\2 -->)", re.S)
SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")


def _text(value: str) -> str:
    """Prose for a Markdown table cell: HTML and table characters escaped outside code spans."""
    parts = value.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = (parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("*", r"\*").replace("|", r"\|"))
    return "`".join(parts)


def _code(value) -> str:
    text = repr(value).replace("|", r"\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


# --- models -----------------------------------------------------------------------------------

def argument_docs(doc: str) -> dict[str, str]:
    """Each argument's description from a Google-style docstring's `Args:` section.

    An entry naming several arguments (`l1, l2: ...`) describes each of them.

    >>> argument_docs("Summary.\\n\\nArgs:\\n    depth: blocks.\\n        At least 1.\\n    l1, l2: strengths.\\n")
    {'depth': 'blocks. At least 1.', 'l1': 'strengths.', 'l2': 'strengths.'}
    """
    out: dict[str, str] = {}
    names: list[str] = []
    inside = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break
        entry = re.match(r"^ {4}([\w, ]+):\s*(.*)$", line)
        if entry:
            names = [n.strip() for n in entry.group(1).split(",")]
            for name in names:
                out[name] = entry.group(2).strip()
        elif line.startswith(" " * 8) and names:
            for name in names:
                out[name] += " " + line.strip()
    return out


def description(doc: str) -> str:
    """A docstring's summary and prose, without its Args/Raises/Example sections."""
    kept = []
    for line in doc.splitlines():
        if SECTION.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _space_text(entry: dict) -> str:
    from kerazoo.space import space_from_dict

    declaration = space_from_dict({"x": entry})["x"]
    when = f" when {declaration.when}" if declaration.when else ""
    return _text(declaration.describe() + when)


def _model_section(name: str, info: dict, fixed: dict, family: str | None) -> list[str]:
    lines = [f"### `{name}`", ""]
    if family is None:
        lines += [description(info["doc"]), ""]
    else:
        settings = ", ".join(f"`{k}={v!r}`" for k, v in fixed.items())
        lines += [f"The [`{family}`](#{family}) family with {settings}.", ""]
    shape = "x".join(map(str, info["default_input_shape"]))
    lines += [f"- tasks: {', '.join(info['tasks'])}; inputs: {', '.join(info['inputs'])}; "
              f"tags: {', '.join(info['tags']) or '-'}",
              f"- `build(\"{name}\")` with no data: {shape} -> {info['default_output']}"]
    if info["training"]:
        lines.append("- its own training defaults (`register(training=...)`): "
                     + ", ".join(f"`{k}={v!r}`" for k, v in info["training"].items()))
    meaning = argument_docs(info["doc"])
    lines += ["", "| argument | default | search space | meaning |", "| --- | --- | --- | --- |"]
    for key, default in info["defaults"].items():
        space = _space_text(info["space"][key]) if key in info["space"] else "-"
        value = _code(default) + (" (fixed)" if key in fixed else "")
        lines.append(f"| `{key}` | {value} | {space} | {_text(meaning.get(key, ''))} |")
    return lines + [""]


def models_block() -> str:
    """The model table, then one section per registered model, from the registry."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from model_table import model_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from kerazoo.registry import describe, get_entry, list_models

    lines = [model_table(link=""), "", "## Each model", ""]
    first: dict = {}  # builder function -> the family's own name
    for name in list_models():
        entry = get_entry(name)
        if not entry.fixed:
            first.setdefault(entry.fn, name)
    for name in list_models():
        entry = get_entry(name)
        family = first.get(entry.fn) if entry.fixed else None
        lines += _model_section(name, describe(name), entry.fixed, family)
    return "\n".join(lines).rstrip() + "\n"


# --- command line -----------------------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Each subcommand's parser and help line, by name (argparse keeps them on private attributes)."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    return {name: (sub, helps.get(name) or "") for name, sub in action.choices.items()}


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.metavar:
        return str(action.metavar)
    if action.choices:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper()


def _invocation(action: argparse.Action) -> str:
    metavar = _metavar(action)
    if not action.option_strings:
        return metavar if action.nargs != "?" else f"[{metavar}]"
    return " ".join(filter(None, [", ".join(action.option_strings), metavar]))


def _spellings(action: argparse.Action) -> str:
    """The table's cell: each spelling of an option in its own code span (`--jit-compile`, `--no-jit-compile`),
    the last with its metavar."""
    if not action.option_strings:
        return f"`{_invocation(action)}`"
    last = " ".join(filter(None, [action.option_strings[-1], _metavar(action)]))
    return ", ".join(f"`{flag}`" for flag in [*action.option_strings[:-1], last])


def _synopsis(prog: str, actions: list[argparse.Action], width: int = 96) -> str:
    words = [_invocation(a) if not a.option_strings or a.required else f"[{_invocation(a)}]"
             for a in actions]
    lines, line = [], prog
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " " * (len(prog) + 1) + word
        else:
            line += " " + word
    return "\n".join([*lines, line])


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "prog": prog}
    notes = []
    if action.option_strings and action.required:
        notes.append("required")
    if (action.option_strings and action.nargs != 0 and action.default not in (None, argparse.SUPPRESS)
            and "default" not in text):
        notes.append(f"default {_code(action.default)}")
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        notes.append("repeatable")
    return " ".join(filter(None, [_text(text), f"({'; '.join(notes)})" if notes else ""]))


def _command_section(title: str, prog: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    actions = _arguments(parser)
    lines = [f"### `{title}`", "", summary, "", "```text", _synopsis(prog, actions), "```", "",
             "| argument | what it does |", "| --- | --- |"]
    for action in actions:
        lines.append(f"| {_spellings(action)} | {_help(action, prog)} |")
    return lines + [""]


def cli_block() -> str:
    """Every command, argument and help line of the `kerazoo` command's parser."""
    from kerazoo.cli import make_parser

    parser = make_parser()
    commands = _subcommands(parser)
    lines = _command_section("kerazoo", "kerazoo", parser, _text(parser.description or ""))
    lines.insert(-1, "")
    lines.insert(-1, _text(parser.epilog or ""))
    lines.insert(-1, "")
    lines.insert(-1, "Commands: " + ", ".join(f"[`{name}`](#kerazoo-{name})" for name in commands) + ".")
    for name, (sub, summary) in commands.items():
        lines += _command_section(f"kerazoo {name}", f"kerazoo {name}", sub, _text(summary))
    return "\n".join(lines).rstrip() + "\n"


BLOCKS: dict[str, Callable[[], str]] = {"models": models_block, "cli": cli_block}


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def rendered(text: str) -> str:
    """`text` with every generated block rewritten."""
    return BLOCK.sub(lambda m: m.group(1) + BLOCKS[m.group(2)]() + m.group(4), text)


if __name__ == "__main__":
    for page in pages():
        text = page.read_text()
        names = [m.group(2) for m in BLOCK.finditer(text)]
        if not names:
            continue
        new = rendered(text)
        state = "current" if new == text else "out of date"
        print(f"{page.relative_to(ROOT)}: {', '.join(names)} ({state})")
        if new != text and "--write" in sys.argv:
            page.write_text(new)
            print(f"rewrote {page.relative_to(ROOT)}")

"""`kerazoo describe NAME`: a family's arguments, defaults, search space and training defaults."""

from __future__ import annotations

import json

from kerazoo.errors import EXIT_OK


def cmd_describe(args) -> int:
    from kerazoo.registry import describe

    info = describe(args.name)
    if args.json:
        print(json.dumps(info, indent=2, default=list))
        return EXIT_OK
    print(f"{info['name']}: tasks {', '.join(info['tasks'])}; inputs {', '.join(info['inputs'])}")
    print(f"default input {info['default_input_shape']} -> {info['default_output']}\n")
    print("arguments (defaults):")
    for k, v in info["defaults"].items():
        space = info["space"].get(k)
        tuned = f"   search: {_space_text(space)}" if space else ""
        print(f"  {k} = {v!r}{tuned}")
    if info["training"]:
        print("\nkerazoo train defaults: " + ", ".join(f"{k} {v!r}" for k, v in info["training"].items()))
    print("\n" + info["doc"])
    return EXIT_OK


def _space_text(d: dict) -> str:
    from kerazoo.space import space_from_dict

    decl = space_from_dict({"x": d})["x"]
    text = decl.describe()
    return text + (f" when {decl.when}" if decl.when else "")

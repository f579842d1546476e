"""`kerazoo models`: the registered families, filtered by wildcard, tag, task or inputs."""

from __future__ import annotations

import sys

from kerazoo.cli.output import print_table
from kerazoo.errors import EXIT_OK, EXIT_USAGE


def cmd_models(args) -> int:
    from kerazoo.registry import get_entry, list_models

    names = list_models(args.pattern, tags=args.tag or (), task=args.task, inputs=args.inputs)
    if not names:
        filters = [f"{flag} {v}" for flag, v in (("--task", args.task), ("--inputs", args.inputs),
                                                 *(("--tag", t) for t in args.tag or ())) if v]
        print(f"kerazoo: error: no model matches {args.pattern!r}{' with ' + ', '.join(filters) if filters else ''}"
              f"; `kerazoo models` lists them all", file=sys.stderr)
        return EXIT_USAGE
    rows = [("name", "tasks", "inputs", "default input", "tags")]
    for n in names:
        e = get_entry(n)
        rows.append((n, ",".join(e.tasks), ",".join(e.inputs), "x".join(map(str, e.default_spec.input_shape)),
                     ",".join(e.tags)))
    print_table(rows)
    return EXIT_OK

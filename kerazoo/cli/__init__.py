"""The `kerazoo` command: list, describe, train, evaluate and export zoo models.

Exit codes: 0 success; 1 a failure while running (training diverged, a
file could not be written); 2 bad input (an unknown model, a bad flag or
value, a damaged run, a run directory in use); 130 interrupted. Errors print
one line, never a traceback (KERAZOO_DEBUG=1 prints it too, with the same
exit code).
"""

from __future__ import annotations

import logging
import os
import sys

from kerazoo.cli.parser import make_parser
from kerazoo.errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_code

__all__ = ["main", "make_parser"]


class _StdoutHandler(logging.StreamHandler):
    """A handler that writes to whatever `sys.stdout` is when a record comes (redirected or captured)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the `kerazoo` command; returns the exit code.

    Example:
    >>> main(["models", "mlp"])
    name  tasks                                    inputs                  default input  tags
    ----  ---------------------------------------  ----------------------  -------------  -------------
    mlp   multiclass,binary,regression,multilabel  tabular,image,sequence  784            tabular,dense
    0
    """
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from kerazoo.cli.flags import check_flags
    from kerazoo.console import interrupts_between_steps, quiet_tensorflow_import

    quiet_tensorflow_import()  # TensorFlow's native start-up lines that cannot matter stay out of the output
    logger = logging.getLogger("kerazoo")
    handler = None
    if not logger.handlers:  # the library's notes (batch rule, workers) go to stdout, for this command only
        handler, level = _StdoutHandler(), logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        check_flags(args)  # every flag, by its own name, before TensorFlow loads
        with interrupts_between_steps():  # Ctrl-C in training: at the end of the step, then exit 130
            return args.func(args)
    except KeyboardInterrupt:
        print("kerazoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        code = exit_code(err)
        if os.environ.get("KERAZOO_DEBUG"):  # the traceback, and the same exit code as without it
            import traceback

            traceback.print_exc()
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        message = " ".join(str(message).split()) or type(err).__name__
        print(f"kerazoo: error: {message}", file=sys.stderr)
        return code
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(level)

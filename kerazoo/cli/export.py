"""`kerazoo export RUN`: SavedModel, TFLite and ONNX, verified, with the fidelity table."""

from __future__ import annotations

import sys
from pathlib import Path

from kerazoo.errors import EXIT_OK, UsageError


def cmd_export(args) -> int:
    import re
    import warnings

    # lazily: kerazoo never imports export at module level
    from export import FidelityError, export_model
    from export.report import fidelity_report, render_table
    from kerazoo.console import native_stderr_filtered

    gate = dict(min_agreement=args.min_agreement, keep_failing=args.keep_failing)
    litert_note = re.compile(r"^INFO: Created TensorFlow Lite \w+ delegate for CPU\.\n?", re.M)  # on every load
    with warnings.catch_warnings(record=True) as caught, \
            native_stderr_filtered(keep=lambda text: litert_note.sub("", text)):
        warnings.simplefilter("always", UserWarning)
        try:
            if (Path(args.run_dir) / "tokenizer.json").exists():  # a language model: logits, tokenizer beside
                from export.lm import export_lm

                if args.max_relative_error is not None:
                    raise UsageError("export: --max-relative-error applies to regression models; a language "
                                     "model's quantized files are held to --min-agreement (next-token agreement)")
                result = export_lm(args.run_dir, args.out, formats=args.format, quantize=args.quantize,
                                   version=args.version, overwrite=args.overwrite, verify=args.verify,
                                   model_name=args.name, **gate)
            else:
                result = export_model(args.run_dir, args.out, formats=args.format, quantize=args.quantize,
                                      version=args.version, overwrite=args.overwrite, int8_io=args.int8_io,
                                      select_ops=args.select_ops, verify=args.verify, model_name=args.name,
                                      max_relative_error=args.max_relative_error, **gate)
        except FidelityError as err:  # the figures first, then the one-line error (exit 1)
            print(render_table(fidelity_report(err.artifacts)))
            raise
        finally:
            for w in caught:
                if issubclass(w.category, UserWarning):
                    print(f"kerazoo: warning: {w.message}", file=sys.stderr)
    print(result.table())
    print(f"\nexported to {result.path}")
    return EXIT_OK

"""`kerazoo serve EXPORT_ROOT`: TensorFlow Serving's REST API over the exported SavedModels, for development."""

from __future__ import annotations

from pathlib import Path

from kerazoo.errors import EXIT_INTERRUPTED, EXIT_OK, UsageError


def cmd_serve(args) -> int:
    root = Path(args.export_root)
    if not root.is_dir():
        raise UsageError(f"serve: EXPORT_ROOT {str(root)!r} is not a folder; give the --out folder of "
                         f"`kerazoo export` (default exports/)")
    # --port, --poll-seconds and --max-body-mb are checked with every command's flags (kerazoo.cli.flags)
    # lazily: kerazoo never imports export at module level
    from export.server import find_versions, serve

    if not find_versions(root):
        raise UsageError(f"serve: no SavedModel under {str(root)!r}: expected EXPORT_ROOT/<model>/<version>/"
                         f"saved_model.pb, as `kerazoo export --format savedmodel` writes")
    try:
        serve(root, host=args.host, port=args.port, poll_seconds=args.poll_seconds, max_body_mb=args.max_body_mb,
              log_requests=args.log_requests)
    except OSError as err:
        if err.errno in (98, 48, 13, 99):  # in use (Linux, macOS), not allowed, not an address here
            raise UsageError(f"serve: cannot listen on {args.host}:{args.port} ({err.strerror}); choose "
                             f"another --port (0: any free port) or --host") from None
        raise
    except KeyboardInterrupt:
        print("kerazoo serve: stopped")
        return EXIT_INTERRUPTED
    return EXIT_OK

"""`kerazoo generate RUN PROMPT`: text from a language-model run, streamed."""

from __future__ import annotations

from kerazoo.errors import EXIT_OK, UsageError


def cmd_generate(args) -> int:
    from kerazoo.runs import check_run

    check_run(args.run_dir)  # a missing or damaged run fails before TensorFlow loads
    from kerazoo.lm.generate import generate

    shown = []

    def show(piece: str) -> None:
        if not shown:  # the prompt, once the model is loaded and the settings have passed its checks
            print(args.prompt, end="", flush=True)
            shown.append(True)
        print(piece, end="", flush=True)

    try:
        generate(args.run_dir, args.prompt, max_new_tokens=args.max_new_tokens, sampler=args.sampler,
                 temperature=args.temperature, k=args.top_k, p=args.top_p, seed=args.seed, cache=args.cache,
                 stream=show)
    except ValueError as err:  # a prompt the model cannot read (flags are checked before TensorFlow loads)
        raise UsageError(str(err)) from None
    if not shown:
        print(args.prompt, end="")
    print()
    return EXIT_OK

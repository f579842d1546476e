"""`kerazoo tune JOB`: a KerasTuner search from a job file (chief/worker for a distributed search)."""

from __future__ import annotations

from kerazoo.errors import EXIT_OK, UsageError


def cmd_tune(args) -> int:
    from tuning.job import load_job  # lazily: kerazoo never imports tuning at module level

    if args.chief and args.worker:
        raise UsageError("tune: --chief and --worker exclude each other")
    if args.address and not (args.chief or args.worker):
        raise UsageError("tune: --address goes with --chief or --worker")
    job = load_job(args.job)  # a bad job fails here, before TensorFlow loads
    from tuning.run import run_job

    run_job(job, overwrite=args.overwrite, role="chief" if args.chief else "worker" if args.worker else None,
            tuner_id=args.worker, address=args.address, max_trials=args.max_trials, out=args.out,
            verbose=args.verbose, check=args.check,
            isolate_trials=False if args.in_process else None)
    return EXIT_OK

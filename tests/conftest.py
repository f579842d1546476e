"""Shared fixtures: bundled data loaded once, small slices of it for quick training."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On a GPU machine, TensorFlow maps nearly all GPU memory in the first process that touches it; the
# processes tests start (workers, `kerazoo` commands) would find none left. Grow on demand instead.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import pytest  # noqa: E402

collect_ignore = ["_dist_worker.py"]  # a worker script the distribution tests start, not a test module


@pytest.fixture(scope="session")
def digits():
    from kerazoo import load_data

    return load_data("digits", seed=0)


def small(data, train_batches: int = 4, eval_batches: int = 2):
    """The same data bundle, cut to a few batches per split, for one quick epoch.

    The arrays are cut alike: `fit(seed=...)` rebuilds the training pipeline from them, and its
    batch-norm check predicts on them, so whole arrays would undo the cut.
    """
    from dataclasses import replace

    rows = data.options.get("batch_size", 32)
    arrays = {split: (x[:rows * (train_batches if split == "train" else eval_batches)],
                      y[:rows * (train_batches if split == "train" else eval_batches)])
              for split, (x, y) in (data.arrays or {}).items()}
    return replace(data, train=data.train.take(train_batches),
                   validation=data.validation.take(eval_batches) if data.validation is not None else None,
                   test=data.test.take(eval_batches) if data.test is not None else None,
                   arrays=arrays or data.arrays, train_pipeline=None)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`kerazoo ARGV` in this process, through the function the console script calls: (exit code, stdout, stderr).

    For checks a fresh process proves nothing more for; each command keeps a test that runs it as a process.
    """
    from kerazoo.cli import main

    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own exits (a malformed command line, --help)
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def registry_sandbox():
    """Names registered inside a test are removed after it."""
    from kerazoo import registry

    registry._ensure_loaded()
    before = dict(registry._REGISTRY)
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)

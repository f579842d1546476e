"""The benchmark scripts' own logic: what the README's figures rest on (the scripts themselves are not run here)."""

from __future__ import annotations

import doctest
import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _module(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.mark.parametrize("name", ["results", "lm_transfer", "tuning_memory", "serving_load"])
def test_the_benchmarks_docstring_examples_hold(name):
    failed, tried = doctest.testmod(_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried and not failed


def test_the_transfer_pretraining_text_shares_no_50_character_run_with_the_small_set():
    from kerazoo.lm import pydoc_corpus

    bench = _module("lm_transfer")
    small = bench.interleaved(bench.SMALL_SET)
    other = pydoc_corpus(exclude=bench.SMALL_SET)
    kept, removed = bench.holdout(other, small)
    assert bench.overlap(small, other) > 10_000  # pydoc repeats itself: the compound topic
    assert bench.overlap(small, kept) == 0 and removed > 0
    pieces = iter(bench.paragraphs(other))  # what is kept is whole paragraphs of the text, in order
    rest = kept
    while rest:
        piece = next(pieces, None)
        assert piece is not None, f"holdout cut inside a paragraph: {rest[:80]!r}"
        rest = rest[len(piece):] if rest.startswith(piece) else rest
    assert len(kept) > 0.9 * len(other)


def test_a_benchmark_with_no_save_writes_no_result(tmp_path, monkeypatch, capsys):
    results = _module("results")
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["benchmarks/x.py", "--note", "under load", "--no-save"])
    args = results.options(__import__("argparse").ArgumentParser()).parse_args(sys.argv[1:])
    results.publish("x", {"figure": 1}, args, lambda saved: f"{saved['result']['figure']}: {results.footer(saved)}")
    out = capsys.readouterr().out
    assert out.startswith("1: Command: `python benchmarks/x.py --no-save`") and out.rstrip().endswith("Under load.")
    assert list(tmp_path.iterdir()) == []
    args.no_save = False
    results.publish("x", {"figure": 1}, args, None)
    assert results.load("x")["note"] == "under load" and "--note" not in results.load("x")["command"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_tuning_memory_counts_the_trial_processes_with_the_searching_one():
    import subprocess
    import time

    bench = _module("tuning_memory")
    grow = "b = bytearray(64 * 2**20); import time; time.sleep(30)"  # a child holding 64 MiB of heap
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time; "
                               f"subprocess.Popen([sys.executable, '-c', {grow!r}]); time.sleep(30)"])
    try:
        deadline = time.time() + 20
        while len(bench.tree(parent.pid)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        rss, anon, processes = bench.tree_memory(parent.pid)
        own = bench._status_kb(parent.pid, "RssAnon")
        assert processes == 2 and len(bench.tree(parent.pid)) == 2
        assert anon - own >= 60 * 1024 and rss >= anon  # the child's 64 MiB counted with the parent
    finally:
        for pid in bench.tree(parent.pid)[1:]:
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()

"""Random command lines, `--set` values and job files: always an exit code in {0, 1, 2}, never a traceback.

Every generated command either finishes at once (listing, describing) or fails
before any training starts: `train` and `finetune` always carry `--epochs 0`,
and the paths they name do not exist (each example runs in an empty folder).
"""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COMMANDS = ("models", "describe", "train", "evaluate", "finetune", "export", "tune", "generate")
FLAGS = ("--data", "--batch-size", "--seed", "--set", "--config", "--out", "--optimizer", "--learning-rate",
         "--schedule", "--weight-decay", "--label-smoothing", "--patience", "--validation-split", "--test-split",
         "--augment", "--augment-on", "--strategy", "--precision", "--resume", "--unsafe", "--format",
         "--quantize", "--version", "--overwrite", "--name", "--max-trials", "--chief", "--worker", "--address",
         "--split", "--tag", "--task", "--inputs", "--json", "--prompt", "--sampler", "--top-k", "--init",
         "--lora", "--head", "--phases", "--freeze", "--int8-io", "--no-verify", "--check")
VALUES = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
    .filter(lambda t: not t.startswith("-") and "\x00" not in t),
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["nan", "inf", "-1", "0", "1e-3", "1e12", "{", "{}", '{"rotation": 2}', "[]", "a=b",
                     "width=", "=3", "dropout=nan", "mlp", "cnn", "iris", "digits", "true", "."]),
)
TOKENS = st.one_of(st.sampled_from(FLAGS), VALUES)


@pytest.fixture
def in_empty_dir(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def _run(argv: list[str], capsys) -> int:
    from kerazoo.cli import main

    try:
        code = main(argv)
        argparse_exit = False
    except SystemExit as stop:  # argparse: --help, --version, or a malformed command line
        code, argparse_exit = stop.code, True
    captured = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, captured.err)
    assert "Traceback" not in captured.err + captured.out, (argv, captured.err)
    if code and not argparse_exit and not captured.out.startswith("usage:"):  # the zoo's own errors: one line
        assert captured.err.count("\n") == 1 and captured.err.startswith("kerazoo: error: "), (argv, captured.err)
    return code


def _no_training(argv: list[str]) -> list[str]:
    if argv and argv[0] in ("train", "finetune"):
        tail = [t for t in argv[1:] if not t.startswith("--e")]  # nothing may override the --epochs 0 guard
        return [argv[0], "--epochs", "0", *tail] if argv[0] == "finetune" else [argv[0], *tail, "--epochs", "0"]
    return argv


@FAST
@given(st.sampled_from(COMMANDS), st.lists(TOKENS, max_size=8))
def test_random_command_lines_exit_cleanly(in_empty_dir, capsys, command, tokens):
    _run(_no_training([command, *tokens]), capsys)
    assert list(in_empty_dir.iterdir()) == []  # nothing trained, exported or half-written


@FAST
@given(st.lists(TOKENS, max_size=6).filter(lambda t: not t or t[0] not in COMMANDS))
def test_random_tokens_without_a_command_exit_cleanly(in_empty_dir, capsys, tokens):
    _run(tokens, capsys)


def _set_values():
    from kerazoo.registry import get_entry

    params = get_entry("cnn").params
    keys = st.sampled_from(sorted(params)) | st.text(max_size=6)
    return st.lists(st.tuples(keys, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}") | VALUES, min_size=1, max_size=3)


@FAST
@given(st.sampled_from(["cnn", "mlp", "resnet"]), st.data())
def test_bad_set_values_are_refused_before_training(in_empty_dir, capsys, model, data):
    pairs = data.draw(_set_values())
    argv = ["train", model, "--data", "digits", *[a for p in pairs for a in ("--set", p)], "--epochs", "0"]
    assert _run(argv, capsys) == 2  # a bad --set, or else the --epochs 0 guard: exit 2 either way


@FAST
@given(st.sampled_from(["cnn", "mlp", "vit"]), st.text(max_size=10))
def test_set_values_are_typed_after_the_default_or_refused(model, text):
    from kerazoo.cli.settings import parse_overrides
    from kerazoo.errors import UsageError
    from kerazoo.registry import get_entry

    params = get_entry(model).params
    for key, default in params.items():
        try:
            value = parse_overrides([f"{key}={text}"], params)[key]
        except UsageError as err:
            assert str(err).startswith(f"--set {key}=") and "\n" not in str(err)
            continue
        if isinstance(default, bool):
            assert isinstance(value, bool)
        elif isinstance(default, (int, float)):
            assert isinstance(value, type(default)) and value == value and abs(value) != float("inf")
        elif isinstance(default, (tuple, list)):
            assert isinstance(value, tuple) and value


JOB_FIELDS = ("model", "data", "space", "tuner", "objective", "budget", "seed", "output", "precision",
              "isolate_trials", "tensorboard", "winner", "budgett")
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 100), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["mlp", "cnn", "iris", "digits", "random", "grid",
                                                          "val_accuracy", "max", "float32"]))
YAML_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["max_trials", "epochs", "patience", "source", "batch_size", "name", "direction",
                     "retrain", "export", "formats", "min_value", "max_value", "type", "values", "width",
                     "dropout", "learning_rate"]) | st.text(max_size=5), inner, max_size=3), max_leaves=8)
JOBS = st.one_of(
    st.dictionaries(st.sampled_from(JOB_FIELDS), YAML_VALUES, max_size=6).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.fixed_dictionaries({"model": st.sampled_from(["mlp", "cnn"]), "data": st.just("iris")},
                          optional={k: YAML_VALUES for k in JOB_FIELDS[2:]}).map(yaml.safe_dump),
    st.text(max_size=60),
    st.sampled_from(["model: !!python/object/apply:os.system ['echo hacked']\ndata: iris\n",
                     "!!python/name:os.system\n", "model: mlp\ndata: iris\nspace: {width: *a}\n", "- - -\n"]),
)


@FAST
@given(JOBS)
def test_random_job_files_load_or_raise_job_error(tmp_path, text):
    from tuning.job import Job, JobError, load_job

    path = tmp_path / "job.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        job = load_job(path)
    except JobError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path)), str(err)
    else:
        assert isinstance(job, Job)

"""Random command lines, `--set` values and job files: always an exit code in {0, 1, 2}, never a traceback.

Every generated command either finishes at once (listing, describing) or fails
before any training starts: `train` and `finetune` always carry `--epochs 0`,
and the paths they name do not exist (each example runs in an empty folder).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The same examples every run, so CI cannot fail by chance; HYPOTHESIS_EXPLORE=1 draws fresh ones.
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=not os.environ.get("HYPOTHESIS_EXPLORE"))

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


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """Run the command in-process; its exit code and what it printed to stderr, after the checks every run meets."""
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
    return code, captured.err


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


class _Reached(Exception):
    """Raised by the stand-in for `build`: the command got past every check, to the model."""


@FAST
@given(st.sampled_from(["cnn", "mlp", "resnet"]), st.data())
def test_bad_set_values_are_refused_before_training(in_empty_dir, capsys, monkeypatch, digits, model, data):
    """A --set value refused names --set (exit 2); one accepted reaches `build` typed as its default, in range."""
    import kerazoo.data
    import kerazoo.registry
    from kerazoo.registry import get_entry
    from kerazoo.space import check_value

    built = []

    def reached(name, spec, **kwargs):
        built.append(kwargs)
        raise _Reached("reached the model")

    monkeypatch.setattr(kerazoo.data, "load_data", lambda source, **kw: digits)  # no data loaded per example
    monkeypatch.setattr(kerazoo.registry, "build", reached)  # nothing built, nothing trained
    pairs = data.draw(_set_values())
    # a value that starts with "-" goes as --set=VALUE, as a user must write it (argparse reads `--set -x` as two
    # options); every value then reaches the zoo's own check
    argv = ["train", model, "--data", "digits", *[a for p in pairs for a in ((f"--set={p}",) if p.startswith("-")
                                                                         else ("--set", p))], "--epochs", "1"]
    code, err = _run(argv, capsys)
    entry = get_entry(model)
    if code == 2:
        assert err.startswith("kerazoo: error: --set "), (argv, err)
        assert not built
    else:
        assert code == 1 and "reached the model" in err and len(built) == 1, (argv, code, err)
        for pair in pairs:  # every value that got through is a real argument, typed after its default
            key, _, text = pair.partition("=")
            key = key.strip()
            assert key in entry.params, (argv, key)
            value, default = built[0][key], entry.params[key]
            if isinstance(default, bool):
                assert isinstance(value, bool), (key, value)
            elif isinstance(default, (int, float)):
                assert isinstance(value, type(default)) and not isinstance(value, bool), (key, value)
            elif isinstance(default, tuple):
                assert isinstance(value, tuple) and value, (key, value)
            assert check_value(value, default, entry.space.get(key)) is None, (key, value)
    assert list(in_empty_dir.iterdir()) == []  # the refused and the stopped command leave nothing behind


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


@FAST
@given(st.sampled_from(["cnn", "mlp", "vit", "mobilenet_v2"]),
       st.text(max_size=10) | st.sampled_from(["0", "-3", " 7 ", "1.5", "1e-3", "true", "No", "null", "[1, 2]",
                                               '{"a": 1}', "8,16", "(4)", "relu"]))
def test_set_values_are_typed_after_the_default_or_refused(model, text):
    """Each kind of default: bool, int, float, tuple, str (cnn's activation) and None (mobilenet_v2's weights)."""
    from kerazoo.cli.settings import parse_overrides
    from kerazoo.errors import UsageError
    from kerazoo.registry import get_entry

    params = get_entry(model).params
    for key, default in params.items():
        try:
            value = parse_overrides([f"{key}={text}"], params)[key]
        except UsageError as err:
            assert str(err).startswith(f"--set {key}=") and "\n" not in str(err)
            assert default is not None and not isinstance(default, str), (key, text)  # text is never refused
            continue
        if isinstance(default, bool):
            assert isinstance(value, bool)
            assert value is (text.strip().lower() in ("true", "1", "yes", "on"))
        elif isinstance(default, (int, float)):
            assert isinstance(value, type(default)) and value == value and abs(value) != float("inf")
            assert value == type(default)(text)
        elif isinstance(default, (tuple, list)):
            assert isinstance(value, tuple) and value
        elif isinstance(default, str):
            assert value == text  # a string default takes the text as written
        else:  # a None default: JSON when the text is JSON, else the text itself
            expected = _json_or_text(text)
            assert type(value) is type(expected) and json.dumps(value) == json.dumps(expected), (key, text, value)


JOB_FIELDS = ("model", "data", "space", "tuner", "objective", "budget", "seed", "output", "precision",
              "isolate_trials", "trials_per_worker", "worker_memory", "tensorboard", "winner", "budgett")
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

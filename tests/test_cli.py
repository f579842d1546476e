"""The `kerazoo` command: run as a user runs it, in a subprocess, and in-process (`main(argv)`, what the
console script calls) where a fresh process proves nothing more."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import run_cli

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def kerazoo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kerazoo", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def test_train_then_evaluate_end_to_end_through_a_pipe_with_no_native_noise(tmp_path, capsys):
    """`kerazoo train ... 2>&1 | cat`, then `kerazoo evaluate`: a run that evaluates and reproduces, and
    output with no C++ start-up line, absl banner, CUDA error, bar or colour code."""
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}  # the zoo's own defaults
    res = subprocess.run([sys.executable, "-m", "kerazoo", "train", "mlp", "--data", "iris", "--epochs", "3",
                          "--set", "width=16", "--set", "batch_norm=false", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout
    text = res.stdout
    assert "run written to" in text and "accuracy" in text
    assert "absl::InitializeLog" not in text and "cuInit" not in text and "cuda" not in text.lower()
    assert not [li for li in text.splitlines() if re.match(r"[IWEF]\d{4} ", li)], text  # no absl/C++ record
    assert not set(text) & {"\x1b", "\r", "\b"}, repr(text)  # one plain line an epoch
    assert "Epoch 3/3\n" in text and re.search(r"^\d+/\d+ - .*val_loss: ", text, re.M)
    assert "device default strategy (no distribution), 1 replica on" in text and "_Default" not in text
    config = json.loads((out / "config.json").read_text())
    assert config["overrides"] == {"width": 16, "batch_norm": False}
    assert config["fit"]["epochs"] == 3 and config["data"]["source"] == "iris"
    res = kerazoo("evaluate", str(out))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    line = next(li for li in res.stdout.splitlines() if li.startswith("accuracy"))
    assert float(line.split()[1]) == pytest.approx(metrics["test"]["accuracy"], abs=1e-4)

    again = tmp_path / "again"  # --config reproduces the run (in-process: train ran as a process above)
    code, _, err = run_cli(["train", "--config", str(out / "config.json"), "--out", str(again), "--verbose", "0"],
                           capsys)
    assert code == 0, err
    assert json.loads((again / "metrics.json").read_text())["test"] == pytest.approx(metrics["test"], rel=1e-4)


def test_default_out_dir_is_under_runs_and_no_jit_compile_turns_xla_off(tmp_path, monkeypatch, capsys):
    from kerazoo import load_run

    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["train", "mlp", "--data", "wine", "--epochs", "1", "--verbose", "0", "--no-jit-compile"],
                           capsys)
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("mlp-") and (run / "manifest.json").exists()
    assert load_run(run).config["compile"]["jit_compile"] is False  # what compiled the training step, not "auto"


def test_jit_compile_flags_parse_and_a_bad_config_value_is_refused(tmp_path, capsys):
    from kerazoo.cli import make_parser

    parse = make_parser().parse_args
    assert [parse(["train", "gpt", *flag]).jit_compile for flag in ([], ["--jit-compile"], ["--no-jit-compile"])] \
        == [None, True, False]  # None: compile_model's "auto" (on for a language model's long fit on the CPU)
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"model": "mlp", "data": {"source": "wine"}, "compile": {"jit_compile": "maybe"}}))
    code, _, err = run_cli(["train", "--config", str(config), "--out", str(tmp_path / "bad"), "--epochs", "1"], capsys)
    assert code == 2 and "jit_compile must be True, False or 'auto', got 'maybe'" in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("args,message", [
    (["train", "cnnn"], "unknown model 'cnnn'; did you mean: cnn?"),
    (["train", "cnn", "--set", "widht=3"], "--set widht: not an argument of this model"),
    (["train", "cnn", "--set", "dropout=high"], "--set dropout=high: expected a number"),
    (["train", "cnn", "--set", "dropout"], "expected key=value"),
    (["train", "cnn", "--epochs", "0"], "--epochs: expected a positive int"),
    (["train", "mlp", "--data", "digts"], "did you mean 'digits'?"),
    (["train", "cnn", "--data", "iris", "--epochs", "1"], "takes image inputs"),
    (["train", "--config", "/no/such.json"], "--config /no/such.json"),
    (["evaluate", "/no/such/run"], "no run directory"),
    (["describe", "vitt"], "did you mean: vit"),
    (["describe", "CNN"], "did you mean: cnn?"),
    (["models", "--task", "regresion"], "--task: expected one of multiclass, binary, regression, multilabel, "
                                        "causal_lm, got 'regresion'; did you mean 'regression'?"),
    (["models", "--inputs", "img"], "--inputs: expected one of image, tabular, sequence, tokens, got 'img'"),
    (["models", "--tag", "conv2d"], "--tag: no model has the tag 'conv2d'; did you mean 'conv'?; tags: "),
    (["train", "mlp", "--data", "iris", "--set", "depth=-1"], "--set depth=-1: out of range: expected an int >= 1 "
                                                              "(tuning searches int 1..4)"),
    (["train", "cnn", "--set", "filters=16,0,32"], "--set filters=16,0,32: out of range: expected a tuple of ints"),
    (["train", "--init", "/no/run", "--data", "text:x.txt", "--lora", "0"], "--lora: expected a positive int"),
    (["train", "--init", "/no/run", "--data", "text:x.txt", "--freeze-blocks", "0"], "--freeze-blocks: expected"),
    (["train", "mlp", "--data", "iris", "--label", "species"], "--label: names a .csv file's label column"),
    (["train", "mlp", "--data", "iris", "--optimizer", "adagrad"], "--optimizer: expected one of adamw, adam, sgd"),
    (["train", "mlp", "--data", "iris", "--augment", "lite"], "--augment: expected a preset (none, light, medium"),
    (["train", "mlp", "--data", "iris", "--seed", "-1"], "--seed: expected an int in [0, 4294967295], got -1"),
    (["train", "gpt", "--data", "small.txt"], "'small.txt' is a text file; language-model text is read with "
                                              "the text: prefix: 'text:small.txt'"),
    (["train", "mlp", "--data", "iris", "--out", "small.txt"], "--out 'small.txt' is a file, not a folder"),
    (["generate", "/no/run", "--prompt", "def", "--top-p", "1.5"], "--top-p: expected a number in (0, 1], got 1.5"),
    (["tune", "job.yaml", "--max-trials", "0"], "--max-trials: expected a positive int, got 0"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, monkeypatch, capsys):
    """In-process (`main(argv)`, what the console script calls): the commands run as processes in the tests above."""
    (tmp_path / "small.txt").write_text("def f():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(args, capsys)
    assert code == 2, (out, err)
    lines = [li for li in err.splitlines() if li.startswith("kerazoo")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_flags_are_checked_before_tensorflow_loads_and_before_the_prompt_prints(tmp_path):
    """`generate RUN --max-new-tokens -1` on a real run directory: the flag's name, no prompt, no TensorFlow."""
    from kerazoo.io import write_json
    from kerazoo.runs import finish_run

    run = tmp_path / "run"
    write_json(run / "config.json", {"model": "gpt-nano"})  # a finished run's files; generation never starts
    finish_run(run)
    code = ("import sys, time; from kerazoo.cli import main; t = time.process_time(); "
            f"code = main(['generate', {str(run)!r}, '--prompt', 'def', '--max-new-tokens', '-1']); "
            "print('RESULT', code, 'tensorflow' in sys.modules, round(time.process_time() - t, 3))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    *printed, result = res.stdout.splitlines()
    _, exit_code, tensorflow, seconds = result.split()
    assert (exit_code, tensorflow) == ("2", "False") and printed == []  # nothing of the prompt
    assert res.stderr == "kerazoo: error: --max-new-tokens: expected a positive int, got -1\n"
    assert float(seconds) < 1.0  # the check's own CPU time (not the wall clock, which a busy machine stretches)


def test_label_chooses_the_csv_column_and_flags_are_never_abbreviated(tmp_path, capsys):
    from kerazoo.cli import main

    rows = "".join(f"{i % 5},{'rose' if i % 2 else 'iris'},{i % 3}.5\n" for i in range(40))
    data = str(tmp_path / "flowers.csv")
    (tmp_path / "flowers.csv").write_text("length,species,width\n" + rows)
    with pytest.raises(SystemExit) as stop:
        main(["train", "mlp", "--data", data, "--lab", "species"])
    assert stop.value.code == 2 and "unrecognized arguments: --lab" in capsys.readouterr().err  # not smoothing
    run = str(tmp_path / "run")
    assert main(["train", "mlp", "--data", data, "--label", "species", "--epochs", "1", "--set", "width=8",
                 "--out", run, "--verbose", "0"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["label"] == "species" and config["spec"]["class_names"] == ["iris", "rose"]
    assert config["compile"]["label_smoothing"] == 0.0 and config["spec"]["input_shape"] == [2]
    assert main(["evaluate", run, "--no-report"]) == 0  # the run's own column again


def test_task_makes_whole_number_targets_classes_and_is_recorded_for_resume(tmp_path, capsys):
    """Counts 0-39 over 60 rows read as a regression target; `--task multiclass` makes them 40 classes."""
    rows = "".join(f"{i % 7},{i % 40}\n" for i in range(60))
    (tmp_path / "counts.csv").write_text("a,n\n" + rows)
    code, out, _ = run_cli(["train", "mlp", "--data", str(tmp_path / "counts.csv"), "--task", "multiclass",
                            "--epochs", "1", "--set", "width=8", "--out", str(tmp_path / "run"), "--verbose", "0"],
                           capsys)
    assert code == 0 and "-> multiclass, 40 classes" in out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["task"] == "multiclass"
    from kerazoo import load_data

    assert load_data(str(tmp_path / "counts.csv")).spec.task == "regression"  # what the flag overrode


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    """A binary classifier of 4 numeric features, trained one epoch from a CSV, with its report written."""
    from kerazoo.cli import main

    folder = tmp_path_factory.mktemp("binary")
    rows = "".join(f"{i % 7},{i % 5},{i % 3},{i % 2 * 3},{'yes' if i % 2 else 'no'}\n" for i in range(60))
    (folder / "train.csv").write_text("a,b,c,d,answer\n" + rows)
    rows = "".join(f"{i % 7},{i % 5},{i % 3},{i % 2 * 3},{i * 0.37:.2f}\n" for i in range(60))
    (folder / "prices.csv").write_text("a,b,c,d,price\n" + rows)
    rows = "".join(f"{i % 7},{i % 5},{i % 3},{i % 2 * 3},{'left' if i % 2 else 'right'}\n" for i in range(60))
    (folder / "sides.csv").write_text("a,b,c,d,side\n" + rows)
    assert main(["train", "mlp", "--data", str(folder / "train.csv"), "--epochs", "1", "--set", "width=8",
                 "--out", str(folder / "run"), "--verbose", "0"]) == 0
    assert main(["evaluate", str(folder / "run"), "--no-plots"]) == 0
    return folder


@pytest.mark.parametrize("other,named", [
    ("prices.csv", "but the data is regression of tabular inputs (4,)"),
    ("sides.csv", "but the data is binary over 2 classes (left, right)"),
])
def test_evaluate_on_data_of_another_task_is_refused_and_keeps_the_report(binary_run, other, named, capsys):
    from kerazoo.cli import main

    report = binary_run / "run" / "report"
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    capsys.readouterr()
    assert main(["evaluate", str(binary_run / "run"), "--data", str(binary_run / other)]) == 2
    captured = capsys.readouterr()
    assert "the run's model is binary over 2 classes (no, yes) of tabular inputs (4,)" in captured.err
    assert named in captured.err and "accuracy" not in captured.out
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before
    assert sorted(p.name for p in (binary_run / "run").iterdir() if p.name.startswith("report")) == ["report"]


def test_evaluate_prints_its_metrics_once(binary_run, capsys):
    from kerazoo.cli import main

    capsys.readouterr()
    assert main(["evaluate", str(binary_run / "run"), "--no-plots"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [li.split()[0] for li in lines if li.startswith(("metric", "accuracy"))] == ["metric", "accuracy"]
    assert any(li.startswith("class ") for li in lines) and any(li.startswith("macro") for li in lines)


def test_debug_keeps_the_exit_code_and_adds_the_traceback(monkeypatch, capsys):
    from kerazoo.cli import main

    monkeypatch.setenv("KERAZOO_DEBUG", "1")
    assert main(["train", "mlpp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("kerazoo: error: unknown model 'mlpp'; did you mean: mlp? "
                                                        "(`kerazoo models` lists them all)\n")


def test_a_budget_block_whose_keys_are_not_indented_says_so(tmp_path, capsys):
    from kerazoo.cli import main

    job = tmp_path / "job.yaml"
    job.write_text("model: mlp\ndata: iris\nbudget:\nmax_trials: 3\nepochs: 2\n")
    assert main(["tune", str(job)]) == 2
    assert "max_trials is a field of budget, but it is not indented under `budget:`" in capsys.readouterr().err


def test_progress_is_a_bar_on_a_terminal_and_a_line_an_epoch_otherwise(monkeypatch):
    import io

    from kerazoo.console import progress_verbose

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert progress_verbose("auto") == 1
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert progress_verbose("auto") == 2 and progress_verbose(1) == 1


def test_the_flag_checks_know_the_names_the_library_takes():
    from kerazoo import augment, compiling
    from kerazoo.cli import flags

    assert flags.OPTIMIZERS == compiling.OPTIMIZERS and flags.SCHEDULES == compiling.SCHEDULES
    assert flags.AUGMENT_PRESETS == augment.PRESET_NAMES


def test_existing_out_dir_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    res = kerazoo("train", "mlp", "--data", "iris", "--out", str(tmp_path))
    assert res.returncode == 2 and "already exists and is not empty" in res.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_version_and_help():
    res = kerazoo("--version")
    assert res.returncode == 0 and res.stdout.startswith("kerazoo ")
    res = kerazoo("--help")
    assert res.returncode == 0 and "train" in res.stdout and "exit codes" in res.stdout
    assert kerazoo().returncode == 2  # no command: help and a usage exit

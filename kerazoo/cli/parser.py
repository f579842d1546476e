"""The `kerazoo` argument parser: every command and flag (the CLI reference page is generated from it)."""

from __future__ import annotations

import argparse

from kerazoo._version import __version__
from kerazoo.cli.describe import cmd_describe
from kerazoo.cli.evaluate import cmd_evaluate
from kerazoo.cli.export import cmd_export
from kerazoo.cli.finetune import cmd_finetune
from kerazoo.cli.generate import cmd_generate
from kerazoo.cli.models import cmd_models
from kerazoo.cli.serve import cmd_serve
from kerazoo.cli.train import cmd_train
from kerazoo.cli.tune import cmd_tune
from kerazoo.cli.values import epochs_value

DATA_TASKS = ("multiclass", "binary", "regression", "multilabel")
TASK_HELP = ("the data's task when the labels leave it open, e.g. whole-number targets (default: inferred; "
             "whole numbers that do not look like class ids are regression)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerazoo", description="A model zoo for Keras 3 on TensorFlow.", allow_abbrev=False,
        epilog="exit codes: 0 ok, 1 failed while running, 2 bad input, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"kerazoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list the zoo's models")
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'resnet*'")
    p.add_argument("--tag", action="append", help="keep models with this tag (repeatable)")
    p.add_argument("--task", help="keep models that support this task")
    p.add_argument("--inputs", help="keep models that take this input kind")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("describe", help="a model's arguments, defaults and search space")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("train", help="train a model and write a run directory")
    p.add_argument("name", nargs="?", help="a model name (see `kerazoo models`)")
    p.add_argument("--data", help="bundled name, tfds:<name>, image folder or .csv (default: digits)")
    p.add_argument("--epochs", type=epochs_value, help="most epochs, or auto: at least 10 epochs and 300 "
                   "optimizer steps (default auto; a model may raise both, e.g. gpt: 12 and 4680)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--seed", type=int, help="seed for splits, weights and shuffling (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model argument (repeatable)")
    p.add_argument("--config", help="a run's config.json or a tuning best.json to reproduce")
    p.add_argument("--out", help="run directory (default runs/<name>-<timestamp>/)")
    p.add_argument("--resume", action="store_true", help="continue the unfinished run in --out from its last "
                   "saved epoch (weights and optimizer state), with its own settings; refuses another model, "
                   "--set value, --data or split setting")
    p.add_argument("--label", metavar="COLUMN", help="a .csv file's label column (default: the last column)")
    p.add_argument("--task", choices=DATA_TASKS, help=TASK_HELP)
    p.add_argument("--optimizer", help="adamw, adam, sgd or rmsprop")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--schedule", help="cosine, linear or constant")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--validation-split", type=float)
    p.add_argument("--test-split", type=float)
    p.add_argument("--seq-len", type=int, help="text: tokens in a training window (default 128)")
    p.add_argument("--tokenizer", help="text: byte (default), sentencepiece[:SIZE] trained on the training "
                   "text, or a run directory whose tokenizer to reuse")
    p.add_argument("--augment", help="training-only augmentation: none, light, medium, heavy, or a JSON "
                   "object of settings, e.g. '{\"rotation\": 0.1, \"flip\": \"horizontal\"}'")
    p.add_argument("--augment-on", choices=("data", "model"),
                   help="run augmentation in the tf.data pipeline or in the training step (default data)")
    p.add_argument("--strategy", help="auto, default, one_device, mirrored, multi_worker (reads TF_CONFIG) "
                   "or tpu (default auto)")
    p.add_argument("--precision", help="auto, float32, mixed_float16 or mixed_bfloat16 (default auto)")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="compile the training step with XLA, or not (default auto: Keras' choice; for a language "
                   "model's long fit on the CPU, on)")
    p.add_argument("--init", metavar="RUN_DIR", help="language models: start from this run's weights and "
                   "tokenizer and fine-tune on --data (all weights unless --lora or --freeze-blocks)")
    p.add_argument("--lora", type=int, metavar="RANK", help="with --init: train LoRA adapters of this rank only")
    p.add_argument("--lora-alpha", type=float, help="with --lora: updates scale by alpha/rank (default: the rank)")
    p.add_argument("--lora-embedding", action="store_true", help="with --lora: adapt the token embedding too")
    p.add_argument("--freeze-blocks", type=int, metavar="N", help="with --init: keep the embeddings and the "
                   "bottom N blocks fixed")
    p.add_argument("--adapter-only", action="store_true",
                   help="with --lora: keep the adapter alone in the run (the base run rebuilds the model)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), help="progress display: 0 none, 1 a bar, 2 a line "
                   "an epoch (default: a bar on a terminal, else a line an epoch)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a run's model on its test split")
    p.add_argument("run_dir")
    p.add_argument("--data", help="evaluate on other data of the same task and classes (default: the run's own); "
                   "its report goes to RUN_DIR/report-<data>/")
    p.add_argument("--label", metavar="COLUMN", help="with --data FILE.csv: its label column (default: the run's, "
                   "else the last column)")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--unsafe", action="store_true", help="allow models with Lambda layers (runs code)")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="print the metrics only: no per-class report, no report/ folder")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="write report.json but no PNG plots")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("finetune", help="fine-tune a run, a .keras file or a zoo backbone on new data: a new "
                       "head, then phases")
    p.add_argument("source", help="a run directory, a .keras file or a registered model (e.g. mobilenet_v2)")
    p.add_argument("--data", required=True, help="the new data: bundled name, tfds:<name>, image folder or .csv")
    p.add_argument("--label", metavar="COLUMN", help="a .csv file's label column (default: the last column)")
    p.add_argument("--task", choices=DATA_TASKS, help=TASK_HELP)
    p.add_argument("--freeze", default="backbone", help="what phase one freezes: backbone (default), the first "
                   "N layers with weights, or layer names (comma-separated, wildcards)")
    p.add_argument("--unfreeze", default="all", help="what phase two trains of those: all (default), the last N, "
                   "or layer names")
    p.add_argument("--phases", type=int, choices=(1, 2), help="1 or 2 phases (default 2)")
    p.add_argument("--epochs", help="most epochs, one a phase, e.g. 5,10 (default auto each: at least 10 "
                   "epochs and 300 optimizer steps)")
    p.add_argument("--learning-rates", help="one peak rate a phase (default 1e-3,1e-3)")
    p.add_argument("--head", help="new (default), keep, or hidden units before a new output layer")
    p.add_argument("--features", help="the layer the new head attaches to (default: below the output layer)")
    p.add_argument("--train-batchnorm", action="store_true", help="let the source's BatchNormalization layers "
                   "train (default: frozen, inference mode)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a registered model's argument, e.g. weights=imagenet (repeatable)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--validation-split", type=float)
    p.add_argument("--test-split", type=float)
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for splits, weights and shuffling (default 0)")
    p.add_argument("--out", help="run directory (default runs/<model>-finetune-<timestamp>/)")
    p.add_argument("--unsafe", action="store_true", help="allow models with Lambda layers (runs code)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), help="progress display: 0 none, 1 a bar, 2 a line "
                   "an epoch (default: a bar on a terminal, else a line an epoch)")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("export", help="export a run's model as verified SavedModel and TFLite files")
    p.add_argument("run_dir")
    p.add_argument("--format", default="savedmodel,tflite", help="savedmodel, tflite, onnx (the onnx extra), "
                   "comma-separated (default savedmodel,tflite)")
    p.add_argument("--quantize", help="extra TFLite files: dynamic, float16, int8 (comma-separated)")
    p.add_argument("--int8-io", action="store_true", help="int8 inputs and outputs for the int8 file")
    p.add_argument("--select-ops", action="store_true",
                   help="allow select-TF ops in TFLite files (the device then needs the Flex delegate)")
    p.add_argument("--out", default="exports", help="export root; writes OUT/<model>/<version>/ "
                   "(default exports/)")
    p.add_argument("--name", help="the model's folder name (default: the zoo model's name)")
    p.add_argument("--version", type=int, help="version folder number (default: the next one)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip reloading and comparing each artifact with the Keras model")
    p.add_argument("--min-agreement", type=float, metavar="SHARE",
                   help="least top-1 (language model: next-token) agreement with Keras a quantized file may have "
                        "(default 0.98; 0.95 for a language model)")
    p.add_argument("--max-relative-error", type=float, metavar="SHARE",
                   help="largest relative error a regression model's quantized file may have (default 0.02)")
    p.add_argument("--keep-failing", action="store_true",
                   help="write a quantized file outside its threshold (marked 'kept') instead of stopping with exit 1")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve exported SavedModels with TensorFlow Serving's REST API "
                       "(development and tests)")
    p.add_argument("export_root", help="the export root (`kerazoo export --out`, default exports/) or one "
                   "model's folder of versions")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8501, help="port; 0 picks a free one (default 8501, TensorFlow "
                   "Serving's REST port)")
    p.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new version folders "
                   "(default 1)")
    p.add_argument("--max-body-mb", type=float, default=64, help="largest request body in MiB; larger ones get "
                   "413 (default 64)")
    p.add_argument("--log-requests", action="store_true", help="print a line a request")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("tune", help="run a KerasTuner search job (YAML): resumable, distributable")
    p.add_argument("job", help="the job file, e.g. examples/tuning/digits_cnn.yaml")
    p.add_argument("--overwrite", action="store_true", help="discard the earlier search in the output and start over")
    p.add_argument("--max-trials", type=int, help="override budget.max_trials (raise it to extend a search)")
    p.add_argument("--out", help="override the job's output directory")
    p.add_argument("--chief", action="store_true", help="serve the search to workers (binds 127.0.0.1:8000 "
                   "unless --address is given)")
    p.add_argument("--worker", metavar="ID", help="run trials for the chief at --address, as worker ID")
    p.add_argument("--address", metavar="HOST:PORT", help="the chief's address")
    p.add_argument("--check", action="store_true", help="validate the job against its data, print the space, stop")
    p.add_argument("--in-process", action="store_true", help="run the trials in this process, not in recycled "
                   "worker processes (for debugging: breakpoints and tracebacks in one process)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 quiet, 1 a summary per trial, 2 also epochs")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("generate", help="continue a prompt with a language-model run, printing tokens as they come")
    p.add_argument("run_dir")
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to generate (default 200)")
    p.add_argument("--sampler", default="greedy", choices=("greedy", "top_k", "top_p"),
                   help="greedy, top_k or top_p (default greedy)")
    p.add_argument("--temperature", type=float, default=1.0, help="divides the logits (default 1.0)")
    p.add_argument("--top-k", type=int, default=10, help="top_k: sample among the k likeliest (default 10)")
    p.add_argument("--top-p", type=float, default=0.9, help="top_p: the probability mass kept (default 0.9)")
    p.add_argument("--seed", type=int, help="sampling seed: the same seed gives the same text")
    p.add_argument("--no-cache", dest="cache", action="store_false",
                   help="recompute the whole prefix every step instead of using the key/value cache")
    p.set_defaults(func=cmd_generate)
    for command in sub.choices.values():  # `--label` must never be read as `--label-smoothing`
        command.allow_abbrev = False
    return parser

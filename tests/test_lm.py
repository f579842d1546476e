"""Language models: the gpt family on the bundled text, generation, tokenizers, LoRA and export.

One tiny gpt (1 block, width 32, windows of 32 bytes) is trained once per module and
shared; every check runs on it or on a copy, so the file stays quick on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kerazoo import build, fit, generate, load_data, load_run, model_info
from kerazoo.lm import (
    Tokenizer,
    enable_lora,
    load_adapter,
    load_tokenizer,
    merge_lora,
    parameter_counts,
    pydoc_corpus,
    save_adapter,
    train_tokenizer,
)

TINY = {"num_layers": 1, "dim": 32, "num_heads": 2}
NON_ASCII = "naïve café — “quotes”, 日本語, emoji 🐍, tab\tand\nnewline"


@pytest.fixture(scope="module")
def text():
    return load_data("text:pydoc", seq_len=32, batch_size=16)


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "base.txt").write_text(pydoc_corpus(["pass", "break", "continue", "del", "return", "global",
                                                   "while", "for", "if", "raise"]))
    (folder / "new.txt").write_text(pydoc_corpus(["assert", "import"]))
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, corpus_files):
    """A tiny gpt trained a few epochs on a small slice of the documentation, as a run directory."""
    import keras

    data = load_data(f"text:{corpus_files / 'base.txt'}", seq_len=32, batch_size=16)
    keras.utils.set_random_seed(0)
    model = build("gpt-nano", data.spec, **TINY, compile={"learning_rate": 3e-3})
    path = tmp_path_factory.mktemp("runs") / "base"
    fit(model, data, epochs=3, run_dir=path, verbose=0, seed=0)
    return path


# -- data ------------------------------------------------------------------------------------------


def test_held_out_blocks_are_contiguous_and_at_the_end(text):
    info = text.text
    chars = info["chars"]
    assert chars["train"][1] == chars["validation"][0] and chars["validation"][1] == chars["test"][0]
    assert chars["test"][1] == len(info["text"])
    assert abs(chars["test"][1] - chars["test"][0] - round(0.1 * len(info["text"]))) <= 1
    train_x, train_y = text.arrays["train"]
    assert train_y.max() < text.spec.vocab_size and train_x.dtype == np.int32
    # no training target (nor input) reaches into the held-out blocks: the last one is token n * 32
    tokens, (val_start, _) = info["tokens"], info["bounds"]["validation"]
    assert len(train_y) * 32 < val_start
    np.testing.assert_array_equal(train_y[-1], tokens[len(train_y) * 32 - 31:len(train_y) * 32 + 1])
    test_x, test_y = text.arrays["test"]
    start = info["bounds"]["test"][0]
    np.testing.assert_array_equal(test_y[0], tokens[start:start + 32])  # the block's first token is a target
    np.testing.assert_array_equal(test_x[0], tokens[start - 1:start + 31])
    assert text.spec.summary() == "pydoc: tokens (32,) -> causal_lm, 256 ids"


def test_training_windows_are_cut_afresh_every_epoch_and_repeat_for_a_seed(text):
    tokens, (start, end) = text.text["tokens"], text.text["bounds"]["train"]
    epochs = [np.concatenate([y for _, y in text.train.as_numpy_iterator()]) for _ in range(2)]
    assert len(epochs[0]) == len(text.arrays["train"][0])  # as many windows an epoch as fixed cuts would give
    stream = tokens[start:end].astype("uint8").tobytes()  # byte tokens: find a window by its bytes
    firsts = [np.array([stream.find(row.astype("uint8").tobytes()) for row in y[:64]]) for y in epochs]
    assert all((f >= 0).all() for f in firsts)  # every window is a run of the training block's tokens
    assert len(set(firsts[0]) & set(firsts[1])) < 5  # the second epoch cuts the text elsewhere
    assert len({f % 32 for f in firsts[0]}) > 8  # not the fixed cuts, which all start at 1 modulo 32
    x, y = next(iter(text.train))
    np.testing.assert_array_equal(np.asarray(x)[:, 1:], np.asarray(y)[:, :-1])
    again = text.train_pipeline(batch_size=16, seed=0)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again.as_numpy_iterator()]), epochs[0])


def test_tokenizers_round_trip_text_beyond_ascii(tmp_path):
    byte = Tokenizer("byte")
    assert byte.decode(byte.encode(NON_ASCII)) == NON_ASCII
    assert len(byte.encode("é")) == 2
    sub = train_tokenizer(pydoc_corpus(["pass", "break", "continue", "del", "return"]), "sentencepiece:500")
    assert sub.decode(sub.encode(NON_ASCII)) == NON_ASCII  # characters never seen in training: byte fallback
    code = "    def f(x):\n        return x  # indented\n\n"
    assert sub.decode(sub.encode(code)) == code
    assert len(sub.encode(code)) < len(byte.encode(code))
    sub.save(tmp_path)
    again = load_tokenizer(tmp_path)
    np.testing.assert_array_equal(again.encode(NON_ASCII), sub.encode(NON_ASCII))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json", "tokenizer.model"]


def test_sentencepiece_figures_are_per_character_like_the_bytes(corpus_files):
    from kerazoo.lm import text_metrics

    data = load_data(f"text:{corpus_files / 'base.txt'}", seq_len=16, tokenizer="sentencepiece:500")
    assert data.spec.vocab_size <= 500 and data.spec.bytes_per_token > 1.5
    chars = np.asarray(data.spec.chars_per_id)
    for split in ("train", "test"):  # the table counts every block's own characters (and the encoder's one space)
        (c0, c1), (t0, t1) = data.text["chars"][split], data.text["bounds"][split]
        assert chars[data.text["tokens"][t0:t1]].sum() == c1 - c0 + 1
    assert data.options["tokenizer"] == "sentencepiece:500"
    model = build("gpt-nano", data.spec, **TINY)
    x, y = data.arrays["test"]
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    # bits per byte = bits per token / bytes per token; bits per character: the bits over the targets' characters
    bits = result["loss"] / np.log(2)
    assert result["bits_per_byte"] == pytest.approx(bits / data.spec.bytes_per_token, rel=1e-4)
    assert result["bits_per_char"] == pytest.approx(bits * y.size / chars[y].sum(), rel=1e-4)
    # and it is the exact held-out figure (which scores the block's last 2 tokens too), while the training
    # text's average characters a token (2.3 there, 1.75 here: the vocabulary fits its own text) is 30% off
    exact = text_metrics(model, data)["bits_per_char"]
    assert result["bits_per_char"] == pytest.approx(exact, rel=0.01)
    assert bits / data.spec.chars_per_token < 0.8 * exact


def test_empty_corpus_and_short_blocks_fail_clearly(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="the text is empty"):
        load_data(f"text:{tmp_path / 'empty.txt'}")
    (tmp_path / "short.txt").write_text("x" * 500)
    with pytest.raises(ValueError, match=r"fewer than one window of seq_len=128; lower seq_len"):
        load_data(f"text:{tmp_path / 'short.txt'}")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_data("text:/no/such/file.txt")
    with pytest.raises(ValueError, match="task must be 'causal_lm'"):
        load_data("text:pydoc", task="multiclass")
    with pytest.raises(ValueError, match="seq_len applies to text sources"):
        load_data("digits", seq_len=32)


def test_sequence_length_beyond_the_context_fails(text):
    with pytest.raises(ValueError, match=r"windows of 512 tokens are beyond the model's context \(max_length=256\)"):
        build("gpt-nano", text.spec.with_(input_shape=(512,)))
    with pytest.raises(ValueError, match=r"supports tasks \['causal_lm'\], but the data 'bytes' is 'multiclass'"):
        build("gpt-nano", input_shape=(8,), task="multiclass", num_classes=3)


# -- training --------------------------------------------------------------------------------------


def test_tiny_gpt_trains_on_the_bundled_text_and_its_loss_falls(text):
    from dataclasses import replace

    import keras
    from conftest import small

    keras.utils.set_random_seed(0)
    model = build("gpt-nano", text.spec, **TINY, compile={"learning_rate": 3e-3})
    cut = small(text, train_batches=10, eval_batches=1)
    pipelines = []  # fit(seed=...) rebuilds the training windows through the text's own pipeline

    def train_pipeline(batch_size, seed):
        pipelines.append((batch_size, seed))
        return text.train_pipeline(batch_size=batch_size, seed=seed).take(10)

    own = replace(cut, train_pipeline=train_pipeline, made={**cut.made, "train": cut.train})  # as if loaded so
    result = fit(model, own, epochs=3, seed=0, verbose=0, callbacks="none")
    assert pipelines == [(16, 0)]
    losses = result.history["loss"]
    assert losses[-1] < losses[0] - 0.5, losses
    assert set(result.metrics["test"]) == {"loss", "accuracy", "perplexity", "bits_per_byte", "bits_per_char"}
    m = result.metrics["test"]
    assert m["perplexity"] == pytest.approx(np.exp(m["loss"]), rel=1e-4)
    assert m["bits_per_byte"] == pytest.approx(m["loss"] / np.log(2), rel=1e-4)
    test_y = cut.arrays["test"][1]  # the one test batch evaluated
    chars_per_byte = np.asarray(text.spec.chars_per_id)[test_y].sum() / test_y.size
    assert m["bits_per_char"] == pytest.approx(m["bits_per_byte"] / chars_per_byte, rel=1e-4)
    settings = model_info(model)["compile"]
    assert settings["warmup"] == 0.05 and settings["clipnorm"] == 1.0  # the causal_lm defaults
    assert model.output_shape == (None, None, 256) and model.layers[-1].dtype_policy.compute_dtype == "float32"


def test_long_language_model_fits_train_under_xla_on_the_cpu_and_in_batches_of_8_windows(text):
    import tensorflow as tf

    from kerazoo import compile_model
    from kerazoo.lm.data import DEFAULT_BATCH_SIZE
    from kerazoo.sources import find_source

    model = build("gpt-nano", text.spec, **TINY)
    assert model.jit_compile is False  # no fit length known: Keras' own "auto", off without an accelerator
    compile_model(model, decay_steps=4680)  # what fit does for the default run's 4,680 steps
    assert model.jit_compile is True
    assert model_info(model)["compile"]["jit_compile"] == "auto"  # recorded as asked, resolved where compiled
    assert compile_model(model, decay_steps=300).jit_compile is False  # a short fit: the compile would not pay
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        mirrored = build("gpt-nano", text.spec, **TINY, compile=False)
        assert compile_model(mirrored, decay_steps=4680).jit_compile is False  # under tf.distribute, Keras decides
    assert compile_model(build("mlp", input_shape=(4,), num_classes=3), decay_steps=4680).jit_compile is False
    assert DEFAULT_BATCH_SIZE == find_source("text:pydoc", None).batch_size == 8
    assert load_data("text:pydoc").options["batch_size"] == 8 and load_data("iris").options["batch_size"] == 32


def test_run_directory_holds_the_tokenizer_and_reloads(run_dir, corpus_files):
    files = json.loads((run_dir / "manifest.json").read_text())["files"]
    assert "tokenizer.json" in files and "model.keras" in files
    run = load_run(run_dir)
    assert run.spec.task == "causal_lm" and run.config["data"]["seq_len"] == 32
    assert run.config["data"]["tokenizer"] == "byte" and load_tokenizer(run_dir).kind == "byte"
    # the figure recorded is the saved model's own, and it learned the text: uniform over bytes scores 8.0,
    # the text's own byte frequencies 4.8; 3 epochs of the 1-block gpt reach 4.9
    x, y = load_data(f"text:{corpus_files / 'base.txt'}", seq_len=32, batch_size=16).arrays["test"]
    recorded = run.metrics["test"]["bits_per_byte"]
    assert run.model.evaluate(x, y, verbose=0, return_dict=True)["bits_per_byte"] == pytest.approx(recorded, rel=1e-4)
    assert recorded < 5.5


# -- generation ------------------------------------------------------------------------------------


def test_cached_generation_matches_uncached_greedy_decoding(run_dir):
    model = load_run(run_dir).model
    prompts = ["The ", "while x:\n    "]
    cached = generate(model, prompts, max_new_tokens=24, cache=True, jit_compile=True)  # the whole loop, XLA
    uncached = generate(model, prompts, max_new_tokens=24, cache=False)
    assert cached == uncached
    # and greedy decoding by hand, one full forward pass per token, agrees with both
    ids = list(Tokenizer().encode("The "))
    for _ in range(24):
        logits = np.asarray(model(np.array([ids], "int32"), training=False))
        ids.append(int(logits[0, -1].argmax()))
    assert Tokenizer().decode(ids[4:]) == cached[0]


@pytest.mark.parametrize("sampler,options", [("greedy", {}), ("top_k", {"k": 5, "seed": 11}),
                                            ("top_p", {"p": 0.8, "temperature": 1.5, "seed": 12})])
def test_cached_generation_matches_uncached_on_several_blocks(sampler, options):
    """Three blocks, each with its own slice of the cache: a block reading another's keys changes the text."""
    import keras

    keras.utils.set_random_seed(0)
    model = build("gpt-nano", num_layers=3, dim=32, num_heads=2, compile=False)
    prompts = ["The ", "while x:\n    "]  # two lengths: the shorter row starts generating inside the prompt batch
    cached = generate(model, prompts, max_new_tokens=24, sampler=sampler, cache=True, **options)
    assert cached == generate(model, prompts, max_new_tokens=24, sampler=sampler, cache=False, **options)
    assert all(cached)
    if sampler != "greedy":  # the seed decides the draws: another seed, another text
        other = generate(model, prompts, max_new_tokens=24, sampler=sampler, cache=True,
                         **{**options, "seed": options["seed"] + 1})
        assert other != cached


def test_generation_is_reproducible_for_a_seed_and_streams(run_dir):
    a = generate(run_dir, "The ", max_new_tokens=16, sampler="top_k", k=5, seed=7)
    assert a == generate(run_dir, "The ", max_new_tokens=16, sampler="top_k", k=5, seed=7)
    pieces = []
    b = generate(run_dir, "The ", max_new_tokens=16, sampler="top_p", p=0.8, temperature=0.8, seed=3,
                 stream=pieces.append)
    assert b == generate(run_dir, "The ", max_new_tokens=16, sampler="top_p", p=0.8, temperature=0.8, seed=3)
    assert "".join(pieces) == b and len(pieces) > 1


class Latin1:
    """One character an id: any ids round-trip through text, so a test reads back the very tokens drawn."""

    vocab_size = 256

    def encode(self, text):
        return np.array([ord(c) for c in text], "int32")

    def decode(self, ids):
        return "".join(chr(int(i)) for i in ids)


def test_generation_past_the_context_equals_recomputing_from_the_last_context_tokens():
    """The sliding window with slide=1: every token from exactly the last 16 (the context), cached or not."""
    import keras

    from kerazoo import DataSpec

    keras.utils.set_random_seed(0)
    model = build("gpt-nano", DataSpec((16,), task="causal_lm", kind="tokens", vocab_size=256), **TINY,
                  max_length=16, compile=False)
    for weight in model.weights:  # large weights: the next token hangs on every token of the window
        if len(weight.shape) >= 2:
            weight.assign(np.asarray(weight) * 8)
    latin1, prompts = Latin1(), ["The ", "while x:\n  "]
    slid = generate(model, prompts, max_new_tokens=60, slide=1, jit_compile=True, tokenizer=latin1)
    assert slid == generate(model, prompts, max_new_tokens=60, slide=1, cache=False, jit_compile=False,
                            tokenizer=latin1)
    for prompt, text in zip(prompts, slid):
        seq = latin1.encode(prompt + text)
        for t in range(len(prompt), len(seq)):  # greedy: the likeliest token given at most the last 16, in one pass
            logits = np.asarray(model(seq[None, max(0, t - 16):t], training=False))
            assert seq[t] == logits[0, -1].argmax(), (prompt, t)
    # a wider slide: the cache is recomputed from the window's last 11 tokens at once; the same draws without it
    options = dict(max_new_tokens=60, slide=5, sampler="top_k", k=4, seed=5, tokenizer=latin1)
    assert generate(model, prompts, **options) == generate(model, prompts, cache=False, **options)


def test_bad_generation_settings_fail_clearly(run_dir):
    model = load_run(run_dir).model
    with pytest.raises(ValueError, match="the prompt is empty"):
        generate(model, "")
    with pytest.raises(ValueError, match="sampler must be one of"):
        generate(model, "x", sampler="beam")
    with pytest.raises(ValueError, match=r"slide must be an int in \[1, 31\] \(the context holds 32 tokens\), got 0"):
        generate(model, "x", slide=0)
    for bad in ("yes", 1, 0):  # 1 == True in Python: generate's own check once let 1 and 0 through
        with pytest.raises(ValueError, match=f"jit_compile must be True, False or 'auto', got {bad!r}"):
            generate(model, "x", jit_compile=bad)


def test_generate_command_prints_the_continuation(run_dir, capsys):
    from kerazoo.cli import main

    assert main(["generate", str(run_dir), "--prompt", "The ", "--max-new-tokens", "12"]) == 0
    out = capsys.readouterr().out
    expected = generate(run_dir, "The ", max_new_tokens=12)
    assert out == f"The {expected}\n"


def test_generate_command_writes_2000_tokens_past_the_context(run_dir, capsys):
    from kerazoo.cli import main

    assert main(["generate", str(run_dir), "--prompt", "The ", "--max-new-tokens", "2000"]) == 0
    out = capsys.readouterr().out
    assert out == f"The {generate(run_dir, 'The ', max_new_tokens=2000)}\n"
    assert len(out.encode()) >= 2000  # 2000 bytes, a page (a byte the model leaves incomplete prints as U+FFFD)


def test_the_context_is_the_trained_window_and_a_longer_prompt_is_read_from_its_end(run_dir, capsys):
    """Trained on windows of 32 bytes, the model reads 32 of its 256 positions: the rest were never trained."""
    from kerazoo.cli import main
    from kerazoo.lm.model import context_length

    model = load_run(run_dir).model
    assert context_length(model) == 32 and int(model.get_layer("position_embedding").sequence_length) == 256
    prompt = "x" * 300 + "The "
    assert main(["generate", str(run_dir), "--prompt", prompt, "--max-new-tokens", "12"]) == 0
    assert capsys.readouterr().out == f"{prompt}{generate(model, prompt[-32:], max_new_tokens=12)}\n"


def test_finetune_on_a_language_model_run_points_to_train_init(run_dir, capsys, tmp_path):
    from kerazoo.cli import main

    assert main(["finetune", str(run_dir), "--data", "iris", "--out", str(tmp_path / "ft")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"kerazoo train --init {run_dir} --data text:PATH" in err
    assert not (tmp_path / "ft").exists()


# -- fine-tuning -----------------------------------------------------------------------------------


def test_finetuning_on_longer_windows_reads_them_at_once_and_after_a_reload(run_dir, corpus_files, tmp_path):
    """Base run: windows of 32; fine-tuned on 64, the model's context is 64 in memory as in its run."""
    from kerazoo.lm import finetune_lm
    from kerazoo.lm.model import context_length

    data = load_data(f"text:{corpus_files / 'new.txt'}", seq_len=64, tokenizer=str(run_dir))
    result = finetune_lm(run_dir, data, method="full", epochs=1, verbose=0, run_dir=tmp_path / "ft",
                         callbacks="none")
    assert context_length(result.model) == 64 == context_length(load_run(tmp_path / "ft").model)


def test_lora_trains_only_the_adapters_and_leaves_base_weights_bit_identical(run_dir, corpus_files, tmp_path):
    from kerazoo.lm import finetune_lm

    rank = 4
    base = load_run(run_dir).model
    before = {v.path: np.array(v) for v in base.variables}
    result = finetune_lm(run_dir, f"text:{corpus_files / 'new.txt'}", rank=rank, epochs=2, verbose=0,
                      run_dir=tmp_path / "lora", callbacks="none")
    model = result.model
    # every base weight is bit-identical (Keras' enable_lora leaves biases, norms and embeddings trainable)
    for v in model.variables:
        if "lora" not in v.path and "seed_generator" not in v.path:
            np.testing.assert_array_equal(np.array(v), before[v.path], err_msg=v.path)
    # the adapters trained, and they are all that trained: the share the rank implies
    adapters = [v for v in model.variables if "lora" in v.path]
    assert any(np.abs(np.array(v)).sum() > 0 for v in adapters if v.path.endswith("_b"))
    kernels = [layer.kernel for layer in _lora_targets(model)]
    implied = sum(int(np.prod(k.shape[:-1])) * rank + rank * int(k.shape[-1]) for k in kernels)
    assert {v.path for v in model.trainable_variables} == {v.path for v in adapters}
    assert result.parameters["trainable"] == implied == sum(int(np.prod(v.shape)) for v in adapters)
    assert result.parameters["total"] == implied + sum(int(np.prod(v.shape)) for v in base.variables)
    config = json.loads((tmp_path / "lora" / "config.json").read_text())["finetune"]
    assert config["method"] == "lora" and config["parameters"]["trainable"] == implied
    # the merged model computes what base plus adapter computes
    merged = merge_lora(model)
    x = load_data(f"text:{corpus_files / 'new.txt'}", seq_len=32).arrays["test"][0][:8]
    np.testing.assert_allclose(np.asarray(merged(x)), np.asarray(model(x)), rtol=1e-4, atol=1e-4)
    assert not any("lora" in v.path for v in merged.variables)
    # the run's model.keras is that merged model; the adapter alone reloads onto the base
    np.testing.assert_allclose(np.asarray(load_run(tmp_path / "lora").model(x)), np.asarray(model(x)),
                               rtol=1e-4, atol=1e-4)
    again = load_adapter(load_run(run_dir).model, tmp_path / "lora")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-5)


def _lora_targets(model):
    from kerazoo.lm.lora import lora_layers

    return lora_layers(model).values()


def test_lora_adapter_alone_and_frozen_blocks(run_dir, tmp_path):
    model = load_run(run_dir).model
    enable_lora(model, rank=2, embedding=True)
    counts = parameter_counts(model)
    embedding = model.get_layer("token_embedding")
    assert embedding.lora_enabled and counts["trainable"] < counts["total"] * 0.2
    files = save_adapter(model, tmp_path)
    assert sum(p.stat().st_size for p in files) < (run_dir / "model.keras").stat().st_size
    from kerazoo.io import file_mode  # readable by others: the umask's mode, not mkstemp's 0600

    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(file_mode()) for p in files}
    with pytest.raises(ValueError, match="already has LoRA adapters"):
        enable_lora(model, rank=2)
    from kerazoo.lm import prepare_finetune

    plain = load_run(run_dir).model
    frozen = prepare_finetune(plain, "freeze", freeze_blocks=1)
    assert frozen["trainable"] == int(np.prod(plain.get_layer("final_norm").gamma.shape)) * 2
    with pytest.raises(ValueError, match=r"freeze_blocks must be an int in \[0, 1\]"):
        prepare_finetune(plain, "freeze", freeze_blocks=3)


def test_adapter_only_run_rebuilds_from_its_base(run_dir, corpus_files, tmp_path):
    from kerazoo.cli import main

    out = tmp_path / "adapter-run"
    assert main(["train", "--init", str(run_dir), "--data", f"text:{corpus_files / 'new.txt'}", "--lora", "2",
                 "--epochs", "1", "--adapter-only", "--out", str(out), "--verbose", "0"]) == 0
    assert not (out / "model.keras").exists() and (out / "adapter.npz").exists()
    run = load_run(out)
    assert not any("lora" in v.path for v in run.model.variables)
    assert generate(out, "The ", max_new_tokens=4) == generate(run.model, "The ", max_new_tokens=4)


# -- export ----------------------------------------------------------------------------------------


def test_exported_gpt_logits_match_the_keras_model(run_dir, tmp_path):
    from export.lm import export_lm
    from export.verify import run_savedmodel, run_tflite

    result = export_lm(run_dir, tmp_path, quantize="dynamic")
    assert [a.file for a in result.artifacts] == ["saved_model.pb", "model.tflite", "model_dynamic.tflite"]
    assert [a.verification.status for a in result.artifacts] == ["ok", "ok", "ok"]
    assert result["model_dynamic.tflite"].verification.threshold["label"] == "next-token agreement"
    assert result["model.tflite"].verification.top1_agreement == 1.0
    assert not any(op.startswith("Flex") for op in result["model.tflite"].ops)
    assert result.metadata["outputs"]["logits"]["shape"] == [None, 32, 256]
    assert (result.path / "tokenizer.json").exists()
    # and independently: real windows through both consumers against the Keras model
    model = load_run(run_dir).model
    x = np.random.default_rng(0).integers(0, 256, size=(4, 32)).astype("int32")
    keras_logits = np.asarray(model(x, training=False))
    np.testing.assert_allclose(run_savedmodel(result.path, x)["logits"], keras_logits, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(run_tflite(result.path / "model.tflite", x)["logits"], keras_logits,
                               atol=1e-4, rtol=1e-4)


def test_gpt_int8_is_written_and_held_to_next_token_agreement_on_held_out_text(run_dir, tmp_path):
    from export.lm import export_lm
    from export.verify import run_tflite

    result = export_lm(run_dir, tmp_path, formats="tflite", quantize="int8")
    int8 = result["model_int8.tflite"]
    v = int8.verification
    assert v.status == "ok" and v.top1_agreement >= 0.95 and v.threshold["label"] == "next-token agreement"
    assert v.held_out["metric"] == "next-token accuracy" and abs(v.held_out["value"] - v.held_out["keras"]) <= 0.01
    assert result.metadata["verification_inputs"].startswith("the run's test split")
    assert int8.quantization["attempts"][0]["recipe"] == "all int8"  # this tiny gpt passes as all int8
    from ai_edge_litert.interpreter import Interpreter

    dtypes = {d["dtype"] for d in Interpreter(model_path=str(result.path / "model_int8.tflite")).get_tensor_details()}
    assert np.int8 in dtypes and not [op for op in int8.ops if op.startswith("Flex")]
    x = np.random.default_rng(1).integers(0, 256, size=(2, 32)).astype("int32")
    logits = run_tflite(result.path / "model_int8.tflite", x)["logits"]
    assert logits.shape == (2, 32, 256) and logits.dtype == np.float32


def test_gpt_int8_of_a_bare_model_needs_calibration_windows(tmp_path):
    from export.lm import export_lm

    with pytest.raises(ValueError, match=r"quantize='int8' needs token windows to calibrate activations"):
        export_lm(build("gpt-nano", **TINY), tmp_path / "out", quantize="int8", seq_len=16)
    assert not (tmp_path / "out").exists()


# -- the package -----------------------------------------------------------------------------------


def test_importing_kerazoo_loads_neither_tensorflow_nor_keras_hub():
    code = ("import sys, kerazoo, kerazoo.lm; kerazoo.list_models('gpt*'); kerazoo.describe('gpt');"
            "print('tensorflow' in sys.modules, 'keras_hub' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout.split()
    assert out == ["False", "False"]


def test_a_language_models_validation_counts_tokens_so_a_short_text_steers_training(corpus_files, caplog):
    """Each position of a window is a next-token prediction: 15 windows of 32 are 480 examples, not 15."""
    import logging

    from kerazoo import budget

    data = load_data(f"text:{corpus_files / 'new.txt'}", seq_len=32, batch_size=16)
    windows = len(data.arrays["validation"][0])
    assert windows < budget.MIN_VALIDATION <= windows * 32
    caplog.set_level(logging.INFO, logger="kerazoo")
    result = fit(build("gpt-nano", data.spec, **TINY), data, epochs=1, verbose=0)
    assert "too few to steer" not in caplog.text and "val_loss" in result.history


def test_gpt_family_is_registered_with_sizes_and_a_search_space():
    from kerazoo import describe, list_models

    assert list_models("gpt*") == ["gpt", "gpt-mini", "gpt-nano", "gpt-small"]
    assert list_models(task="causal_lm") == ["gpt", "gpt-mini", "gpt-nano", "gpt-small"]
    info = describe("gpt")
    assert {"num_layers", "dim", "num_heads", "dropout"} <= set(info["space"])
    assert info["default_output"] == "causal_lm, logits over 256 ids"
    assert describe("gpt-nano")["defaults"]["num_layers"] == 2
    # the default run's shape, chosen by the sweep: 6 blocks with a 2x feed-forward; the named sizes keep 4x
    assert (info["defaults"]["num_layers"], info["defaults"]["dim"], info["defaults"]["mlp_ratio"]) == (6, 128, 2.0)
    assert {describe(name)["defaults"]["mlp_ratio"] for name in ("gpt-nano", "gpt-mini", "gpt-small")} == {4.0}
    # and its weight decay, 0.1 where compile_model's default is 1e-4: the gpt's own, not the named sizes'
    assert build("gpt").optimizer.weight_decay == pytest.approx(0.1)
    assert build("gpt-nano").optimizer.weight_decay == pytest.approx(1e-4)
    # and its budget: the default run's 12 epochs of 390 steps on the bundled text, as many steps on a small text
    from kerazoo.budget import resolve_epochs

    training = describe("gpt")["training"]
    assert resolve_epochs("auto", 390, training=training)[0] == 12
    assert resolve_epochs("auto", 51, training=training)[0] == 92  # 60,000 characters in windows of 128, 8 a step

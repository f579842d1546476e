"""Transfer: pretrain on text that shares no passage with a few topics, LoRA-fine-tune on those topics.

    python benchmarks/lm_transfer.py --model gpt --pretrain-epochs 6   # about 10 minutes on 2 CPU cores
    python benchmarks/lm_transfer.py --pretrained OUT/pretrained     # reuse an earlier pretraining
    python benchmarks/lm_transfer.py --quick          # a smoke run (seconds of training, nothing saved)

The bundled text is split in two: the small set (`--topics`, eight statement
topics, about 28,000 characters) and the pretraining text. Held out by content,
not by topic name: `pydoc_data.topics` repeats itself (the `compound` topic
holds the `try`, `with`, `for` and `while` topics word for word), so every
paragraph of the other topics that shares a run of `--run-length` (50)
characters with the small set is removed from the pretraining text (`holdout`),
and the overlap left is measured and printed (`overlap`: it must be 0).

Three models are scored on the same held-out text, the last 10% of each
small-set topic (never trained on; see `interleaved`), in bits per character:

1. pretrained on that text, not fine-tuned;
2. that model with LoRA adapters (rank `--rank`) fine-tuned on the small set's
   training block: the base weights stay as they were;
3. the same architecture trained from scratch on the small set alone.

The result is saved to benchmarks/results/lm_transfer.json (not with `--quick`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, record, save  # noqa: E402

SMALL_SET = ("try", "with", "raise", "for", "while", "import", "assert", "del")
RUN_LENGTH = 50


def _runs(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def _shared(text: str, runs: set[str], n: int) -> bytearray:
    """1 at every character of `text` inside a run of `n` characters that is in `runs`."""
    hit = bytearray(len(text))
    for i in range(len(text) - n + 1):
        if text[i:i + n] in runs:
            hit[i:i + n] = b"\x01" * n
    return hit


def overlap(held: str, other: str, n: int = RUN_LENGTH) -> int:
    """Characters of `held` that sit in a run of `n` characters also found in `other`.

    Example:
    >>> overlap("abcdefgh", "xxcdefyy", n=4), overlap("abcdefgh", "hgfedcba", n=4)
    (4, 0)
    """
    return sum(_shared(held, _runs(other, n), n))


def paragraphs(text: str) -> list[str]:
    """`text` cut after each blank line: the pieces `holdout` keeps or removes whole.

    Example:
    >>> paragraphs("a\\n\\nb\\nc\\n\\n\\nd")
    ['a\\n\\n', 'b\\nc\\n\\n', '\\n', 'd']
    """
    return re.split(r"(?<=\n\n)", text)


def holdout(text: str, held: str, n: int = RUN_LENGTH) -> tuple[str, int]:
    """`text` without every paragraph that shares a run of `n` characters with `held`.

    Paragraphs end at a blank line, so what is kept is whole paragraphs of real
    text. A shared run may span two paragraphs (both go), and joining the kept
    ones may form a new one: it repeats until none is left.

    Returns:
        The kept text and the number of paragraphs removed.

    Example:
    >>> text = "one two three\\n\\nthe held text\\n\\nfour five\\n"
    >>> holdout(text, "xx the held text yy", n=8)
    ('one two three\\n\\nfour five\\n', 1)
    """
    runs, removed = _runs(held, n), 0
    while True:
        hit = _shared(text, runs, n)
        if not any(hit):
            return text, removed
        kept, start = [], 0
        for p in paragraphs(text):
            if any(hit[start:start + len(p)]):
                removed += 1
            else:
                kept.append(p)
            start += len(p)
        text = "".join(kept)


def interleaved(topics, validation=0.05, test=0.1) -> str:
    """The small set, arranged so that its held-out blocks cover every topic.

    Each topic is cut by characters into its first 85%, the next 5% and its last 10%;
    the text is every topic's first part, then every topic's middle part, then every
    topic's last part. `load_data`'s contiguous split (validation 5%, test the last 10%)
    then holds out the end of each topic: text of the same kind as the training part,
    never trained on.
    """
    from kerazoo.lm import pydoc_corpus

    parts = [[], [], []]
    for topic in topics:
        text = pydoc_corpus([topic])
        a, b = int(len(text) * (1 - validation - test)), int(len(text) * (1 - test))
        for i, piece in enumerate((text[:a], text[a:b], text[b:])):
            parts[i].append(piece)
    return "".join("".join(p) for p in parts)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render(saved: dict) -> str:
    """The README's transfer table, with the overlap before and after holding out by content."""
    r = saved["result"]
    t, before, after = r["text"], r["overlap"]["before"], r["overlap"]["after"]
    base = next(row for row in r["rows"] if row["key"] == "scratch")["trainable"]
    lines = ["| model | held-out bits per character | trainable parameters | epochs (best) |",
             "| --- | ---: | ---: | ---: |"]
    for row in r["rows"]:
        bpc = f"**{row['bits_per_char']:.3f}**" if row["key"] == "lora" else f"{row['bits_per_char']:.3f}"
        share = f" ({row['trainable'] / base:.0%} of {base:,})" if row["key"] == "lora" else ""
        epochs = f"{row['epochs']} ({row['best_epoch']})" if row["best_epoch"] != row["epochs"] else row["epochs"]
        lines.append(f"| {row['label']} | {bpc} | {row['trainable']:,}{share} | {epochs} |")
    pre, lora, scratch = (next(row["bits_per_char"] for row in r["rows"] if row["key"] == k)
                          for k in ("pretrained", "lora", "scratch"))
    per_step = f", {r['batch_size']} a step" if "batch_size" in r else ""
    lines += ["", f"`{r['model']}`, windows of {r['seq_len']} bytes{per_step}. Small set: "
              f"{', '.join(f'`{s}`' for s in r['small_set'])} ({t['small_set_chars']:,} characters; the held-out "
              f"block, the last 10% of each topic, {t['held_out_chars']:,}). Pretraining text: the other "
              f"{t['other_topics']} topics ({t['other_chars']:,} characters) less the {t['paragraphs_removed']} "
              f"paragraphs that share a run of {r['run_length']} characters with the small set "
              f"({t['other_chars'] - t['pretraining_chars']:,} characters), {t['pretraining_chars']:,} characters "
              f"left. Held-out characters in a shared {r['run_length']}-character run: "
              f"{before['held_out']:,} of {t['held_out_chars']:,} "
              f"({before['held_out'] / t['held_out_chars']:.0%}) before, **{after['held_out']:,}** after; "
              f"of the whole small set, {before['small_set']:,} before, **{after['small_set']:,}** after.",
              "", f"Pretraining is worth {scratch - pre:.2f} bits per character over training from scratch on "
              f"the small set; LoRA then changes the figure by {lora - pre:+.3f} with "
              f"{next(row['trainable'] for row in r['rows'] if row['key'] == 'lora') / base:.0%} of the "
              f"weights trainable. Budget: pretraining {r['pretrain_epochs']} epochs; LoRA "
              f"{r['finetune_epochs']} at most and from scratch {r['scratch_epochs']} at most, each stopped "
              f"early on the small set's validation block (patience 3 and 5, the best epoch's weights kept). "
              f"{footer({**saved, 'note': ''})}"]  # the note is on the seconds, which are not shown
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", default=",".join(SMALL_SET), help="the held-out small set")
    parser.add_argument("--model", default="gpt-nano")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, help="windows a step (default: the text loader's, as the "
                                                      "default run trains)")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--finetune-epochs", type=int, default=15)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--run-length", type=int, default=RUN_LENGTH,
                        help="a paragraph sharing a run this long with the small set leaves the pretraining text")
    parser.add_argument("--quick", action="store_true", help="a few steps of each, to check it runs (not saved)")
    parser.add_argument("--out", help="where to keep the runs (default: a temporary folder)")
    parser.add_argument("--pretrained", help="reuse this pretraining run (made by an earlier run of this script "
                        "on the same pretraining text, e.g. OUT/pretrained) instead of pretraining")
    args = parser.parse_args(argv)

    from kerazoo.lm import pydoc_corpus

    small = [t.strip() for t in args.topics.split(",") if t.strip()]
    n = args.run_length
    small_text = interleaved(small)
    other = pydoc_corpus(exclude=small)
    kept, removed = holdout(other, small_text, n)
    folder = Path(args.out or tempfile.mkdtemp(prefix="lm-transfer-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pretrain.txt").write_text(kept)
    (folder / "small.txt").write_text(small_text)

    import keras

    from kerazoo import build, fit, load_data
    from kerazoo.lm import finetune_lm, text_metrics

    pre_epochs, ft_epochs = (1, 1) if args.quick else (args.pretrain_epochs, args.finetune_epochs)
    scratch_epochs = 1 if args.quick else 4 * ft_epochs
    common = {"seq_len": args.seq_len, **({"batch_size": args.batch_size} if args.batch_size else {})}
    pretrain = load_data(f"text:{folder / 'pretrain.txt'}", **common)
    target = load_data(f"text:{folder / 'small.txt'}", **common)
    c0, c1 = target.text["chars"]["test"]
    held = small_text[c0:c1]
    over = {"before": {"held_out": overlap(held, other, n), "small_set": overlap(small_text, other, n)},
            "after": {"held_out": overlap(held, kept, n), "small_set": overlap(small_text, kept, n)}}
    print(f"small set ({', '.join(small)}): {target.describe()}\npretraining text: the other topics less "
          f"{removed} paragraphs ({len(other) - len(kept):,} of {len(other):,} characters) that share a "
          f"{n}-character run with the small set: {pretrain.describe()}")
    for when in ("before", "after"):
        print(f"overlap {when}: {over[when]['held_out']:,} of the {len(held):,} held-out characters and "
              f"{over[when]['small_set']:,} of the small set's {len(small_text):,} sit in {n}-character runs "
              f"found in the pretraining text")
    if over["after"]["small_set"]:
        raise SystemExit("the pretraining text still overlaps the small set")
    if args.quick:
        from dataclasses import replace

        pretrain = replace(pretrain, train=pretrain.train.take(3))
    rows = []

    def stopping(patience):
        """Early stopping on the small set's validation block, passed explicitly: the block is a few windows
        (10 of 128 tokens), fewer than the 50 examples `fit` needs before it lets validation steer."""
        return keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)

    def score(key, label, model, seconds, trainable, epochs, stopper=None):
        m = text_metrics(model, target, "test")
        best = stopper.best_epoch + 1 if stopper is not None and stopper.best_weights is not None else epochs
        rows.append({"key": key, "label": label, "bits_per_char": m["bits_per_char"], "trainable": int(trainable),
                     "epochs": epochs, "best_epoch": best, "seconds": round(seconds, 1)})
        print(f"{label}: {m['bits_per_char']:.3f} bits per character ({seconds:.0f} s)", flush=True)

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    pretrained = Path(args.pretrained) if args.pretrained else folder / "pretrained"
    if args.pretrained:
        from kerazoo import load_run

        recorded = json.loads((pretrained / "config.json").read_text()).get("pretraining_text", {})
        if recorded.get("sha256") != _sha256(kept):
            raise SystemExit(f"--pretrained {pretrained}: that run was not trained on this pretraining text "
                             f"(its config.json records {recorded.get('sha256')!r}); pretrain again")
        base = load_run(pretrained).model
        epochs = json.loads((pretrained / "metrics.json").read_text())["epochs"]
    else:
        base = build(args.model, pretrain.spec)
        epochs = fit(base, pretrain, epochs=pre_epochs, run_dir=pretrained, seed=0, verbose=2,
                     callbacks="minimal", config={"pretraining_text": {"sha256": _sha256(kept),
                                                                       "chars": len(kept)}}).epochs
    score("pretrained", "pretrained on the other topics' text, not fine-tuned", base,
          time.perf_counter() - start, 0, epochs)

    start = time.perf_counter()
    stopper = stopping(3)
    lora = finetune_lm(pretrained, target, method="lora", rank=args.rank, epochs=ft_epochs,
                       run_dir=folder / "lora", verbose=2, callbacks=[stopper])
    score("lora", f"that model + LoRA rank {args.rank}, fine-tuned on the small set (base weights untouched)",
          lora.model, time.perf_counter() - start, lora.parameters["trainable"], lora.epochs, stopper)

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    scratch = build(args.model, target.spec)
    stopper = stopping(5)
    epochs = fit(scratch, target, epochs=scratch_epochs, run_dir=folder / "scratch", seed=0, verbose=2,
                 callbacks=[stopper]).epochs
    score("scratch", "the same model trained from scratch on the small set alone", scratch,
          time.perf_counter() - start, scratch.count_params(), epochs, stopper)

    result = {"model": args.model, "seq_len": args.seq_len, "batch_size": target.options["batch_size"],
              "small_set": small, "run_length": n,
              "pretrain_epochs": pre_epochs, "finetune_epochs": ft_epochs, "scratch_epochs": scratch_epochs,
              "rank": args.rank,
              "text": {"small_set_chars": len(small_text), "held_out_chars": len(held),
                       "other_topics": len(pydoc_topics()) - len(small), "other_chars": len(other),
                       "paragraphs_removed": removed, "pretraining_chars": len(kept)},
              "overlap": over, "rows": rows}
    print(f"\nruns kept in {folder}")
    if args.quick:
        print(render(record("lm_transfer", result)))
        return
    save("lm_transfer", result, note="the rows' seconds are wall time on whatever shared the cores: not rendered")


def pydoc_topics() -> list[str]:
    from pydoc_data.topics import topics

    return sorted(topics)


if __name__ == "__main__":
    main()

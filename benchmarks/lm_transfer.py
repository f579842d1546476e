"""Transfer: pretrain on most documentation topics, LoRA-fine-tune on a few held-out ones.

    python benchmarks/lm_transfer.py --model gpt --pretrain-epochs 6   # ~10 minutes on 2 CPU cores
    python benchmarks/lm_transfer.py --pretrained OUT/pretrained     # reuse an earlier pretraining
    python benchmarks/lm_transfer.py --quick          # a smoke run (seconds of training)

The bundled text's topics are split in two: the small set (`--topics`, eight
statement topics, about 28,000 characters) and all the others (the pretraining
corpus). Three models are scored on the same held-out text, the last 10% of each
small-set topic (never trained on; see `interleaved`), in bits per character:

1. pretrained on the other topics, not fine-tuned;
2. that model with LoRA adapters (rank `--rank`) fine-tuned on the small set's
   training block: the base weights stay as they were;
3. the same architecture trained from scratch on the small set alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SMALL_SET = ("try", "with", "raise", "for", "while", "import", "assert", "del")


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", default=",".join(SMALL_SET), help="the held-out small set")
    parser.add_argument("--model", default="gpt-nano")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--finetune-epochs", type=int, default=15)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a few steps of each, to check it runs")
    parser.add_argument("--out", help="where to keep the runs (default: a temporary folder)")
    parser.add_argument("--pretrained", help="reuse this pretraining run (trained on the other topics' "
                        "text by an earlier run of this script, e.g. OUT/pretrained) instead of pretraining")
    args = parser.parse_args(argv)

    import keras

    from kerazoo import build, fit, load_data
    from kerazoo.lm import finetune_lm, pydoc_corpus, text_metrics

    small = [t.strip() for t in args.topics.split(",") if t.strip()]
    folder = Path(args.out or tempfile.mkdtemp(prefix="lm-transfer-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pretrain.txt").write_text(pydoc_corpus(exclude=small))
    (folder / "small.txt").write_text(interleaved(small))
    pre_epochs, ft_epochs = (1, 1) if args.quick else (args.pretrain_epochs, args.finetune_epochs)
    common = {"seq_len": args.seq_len, "batch_size": 32}
    pretrain = load_data(f"text:{folder / 'pretrain.txt'}", **common)
    target = load_data(f"text:{folder / 'small.txt'}", **common)
    print(f"pretraining text: {pretrain.describe()}\nsmall set ({', '.join(small)}): {target.describe()}\n")
    if args.quick:
        from dataclasses import replace

        pretrain = replace(pretrain, train=pretrain.train.take(3))
    rows = []

    def score(label, model, seconds, trainable):
        m = text_metrics(model, target, "test")
        rows.append((label, m["bits_per_char"], trainable, seconds))
        print(f"{label}: {m['bits_per_char']:.3f} bits per character ({seconds:.0f} s)", flush=True)

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    pretrained = Path(args.pretrained) if args.pretrained else folder / "pretrained"
    if args.pretrained:
        from kerazoo import load_run

        base = load_run(pretrained).model
    else:
        base = build(args.model, pretrain.spec)
        fit(base, pretrain, epochs=pre_epochs, run_dir=pretrained, seed=0, verbose=2, callbacks="minimal")
    score("pretrained, no fine-tuning", base, time.perf_counter() - start, 0)

    start = time.perf_counter()
    lora = finetune_lm(pretrained, target, method="lora", rank=args.rank, epochs=ft_epochs,
                       run_dir=folder / "lora", verbose=2, patience=3)
    score(f"pretrained + LoRA rank {args.rank} on the small set", lora.model, time.perf_counter() - start,
          lora.parameters["trainable"])

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    scratch = build(args.model, target.spec)
    fit(scratch, target, epochs=1 if args.quick else 4 * ft_epochs, run_dir=folder / "scratch",
        seed=0, verbose=2, patience=5)
    score("from scratch on the small set", scratch, time.perf_counter() - start, scratch.count_params())

    print("\n| model | held-out bits per character | trainable parameters | seconds |")
    print("| --- | --- | --- | --- |")
    for label, bpc, trainable, seconds in rows:
        print(f"| {label} | {bpc:.3f} | {trainable:,} | {seconds:.0f} |")
    print(f"\nruns kept in {folder}")


if __name__ == "__main__":
    main()

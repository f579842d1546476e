"""General-purpose compressors on the language models' held-out block: bits per character.

The figure a language model's held-out bits per character is compared with: how
many bits `xz -9`, bzip2 and zlib spend on the test block of the bundled text
given everything before it (the compressed size of prefix + block minus that of
the prefix alone), per character of the block. The block is exactly the one
`load_data("text:pydoc")` holds out: the last `test_split` (10%) of the text.

    python benchmarks/lm_compressors.py                  # the default split
    python benchmarks/lm_compressors.py --test-split 0.2 --source text:my.txt
    python benchmarks/lm_compressors.py --run runs/gpt-pydoc --stride 64   # and a trained model

With `--run`, the run's model is scored on the same block with
`kerazoo.lm.text_metrics` (every character of the block, windows of the run's
length; `--stride` adds overlapping windows, so each token has more context),
and the split settings are the run's.
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import zlib
from pathlib import Path


def conditional_bits(compress, prefix: bytes, block: bytes) -> int:
    """Bits spent on `block` after `prefix`: the size of both compressed minus the prefix's."""
    return 8 * (len(compress(prefix + block)) - len(compress(prefix)))


COMPRESSORS = {
    "xz -9 (lzma)": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
    "bzip2 -9": lambda b: bz2.compress(b, 9),
    "zlib -9": lambda b: zlib.compress(b, 9),
}


def main(argv=None) -> None:
    from kerazoo.lm.data import read_text, split_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="text:pydoc")
    parser.add_argument("--validation-split", type=float, default=0.05)
    parser.add_argument("--test-split", type=float, default=0.1)
    parser.add_argument("--run", action="append", default=[], help="a language-model run to score too "
                        "(repeatable)")
    parser.add_argument("--stride", type=int, help="with --run: also score with windows every STRIDE tokens")
    args = parser.parse_args(argv)
    runs = [(path, json.loads((Path(path) / "config.json").read_text())) for path in args.run]
    if runs:  # the runs' own split
        data_cfg = runs[0][1]["data"]
        args.source = data_cfg["source"]
        args.validation_split, args.test_split = data_cfg["validation_split"], data_cfg["test_split"]
    text, name = read_text(args.source)
    start, end = split_text(text, args.validation_split, args.test_split)["test"]
    prefix, block = text[:start].encode("utf-8"), text[start:end].encode("utf-8")
    chars = end - start
    print(f"{name}: {len(text):,} characters; held-out block: the last {chars:,} characters "
          f"({len(block):,} bytes), coded given the {start:,} before it\n")
    print("| model or compressor | bits per character | bits per byte |")
    print("| --- | --- | --- |")
    for label, compress in COMPRESSORS.items():
        bits = conditional_bits(compress, prefix, block)
        print(f"| {label} | {bits / chars:.3f} | {bits / len(block):.3f} |", flush=True)
    for path, config in runs:
        from kerazoo import load_data, load_run
        from kerazoo.lm import text_metrics

        opts = {k: v for k, v in config["data"].items() if k != "source"}
        data = load_data(config["data"]["source"], **{**opts, "tokenizer": path})
        if tuple(data.text["chars"]["test"]) != (start, end):
            raise SystemExit(f"{path}: its test block differs from the one above")
        model = load_run(path).model
        for stride in dict.fromkeys([None, args.stride]):
            m = text_metrics(model, data, "test", stride=stride)
            how = "whole windows" if stride is None else f"a window every {stride} tokens"
            print(f"| `{config['model']}` ({path}, {how}) | {m['bits_per_char']:.3f} | {m['bits_per_byte']:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()

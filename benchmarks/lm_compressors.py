"""General-purpose compressors on the language models' held-out block: bits per character.

The figure a language model's held-out bits per character is compared with: how
many bits `xz -9`, bzip2 and zlib spend on the test block of the bundled text
given everything before it (the compressed size of prefix + block minus that of
the prefix alone), per character of the block. The block is exactly the one
`load_data("text:pydoc")` holds out: the last `test_split` (10%) of the text.

    python benchmarks/lm_compressors.py                  # the default split
    python benchmarks/lm_compressors.py --test-split 0.2 --source text:my.txt
    python benchmarks/lm_compressors.py --run runs/gpt-pydoc --stride 64   # and a trained model

Saves benchmarks/results/lm_compressors.json: the compressors' figures, and for each
run its figures on the block, its training time (from its `metrics.json`) and its
history's best and last epochs.

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
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def conditional_bits(compress, prefix: bytes, block: bytes) -> int:
    """Bits spent on `block` after `prefix`: the size of both compressed minus the prefix's."""
    return 8 * (len(compress(prefix + block)) - len(compress(prefix)))


COMPRESSORS = {
    "xz -9 (lzma)": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
    "bzip2 -9": lambda b: bz2.compress(b, 9),
    "zlib -9": lambda b: zlib.compress(b, 9),
}


def _run_figures(path: str, config: dict, data, text_metrics, load_run, stride) -> dict:
    """A run's held-out figures on the block, its training time and its history's last and best epochs."""
    from kerazoo.runs import read_history

    metrics = json.loads((Path(path) / "metrics.json").read_text())
    history = read_history(Path(path) / "history.csv")
    model = load_run(path).model
    scores = {"windows": text_metrics(model, data, "test")["bits_per_char"]}
    if stride:
        scores[f"stride {stride}"] = text_metrics(model, data, "test", stride=stride)["bits_per_char"]
    val = history.get("val_bits_per_byte", [])
    return {"path": str(path), "model": config["model"], "overrides": config.get("overrides", {}),
            "epochs_requested": config["fit"].get("epochs_requested"), "epochs": metrics["epochs"],
            "train_seconds": metrics.get("train_seconds"), "parameters": int(model.count_params()),
            "bits_per_char": scores, "best_epoch": (val.index(min(val)) + 1) if val else None,
            "last": {"bits_per_byte": history.get("bits_per_byte", [None])[-1], "val_bits_per_byte": (val or [None])[-1]}}


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def render(saved: dict) -> str:
    """The README's table: compressors and runs, bits per character on the same held-out block."""
    r = saved["result"]
    lines = ["| model or compressor | bits per character |", "| --- | ---: |"]
    lines += [f"| `{c['name']}` | {c['bits_per_char']:.3f} |" for c in r["compressors"]]
    notes = []
    for run in r["runs"]:
        flags = "".join(f" --set {k}={v}" for k, v in run["overrides"].items())
        if run["epochs_requested"] not in (None, "auto"):
            flags += f" --epochs {run['epochs_requested']}"
        command = f"kerazoo train {run['model']} --data {r['source']}{flags}"
        lines.append(f"| `{command}` ({run['parameters']:,} parameters, {run['epochs']} epochs, "
                     f"{_minutes(run['train_seconds'])} of training) | **{run['bits_per_char']['windows']:.3f}** |")
        for how, bits in run["bits_per_char"].items():
            if how != "windows":  # overlapping windows: every character read with more of the text before it
                lines.append(f"| the same, scored with windows {how.split()[-1]} tokens apart | "
                             f"**{bits:.3f}** |")
        last = run["last"]
        notes.append(f"`{command}`: {run['epochs']} epochs; the validation figure was best at epoch "
                     f"{run['best_epoch']}; at the last epoch, {last['bits_per_byte']:.2f} bits per byte on the "
                     f"training windows against {last['val_bits_per_byte']:.2f} on validation.")
    lines += ["", " ".join([f"The held-out block: the last {r['block_chars']:,} characters of `{r['source']}` "
              f"({r['text_chars']:,} in all), every one scored given the window before it; the compressors code it "
              f"given the {r['prefix_chars']:,} characters before it (compressed size of both minus that of the "
              f"prefix).", *notes, footer(saved)])]
    return "\n".join(lines)


def main(argv=None) -> None:
    from kerazoo.lm.data import read_text, split_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="text:pydoc")
    parser.add_argument("--validation-split", type=float, default=0.05)
    parser.add_argument("--test-split", type=float, default=0.1)
    parser.add_argument("--run", action="append", default=[], help="a language-model run to score too "
                        "(repeatable)")
    parser.add_argument("--stride", type=int, help="with --run: also score with windows every STRIDE tokens")
    args = options(parser).parse_args(argv)
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
    compressors = []
    for label, compress in COMPRESSORS.items():
        bits = conditional_bits(compress, prefix, block)
        compressors.append({"name": label, "bits_per_char": bits / chars, "bits_per_byte": bits / len(block)})
        print(f"{label}: {bits / chars:.3f} bits per character", flush=True)
    scored = []
    for path, config in runs:
        from kerazoo import load_data, load_run
        from kerazoo.lm import text_metrics

        opts = {k: v for k, v in config["data"].items() if k != "source"}
        data = load_data(config["data"]["source"], **{**opts, "tokenizer": path})
        if tuple(data.text["chars"]["test"]) != (start, end):
            raise SystemExit(f"{path}: its test block differs from the one above")
        scored.append(_run_figures(path, config, data, text_metrics, load_run, args.stride))
        print(f"{path}: {scored[-1]['bits_per_char']}", flush=True)
    result = {"source": args.source, "text_chars": len(text), "prefix_chars": start, "block_chars": chars,
              "block_bytes": len(block), "validation_split": args.validation_split, "test_split": args.test_split,
              "stride": args.stride, "compressors": compressors, "runs": scored}
    publish("lm_compressors", result, args, render)


if __name__ == "__main__":
    main()

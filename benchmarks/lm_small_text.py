"""The gpt's budget on a text smaller than the bundled one: a fixed 12 epochs against epochs="auto".

    python benchmarks/lm_small_text.py                       # 60,000 characters: 12 epochs, then auto
    python benchmarks/lm_small_text.py --chars 20000 --epochs 12,24,auto

The user's own text is often far smaller than `text:pydoc` (464,970 characters).
Each point trains the default `gpt` with every default (`fit(model, data,
epochs=..., seed=0)`, 8 windows of 128 bytes a step) on the first `--chars`
characters of the bundled text, and scores the held-out last 10% of it in bits
per character (`text_metrics`, in windows). `auto` is the gpt's own floors (at
least 12 epochs and as many steps as the default run's 4,680), stopped early on
the validation block with the best epoch's weights kept; a number is at most that
many epochs, with the same early stopping (12 was the gpt's fixed budget).
Saves benchmarks/results/lm_small_text.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def run_point(path: Path, epochs: str) -> tuple[dict, int]:
    """One point's row, and the number of training windows the text makes."""
    import keras

    from kerazoo import build, fit, load_data
    from kerazoo.lm import text_metrics

    data = load_data(f"text:{path}")
    keras.utils.set_random_seed(0)
    model = build("gpt", data.spec)
    start = time.perf_counter()
    result = fit(model, data, epochs=epochs if epochs == "auto" else int(epochs), seed=0, verbose=2)
    seconds = time.perf_counter() - start
    history = result.history.get("val_loss", [])
    return {"epochs_asked": epochs, "epochs": result.epochs, "steps": int(model.optimizer.iterations.numpy()),
            "best_epoch": int(min(range(len(history)), key=history.__getitem__)) + 1 if history else None,
            "bits_per_char": float(text_metrics(model, data, "test")["bits_per_char"]),
            "seconds": round(seconds)}, len(data.arrays["train"][0])


def render(saved: dict) -> str:
    r = saved["result"]
    lines = ["| epochs asked | epochs trained (best) | steps | held-out bits per character | minutes |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for row in r["rows"]:
        lines.append(f"| `{row['epochs_asked']}` | {row['epochs']} ({row['best_epoch']}) | {row['steps']:,} | "
                     f"{row['bits_per_char']:.3f} | {row['seconds'] / 60:.1f} |")
    lines += ["", f"The default `gpt` on the first {r['chars']:,} characters of `text:pydoc` ({r['windows']:,} "
              f"training windows of 128 bytes, 8 a step), every other setting its default, early stopping on "
              f"the validation block; scored on the held-out last 10% in windows. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = options(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--chars", type=int, default=60000, help="characters of text:pydoc, from its start")
    parser.add_argument("--epochs", default="12,auto", help="comma-separated: numbers of epochs or auto")
    args = parser.parse_args(argv)

    from kerazoo.lm import pydoc_corpus

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "text.txt"
        path.write_text(pydoc_corpus()[:args.chars])
        rows = []
        for epochs in args.epochs.split(","):
            row, windows = run_point(path, epochs.strip())
            rows.append(row)
            print(row, flush=True)
    publish("lm_small_text", {"chars": args.chars, "windows": windows, "rows": rows}, args, render)


if __name__ == "__main__":
    main()

"""How long the Keras Applications backbones take to build and to run their first training step.

The test suite's train-a-step test leaves these models out; this is why. Each
model (`list_models(tags="applications")`, untrained, `weights=None`) is built
with its defaults for the bundled digits (8x8 gray images, resized up and
repeated to RGB inside the model, as in the tests), then `model.fit` runs one
batch twice: the first call traces the training step (the cost a test pays), the
second reuses it.

    python benchmarks/applications_compile.py
    python benchmarks/applications_compile.py --models mobilenet_v2 --no-save
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def measure(name: str, data) -> dict:
    import keras

    from kerazoo import build

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = build(name, data.spec)
    built = time.perf_counter() - start
    one = data.train.take(1)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        model.fit(one, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    row = {"model": name, "parameters": int(model.count_params()), "build_s": round(built, 1),
           "first_step_s": round(seconds[0], 1), "next_step_s": round(seconds[1], 2)}
    print(row, flush=True)
    keras.backend.clear_session()
    return row


def render(saved: dict) -> str:
    """The README's table: build time, first training step (with its tracing) and the next one."""
    r = saved["result"]
    lines = ["| model | parameters | build | first training step (traced) | next step |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| `{row['model']}` | {row['parameters']:,} | {row['build_s']:.0f} s | {row['first_step_s']:.0f} s | "
              f"{row['next_step_s']:.1f} s |" for row in r["rows"]]
    lines += ["", f"Untrained (`weights=None`), built for the digits ({r['input_shape']} images, resized up inside "
              f"the model), one batch of {r['batch_size']}. {footer(saved)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    from kerazoo import list_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models(tags="applications"))
    args = options(parser).parse_args(argv)

    from kerazoo import load_data

    data = load_data("digits", seed=0)
    rows = [measure(name, data) for name in args.models]
    result = {"input_shape": "x".join(map(str, data.spec.input_shape)), "batch_size": data.options["batch_size"],
              "rows": rows}
    publish("applications_compile", result, args, render)


if __name__ == "__main__":
    main()

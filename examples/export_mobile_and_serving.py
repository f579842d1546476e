"""Export for phones (int8 TFLite) and for serving (SavedModel), then check both files yourself.

Trains the `cnn` on the bundled digits into a run directory, exports it with
`export.export_model` (SavedModel + float32 and int8 TFLite, each verified against
the Keras model by the export itself), then loads each file with its real consumer,
as a phone app or a server would, and compares the predictions:

- the SavedModel with `tf.saved_model.load` and its `serving_default` signature;
- the int8 TFLite file with the LiteRT interpreter (`ai_edge_litert`).

    python examples/export_mobile_and_serving.py                 # 20 epochs, exports in runs/export-example/
    python examples/export_mobile_and_serving.py --epochs 1 --out /tmp/export-example

The same from the shell, with the commands that inspect the result:

    kerazoo train cnn --data digits --out runs/digits-cnn
    kerazoo export runs/digits-cnn --quantize int8 --out exports
    saved_model_cli show --dir exports/cnn/1 --tag_set serve --signature_def serving_default
    cat exports/cnn/1/MODEL_CARD.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="runs/export-example", help="a new folder: the run and the exports")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export import export_model
    from kerazoo import build, fit, load_data

    out = Path(args.out)
    data = load_data("digits", seed=0)
    model = build("cnn", data.spec)
    fit(model, data, epochs=args.epochs, run_dir=out / "run", seed=0, verbose=2)

    # 1. export: SavedModel, float32 TFLite and int8 TFLite (calibrated on 300 training digits)
    result = export_model(out / "run", out / "exports", quantize="int8")
    print(f"\n{result.table()}\n\nexported to {result.path}")

    x, y = data.arrays["test"]
    x = x.astype("float32")

    # 2. serving: what TensorFlow Serving loads
    served = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    classes = served(inputs=tf.constant(x))["classes"].numpy().reshape(-1)
    print(f"SavedModel (tf.saved_model.load): test accuracy {np.mean(classes == y):.4f}")

    # 3. phones: the int8 file in the LiteRT interpreter, one image at a time as an app calls it
    interpreter = Interpreter(model_path=str(result.path / "model_int8.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    tflite_classes = np.array([runner(inputs=x[i:i + 1])["classes"].reshape(-1)[0] for i in range(len(x))])
    size = (result.path / "model_int8.tflite").stat().st_size / 1024
    print(f"int8 TFLite ({size:.0f} KiB, LiteRT): test accuracy {np.mean(tflite_classes == y):.4f}; "
          f"agrees with the SavedModel on {np.mean(tflite_classes == classes):.2%} of the test digits")
    print(f"\ncheck it from the shell: saved_model_cli show --dir {result.path} --tag_set serve "
          f"--signature_def serving_default")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

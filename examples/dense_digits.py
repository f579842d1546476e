"""A dense classifier on MNIST-like digits, from flattened (784-style) pixel vectors.

Offline it uses the bundled 8x8 digits, flattened to 64 features, the way MNIST is
often fed as 784 features; with a network, `--data tfds:mnist` uses the real MNIST
(28x28 pixels flattened to 784).

    python examples/dense_digits.py
    python examples/dense_digits.py --data tfds:mnist --epochs 10
"""

import argparse

import numpy as np

from kerazoo import build, fit, load_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", help="digits (offline) or tfds:mnist")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    images = load_data(args.data, seed=0)
    if images.arrays is None:  # a tfds source: gather its splits as arrays to flatten them
        images.arrays = {s: _arrays(getattr(images, s)) for s in ("train", "validation", "test")
                         if getattr(images, s) is not None}
    flat = {s: (x.reshape(len(x), -1), y) for s, (x, y) in images.arrays.items()}
    data = load_data(flat["train"], validation_data=flat.get("validation"), test_data=flat.get("test"),
                     kind="tabular", task="multiclass", name=f"{images.spec.name}-flat")
    print(data.describe())
    model = build("mlp", data.spec, depth=2, width=256)  # normalization of the 784 (or 64) inputs is inside
    result = fit(model, data, epochs=args.epochs, verbose=2)
    print(f"test accuracy: {result.metrics['test']['accuracy']:.4f}")
    return result


def _arrays(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


if __name__ == "__main__":
    main()

"""A CNN image classifier: CIFAR-10 when a network is there, the bundled digits offline.

The model takes raw pixels (0-255 for CIFAR-10, 0-16 for digits): rescaling is a layer
inside it, so the saved `model.keras` serves raw images.

    python examples/cnn_images.py                                   # digits, offline
    python examples/cnn_images.py --data tfds:cifar10 --epochs 30 --model resnet20
"""

import argparse

from kerazoo import build, fit, load_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", help="digits (offline) or tfds:cifar10")
    parser.add_argument("--model", default="cnn", help="cnn, resnet20, vit ...")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="write a run directory here")
    args = parser.parse_args(argv)

    data = load_data(args.data, seed=0)
    print(data.describe())
    model = build(args.model, data.spec)
    result = fit(model, data, epochs=args.epochs, run_dir=args.out, verbose=2)
    print(f"test accuracy: {result.metrics['test']['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()

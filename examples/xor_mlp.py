"""The XOR problem with a tiny MLP: the classic case a linear model cannot solve.

Four points, two classes; a hidden layer of 8 units learns it. `load_data` takes the
arrays directly, with no validation or test split (there are only four examples).

    python examples/xor_mlp.py
"""

import argparse

import numpy as np

from kerazoo import build, fit, load_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args(argv)

    import keras

    keras.utils.set_random_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    y = np.array([0, 1, 1, 0])
    data = load_data((x, y), validation_split=0.0, test_split=0.0, batch_size=4, task="binary")
    model = build("mlp", data.spec, depth=1, width=8, dropout=0.0, batch_norm=False, activation="tanh",
                  compile={"learning_rate": 0.05, "schedule": "constant", "weight_decay": 0.0})
    fit(model, data, epochs=args.epochs, verbose=0, callbacks="none")
    probabilities = model.predict(x, verbose=0)[:, 0]
    for point, p in zip(x, probabilities):
        print(f"{point.astype(int)} -> {p:.3f}")
    solved = bool(((probabilities > 0.5) == y.astype(bool)).all())
    print("solved" if solved else "not solved")
    return solved


if __name__ == "__main__":
    main()

"""Regression with mean squared error: the bundled diabetes data set.

The model predicts raw target values (disease progression, 25-346): it learns the
standardized target and scales back in its last layer, so no post-processing is needed.

    python examples/regression_diabetes.py
"""

import argparse

import numpy as np

from kerazoo import build, fit, load_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)

    data = load_data("diabetes", seed=0)
    print(data.describe())
    model = build("mlp", data.spec, width=64, dropout=0.1)
    result = fit(model, data, epochs=args.epochs, verbose=2)
    x, y = data.arrays["test"]
    baseline = float(np.abs(y - data.arrays["train"][1].mean()).mean())
    print(f"test MAE {result.metrics['test']['mae']:.1f} (predicting the mean: {baseline:.1f}); "
          f"first predictions {model.predict(x[:3], verbose=0)[:, 0].round(1)} vs targets {y[:3]}")
    return result


if __name__ == "__main__":
    main()

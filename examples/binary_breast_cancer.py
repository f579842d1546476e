"""Binary classification with a sigmoid head: the bundled breast-cancer data set.

`build` picks a one-unit sigmoid head for the binary task, and `fit` trains with binary
cross-entropy and reports accuracy, AUC and F1. Feature normalization (the training
split's mean and variance) is a layer inside the model.

    python examples/binary_breast_cancer.py
"""

import argparse

from kerazoo import build, fit, load_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args(argv)

    data = load_data("breast_cancer", seed=0)
    print(data.describe(), "| classes:", ", ".join(data.spec.class_names))
    model = build("mlp", data.spec, width=64, dropout=0.3)
    assert model.output_shape == (None, 1) and model.layers[-1].activation.__name__ == "sigmoid"
    result = fit(model, data, epochs=args.epochs, verbose=2)
    test = result.metrics["test"]
    print(f"test accuracy {test['accuracy']:.4f}, AUC {test['auc']:.4f}, F1 {test['f1']:.4f}")
    return result


if __name__ == "__main__":
    main()

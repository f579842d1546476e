"""A model family in one file: `lenet`, registered as the zoo's own families are.

Everything the zoo knows of a model comes from this one declaration: the builder's
keyword defaults are its config, `space` is what tuning explores, the docstring's
Args are what `kerazoo describe` and the documentation show. Once the file is
imported, `build("lenet", ...)`, `describe`, `fit`, `tuning.search` and
`export.export_model` take it like any zoo model. To put a family in the zoo itself,
the same file goes to `kerazoo/models/` (and its import into
`kerazoo/models/__init__.py`); a package of your own registers it through the
entry-point group `kerazoo.models`. docs/architecture.md walks through it.

    python examples/model_family.py                 # describe it, train it on the digits
    python examples/model_family.py --epochs 2
"""

import argparse

from kerazoo import Choice, DataSpec, Float, register
from kerazoo.models.common import head, inputs_and_preprocessing


@register(
    "lenet",
    task=("multiclass", "binary", "regression", "multilabel"),
    inputs="image",
    tags=("image", "conv", "example"),
    default_spec=DataSpec((28, 28, 1), num_classes=10, kind="image", value_range=(0, 255)),
    space={
        "filters": Choice([(6, 16), (16, 32), (32, 64)]),
        "dense_units": Choice([84, 128, 256]),
        "dropout": Float(0.0, 0.5, step=0.1),
    },
)
def lenet(
    spec: DataSpec,
    *,
    filters: tuple = (6, 16),
    kernel_size: int = 5,
    dense_units: int = 84,
    dropout: float = 0.0,
    activation: str = "relu",
):
    """LeNet-5 style: convolution and pooling stages, then a dense layer and a head.

    Each stage pools while the image is at least 2 pixels on a side, so the same
    defaults fit 8x8 digits and 28x28 MNIST. Default input: 28x28x1 images
    (pixels 0-255) in 10 classes.

    Args:
        filters: filters of each convolution stage. Defaults to (6, 16).
        kernel_size: the convolutions' kernel size. Defaults to 5.
        dense_units: the dense layer before the head. Defaults to 84.
        dropout: dropout before the head. Defaults to 0.
        activation: the hidden layers' activation. Defaults to "relu".
    """
    import keras

    inputs, x = inputs_and_preprocessing(spec)  # raw pixels in: the rescaling is a layer
    for i, units in enumerate(filters):
        x = keras.layers.Conv2D(units, kernel_size, padding="same", activation=activation,
                                name=f"conv_{i}")(x)
        if min(x.shape[1], x.shape[2]) >= 2:
            x = keras.layers.MaxPooling2D(name=f"pool_{i}")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head(x, spec), name="lenet")  # the task's head: probabilities out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="auto", help="most epochs, or auto (default)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs == "auto" else int(args.epochs)

    from kerazoo import build, describe, fit, list_models, load_data

    print("registered:", list_models(tags=["example"]))
    info = describe("lenet")
    print("defaults:", info["defaults"])
    print("search space:", {name: entry["type"] for name, entry in info["space"].items()})
    data = load_data("digits", seed=0)
    model = build("lenet", data.spec)
    result = fit(model, data, epochs=epochs, seed=0, verbose=0)
    print(f"lenet on digits, {result.epochs} epochs: test accuracy {result.metrics['test']['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()

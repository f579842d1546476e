"""What every family shares: raw-input preprocessing inside the model, and the task head."""

from __future__ import annotations

from kerazoo.spec import DataSpec
from kerazoo.tasks import get_task

#: The default momentum of the zoo's BatchNormalization layers. Keras' own 0.99
#: suits long ImageNet runs; in short ones the moving statistics lag the weights
#: and a model that scores 100% in training mode scores ~50% at inference (the
#: zoo's cnn, 8 epochs on digits). PyTorch and timm use 0.1, i.e. Keras' 0.9.
BN_MOMENTUM = 0.9


def check_momentum(model: str, momentum) -> None:
    """Refuse a batch-norm momentum outside [0, 1).

    Example:
    >>> check_momentum("cnn", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: cnn: bn_momentum must be in [0, 1), got 1.5
    """
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"{model}: bn_momentum must be in [0, 1), got {momentum!r}")


def inputs_and_preprocessing(spec: DataSpec):
    """`keras.Input` for the spec, and the tensor after in-model preprocessing.

    Images are rescaled from `spec.value_range` to [0, 1]; tabular and sequence
    features are normalized with the training split's mean and variance. Both
    live inside the model, so a served model takes raw inputs.
    """
    import keras

    inputs = keras.Input(spec.input_shape, dtype=spec.input_dtype, name="inputs")
    x = inputs
    if spec.kind == "image" and spec.value_range is not None:
        low, high = (float(v) for v in spec.value_range)
        if (low, high) != (0.0, 1.0):
            x = keras.layers.Rescaling(1.0 / (high - low), offset=-low / (high - low),
                                       name="rescale")(x)
    elif spec.kind in ("tabular", "sequence") and spec.mean is not None:
        x = keras.layers.Normalization(mean=list(spec.mean), variance=list(spec.variance),
                                       name="normalize")(x)
    return inputs, x


def head(x, spec: DataSpec, *, name: str = "predictions"):
    """The output layer the task asks for, kept in float32 under mixed precision.

    Classification outputs probabilities (softmax for multiclass, sigmoid for
    binary and multilabel); regression outputs values, scaled back from the
    standardized targets it learned when the spec carries target statistics.
    """
    import keras

    activation = get_task(spec.task).activation
    if spec.task == "regression" and spec.target_mean is not None:
        x = keras.layers.Dense(spec.num_outputs, dtype="float32", name=f"{name}_standardized")(x)
        return keras.layers.Rescaling(list(spec.target_std), offset=list(spec.target_mean),
                                      dtype="float32", name=name)(x)
    return keras.layers.Dense(spec.num_outputs, activation=activation, dtype="float32", name=name)(x)


def regularizer(l1: float = 0.0, l2: float = 0.0):
    import keras

    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None

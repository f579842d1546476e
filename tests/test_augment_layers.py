"""The augmentation layers Keras lacks live in kerazoo.layers, registered like the zoo's other layers."""

import numpy as np
import pytest

from kerazoo.layers import FeatureNoise, RandomMask, RandomWindow

CASES = {
    "random_mask": lambda: RandomMask(rate=0.3, fill_value=[0.5, -1.0, 2.0], per_step=True, seed=3),
    "random_window": lambda: RandomWindow(crop=0.5, fill_value=0.0, seed=4),
    "feature_noise": lambda: FeatureNoise(stddev=0.2, scale=[1.0, 2.0, 0.5], seed=5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_augmentation_layers_round_trip_through_a_keras_file_by_their_registered_name(case, tmp_path):
    import keras

    layer = CASES[case]()
    assert keras.saving.get_registered_name(type(layer)) == f"kerazoo>{type(layer).__name__}"
    model = keras.Sequential([keras.Input((4, 3)), layer])
    path = tmp_path / "augment.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # by the registered name alone: no custom_objects
    again = loaded.layers[-1]
    assert type(again) is type(layer) and again.get_config() == layer.get_config()
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), x)  # inference leaves inputs alone
    assert not np.array_equal(np.asarray(again(x, training=True)), x)  # training changes them

"""The zoo's own layers: shapes, config round-trips, `.keras` files, and the builders' errors."""

import keras
import numpy as np
import pytest

from kerazoo import build
from kerazoo.layers import ClassToken, PatchEmbedding

# (layer factory, input shape without batch, expected output shape without batch)
CASES = {
    "patch_embedding": (lambda: PatchEmbedding(patch_size=2, dim=8), (4, 6, 3), (6, 8)),
    "class_token": (lambda: ClassToken(initializer="ones"), (5, 8), (6, 8)),
}


def _inputs(shape, batch=3):
    return np.random.default_rng(0).normal(size=(batch, *shape)).astype("float32")


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_shape(case):
    factory, in_shape, out_shape = CASES[case]
    layer = factory()
    out = layer(_inputs(in_shape))
    assert tuple(out.shape) == (3, *out_shape)
    assert tuple(layer.compute_output_shape((None, *in_shape))) == (None, *out_shape)
    symbolic = layer(keras.Input(in_shape)) if case != "class_token" else None
    if symbolic is not None:
        assert tuple(symbolic.shape) == (None, *out_shape)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip(case):
    factory, in_shape, _ = CASES[case]
    layer = factory()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    # serialized through Keras' registry, by its registered name alone
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == config
    assert tuple(clone(_inputs(in_shape)).shape) == tuple(layer(_inputs(in_shape)).shape)


def test_class_token_comes_first():
    out = keras.ops.convert_to_numpy(ClassToken(initializer="ones")(np.zeros((2, 3, 4), "float32")))
    np.testing.assert_allclose(out[:, 0], 1.0)
    np.testing.assert_allclose(out[:, 1:], 0.0)


def test_saved_model_file_loads_without_custom_objects(tmp_path):
    inputs = keras.Input((4, 4, 2))
    x = PatchEmbedding(patch_size=2, dim=8)(inputs)
    x = ClassToken(initializer="random_normal")(x)
    x = keras.layers.LayerNormalization()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x[:, 0])
    model = keras.Model(inputs, outputs)
    data = _inputs((4, 4, 2), batch=5)
    expected = model.predict(data, verbose=0)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    kinds = {type(layer).__name__ for layer in loaded.layers}
    assert {"PatchEmbedding", "ClassToken"} <= kinds
    np.testing.assert_allclose(loaded.predict(data, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_patch_embedding_refuses_indivisible_images():
    with pytest.raises(ValueError, match=r"image size 8x6 is not divisible by patch_size 4"):
        PatchEmbedding(patch_size=4, dim=8)(keras.Input((8, 6, 1)))


@pytest.mark.parametrize("name", ["transformer", "vit"])
def test_transformer_and_vit_are_built_from_keras_hubs_encoder_blocks(name):
    import keras_hub

    from kerazoo import DataSpec

    spec = DataSpec((8, 8, 1), num_classes=3, kind="image", value_range=(0, 16))
    model = build(name, spec, num_layers=2, compile=False, **({"patch_size": 4} if name == "vit" else {}))
    blocks = [layer for layer in model.layers if isinstance(layer, keras_hub.layers.TransformerEncoder)]
    assert len(blocks) == 2 and all(block.normalize_first for block in blocks)  # pre-norm, as before
    assert any(isinstance(layer, keras_hub.layers.PositionEmbedding) for layer in model.layers)
    with pytest.raises(ValueError, match=r"dim \(30\) must be divisible by num_heads \(4\)"):
        build(name, spec, dim=30, num_heads=4, compile=False)


@pytest.mark.parametrize("depth", [21, 19, 2])
def test_resnet_refuses_depth_not_6n_plus_2(depth):
    with pytest.raises(ValueError, match=rf"depth must be 6n\+2 .* got {depth}"):
        build("resnet", input_shape=(8, 8, 1), depth=depth, compile=False)


def test_transformer_refuses_dim_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"dim \(48\) must be divisible by num_heads \(5\)"):
        build("transformer", dim=48, num_heads=5, compile=False)
    with pytest.raises(ValueError, match=r"vit: dim \(30\) must be divisible by num_heads \(4\)"):
        build("vit", input_shape=(8, 8, 1), dim=30, compile=False)


def test_vit_refuses_patch_size_that_does_not_divide_the_image():
    with pytest.raises(ValueError, match=r"image size 8x8 is not divisible by patch_size 3"):
        build("vit", input_shape=(8, 8, 1), patch_size=3, compile=False)


SMALL = dict(num_layers=1, dim=16, num_heads=2)


@pytest.mark.parametrize("name, kwargs", [
    ("resnet20", dict(input_shape=(8, 8, 1))),
    ("transformer", dict(input_shape=(6,), task="binary", **SMALL)),
    ("vit", dict(input_shape=(8, 8, 1), num_classes=3, pooling="cls", **SMALL)),
])
def test_families_save_and_load(tmp_path, name, kwargs):
    model = build(name, compile=False, **kwargs)
    shape = model.input_shape[1:]
    data = np.random.default_rng(1).uniform(0, 255, size=(4, *shape)).astype("float32")
    expected = model.predict(data, verbose=0)
    model.save(tmp_path / f"{name}.keras")
    loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_transformer_takes_every_input_kind():
    from kerazoo import DataSpec

    specs = [
        DataSpec((12,), task="binary", kind="tokens", vocab_size=50),
        DataSpec((7, 3), num_classes=4, kind="sequence"),
        DataSpec((8, 8, 1), num_classes=10, kind="image", value_range=(0, 16)),
        DataSpec((30,), task="binary", kind="tabular"),
    ]
    for spec in specs:
        model = build("transformer", spec, pooling="cls", compile=False, **SMALL)
        assert model.input_shape == (None, *spec.input_shape)
        assert model.output_shape == (None, spec.num_outputs)

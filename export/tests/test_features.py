"""The features signature and the Gram function against NumPy and the seed notebook."""

import numpy as np
import pytest
import tensorflow as tf

from export.graph import gram
from export.tests import reference
from export.tests.conftest import random_image


@pytest.mark.parametrize("second, want", [
    (1.0, [[9, 9], [9, 9]]),
    (2.0, [[9, 18], [18, 36]]),
    (-1.0, [[9, -9], [-9, 9]]),
])
def test_gram_notebook_examples(second, want):
    """The seed notebook's checks: a (1,3,3,2) map with channels (1, second)."""
    x = np.ones((1, 3, 3, 2), np.float32)
    x[..., 1] = second
    np.testing.assert_array_equal(gram(tf.constant(x)).numpy(), want)


def test_features_match_numpy(tiny, tiny_weights):
    # Odd sizes exercise SAME pooling's partial windows: 13x17 -> 7x9 -> 4x5 -> 2x3 -> 1x2.
    image = random_image(np.random.default_rng(1), 13, 17)
    out = tiny.signatures["features_conv5_4"](image=tf.constant(image))
    want = reference.forward(image, tiny_weights, "avg")
    for layer, ref in zip(reference.LAYERS, want):
        act = out[layer].numpy()
        assert act.shape == ref.shape, layer
        # float32 convolutions through up to 16 layers: errors ~1e-6 of the layer's scale.
        np.testing.assert_allclose(act, ref, rtol=0, atol=1e-4 * np.abs(ref).max(), err_msg=layer)
        np.testing.assert_array_equal(out[f"{layer}_hw"].numpy(), ref.shape[1:3], err_msg=layer)
        g = out[f"{layer}_gram"].numpy()
        np.testing.assert_allclose(g, reference.gram(act), rtol=1e-5, atol=1e-5 * np.abs(g).max(),
                                   err_msg=layer)


@pytest.mark.end_to_end
def test_max_pooling(export_model, tiny_weights):
    model = tf.saved_model.load(str(export_model("--seed", "0", "--width-divisor", "16", "--pooling", "max")))
    image = random_image(np.random.default_rng(2), 11, 20)
    out = model.signatures["features_conv5_4"](image=tf.constant(image))
    for layer, ref in zip(reference.LAYERS, reference.forward(image, tiny_weights, "max")):
        np.testing.assert_allclose(out[layer].numpy(), ref, rtol=0, atol=1e-4 * np.abs(ref).max(),
                                   err_msg=layer)


@pytest.mark.parametrize("deepest", ["conv1_1", "conv3_2", "conv5_1"])
def test_features_per_depth(tiny, tiny_weights, deepest):
    """features_<L> computes and returns the layers up to L only, with the same values."""
    image = random_image(np.random.default_rng(4), 10, 14)
    out = tiny.signatures[f"features_{deepest}"](image=tf.constant(image))
    depth = reference.LAYERS.index(deepest) + 1
    assert set(out) == {f"{layer}{suffix}" for layer in reference.LAYERS[:depth]
                        for suffix in ("", "_gram", "_hw")}
    ref = reference.forward(image, tiny_weights)[depth - 1]
    np.testing.assert_allclose(out[deepest].numpy(), ref, rtol=0, atol=1e-4 * np.abs(ref).max())


@pytest.mark.end_to_end
def test_vgg16_features_match_numpy(export_model):
    from export import vgg

    model = tf.saved_model.load(str(export_model("--seed", "2", "--width-divisor", "16", "--arch", "vgg16",
                                                 "--pooling", "max")))
    weights = vgg.random_weights(2, 16, vgg.VGG16)
    image = random_image(np.random.default_rng(5), 19, 12)
    out = model.signatures["features_conv5_3"](image=tf.constant(image))
    want = reference.forward(image, weights, "max", layers=reference.VGG16_LAYERS)
    for layer, ref in zip(reference.VGG16_LAYERS, want):
        np.testing.assert_allclose(out[layer].numpy(), ref, rtol=0, atol=1e-4 * np.abs(ref).max(),
                                   err_msg=layer)

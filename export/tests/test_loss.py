"""The per-depth loss signatures against a float64 NumPy reference and finite differences."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from export.tests import reference
from export.tests.conftest import random_image

CONTENT_LAYERS = {"conv1_2", "conv4_2", "conv5_1"}
STYLE_LAYERS = {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}
KERAS_POWER = 1.25  # the Keras example's grid TV exponent


def make_problem(seed, image, weights, power=KERAS_POWER):
    """Random targets for the used layers, broadcast zeros for the others, and coefficients
    scaled so every used term contributes about 1 to the total (a well-conditioned loss)."""
    rng = np.random.default_rng(seed)
    acts = reference.forward(image, weights)
    content, grams = [], []
    for layer, act in zip(reference.LAYERS, acts):
        if layer in CONTENT_LAYERS:
            content.append(rng.normal(0.0, act.std() + 1.0, act.shape).astype(np.float32))
        else:
            content.append(np.zeros((1, 1, 1, 1), np.float32))
        if layer in STYLE_LAYERS:
            g = reference.gram(act)
            r = rng.normal(0.0, np.abs(g).mean() + 1.0, g.shape)
            grams.append((0.5 * (r + r.T)).astype(np.float32))  # a style target is a Gram: symmetric
        else:
            grams.append(np.zeros((1, 1), np.float32))
    craw, sraw, tv = reference.raw_losses(image, acts, content, grams, power)
    used_c = np.array([layer in CONTENT_LAYERS for layer in reference.LAYERS])
    used_s = np.array([layer in STYLE_LAYERS for layer in reference.LAYERS])
    cw = np.where(used_c, rng.uniform(0.5, 1.5, 16) / craw, 0.0).astype(np.float32)
    sw = np.where(used_s, rng.uniform(0.5, 1.5, 16) / sraw, 0.0).astype(np.float32)
    tw = (rng.uniform(0.5, 1.5, 3) / tv).astype(np.float32)
    return (content, grams), (cw, sw, tw, np.float32(power))


def feed_targets(targets, coefficients):
    content, grams = targets
    cw, sw, tw, power = coefficients
    feed = {f"content_{layer}": c for layer, c in zip(reference.LAYERS, content)}
    feed.update({f"gram_{layer}": g for layer, g in zip(reference.LAYERS, grams)})
    feed.update(content_weights=cw, style_weights=sw, tv_weights=tw, tv_grid_power=np.float32(power))
    return feed


def set_targets(model, targets, coefficients):
    feed = {k: tf.constant(v) for k, v in feed_targets(targets, coefficients).items()}
    assert model.signatures["set_targets"](**feed)["ok"].numpy() == 1


def run_loss(model, deepest, image, conv_gradient="backprop"):
    name = f"loss_{deepest}" if conv_gradient == "backprop" else f"loss_{conv_gradient}_{deepest}"
    if conv_gradient == "forward":
        depth = reference.LAYERS.index(deepest) + 1
        assert model.signatures["set_forward_gradient"](depth=tf.constant(depth, tf.int32))["ok"].numpy() == 1
    out = model.signatures[name](image=tf.constant(image))
    return {k: v.numpy() for k, v in out.items()}


def test_every_layer_has_a_loss_signature(tiny):
    assert {f"loss_{layer}" for layer in reference.LAYERS} <= set(tiny.signatures)
    assert {f"loss_forward_{layer}" for layer in reference.LAYERS} <= set(tiny.signatures)
    assert {f"features_{layer}" for layer in reference.LAYERS} <= set(tiny.signatures)
    assert "loss" not in tiny.signatures and "features" not in tiny.signatures


@pytest.mark.parametrize("conv_gradient", ["backprop", "forward"])
@pytest.mark.parametrize("deepest", ["conv5_4", "conv5_1", "conv3_1", "conv1_1"])
def test_losses_match_numpy(tiny, tiny_weights, deepest, conv_gradient):
    """loss_<L> is the loss of the network cut after L: layers past L count 0, and so do
    terms with coefficient 0 (not computed)."""
    image = random_image(np.random.default_rng(3), 24, 20)
    targets, coefficients = make_problem(4, image, tiny_weights)
    set_targets(tiny, targets, coefficients)
    out = run_loss(tiny, deepest, image, conv_gradient)

    depth = reference.LAYERS.index(deepest) + 1
    acts = reference.forward(image, tiny_weights)
    craw, sraw, tv = reference.raw_losses(image, acts, *targets, KERAS_POWER)
    cw, sw, tw = (c.astype(np.float64) for c in coefficients[:3])
    kept = np.arange(16) < depth
    craw, sraw = np.where(kept & (cw != 0), craw, 0.0), np.where(kept & (sw != 0), sraw, 0.0)
    want = {"content_layers": craw, "style_layers": sraw,
            "content": cw @ craw, "style": sw @ sraw, "tv": tw @ tv}
    want["total"] = want["content"] + want["style"] + want["tv"]
    for key, value in want.items():
        np.testing.assert_allclose(out[key], value, rtol=1e-5, err_msg=key)
    assert out["grad"].shape == image.shape


def finite_differences(f, x, coords, h):
    fd = []
    for c in coords:
        plus, minus = x.copy(), x.copy()
        plus[c] += h
        minus[c] -= h
        fd.append((f(plus) - f(minus)) / (2 * h))
    return np.array(fd)


@pytest.mark.parametrize("conv_gradient", ["backprop", "forward"])
@pytest.mark.parametrize("deepest", ["conv5_4", "conv4_2"])
def test_gradient_matches_finite_differences(tiny, tiny_weights, deepest, conv_gradient):
    image = random_image(np.random.default_rng(5), 16, 16)
    targets, coefficients = make_problem(6, image, tiny_weights)
    depth = reference.LAYERS.index(deepest) + 1
    cw, sw, tw, power = coefficients
    # Coefficients past the signature's depth are ignored by it: zero them in the reference.
    coefficients = (np.where(np.arange(16) < depth, cw, 0), np.where(np.arange(16) < depth, sw, 0), tw, power)
    set_targets(tiny, targets, coefficients)
    grad = run_loss(tiny, deepest, image, conv_gradient)["grad"]

    # Central differences of the float64 NumPy total. The step is small against pixel values
    # (~100) so it rarely crosses a ReLU kink, yet float64 round-off stays ~1e-10 of the total.
    coeffs64 = tuple(np.asarray(c, np.float64) for c in coefficients)
    rng = np.random.default_rng(7)
    coords = [tuple(rng.integers(0, n) for n in image.shape) for _ in range(12)]
    fd = finite_differences(lambda x: reference.total(x, tiny_weights, targets, coeffs64),
                            image.astype(np.float64), coords, 1e-3)
    got = np.array([grad[c] for c in coords])
    # TF back-propagates in float32 through 16 layers: errors are ~1e-6 of the gradient's scale
    # (the largest sampled derivative). 1e-4 of it leaves margin, while a wrong or missing term
    # or factor (every term here contributes about a third of the total) is off by far more.
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())


@pytest.mark.parametrize("power", [KERAS_POWER, 1.0])
@pytest.mark.parametrize("term", [0, 1, 2])
def test_total_variation_forms(tiny, tiny_weights, power, term):
    """Each TV form alone (vertical, horizontal, grid with the Keras example's 1.25 and
    jcjohnson's 1), value and gradient, against NumPy and finite differences."""
    image = random_image(np.random.default_rng(11), 9, 13)
    targets = ([np.zeros((1, 1, 1, 1), np.float32)] * 16, [np.zeros((1, 1), np.float32)] * 16)
    tw = np.zeros(3, np.float32)
    tw[term] = 0.25
    coefficients = (np.zeros(16, np.float32), np.zeros(16, np.float32), tw, np.float32(power))
    set_targets(tiny, targets, coefficients)
    out = run_loss(tiny, "conv1_1", image)

    x = image.astype(np.float64)
    want = 0.25 * reference.tv_sums(x, power)[term]
    np.testing.assert_allclose(out["tv"], want, rtol=1e-5)
    np.testing.assert_allclose(out["total"], want, rtol=1e-5)
    coords = [tuple(np.random.default_rng(12 + i).integers(0, n) for n in image.shape) for i in range(10)]
    fd = finite_differences(lambda y: 0.25 * reference.tv_sums(y, power)[term], x, coords, 1e-3)
    got = np.array([out["grad"][c] for c in coords])
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())


def test_grid_power_one_is_the_sum_of_both_directions_inside(tiny):
    """With power 1 the grid form is the vertical plus horizontal pair sums restricted to the
    (H-1) x (W-1) pixels that have both neighbours (jcjohnson's TVLoss): a check of the form
    that does not use the reference's own grid code."""
    rng = np.random.default_rng(13)
    image = random_image(rng, 7, 8)
    targets = ([np.zeros((1, 1, 1, 1), np.float32)] * 16, [np.zeros((1, 1), np.float32)] * 16)
    set_targets(tiny, targets, (np.zeros(16, np.float32), np.zeros(16, np.float32),
                                np.array([0, 0, 1], np.float32), np.float32(1.0)))
    got = run_loss(tiny, "conv1_1", image)["tv"]
    x = image.astype(np.float64)
    inner_v = np.sum((x[:, 1:, :-1] - x[:, :-1, :-1]) ** 2)
    inner_h = np.sum((x[:, :-1, 1:] - x[:, :-1, :-1]) ** 2)
    np.testing.assert_allclose(got, inner_v + inner_h, rtol=1e-5)


@pytest.mark.parametrize("conv_gradient", ["backprop", "forward"])
@pytest.mark.parametrize("first", ["content", "style", "none"])
def test_first_layer_terms_gradient(tiny, tiny_weights, first, conv_gradient):
    """conv1_1's own terms reach the image in the forward pass (graph._first_terms_gradient),
    before conv1_2 runs: a content term, a style term, or none (then taken over one row of the
    picture), each beside the terms of conv1_2 and conv2_1, against finite differences."""
    image = random_image(np.random.default_rng(11), 16, 16)
    targets, coefficients = make_problem(12, image, tiny_weights)
    cw, sw, tw, power = (np.array(c, np.float32) if i < 3 else c for i, c in enumerate(coefficients))
    content, grams = list(targets[0]), list(targets[1])
    acts = reference.forward(image, tiny_weights)
    rng = np.random.default_rng(13)
    content[0] = rng.normal(0.0, acts[0].std() + 1.0, acts[0].shape).astype(np.float32)
    craw, _, _ = reference.raw_losses(image, acts, content, grams, power)
    cw[0] = 1.0 / craw[0] if first == "content" else 0.0
    sw[0] = sw[0] if first == "style" else 0.0
    depth = reference.LAYERS.index("conv2_1") + 1
    cw[depth:], sw[depth:], tw[:] = 0.0, 0.0, 0.0
    sw[1] = sw[2] = 1.0 / reference.raw_losses(image, acts, content, grams, power)[1][2]
    targets, coefficients = (content, grams), (cw, sw, tw, power)
    set_targets(tiny, targets, coefficients)
    grad = run_loss(tiny, "conv2_1", image, conv_gradient)["grad"]

    coeffs64 = tuple(np.asarray(c, np.float64) for c in coefficients)
    coords = [tuple(rng.integers(0, n) for n in image.shape) for _ in range(12)]
    fd = finite_differences(lambda x: reference.total(x, tiny_weights, targets, coeffs64),
                            image.astype(np.float64), coords, 1e-3)
    got = np.array([grad[c] for c in coords])
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())


@pytest.mark.parametrize("conv_gradient", ["backprop", "forward"])
def test_max_pooling_gradient_matches_finite_differences(tiny_weights, conv_gradient):
    """Max pooling's backward step takes the pooling's input (MaxPoolGrad), which the loss
    signatures keep for it while other activations are freed: the committed max-pooling tiny
    model (the tiny weights, max pooling) against finite differences of the NumPy total."""
    model = tf.saved_model.load(str(pathlib.Path(__file__).resolve().parents[2] / "testdata" / "vgg19-tiny-max"))
    image = random_image(np.random.default_rng(15), 16, 16)
    targets, coefficients = make_problem(16, image, tiny_weights)
    deepest = "conv4_2"
    depth = reference.LAYERS.index(deepest) + 1
    cw, sw, tw, power = coefficients
    coefficients = (np.where(np.arange(16) < depth, cw, 0), np.where(np.arange(16) < depth, sw, 0), tw, power)
    set_targets(model, targets, coefficients)
    grad = run_loss(model, deepest, image, conv_gradient)["grad"]

    coeffs64 = tuple(np.asarray(c, np.float64) for c in coefficients)
    rng = np.random.default_rng(17)
    coords = [tuple(rng.integers(0, n) for n in image.shape) for _ in range(12)]
    fd = finite_differences(lambda x: reference.total(x, tiny_weights, targets, coeffs64, "max"),
                            image.astype(np.float64), coords, 1e-3)
    got = np.array([grad[c] for c in coords])
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())

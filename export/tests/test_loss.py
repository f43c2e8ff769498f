"""The set_targets + loss signatures against a float64 NumPy reference and finite differences."""

import numpy as np
import tensorflow as tf

from export.tests import reference
from export.tests.conftest import random_image

CONTENT_LAYERS = {"conv1_2", "conv4_2", "conv5_1"}
STYLE_LAYERS = {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}


def make_problem(seed, image, weights):
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
            grams.append(rng.normal(0.0, np.abs(g).mean() + 1.0, g.shape).astype(np.float32))
        else:
            grams.append(np.zeros((1, 1), np.float32))
    craw, sraw, tv = reference.raw_losses(image, acts, content, grams)
    used_c = np.array([layer in CONTENT_LAYERS for layer in reference.LAYERS])
    used_s = np.array([layer in STYLE_LAYERS for layer in reference.LAYERS])
    cw = np.where(used_c, rng.uniform(0.5, 1.5, 16) / craw, 0.0).astype(np.float32)
    sw = np.where(used_s, rng.uniform(0.5, 1.5, 16) / sraw, 0.0).astype(np.float32)
    tw = (rng.uniform(0.5, 1.5, 2) / tv).astype(np.float32)
    return (content, grams), (cw, sw, tw)


def feed_targets(targets, coefficients):
    content, grams = targets
    cw, sw, tw = coefficients
    feed = {f"content_{layer}": c for layer, c in zip(reference.LAYERS, content)}
    feed.update({f"gram_{layer}": g for layer, g in zip(reference.LAYERS, grams)})
    feed.update(content_weights=cw, style_weights=sw, tv_weights=tw)
    return feed


def set_targets(model, targets, coefficients):
    feed = {k: tf.constant(v) for k, v in feed_targets(targets, coefficients).items()}
    assert model.signatures["set_targets"](**feed)["ok"].numpy() == 1


def test_losses_match_numpy(tiny, tiny_weights):
    image = random_image(np.random.default_rng(3), 24, 20)
    targets, coefficients = make_problem(4, image, tiny_weights)
    set_targets(tiny, targets, coefficients)
    out = {k: v.numpy() for k, v in tiny.signatures["loss"](image=tf.constant(image)).items()}

    acts = reference.forward(image, tiny_weights)
    craw, sraw, tv = reference.raw_losses(image, acts, *targets)
    cw, sw, tw = (c.astype(np.float64) for c in coefficients)
    # Layers weighted 0 are not computed: the graph reports their raw sums as 0.
    craw, sraw = np.where(cw > 0, craw, 0.0), np.where(sw > 0, sraw, 0.0)
    want = {"content_layers": craw, "style_layers": sraw,
            "content": cw @ craw, "style": sw @ sraw, "tv": tw @ tv}
    want["total"] = want["content"] + want["style"] + want["tv"]
    for key, value in want.items():
        np.testing.assert_allclose(out[key], value, rtol=1e-5, err_msg=key)
    assert out["grad"].shape == image.shape


def test_gradient_matches_finite_differences(tiny, tiny_weights):
    image = random_image(np.random.default_rng(5), 16, 16)
    targets, coefficients = make_problem(6, image, tiny_weights)
    set_targets(tiny, targets, coefficients)
    grad = tiny.signatures["loss"](image=tf.constant(image))["grad"].numpy()

    # Central differences of the float64 NumPy total. The step is small against pixel values
    # (~100) so it rarely crosses a ReLU kink, yet float64 round-off stays ~1e-10 of the total.
    x = image.astype(np.float64)
    coeffs64 = tuple(c.astype(np.float64) for c in coefficients)
    rng = np.random.default_rng(7)
    h = 1e-3
    coords = [tuple(rng.integers(0, n) for n in image.shape) for _ in range(12)]
    fd = []
    for c in coords:
        plus, minus = x.copy(), x.copy()
        plus[c] += h
        minus[c] -= h
        fd.append((reference.total(plus, tiny_weights, targets, coeffs64)
                   - reference.total(minus, tiny_weights, targets, coeffs64)) / (2 * h))
    fd = np.array(fd)
    got = np.array([grad[c] for c in coords])
    # TF back-propagates in float32 through 16 layers: errors are ~1e-6 of the gradient's scale
    # (the largest sampled derivative). 1e-4 of it leaves margin, while a wrong or missing term
    # or factor (every term here contributes about a third of the total) is off by far more.
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())

"""tile_features_<L> and tile_loss_<L>: a picture evaluated in tiles, against float64 NumPy."""

import numpy as np
import tensorflow as tf

from export.tests import reference
from export.tests.conftest import random_image
from export.tests.test_loss import make_problem, set_targets

# conv3_1: positions 4 pixels apart; a tile's edge changes its features up to 12 pixels in
# (conv1_x: 2; pooled, conv2_x: 2 + 2 + 2 = 6; pooled to the grid of 4: 8; conv3_1: 8 + 4).
DEEPEST = "conv3_1"
HALO, GRID = 12, 4


def tiles(h, w, side):
    for y in range(0, h, side):
        for x in range(0, w, side):
            y1, x1 = min(y + side, h), min(x + side, w)
            iy0, ix0 = max(0, y - HALO), max(0, x - HALO)
            yield (y, x, y1, x1), (iy0, ix0, min(h, y1 + HALO), min(w, x1 + HALO))


def strides():
    s, out = 1, []
    for layer in reference.LAYERS:
        s *= 2 if layer in reference.POOL_BEFORE else 1
        out.append(s)
    return out


def test_tiles_give_the_whole_pictures_grams_content_sums_and_gradient(tiny, tiny_weights):
    image = random_image(np.random.default_rng(21), 37, 45)  # odd sizes: pooling pads the edge
    depth = reference.LAYERS.index(DEEPEST) + 1
    targets, (cw, sw, tw, power) = make_problem(22, image, tiny_weights)
    cw, sw = np.where(np.arange(16) < depth, cw, 0), np.where(np.arange(16) < depth, sw, 0)
    tw = np.zeros(3, np.float32)  # the caller's: TV is not a tile term
    set_targets(tiny, targets, (cw, sw, tw, power))
    acts = reference.forward(image, tiny_weights)
    content, grams = targets
    st = strides()

    # Pass 1: the owned Grams add up to the picture's.
    g = [np.zeros((a.shape[-1],) * 2) for a in acts[:depth]]
    boxes = list(tiles(37, 45, 16))
    assert len(boxes) == 9
    for (y0, x0, y1, x1), (iy0, ix0, iy1, ix1) in boxes:
        owned = tf.constant([y0 - iy0, x0 - ix0, y1 - iy0, x1 - ix0], tf.int32)
        out = tiny.signatures[f"tile_features_{DEEPEST}"](image=tf.constant(image[:, iy0:iy1, ix0:ix1]), owned=owned)
        for i in range(depth):
            g[i] += out[f"{reference.LAYERS[i]}_gram"].numpy()
    for i in range(depth):
        np.testing.assert_allclose(g[i], reference.gram(acts[i]), rtol=1e-5, atol=1e-5 * np.abs(g[i]).max())

    # Pass 2: given D = G - A, the tiles' content sums and input gradients add up to the
    # picture's loss gradient (no TV).
    d = [(reference.gram(a) - t).astype(np.float32) for a, t in zip(acts[:depth], grams[:depth])]
    grad, craw = np.zeros(image.shape), np.zeros(16)
    for (y0, x0, y1, x1), (iy0, ix0, iy1, ix1) in boxes:
        feed = {"image": tf.constant(image[:, iy0:iy1, ix0:ix1]),
                "owned": tf.constant([y0 - iy0, x0 - ix0, y1 - iy0, x1 - ix0], tf.int32)}
        for i, layer in enumerate(reference.LAYERS[:depth]):
            s, c = st[i], content[i]
            if c.shape[1] > 1:
                c = c[:, y0 // s:-(-y1 // s), x0 // s:-(-x1 // s)]
            feed[f"content_{layer}"] = tf.constant(c)
            feed[f"diff_{layer}"] = tf.constant(d[i])
        out = tiny.signatures[f"tile_loss_{DEEPEST}"](**feed)
        craw += out["content_layers"].numpy()
        grad[:, iy0:iy1, ix0:ix1] += out["grad"].numpy()
    want_craw, _, _ = reference.raw_losses(image, acts, content, grams)
    want_craw = np.where(cw != 0, want_craw, 0.0)
    np.testing.assert_allclose(craw, want_craw, rtol=1e-5)
    whole = tiny.signatures[f"loss_{DEEPEST}"](image=tf.constant(image))["grad"].numpy()
    np.testing.assert_allclose(grad, whole, rtol=0, atol=1e-4 * np.abs(whole).max())

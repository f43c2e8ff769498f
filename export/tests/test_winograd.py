"""Winograd F(2x2, 3x3) convolutions (export/winograd.py) against the float64 NumPy
reference, and the forward form's use of them."""

import numpy as np
import pytest
import tensorflow as tf

from export import winograd
from export.tests import reference

# F(2x2, 3x3) in float32: the transforms add at most a few float32 roundings per output
# (errors ~1e-6 of the outputs' scale); 1e-5 of it leaves margin, while a wrong tile
# position, transform entry or edge (an output off by a whole product) is far larger.
TOLERANCE = 1e-5


@pytest.mark.parametrize("flipped,few_tiles", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("h,w,cin,cout", [(8, 8, 3, 5), (5, 7, 4, 6), (1, 1, 8, 8), (2, 3, 8, 4), (9, 6, 16, 8)])
def test_conv_matches_numpy(h, w, cin, cout, flipped, few_tiles):
    rng = np.random.default_rng(h * 100 + w)
    kernel = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
    u = winograd.transform_kernel(tf.constant(kernel))
    assert u.shape == (16, cin, cout)
    if flipped:
        x = rng.uniform(-100, 100, (1, h, w, cout)).astype(np.float32)
        # The input gradient's kernel: flipped in space, in and out channels swapped.
        want = reference.conv3x3(x, kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    else:
        x = rng.uniform(-100, 100, (1, h, w, cin)).astype(np.float32)
        want = reference.conv3x3(x, kernel)
    got = winograd.conv3x3(tf.constant(x), u, flipped=flipped, few_tiles=few_tiles).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * np.abs(want).max())


def test_forward_form_stores_winograd_kernels_after_the_third_pool(tiny):
    """set_forward_gradient stores [16, in, out] Winograd kernels for conv4_2 onwards (the
    layers after the third pool that keep their block's width) and flipped [3, 3, out,
    in] kernels for conv1_2..conv4_1; the first layer keeps none."""
    assert tiny.signatures["set_forward_gradient"](depth=tf.constant(16, tf.int32))["ok"].numpy() == 1
    for i, (layer, kernel, stored) in enumerate(zip(reference.LAYERS, tiny.kernels, tiny.flipped_kernels)):
        kh, kw, cin, cout = kernel.shape
        if i == 0:
            want = (kh, kw, cout, 0)
        elif i > reference.LAYERS.index("conv4_1"):
            want = (16, cin, cout)
        else:
            want = (kh, kw, cout, cin)
        assert tuple(tf.shape(stored.read_value()).numpy()) == want, layer

"""Winograd F(m x m, 3x3) convolutions (export/winograd.py) against the float64 NumPy
reference, and the forward form's use of them."""

import numpy as np
import pytest
import tensorflow as tf

from export import winograd
from export.tests import reference

# The transforms add a few float32 roundings per output: F(2x2, 3x3) ~3e-7 of the
# outputs' scale at these shapes, F(4x4, 3x3) (larger transform entries) up to ~3e-6;
# 1e-5 of it leaves margin, while a wrong tile position, transform entry, scale or edge
# (an output off by a whole product) is far larger.
TOLERANCE = 1e-5

TILINGS = {"F2": winograd.Tiling(2, [0, 1, -1]), "F4": winograd.F4}


@pytest.mark.parametrize("tiling", sorted(TILINGS))
@pytest.mark.parametrize("flipped,few_tiles", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("h,w,cin,cout", [(8, 8, 3, 5), (5, 7, 4, 6), (1, 1, 8, 8), (2, 3, 8, 4), (9, 6, 16, 8),
                                          (13, 10, 32, 24)])
def test_conv_matches_numpy(h, w, cin, cout, flipped, few_tiles, tiling):
    rng = np.random.default_rng(h * 100 + w)
    kernel = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
    t = TILINGS[tiling]
    u = t.transform_kernel(tf.constant(kernel))
    assert u.shape == (t.n * t.n, cin, cout)
    if flipped:
        x = rng.uniform(-100, 100, (1, h, w, cout)).astype(np.float32)
        # The input gradient's kernel: flipped in space, in and out channels swapped.
        want = reference.conv3x3(x, kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    else:
        x = rng.uniform(-100, 100, (1, h, w, cin)).astype(np.float32)
        want = reference.conv3x3(x, kernel)
    got = t.conv3x3(tf.constant(x), u, flipped=flipped, few_tiles=few_tiles).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * np.abs(want).max())


def test_forward_form_stores_flipped_kernels_before_the_winograd_layers(tiny):
    """set_forward_gradient stores flipped [3, 3, out, in] kernels for conv1_2..conv3_1 and
    nothing for conv3_2 onwards (the layers after the second pool that keep their block's
    width, run by F(4x4, 3x3), transform their kernels at each use); the first layer keeps
    an empty one."""
    assert tiny.signatures["set_forward_gradient"](depth=tf.constant(16, tf.int32))["ok"].numpy() == 1
    for i, (layer, kernel, stored) in enumerate(zip(reference.LAYERS, tiny.kernels, tiny.flipped_kernels)):
        kh, kw, cin, cout = kernel.shape
        if i == 0:
            want = (kh, kw, cout, 0)
        elif i > reference.LAYERS.index("conv3_1"):
            want = (1, 1, 1, 1)  # the placeholder it was exported with
        else:
            want = (kh, kw, cout, cin)
        assert tuple(tf.shape(stored.read_value()).numpy()) == want, layer

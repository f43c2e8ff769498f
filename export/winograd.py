"""3x3 convolutions (stride 1, SAME) by Winograd's minimal filtering F(2x2, 3x3).

Why: with oneDNN off (TensorFlow's Eigen kernels, e.g. AMD hosts) the convolutions are
nearly the whole step and already run near the cores' FMA peak, so only fewer
multiplications make them faster. F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016) computes each 2x2 output tile from a 4x4 input tile
with 16 channel products where the direct form takes 36: a batch of 16 matrix products
of (tiles x in channels) by (in x out channels), between two cheap linear transforms.
The transforms cost in proportion to tiles x channels and the products to tiles x in x
out channels, so the trade pays where channels are many: VGG's 512-channel layers
(1.3-1.4x faster there), not its 64-256-channel ones.

The same transformed kernel also serves the layer's input gradient (the forward
convolution with the kernel flipped in space and its channels swapped): flipping a 3x3
kernel reverses G's first and last rows, which only reorders the 16 tile positions, and
the channel swap is a transposed product. Both fold into the constant transforms, so a
layer stores one transformed kernel for both directions.
"""

import numpy as np
import tensorflow as tf

# F(2x2, 3x3)'s matrices: input transform B^T, kernel transform G, output transform A^T.
_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)

# The 16 tile positions (i, j) as i*4 + j. Flipping the kernel maps position i to
# _FLIP[i] in each dimension (G J = P G, P swapping rows 0 and 3).
_FLIP = np.array([3, 1, 2, 0])
_FLIP16 = (_FLIP[:, None] * 4 + _FLIP[None, :]).ravel()

_IN = np.kron(_BT, _BT)  # [16 positions, 16 tile pixels (a*4 + b)]
_OUT = np.kron(_AT, _AT)  # [4 output pixels, 16 positions]


def transform_kernel(kernel):
    """A [3, 3, in, out] kernel as the [16, in, out] products' right-hand sides, U = G g G^T."""
    u = tf.einsum("ia,abck,jb->ijck", _G, kernel, _G)
    return tf.reshape(u, tf.concat([[16], tf.shape(kernel)[2:]], 0))


def conv3x3(x, u, flipped=False, few_tiles=False):
    """conv2d(x, g, stride 1, "SAME") for a [1, h, w, c] x, with u = transform_kernel(g).

    flipped=True computes the convolution with flip_kernel(g) instead (g flipped in space,
    in and out channels swapped): a layer's input gradient from the gradient at its output.
    Its products take u transposed, which Eigen's kernels pay for in one of two ways: as
    v u^T (the kernel's side transposed, better from about 500 tiles) or, with few_tiles,
    as u v^T (the tiles' side transposed, better below). Odd h or w get one more zero
    row or column, and the extra output is cut off.
    """
    shape = tf.shape(x)
    h, w, c = shape[1], shape[2], shape[3]
    # SAME padding (1 each side) and up to even: tiles of 4 at stride 2 then cover h x w.
    x = tf.pad(x, [[0, 0], [1, 1 + h % 2], [1, 1 + w % 2], [0, 0]])
    patches = tf.image.extract_patches(x, [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    th, tw = (h + 1) // 2, (w + 1) // 2
    patches = tf.reshape(patches, [th * tw, 16, c])
    transform_in, transform_out = (_IN[_FLIP16], _OUT[:, _FLIP16]) if flipped else (_IN, _OUT)
    if flipped and few_tiles:
        v = tf.einsum("ij,tjc->ict", transform_in, patches)
        y = tf.einsum("ji,ikt->tjk", transform_out, tf.matmul(u, v))
    else:
        v = tf.einsum("ij,tjc->itc", transform_in, patches)
        y = tf.einsum("ji,itk->tjk", transform_out, tf.matmul(v, u, transpose_b=flipped))
    k = tf.shape(u)[1 if flipped else 2]
    y = tf.nn.depth_to_space(tf.reshape(y, [1, th, tw, 4 * k]), 2)
    return y[:, :h, :w, :]

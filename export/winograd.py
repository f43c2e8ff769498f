"""3x3 convolutions (stride 1, SAME) by Winograd's minimal filtering F(m x m, 3x3).

Why: the convolutions are nearly the whole step, and where the cores already run them
near their FMA peak only fewer multiplications make them faster. F(m x m, 3x3) (Lavin &
Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) computes each m x m
output tile from an n x n input tile (n = m + 2) with n^2 channel products where the
direct form takes 9 m^2: a batch of n^2 matrix products of (tiles x in channels) by
(in x out channels), between two linear transforms. F(2x2, 3x3) takes 16 products for
4 outputs (2.25x fewer), F(4x4, 3x3) 36 for 16 (4x fewer). The transforms cost in
proportion to tiles x channels x n^2 and the products to tiles x in x out channels, so
the trade pays where channels are many (see README "Performance" for the layers and
figures per host).

The matrices come from Toom-Cook interpolation at n - 1 finite points and infinity,
derived exactly in fractions here: A^T and G evaluate the output and kernel polynomials,
B^T is the transposed inverse of the n x n evaluation matrix, its rows scaled to at
most 1 with the scale moved onto G. The points decide float32's error (see F4 below).

The same transformed kernel also serves the layer's input gradient (the convolution with
the kernel flipped in space and its channels swapped). Flipping the kernel's polynomial
evaluates it at 1/p, scaled by p^2: computed at the inverted points (0 and infinity
swapped), the flipped kernel's transform is the stored one reordered and scaled, and
the channel swap is a transposed product. Both fold into the constant transforms, so a
layer stores one transformed kernel for both directions.
"""

from fractions import Fraction

import numpy as np
import tensorflow as tf


def _inverse(rows):
    """The exact inverse of a square matrix of Fractions (Gauss-Jordan)."""
    n = len(rows)
    m = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        m[col] = [x / m[col][col] for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                m[r] = [x - m[r][col] * y for x, y in zip(m[r], m[col])]
    return [row[n:] for row in m]


def _evaluation(points, columns):
    """Rows [1, p, p^2, ...] per finite point, and [0, ..., 0, 1] (the leading
    coefficient) for infinity, last."""
    return [[p ** k for k in range(columns)] for p in points] + [[Fraction(0)] * (columns - 1) + [Fraction(1)]]


def _matrices(points, m):
    """F(m x m, 3x3)'s A^T (m x n), G (n x 3) and B^T (n x n) at the finite points and
    infinity, B^T's rows scaled to at most 1 and G's rows by the same factors."""
    n = m + 2
    at = [list(col) for col in zip(*_evaluation(points, m))]
    g = _evaluation(points, 3)
    bt = [list(col) for col in zip(*_inverse(_evaluation(points, n)))]
    scale = [max(abs(x) for x in row) for row in bt]
    return at, [[x * s for x in row] for row, s in zip(g, scale)], [[x / s for x in row] for row, s in zip(bt, scale)]


def _f64(rows):
    return np.array([[float(x) for x in row] for row in rows], np.float64)


class Tiling:
    """F(m x m, 3x3) at n - 1 finite points (0 among them) and infinity.

    The input gradient (the flipped kernel) is computed at the inverted points (0 and
    infinity swapped), where the flipped kernel's transform is the stored one's,
    reordered and scaled: G' J = diag(c) P G.
    """

    def __init__(self, m, points):
        points = [Fraction(p) for p in points]
        assert len(points) == m + 1 and 0 in points
        self.m, self.n = m, m + 2
        n = self.n
        at, g, bt = _matrices(points, m)
        at_f, g_f, bt_f = _matrices([1 / p for p in points if p != 0] + [Fraction(0)], m)
        flip, c = [], []
        for row in g_f:
            rev = row[::-1]
            j = next(j for j, other in enumerate(g)
                     if all(rev[k] * other[l] == rev[l] * other[k] for k in range(3) for l in range(3)))
            k = next(k for k in range(3) if g[j][k] != 0)
            flip.append(j)
            c.append(rev[k] / g[j][k])
        self._gg = np.kron(_f64(g), _f64(g)).astype(np.float32)  # [n^2 positions, 9 kernel taps]
        self._in = np.kron(_f64(bt), _f64(bt)).astype(np.float32)  # [n^2 positions, n^2 tile pixels]
        self._out = np.kron(_f64(at), _f64(at)).astype(np.float32)  # [m^2 output pixels, n^2 positions]
        # Position t of the flipped kernel's transform is c2[t] times the stored one's at
        # flip2[t]: position s = flip2[t] takes t's input row scaled by c2[t], and its
        # output column.
        flip = np.array(flip)
        flip2 = (flip[:, None] * n + flip[None, :]).ravel()
        c2 = np.outer([float(x) for x in c], [float(x) for x in c]).ravel()
        order = np.argsort(flip2)
        self._in_flipped = (np.kron(_f64(bt_f), _f64(bt_f))[order] * c2[order][:, None]).astype(np.float32)
        self._out_flipped = np.kron(_f64(at_f), _f64(at_f))[:, order].astype(np.float32)

    def transform_kernel(self, kernel):
        """A [3, 3, in, out] kernel as the [n^2, in, out] products' right-hand sides, U = G g G^T.

        One product by G (x) G on the taps, [n^2, 9] x [9, in * out]: its output is the only
        buffer it allocates (an einsum's two steps and transposes held 2-3 times the kernels'
        size more while set_forward_gradient ran every layer at once)."""
        shape = tf.shape(kernel)
        u = tf.matmul(self._gg, tf.reshape(kernel, [9, -1]))
        return tf.reshape(u, tf.concat([[self.n * self.n], shape[2:]], 0))

    def conv3x3(self, x, u, flipped=False, few_tiles=False):
        """conv2d(x, g, stride 1, "SAME") for a [1, h, w, c] x, with u = transform_kernel(g).

        flipped=True computes the convolution with flip_kernel(g) instead (g flipped in
        space, in and out channels swapped): a layer's input gradient from the gradient at
        its output. Its products take u transposed, which Eigen's kernels pay for in one
        of two ways: as v u^T (the kernel's side transposed, better from about 100-500
        tiles, depending on the CPU) or, with few_tiles, as u v^T (the tiles' side
        transposed, better below). Sizes that are not a multiple of m get zero rows or
        columns, and the extra output is cut off.

        The tiles are gathered with the tile pixel leading, [n^2, tiles, c], so that each
        transform is one plain matrix product and no tiles-sized tensor is transposed:
        the input is cut into m x m blocks and transposed once at its own size, and a
        tile's n = m + 2 rows (columns) are its block's m and the next block's first 2.
        """
        m, n = self.m, self.n
        shape = tf.shape(x)
        h, w, c = shape[1], shape[2], x.shape[3] or shape[3]
        th, tw = (h + m - 1) // m, (w + m - 1) // m
        # SAME padding (1 before), then zeros up to th + 1 by tw + 1 whole blocks.
        x = tf.pad(x[0], [[1, m * (th + 1) - h - 1], [1, m * (tw + 1) - w - 1], [0, 0]])
        blocks = tf.transpose(tf.reshape(x, [th + 1, m, tw + 1, m, c]), [1, 3, 0, 2, 4])
        rows = tf.concat([blocks[:, :, :th], blocks[:2, :, 1:]], 0)
        tiles = tf.concat([rows[:, :, :, :tw], rows[:, :2, :, 1:]], 1)  # [n, n, th, tw, c]
        transform_in, transform_out = (self._in_flipped, self._out_flipped) if flipped else (self._in, self._out)
        v = tf.reshape(tf.matmul(transform_in, tf.reshape(tiles, [n * n, -1])), [n * n, th * tw, c])
        k = tf.shape(u)[1 if flipped else 2]
        if flipped and few_tiles:
            products = tf.matmul(u, v, transpose_b=True)  # [n^2, k, tiles]
            y = tf.reshape(tf.matmul(transform_out, tf.reshape(products, [n * n, -1])), [m, m, k, th, tw])
            y = tf.transpose(y, [3, 0, 4, 1, 2])
        else:
            products = tf.matmul(v, u, transpose_b=flipped)  # [n^2, tiles, k]
            y = tf.reshape(tf.matmul(transform_out, tf.reshape(products, [n * n, -1])), [m, m, th, tw, k])
            y = tf.transpose(y, [2, 0, 3, 1, 4])
        y = tf.reshape(y, [1, th * m, tw * m, k])
        return y[:, :h, :w, :]


# The forward form's tiling. Of the point sets tried, (0, 1, -1, 1/2, -2) gave the
# smallest float32 error, about a third of Lavin's (0, 1, -1, 2, -2) and of the set
# closed under inversion (0, 1, -1, 2, 1/2). F(2x2, 3x3), Tiling(2, [0, 1, -1]), was
# slower than F(4x4, 3x3) at VGG's shapes from conv3_2 on, or even (512 channels at
# 32x32 with oneDNN off on an Intel Xeon).
F4 = Tiling(4, [0, 1, -1, Fraction(1, 2), -2])

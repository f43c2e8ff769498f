"""Independent float64 NumPy reference of VGG19, Gram matrices and the raw losses."""

import numpy as np

LAYERS = (
    "conv1_1", "conv1_2", "conv2_1", "conv2_2",
    "conv3_1", "conv3_2", "conv3_3", "conv3_4",
    "conv4_1", "conv4_2", "conv4_3", "conv4_4",
    "conv5_1", "conv5_2", "conv5_3", "conv5_4",
)
POOL_BEFORE = {"conv2_1", "conv3_1", "conv4_1", "conv5_1"}
VGG16_LAYERS = (
    "conv1_1", "conv1_2", "conv2_1", "conv2_2",
    "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3",
    "conv5_1", "conv5_2", "conv5_3",
)


def conv3x3(x, kernel):
    """3x3 cross-correlation, stride 1, zero padding 1, of x [1, H, W, in] (float64)."""
    _, h, w, _ = x.shape
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((1, h, w, kernel.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += xp[:, dy:dy + h, dx:dx + w, :] @ np.asarray(kernel[dy, dx], np.float64)
    return out


def conv3x3_relu(x, kernel, bias):
    """ReLU(3x3 cross-correlation, stride 1, zero padding 1, + bias) of x [1, H, W, in]."""
    return np.maximum(conv3x3(x, kernel) + np.asarray(bias, np.float64), 0.0)


def pool2x2(x, mode):
    """2x2 stride-2 pooling with TF's SAME padding: odd edges pool over the valid cells only."""
    _, h, w, c = x.shape
    ho, wo = -(-h // 2), -(-w // 2)
    padded = np.full((1, 2 * ho, 2 * wo, c), np.nan)
    padded[:, :h, :w] = x
    windows = padded.reshape(1, ho, 2, wo, 2, c)
    return np.nanmean(windows, axis=(2, 4)) if mode == "avg" else np.nanmax(windows, axis=(2, 4))


def forward(image, weights, pooling="avg", layers=LAYERS):
    """The ReLU activations of image [1, H, W, 3] for (kernel [h,w,in,out], bias) pairs
    (VGG19's 16 layers unless other layer names are given; blocks 2-5 start with a pool)."""
    acts = []
    x = np.asarray(image, np.float64)
    for layer, (kernel, bias) in zip(layers, weights):
        if layer in POOL_BEFORE:
            x = pool2x2(x, pooling)
        x = conv3x3_relu(x, kernel, bias)
        acts.append(x)
    return acts


def gram(act):
    f = np.asarray(act, np.float64).reshape(-1, act.shape[-1])
    return f.T @ f


def tv_sums(image, power):
    """Vertical sum(dy^2), horizontal sum(dx^2) (anishathalye/neural-style's pair sums), and
    the grid form as Keras' style-transfer example writes it (power 1.25 there; jcjohnson's
    TVLoss is power 1): a = (x[i, j] - x[i+1, j])^2, b = (x[i, j] - x[i, j+1])^2 over
    i < H-1, j < W-1, and sum((a + b)^power)."""
    x = np.asarray(image, np.float64)
    a = (x[:, :-1, :-1, :] - x[:, 1:, :-1, :]) ** 2
    b = (x[:, :-1, :-1, :] - x[:, :-1, 1:, :]) ** 2
    return np.array([np.sum((x[:, 1:] - x[:, :-1]) ** 2), np.sum((x[:, :, 1:] - x[:, :, :-1]) ** 2),
                     np.sum((a + b) ** power)])


def raw_losses(image, acts, content_targets, gram_targets, power=1.0):
    """Per-layer sum((act - target)^2), sum((gram - target)^2), and the TV sums (vertical,
    horizontal, grid)."""
    craw = np.array([np.sum((a - t) ** 2) for a, t in zip(acts, content_targets)])
    sraw = np.array([np.sum((gram(a) - g) ** 2) for a, g in zip(acts, gram_targets)])
    return craw, sraw, tv_sums(image, power)


def total(image, weights, targets, coefficients, pooling="avg"):
    """The weighted total loss, for finite differences; coefficients are
    (content [n], style [n], tv [3], grid power)."""
    content_targets, gram_targets = targets
    cw, sw, tw, power = coefficients
    acts = forward(image, weights, pooling)
    craw, sraw, tv = raw_losses(image, acts, content_targets, gram_targets, power)
    return cw @ craw + sw @ sraw + tw @ tv

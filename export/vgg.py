"""VGG19's convolutional layers and the weights they can hold.

Only NumPy, h5py and SciPy here (TensorFlow is imported lazily for ImageNet weights),
so bad weight files are reported before TensorFlow's slow start-up.
Every loader returns a list of 16 ``(kernel, bias)`` float32 pairs in ``LAYERS`` order,
kernels laid out as TensorFlow's [height, width, in, out], and taking RGB input;
``width_divisor_of`` checks that they chain as VGG19.
"""

import math

import numpy as np

# The 16 conv layers; each name is that layer's ReLU output.
LAYERS = (
    "conv1_1", "conv1_2",
    "conv2_1", "conv2_2",
    "conv3_1", "conv3_2", "conv3_3", "conv3_4",
    "conv4_1", "conv4_2", "conv4_3", "conv4_4",
    "conv5_1", "conv5_2", "conv5_3", "conv5_4",
)
# A 2x2/2 pooling comes before the first conv of blocks 2-5 (pool5 is never needed).
POOL_BEFORE = frozenset({"conv2_1", "conv3_1", "conv4_1", "conv5_1"})
FULL_CHANNELS = (64, 64, 128, 128) + (256,) * 4 + (512,) * 8


class WeightsError(Exception):
    """A weights option or file that cannot be used; the message is one line for the user."""


def channels(width_divisor):
    """Channel counts of a VGG19 narrowed by width_divisor (at least 1 channel per layer)."""
    return tuple(max(1, c // width_divisor) for c in FULL_CHANNELS)


def random_weights(seed, width_divisor=1):
    """Deterministic He-normal kernels (stddev sqrt(2 / (3*3*in))) and zero biases.

    He et al. 2016 show random VGG weights still transfer style, so this is the
    offline default; a fixed seed makes it reproducible.
    """
    rng = np.random.default_rng(seed)
    weights = []
    cin = 3
    for cout in channels(width_divisor):
        std = np.float32(math.sqrt(2.0 / (3 * 3 * cin)))
        kernel = rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * std
        weights.append((kernel, np.zeros(cout, np.float32)))
        cin = cout
    return weights


def width_divisor_of(weights, source):
    """Checks the kernels chain as VGG19 and returns the width divisor their channels match."""
    cin = 3
    for name, (kernel, bias) in zip(LAYERS, weights):
        if kernel.ndim != 4 or kernel.shape[:3] != (3, 3, cin) or bias.shape != kernel.shape[3:]:
            raise WeightsError(
                f"{source}: {name} has kernel {kernel.shape} and bias {bias.shape}, "
                f"want (3, 3, {cin}, out) and (out,)")
        cin = kernel.shape[3]
    found = tuple(kernel.shape[3] for kernel, _ in weights)
    for divisor in range(1, FULL_CHANNELS[-1] + 1):
        if channels(divisor) == found:
            return divisor
    raise WeightsError(f"{source}: channels {found} are not VGG19's divided by a whole number")


def _bgr_to_rgb(weights):
    """Caffe-trained Keras weights expect BGR: flip conv1_1's input channels to take RGB."""
    kernel, bias = weights[0]
    return [(np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)] + weights[1:]


def _keras_name(layer):
    block, conv = layer[4], layer[6]
    return f"block{block}_conv{conv}"


def load_keras_h5(path):
    """Reads a Keras VGG19 notop .h5 (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5).

    Each layer is a group block<b>_conv<c> whose attribute weight_names lists its
    datasets: the (3, 3, in, out) kernel and the (out,) bias.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise WeightsError(f"{path}: not a readable HDF5 file ({e})") from None
    weights = []
    with f:
        for layer in LAYERS:
            group_name = _keras_name(layer)
            group = f.get(group_name)
            if not isinstance(group, h5py.Group):
                raise WeightsError(f"{path}: no group {group_name!r}; not a Keras VGG19 weights file")
            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in group.attrs.get("weight_names", [])]
            arrays = [np.asarray(group[n], np.float32) for n in names if n in group]
            kernels = [a for a in arrays if a.ndim == 4]
            biases = [a for a in arrays if a.ndim == 1]
            if len(names) != 2 or len(kernels) != 1 or len(biases) != 1:
                raise WeightsError(
                    f"{path}: group {group_name!r} must list a 4-D kernel and a 1-D bias "
                    f"in its weight_names, found {names}")
            weights.append((kernels[0], biases[0]))
    return _bgr_to_rgb(weights)


def load_keras_imagenet():
    """Keras' ImageNet VGG19 (downloaded and cached by Keras; needs network the first time)."""
    try:
        from .quiet import import_tensorflow

        keras = import_tensorflow().keras

        model = keras.applications.VGG19(weights="imagenet", include_top=False)
        weights = []
        for layer in LAYERS:
            kernel, bias = model.get_layer(_keras_name(layer)).get_weights()
            weights.append((np.asarray(kernel, np.float32), np.asarray(bias, np.float32)))
    except Exception as e:  # Keras reports a failed download as a bare Exception.
        detail = " ".join(str(e).split())
        raise WeightsError(f"--weights imagenet: cannot load Keras ImageNet VGG19: {detail}") from None
    return _bgr_to_rgb(weights)


def load_matconvnet(path):
    """Reads MatConvNet's imagenet-vgg-verydeep-19.mat (the seed notebook's file).

    ``layers`` is a cell of structs with fields name, type and weights = {kernel, bias};
    kernels are [width, height, in, out], so they are transposed to TensorFlow's
    [height, width, in, out]; biases may be (out, 1) or (1, out).
    """
    import scipy.io

    try:
        data = scipy.io.loadmat(path)
    except Exception as e:  # SciPy raises assorted types for files that are not MAT v5.
        raise WeightsError(f"{path}: not a readable MATLAB v5 .mat file ({e})") from None
    if "layers" not in data:
        raise WeightsError(f"{path}: no 'layers' variable; not a MatConvNet VGG19 file")
    found = {}
    for cell in np.asarray(data["layers"]).ravel():
        struct = np.asarray(cell).ravel()
        fields = struct.dtype.names or ()
        if struct.size != 1 or "name" not in fields:
            continue
        name = str(np.asarray(struct[0]["name"]).ravel()[0])
        if name in LAYERS and "weights" in fields:
            found[name] = np.asarray(struct[0]["weights"]).ravel()
    weights = []
    for layer in LAYERS:
        pair = found.get(layer)
        if pair is None or len(pair) != 2:
            raise WeightsError(f"{path}: no conv layer {layer!r} with weights {{kernel, bias}}")
        kernel = np.asarray(pair[0], np.float32)
        if kernel.ndim != 4:
            raise WeightsError(f"{path}: {layer} kernel has shape {kernel.shape}, want 4-D")
        weights.append((np.ascontiguousarray(kernel.transpose(1, 0, 2, 3)),
                        np.asarray(pair[1], np.float32).reshape(-1)))
    return weights

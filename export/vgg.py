"""The VGG networks' convolutional layers and the weights they can hold.

Only NumPy, h5py and SciPy here (TensorFlow is imported lazily for ImageNet weights),
so bad weight files are reported before TensorFlow's slow start-up.
Every loader returns a list of ``(kernel, bias)`` float32 pairs in the arch's layer order,
kernels laid out as TensorFlow's [height, width, in, out], and taking RGB input;
``width_divisor_of`` checks that they chain as the arch's network.
"""

import collections
import math

import numpy as np

Arch = collections.namedtuple("Arch", "name layers pool_before full_channels")
Arch.__doc__ = """A VGG's conv layers (each name is that layer's ReLU output), the layers a 2x2/2
pooling comes before (the first conv of blocks 2-5; pool5 is never needed), and the
channels of each layer at full width."""


def _arch(name, convs_per_block):
    layers, channels = [], []
    for block, (convs, width) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), start=1):
        layers += [f"conv{block}_{i}" for i in range(1, convs + 1)]
        channels += [width] * convs
    pool_before = frozenset(f"conv{block}_1" for block in range(2, 6))
    return Arch(name, tuple(layers), pool_before, tuple(channels))


VGG19 = _arch("vgg19", (2, 2, 4, 4, 4))  # 16 conv layers
VGG16 = _arch("vgg16", (2, 2, 3, 3, 3))  # 13 conv layers
ARCHS = {a.name: a for a in (VGG19, VGG16)}

# VGG19's, kept for callers that know only it.
LAYERS = VGG19.layers
POOL_BEFORE = VGG19.pool_before
FULL_CHANNELS = VGG19.full_channels


class WeightsError(Exception):
    """A weights option or file that cannot be used; the message is one line for the user."""


def channels(width_divisor, arch=VGG19):
    """Channel counts of the arch narrowed by width_divisor (at least 1 channel per layer)."""
    return tuple(max(1, c // width_divisor) for c in arch.full_channels)


def random_weights(seed, width_divisor=1, arch=VGG19):
    """Deterministic He-normal kernels (stddev sqrt(2 / (3*3*in))) and zero biases.

    He et al. 2016 show random VGG weights still transfer style, so this is the
    offline default; a fixed seed makes it reproducible.
    """
    rng = np.random.default_rng(seed)
    weights = []
    cin = 3
    for cout in channels(width_divisor, arch):
        std = np.float32(math.sqrt(2.0 / (3 * 3 * cin)))
        kernel = rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * std
        weights.append((kernel, np.zeros(cout, np.float32)))
        cin = cout
    return weights


def width_divisor_of(weights, source, arch=VGG19):
    """Checks the kernels chain as the arch's and returns the width divisor their channels match."""
    if len(weights) != len(arch.layers):
        raise WeightsError(f"{source}: {len(weights)} conv layers, {arch.name} has {len(arch.layers)}")
    cin = 3
    for name, (kernel, bias) in zip(arch.layers, weights):
        if kernel.ndim != 4 or kernel.shape[:3] != (3, 3, cin) or bias.shape != kernel.shape[3:]:
            raise WeightsError(
                f"{source}: {name} has kernel {kernel.shape} and bias {bias.shape}, "
                f"want (3, 3, {cin}, out) and (out,)")
        cin = kernel.shape[3]
    found = tuple(kernel.shape[3] for kernel, _ in weights)
    for divisor in range(1, arch.full_channels[-1] + 1):
        if channels(divisor, arch) == found:
            return divisor
    raise WeightsError(f"{source}: channels {found} are not {arch.name}'s divided by a whole number")


def _bgr_to_rgb(weights):
    """Caffe-trained Keras weights expect BGR: flip conv1_1's input channels to take RGB."""
    kernel, bias = weights[0]
    return [(np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)] + weights[1:]


def _keras_name(layer):
    block, conv = layer[4], layer[6]
    return f"block{block}_conv{conv}"


def load_keras_h5(path, arch=VGG19):
    """Reads a Keras VGG notop .h5 (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5,
    vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5).

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
        for layer in arch.layers:
            group_name = _keras_name(layer)
            group = f.get(group_name)
            if not isinstance(group, h5py.Group):
                raise WeightsError(f"{path}: no group {group_name!r}; not a Keras {arch.name} weights file")
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


def load_keras_imagenet(arch=VGG19):
    """Keras' ImageNet VGG (downloaded and cached by Keras; needs network the first time)."""
    try:
        from .quiet import import_tensorflow

        keras = import_tensorflow().keras

        network = {"vgg19": keras.applications.VGG19, "vgg16": keras.applications.VGG16}[arch.name]
        model = network(weights="imagenet", include_top=False)
        weights = []
        for layer in arch.layers:
            kernel, bias = model.get_layer(_keras_name(layer)).get_weights()
            weights.append((np.asarray(kernel, np.float32), np.asarray(bias, np.float32)))
    except Exception as e:  # Keras reports a failed download as a bare Exception.
        detail = " ".join(str(e).split())
        raise WeightsError(f"--weights imagenet: cannot load Keras ImageNet {arch.name}: {detail}") from None
    return _bgr_to_rgb(weights)


MAT_KERNELS = ("transposed", "as-stored")


def load_matconvnet(path, arch=VGG19, kernels="transposed"):
    """Reads MatConvNet's imagenet-vgg-verydeep-19.mat / -16.mat (the seed notebook's file).

    ``layers`` is a cell of structs with fields weights = {kernel, bias}, pad, type, name,
    stride (weights first: the notebook reads layer i's kernel as layers[0][i][0][0][0][0][0]);
    biases may be (out, 1) or (1, out). Kernels are stored [4-D, in, out] with the first
    two axes, by MatConvNet's documentation, [width, height]:
    - ``transposed`` swaps them into TensorFlow's [height, width, in, out], as
      anishathalye/neural-style does;
    - ``as-stored`` uses them as TensorFlow kernels unchanged, as the seed notebook does
      (in effect its network sees the picture transposed).
    Which orientation the real ImageNet file needs is disputed; both are offered.
    """
    import scipy.io

    if kernels not in MAT_KERNELS:
        raise WeightsError(f"--mat-kernels {kernels!r}: want one of {', '.join(MAT_KERNELS)}")
    try:
        data = scipy.io.loadmat(path)
    except Exception as e:  # SciPy raises assorted types for files that are not MAT v5.
        raise WeightsError(f"{path}: not a readable MATLAB v5 .mat file ({e})") from None
    if "layers" not in data:
        raise WeightsError(f"{path}: no 'layers' variable; not a MatConvNet {arch.name} file")
    found = {}
    for cell in np.asarray(data["layers"]).ravel():
        struct = np.asarray(cell).ravel()
        fields = struct.dtype.names or ()
        if struct.size != 1 or "name" not in fields:
            continue
        name = str(np.asarray(struct[0]["name"]).ravel()[0])
        if name in arch.layers and "weights" in fields:
            found[name] = np.asarray(struct[0]["weights"]).ravel()
    weights = []
    for layer in arch.layers:
        pair = found.get(layer)
        if pair is None or len(pair) != 2:
            raise WeightsError(f"{path}: no conv layer {layer!r} with weights {{kernel, bias}}")
        kernel = np.asarray(pair[0], np.float32)
        if kernel.ndim != 4:
            raise WeightsError(f"{path}: {layer} kernel has shape {kernel.shape}, want 4-D")
        if kernels == "transposed":
            kernel = kernel.transpose(1, 0, 2, 3)
        weights.append((np.ascontiguousarray(kernel), np.asarray(pair[1], np.float32).reshape(-1)))
    return weights

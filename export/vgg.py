"""The VGG networks' convolutional layers and the weights they can hold.

Only NumPy, h5py and SciPy here (TensorFlow is imported lazily for ImageNet weights),
so bad weight files are reported before TensorFlow's slow start-up.
Every loader returns a list of ``(kernel, bias)`` float32 pairs in the arch's layer order,
kernels laid out as TensorFlow's [height, width, in, out], and taking RGB input;
``width_divisor_of`` checks that they chain as the arch's network.
"""

import collections
import hashlib
import io
import math
import os
import re

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


KnownFile = collections.namedtuple("KnownFile", "size md5 url")
KnownFile.__doc__ = """A real weights file's published size in bytes, MD5 (None where none is
published) and address."""

_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# Sizes and checksums as published: the MD5s are the file_hash keras.applications passes
# to get_file; the sizes are those the download reports.
KNOWN_FILES = {
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5": KnownFile(
        80134624, "253f8cb515780f3b799900260a226db6",
        _KERAS_APPS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5": KnownFile(
        58889256, "6d6bbae143d832006294945121d1f1fc",
        _KERAS_APPS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "imagenet-vgg-verydeep-19.mat": KnownFile(
        534904783, None, "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"),
}


def verify_known(path, known=KNOWN_FILES):
    """Checks a file named as one of the known real files against its published size and MD5.

    Returns a note for the model's metadata ("md5 ... as published"), or None for a file of
    any other name; raises WeightsError when the size or checksum differs (a partial download,
    or another file under the real one's name).
    """
    facts = known.get(os.path.basename(path))
    if facts is None:
        return None
    size = os.path.getsize(path)
    if size != facts.size:
        raise WeightsError(f"{path}: {size} bytes, the published file is {facts.size} bytes "
                           f"(a partial download? get it from {facts.url}; rename a different file)")
    if facts.md5 is None:
        return f"size {size} bytes as published"
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != facts.md5:
        raise WeightsError(f"{path}: MD5 {digest.hexdigest()}, the published file's is {facts.md5} "
                           f"(a damaged download? get it from {facts.url})")
    return f"md5 {facts.md5} as published"


def _refuse_other_arch(path, arch, blocks_convs):
    """A VGG19 file holds every VGG16 layer name and chains as one: refuse conv layers
    the arch does not have rather than silently drop them."""
    extra = sorted(f"conv{bc}" for bc in blocks_convs if f"conv{bc}" not in arch.layers)
    if extra:
        others = [a.name for a in ARCHS.values() if set(extra) <= set(a.layers)]
        hint = f" (a {others[0]} file? pass --arch {others[0]})" if others else ""
        raise WeightsError(f"{path}: has layers {', '.join(extra)} that {arch.name} lacks{hint}")


def _bgr_to_rgb(weights):
    """Caffe-trained Keras weights expect BGR: flip conv1_1's input channels to take RGB."""
    kernel, bias = weights[0]
    return [(np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)] + weights[1:]


def _keras_name(layer):
    block, conv = layer[4], layer[6]
    return f"block{block}_conv{conv}"


KERAS_LAYOUTS = ("the legacy notop .h5 (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), "
                 "a Keras 3 save_weights .weights.h5, or a whole saved model .keras or .h5")


def load_keras(path, arch=VGG19):
    """Reads a Keras VGG's conv layers from any of the layouts Keras writes:

    - the legacy notop .h5 (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 and vgg16's),
      and a legacy whole model .h5 (``model.save("m.h5")``, the same groups under
      ``model_weights``): a group block<b>_conv<c> per layer whose attribute weight_names
      lists its datasets, the (3, 3, in, out) kernel and the (out,) bias;
    - Keras 3 ``save_weights("m.weights.h5")``: groups ``layers/<path>/vars`` whose
      attribute name is the layer's (block<b>_conv<c>), datasets 0 (kernel) and 1 (bias);
    - a whole saved model ``.keras``: a zip whose model.weights.h5 has the Keras 3 layout.

    Keras' ImageNet weights are caffe-style BGR: conv1_1 is flipped to take RGB.
    """
    import h5py

    try:
        if path.lower().endswith(".keras"):
            f = h5py.File(io.BytesIO(_keras_zip_weights(path)), "r")
        else:
            f = h5py.File(path, "r")
    except OSError as e:
        raise WeightsError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        if isinstance(f.get("layers"), h5py.Group):
            layers = _keras3_layers(path, f["layers"])
        elif isinstance(f.get("model_weights"), h5py.Group):
            layers = _legacy_layers(path, f["model_weights"])
        else:
            layers = _legacy_layers(path, f)
    _refuse_other_arch(path, arch, (n[len("block"):].replace("_conv", "_") for n in layers))
    weights = []
    for layer in arch.layers:
        name = _keras_name(layer)
        if name not in layers:
            raise WeightsError(f"{path}: no layer {name!r}; not a Keras {arch.name} file in any layout "
                               f"the exporter reads ({KERAS_LAYOUTS})")
        weights.append(layers[name])
    return _bgr_to_rgb(weights)


_KERAS_CONV = re.compile(r"block\d_conv\d")


def _keras_zip_weights(path):
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            if "model.weights.h5" not in z.namelist():
                raise WeightsError(f"{path}: a zip without model.weights.h5; not a Keras .keras model")
            return z.read("model.weights.h5")
    except zipfile.BadZipFile as e:
        raise WeightsError(f"{path}: not a Keras .keras model (a zip file): {e}") from None


def _pair(path, name, arrays):
    kernels = [a for a in arrays if a.ndim == 4]
    biases = [a for a in arrays if a.ndim == 1]
    if len(arrays) != 2 or len(kernels) != 1 or len(biases) != 1:
        raise WeightsError(f"{path}: layer {name!r} must hold a 4-D kernel and a 1-D bias, "
                           f"found shapes {[a.shape for a in arrays]}")
    return kernels[0], biases[0]


def _legacy_layers(path, root):
    """{block<b>_conv<c>: (kernel, bias)} from groups listing their datasets in weight_names."""
    import h5py

    layers = {}
    for name, group in root.items():
        if not (_KERAS_CONV.fullmatch(name) and isinstance(group, h5py.Group)):
            continue
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        missing = [n for n in names if not isinstance(group.get(n), h5py.Dataset)]
        if not names or missing:
            raise WeightsError(f"{path}: group {name!r} must list a 4-D kernel and a 1-D bias "
                               f"in its weight_names, found {names}")
        layers[name] = _pair(path, name, [np.asarray(group[n], np.float32) for n in names])
    return layers


def _keras3_layers(path, root):
    """{block<b>_conv<c>: (kernel, bias)} from Keras 3's <path>/vars groups (at any depth,
    so a VGG nested in a larger model is found too), named by their name attribute."""
    import h5py

    found = []
    root.visititems(lambda key, obj: found.append((key, obj)) if key.split("/")[-1] == "vars"
                    and isinstance(obj, h5py.Group) else None)
    layers = {}
    for key, group in found:
        name = group.attrs.get("name", key.split("/")[-2] if "/" in key else "")
        name = name.decode() if isinstance(name, bytes) else str(name)
        if not _KERAS_CONV.fullmatch(name):
            continue
        if name in layers:
            raise WeightsError(f"{path}: two layers named {name!r}")
        arrays = [np.asarray(group[k], np.float32) for k in sorted(group, key=_var_index)]
        layers[name] = _pair(path, name, arrays)
    return layers


def _var_index(key):
    return int(key) if key.isdigit() else -1


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
        if re.fullmatch(r"conv\d_\d", name) and "weights" in fields:
            found[name] = np.asarray(struct[0]["weights"]).ravel()
    _refuse_other_arch(path, arch, (name[len("conv"):] for name in found))
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

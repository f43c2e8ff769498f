"""Weight loaders on small files in the real files' layouts, and clean failures on bad ones."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from export.tests import reference
from export.tests.conftest import random_image

REPO = Path(__file__).resolve().parents[2]
CHANNELS = (4, 4, 8, 8) + (16,) * 4 + (32,) * 8  # VGG19 divided by 16
VGG16_CHANNELS = (4, 4, 8, 8) + (16,) * 3 + (32,) * 6  # VGG16 divided by 16


def narrow_weights(seed, channels=CHANNELS):
    """Random (kernel [h,w,in,out], bias) pairs with non-zero biases, in TF layout."""
    rng = np.random.default_rng(seed)
    weights, cin = [], 3
    for cout in channels:
        kernel = rng.normal(0.0, np.sqrt(2.0 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32)
        weights.append((kernel, rng.normal(0.0, 0.5, cout).astype(np.float32)))
        cin = cout
    return weights


def keras_name(layer):
    return f"block{layer[4]}_conv{layer[6]}"


def write_keras_h5(path, weights, skip=None, layers=reference.LAYERS):
    """The layout of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (and vgg16's): one
    group per layer (pool layers with no weights), attrs layer_names / weight_names,
    BGR-input kernels."""
    names = ["input_1"]
    for layer in layers:
        if layer in reference.POOL_BEFORE:
            names.append(f"block{int(layer[4]) - 1}_pool")
        names.append(keras_name(layer))
    names.append("block5_pool")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in names]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.0.8"
        by_name = dict(zip(map(keras_name, layers), weights))
        for name in names:
            if name == skip:
                continue
            g = f.create_group(name)
            if name not in by_name:
                g.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            kernel, bias = by_name[name]
            g.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
            g.create_dataset(f"{name}_W_1:0", data=kernel)
            g.create_dataset(f"{name}_b_1:0", data=bias)


def write_matconvnet(path, weights, kernel_layout=(1, 0, 2, 3), layers=reference.LAYERS):
    """The layout of imagenet-vgg-verydeep-19.mat (and -16.mat): a cell 'layers' of structs,
    conv layers with the real file's field order (weights, pad, type, name, stride: the seed
    notebook reads a kernel by position as layers[0][i][0][0][0][0][0]), weights a 1x2 cell
    {kernel, bias (out,1)}; relu, pool and fc layers in between as in the real file.
    kernel_layout permutes each TF [h,w,in,out] kernel into the stored one ([w,h,in,out]
    by default)."""
    cells = []
    for layer, (kernel, bias) in zip(layers, weights):
        if layer in reference.POOL_BEFORE:
            cells.append({"name": f"pool{int(layer[4]) - 1}", "stride": np.array([[2, 2]]),
                          "pad": np.array([[0, 0, 0, 0]]), "type": "pool", "method": "max",
                          "pool": np.array([[2, 2]])})
        w = np.empty((1, 2), dtype=object)
        w[0, 0] = kernel.transpose(kernel_layout)
        w[0, 1] = bias.reshape(-1, 1)
        cells.append({"weights": w, "pad": np.array([[1, 1, 1, 1]]), "type": "conv", "name": layer,
                      "stride": np.array([[1, 1]])})
        cells.append({"type": "relu", "name": "relu" + layer[4:]})
    fc = np.empty((1, 2), dtype=object)
    fc[0, 0] = np.ones((7, 7, 32, 8), np.float32)
    fc[0, 1] = np.ones((8, 1), np.float32)
    cells += [{"name": "pool5", "type": "pool"},
              {"weights": fc, "pad": np.array([[0, 0, 0, 0]]), "type": "conv", "name": "fc6",
               "stride": np.array([[1, 1]])}]
    layers = np.empty((1, len(cells)), dtype=object)
    for i, cell in enumerate(cells):
        layers[0, i] = cell
    scipy.io.savemat(path, {"layers": layers})


@pytest.fixture(scope="module")
def image():
    return random_image(np.random.default_rng(10), 12, 15)


def assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def exported_features(export_model, path, image, *args, last="conv5_4"):
    """conv1_1 and the last layer of a model exported from the weights file at path."""
    model = tf.saved_model.load(str(export_model("--weights", str(path), *args)))
    out = model.signatures[f"features_{last}"](image=tf.constant(image))
    return out["conv1_1"].numpy(), out[last].numpy()


def test_keras_h5(tmp_path, export_model, image):
    weights = narrow_weights(11)
    path = tmp_path / "vgg19_notop_small.h5"  # the real name is checked against its published size
    write_keras_h5(path, weights)
    conv1_1, conv5_4 = exported_features(export_model, path, image)
    # The file's kernels are caffe-style BGR: the model takes RGB, so it must equal the
    # file's conv1_1 applied to the channel-reversed image.
    kernel, bias = weights[0]
    assert_close(conv1_1, reference.conv3x3_relu(image[..., ::-1], kernel, bias))
    rgb = [(kernel[:, :, ::-1, :], bias)] + weights[1:]
    assert_close(conv5_4, reference.forward(image, rgb)[-1])


def test_matconvnet(tmp_path, export_model, image):
    weights = narrow_weights(12)
    path = tmp_path / "small-vgg-verydeep-19.mat"
    write_matconvnet(path, weights)
    conv1_1, conv5_4 = exported_features(export_model, path, image)
    # The file holds [w,h,in,out] kernels; the model must use them as TF's [h,w,in,out].
    kernel, bias = weights[0]
    assert_close(conv1_1, reference.conv3x3_relu(image, kernel, bias))
    assert_close(conv5_4, reference.forward(image, weights)[-1])


def test_keras_h5_vgg16(tmp_path, export_model, image):
    weights = narrow_weights(15, VGG16_CHANNELS)
    path = tmp_path / "vgg16_notop_small.h5"
    write_keras_h5(path, weights, layers=reference.VGG16_LAYERS)
    conv1_1, conv5_3 = exported_features(export_model, path, image, "--arch", "vgg16", last="conv5_3")
    kernel, bias = weights[0]
    rgb = [(kernel[:, :, ::-1, :], bias)] + weights[1:]
    assert_close(conv5_3, reference.forward(image, rgb, layers=reference.VGG16_LAYERS)[-1])


def test_matconvnet_vgg16(tmp_path, export_model, image):
    weights = narrow_weights(16, VGG16_CHANNELS)
    path = tmp_path / "imagenet-vgg-verydeep-16.mat"
    write_matconvnet(path, weights, layers=reference.VGG16_LAYERS)
    conv1_1, conv5_3 = exported_features(export_model, path, image, "--arch", "vgg16", last="conv5_3")
    assert_close(conv5_3, reference.forward(image, weights, layers=reference.VGG16_LAYERS)[-1])


def write_keras(path, weights, layers=reference.LAYERS):
    """A Keras model with VGG's layer names (block<b>_conv<c>, pools between blocks), holding
    the given (BGR-input) weights, written by Keras itself in the layout path's name asks for:
    ``save_weights`` for *.weights.h5 (Keras 3), ``save`` for a whole model .keras or .h5."""
    keras = tf.keras
    x = inp = keras.Input((None, None, 3))
    for layer, (kernel, _) in zip(layers, weights):
        if layer in reference.POOL_BEFORE:
            x = keras.layers.AveragePooling2D(2, name=f"block{int(layer[4]) - 1}_pool")(x)
        x = keras.layers.Conv2D(kernel.shape[3], 3, padding="same", activation="relu", name=keras_name(layer))(x)
    model = keras.Model(inp, x, name="vgg")
    for layer, pair in zip(layers, weights):
        model.get_layer(keras_name(layer)).set_weights(list(pair))
    if str(path).endswith(".weights.h5"):
        model.save_weights(str(path))
    else:
        model.save(str(path))


@pytest.mark.parametrize("name", ["vgg19.weights.h5", "vgg19.keras", "vgg19_model.h5"])
def test_keras_layouts(tmp_path, name):
    """Keras 3 save_weights and whole saved models (.keras zip, legacy .h5) load as the
    legacy notop file does (whose loaded weights test_keras_h5 runs through an export):
    the same kernels and biases, conv1_1 flipped from BGR to RGB."""
    from export import vgg

    weights = narrow_weights(21)
    path = tmp_path / name
    write_keras(path, weights)
    legacy = tmp_path / "legacy_notop.h5"
    write_keras_h5(legacy, weights)
    got, want = vgg.load_keras(str(path)), vgg.load_keras(str(legacy))
    kernel, bias = weights[0]
    np.testing.assert_array_equal(got[0][0], kernel[:, :, ::-1, :])
    assert len(got) == len(want) == len(weights)
    for (gk, gb), (wk, wb) in zip(got, want):
        np.testing.assert_array_equal(gk, wk)
        np.testing.assert_array_equal(gb, wb)


def test_keras_layout_vgg16(tmp_path, export_model, image):
    """One Keras 3 layout end to end through an export, for the other arch."""
    weights = narrow_weights(22, VGG16_CHANNELS)
    path = tmp_path / "vgg16.keras"
    write_keras(path, weights, layers=reference.VGG16_LAYERS)
    _, conv5_3 = exported_features(export_model, path, image, "--arch", "vgg16", last="conv5_3")
    kernel, bias = weights[0]
    rgb = [(kernel[:, :, ::-1, :], bias)] + weights[1:]
    assert_close(conv5_3, reference.forward(image, rgb, layers=reference.VGG16_LAYERS)[-1])


def test_known_file_verified(tmp_path, monkeypatch, capsys):
    """A file named as a known real one is checked against its published size and MD5
    (here a small file's, computed independently with hashlib), and the model says so."""
    import hashlib

    from export import vgg
    from export.__main__ import main

    path = tmp_path / "known_notop.h5"
    write_keras_h5(path, narrow_weights(23))
    data = path.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    monkeypatch.setitem(vgg.KNOWN_FILES, path.name, vgg.KnownFile(len(data), md5, "https://example.invalid/w.h5"))
    out = tmp_path / "model"
    assert main(["--out", str(out), "--weights", str(path)]) == 0
    meta = json.loads((out / "assets.extra" / "metadata.json").read_text())
    assert meta["weights_source"] == f"{path.name} (md5 {md5} as published)"

    capsys.readouterr()
    monkeypatch.setitem(vgg.KNOWN_FILES, path.name, vgg.KnownFile(len(data), "0" * 32, "https://example.invalid/w.h5"))
    assert main(["--out", str(tmp_path / "other"), "--weights", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"MD5 {md5}" in err[0] and "0" * 32 in err[0], err
    assert not (tmp_path / "other").exists()


# The seed notebook's layer indices into layers[0] for conv1_1 .. conv5_4 (build_vgg19).
NOTEBOOK_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def notebook_weights(path):
    """The kernels and biases exactly as the seed notebook reads them (get_weight_bias):
    by position, weights = layers[0][i][0][0][0][0][0], used as TF kernels unchanged."""
    vgg_layers = scipy.io.loadmat(path)["layers"][0]
    out = []
    for i in NOTEBOOK_CONV_INDICES:
        weights = vgg_layers[i][0][0][0][0][0]
        bias = vgg_layers[i][0][0][0][0][1]
        out.append((weights, np.reshape(bias, (bias.size))))
    return out


@pytest.mark.parametrize("option, notebook", [("as-stored", True), ("transposed", False)])
def test_mat_kernels_option(tmp_path, export_model, image, option, notebook):
    """--mat-kernels as-stored computes what the notebook computes from the same file;
    transposed (the default, anishathalye/neural-style's reading) swaps each stored
    kernel's first two axes. Kernels here are not symmetric, so the two differ."""
    path = tmp_path / "small-vgg-verydeep-19.mat"
    write_matconvnet(path, narrow_weights(17))
    stored = notebook_weights(path)
    kernels = stored if notebook else [(k.transpose(1, 0, 2, 3), b) for k, b in stored]
    conv1_1, conv5_4 = exported_features(export_model, path, image, "--mat-kernels", option)
    want = reference.forward(image, kernels)
    assert_close(conv1_1, want[0])
    assert_close(conv5_4, want[-1])
    other = [(k.transpose(1, 0, 2, 3), b) for k, b in kernels]
    # The other reading is off by ten times the tolerance above, at least.
    assert np.abs(conv5_4 - reference.forward(image, other)[-1]).max() > 1e-3 * np.abs(want[-1]).max()


def test_mat_kernels_recorded_in_metadata(tmp_path, export_model):
    path = tmp_path / "small-vgg-verydeep-19.mat"
    write_matconvnet(path, narrow_weights(18))
    for args, want in [((), "transposed"), (("--mat-kernels", "as-stored"), "as-stored")]:
        model = tf.saved_model.load(str(export_model("--weights", str(path), *args)))
        meta = json.loads(model.signatures["metadata"]()["json"].numpy().decode())
        assert meta["export_options"]["mat_kernels"] == want


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "export", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def bad_h5_missing_group(path):
    write_keras_h5(path, narrow_weights(13), skip="block3_conv2")
    return "block3_conv2"


def bad_h5_not_hdf5(path):
    path.write_bytes(b"not an HDF5 file\n")
    return "HDF5"


def bad_mat_wrong_chain(path):
    weights = narrow_weights(14)
    weights[5] = (weights[5][0][:, :, :3, :], weights[5][1])  # conv3_2 takes 3 inputs, not 16
    write_matconvnet(path, weights)
    return "conv3_2"


def bad_h5_vgg19_as_vgg16(path):
    write_keras_h5(path, narrow_weights(19))
    return "--arch vgg19"


def bad_mat_vgg19_as_vgg16(path):
    write_matconvnet(path, narrow_weights(19))
    return "conv3_4"


def bad_h5_real_name_wrong_size(path):
    write_keras_h5(path, narrow_weights(24))
    return "the published file is 80134624 bytes"


def bad_mat_real_name_wrong_size(path):
    write_matconvnet(path, narrow_weights(24))
    return "the published file is 534904783 bytes"


def bad_keras_zip_without_weights(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
    return "model.weights.h5"


def bad_keras_not_zip(path):
    path.write_bytes(b"not a zip\n")
    return "not a Keras .keras model"


def bad_h5_other_keras_model(path):
    """A Keras 3 weights file of some other network: refused, naming the layouts read."""
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(2, 3, name="conv")(x)
    tf.keras.Model(inp, x).save_weights(str(path))
    return "Keras 3 save_weights .weights.h5"


def bad_mat_no_layers(path):
    scipy.io.savemat(path, {"net": np.zeros(3)})
    return "layers"


@pytest.mark.parametrize("name, make, args", [
    ("w.h5", bad_h5_missing_group, ()),
    ("w.h5", bad_h5_not_hdf5, ()),
    ("w.h5", bad_h5_vgg19_as_vgg16, ("--arch", "vgg16")),
    ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", bad_h5_real_name_wrong_size, ()),
    ("imagenet-vgg-verydeep-19.mat", bad_mat_real_name_wrong_size, ()),
    ("w.keras", bad_keras_zip_without_weights, ()),
    ("w.keras", bad_keras_not_zip, ()),
    ("w.weights.h5", bad_h5_other_keras_model, ()),
    ("w.mat", bad_mat_wrong_chain, ()),
    ("w.mat", bad_mat_vgg19_as_vgg16, ("--arch", "vgg16")),
    ("w.mat", bad_mat_no_layers, ()),
    ("missing.mat", None, ()),
])
def test_bad_weights_fail_cleanly(tmp_path, name, make, args):
    path = tmp_path / name
    expect = make(path) if make else "no such file"
    out = tmp_path / "out" / "model"
    result = run_cli("--out", str(out), "--weights", str(path), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expect in lines[0] and path.name in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, expect", [
    (("--weights", "w.h5", "--width-divisor", "2"), "--width-divisor"),
    (("--weights", "w.mat", "--seed", "1"), "--seed"),
    (("--weights", "vgg.txt"), "--weights"),
    (("--mean", "1,2"), "--mean"),
    (("--pooling", "min"), "--pooling"),
    (("--arch", "vgg11"), "--arch"),
    (("--mat-kernels", "as-stored"), "--mat-kernels"),
    (("--weights", "w.mat", "--mat-kernels", "sideways"), "--mat-kernels"),
])
def test_bad_options_fail_cleanly(tmp_path, args, expect):
    out = tmp_path / "model"
    result = run_cli("--out", str(out), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert not out.exists()

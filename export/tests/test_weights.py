"""Weight loaders on small files in the real files' layouts, and clean failures on bad ones."""

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


def narrow_weights(seed):
    """Random (kernel [h,w,in,out], bias) pairs with non-zero biases, in TF layout."""
    rng = np.random.default_rng(seed)
    weights, cin = [], 3
    for cout in CHANNELS:
        kernel = rng.normal(0.0, np.sqrt(2.0 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32)
        weights.append((kernel, rng.normal(0.0, 0.5, cout).astype(np.float32)))
        cin = cout
    return weights


def keras_name(layer):
    return f"block{layer[4]}_conv{layer[6]}"


def write_keras_h5(path, weights, skip=None):
    """The layout of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: one group per layer
    (pool layers with no weights), attrs layer_names / weight_names, BGR-input kernels."""
    names = ["input_1"]
    for layer in reference.LAYERS:
        if layer in reference.POOL_BEFORE:
            names.append(f"block{int(layer[4]) - 1}_pool")
        names.append(keras_name(layer))
    names.append("block5_pool")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in names]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.0.8"
        by_name = dict(zip(map(keras_name, reference.LAYERS), weights))
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


def write_matconvnet(path, weights, kernel_layout=(1, 0, 2, 3)):
    """The layout of imagenet-vgg-verydeep-19.mat: a cell 'layers' of structs (name, type, ...),
    conv weights a 1x2 cell {kernel [w,h,in,out], bias (out,1)}; relu, pool and fc layers too."""
    cells = []
    for layer, (kernel, bias) in zip(reference.LAYERS, weights):
        if layer in reference.POOL_BEFORE:
            cells.append({"name": f"pool{int(layer[4]) - 1}", "type": "pool", "method": "max"})
        w = np.empty((1, 2), dtype=object)
        w[0, 0] = kernel.transpose(kernel_layout)
        w[0, 1] = bias.reshape(-1, 1)
        cells.append({"name": layer, "type": "conv", "weights": w,
                      "stride": np.array([[1, 1]]), "pad": np.array([[1, 1, 1, 1]])})
        cells.append({"name": "relu" + layer[4:], "type": "relu"})
    fc = np.empty((1, 2), dtype=object)
    fc[0, 0] = np.ones((7, 7, 32, 8), np.float32)
    fc[0, 1] = np.ones((8, 1), np.float32)
    cells += [{"name": "pool5", "type": "pool"}, {"name": "fc6", "type": "conv", "weights": fc}]
    layers = np.empty((1, len(cells)), dtype=object)
    for i, cell in enumerate(cells):
        layers[0, i] = cell
    scipy.io.savemat(path, {"layers": layers})


@pytest.fixture(scope="module")
def image():
    return random_image(np.random.default_rng(10), 12, 15)


def assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def exported_features(export_model, path, image):
    """conv1_1 and conv5_4 of a model exported from the weights file at path."""
    model = tf.saved_model.load(str(export_model("--weights", str(path))))
    out = model.signatures["features"](image=tf.constant(image))
    return out["conv1_1"].numpy(), out["conv5_4"].numpy()


def test_keras_h5(tmp_path, export_model, image):
    weights = narrow_weights(11)
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
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
    path = tmp_path / "imagenet-vgg-verydeep-19.mat"
    write_matconvnet(path, weights)
    conv1_1, conv5_4 = exported_features(export_model, path, image)
    # The file holds [w,h,in,out] kernels; the model must use them as TF's [h,w,in,out].
    kernel, bias = weights[0]
    assert_close(conv1_1, reference.conv3x3_relu(image, kernel, bias))
    assert_close(conv5_4, reference.forward(image, weights)[-1])


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


def bad_mat_no_layers(path):
    scipy.io.savemat(path, {"net": np.zeros(3)})
    return "layers"


@pytest.mark.parametrize("name, make", [
    ("w.h5", bad_h5_missing_group),
    ("w.h5", bad_h5_not_hdf5),
    ("w.mat", bad_mat_wrong_chain),
    ("w.mat", bad_mat_no_layers),
    ("missing.mat", None),
])
def test_bad_weights_fail_cleanly(tmp_path, name, make):
    path = tmp_path / name
    expect = make(path) if make else "no such file"
    out = tmp_path / "out" / "model"
    result = run_cli("--out", str(out), "--weights", str(path))
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
])
def test_bad_options_fail_cleanly(tmp_path, args, expect):
    out = tmp_path / "model"
    result = run_cli("--out", str(out), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert not out.exists()

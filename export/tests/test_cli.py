"""Metadata, deterministic random weights, atomic writing, and the committed tiny model."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export.__main__ import main
from export.graph import StyleGraph
from export.tests.conftest import TINY_ARGS
from export.tests.reference import VGG16_LAYERS
from export.tests.test_weights import run_cli

REPO = Path(__file__).resolve().parents[2]
LAYERS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
          "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"]


def metadata(model_dir):
    model = tf.saved_model.load(str(model_dir))
    text = model.signatures["metadata"]()["json"].numpy().decode()
    assert (Path(model_dir) / "assets.extra" / "metadata.json").read_text() == text
    return json.loads(text)


def variables(model_dir):
    reader = tf.train.load_checkpoint(str(Path(model_dir) / "variables" / "variables"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.endswith("VARIABLE_VALUE")}


def test_metadata(tiny_dir):
    assert metadata(tiny_dir) == {
        "format": "styletransfer-vgg/2",
        "arch": "vgg19",
        "layers": LAYERS,
        "channels": [4, 4, 8, 8, 16, 16, 16, 16, 32, 32, 32, 32, 32, 32, 32, 32],
        "pooling": "avg",
        "pool_padding": "SAME",
        "mean_rgb": [123.0, 117.0, 104.0],
        "input": "rgb_minus_mean",
        "weights": "random",
        "weights_source": "random seed 0",
        "seed": 0,
        "width_divisor": 16,
        "tensorflow": tf.__version__,
        "signatures": {
            "loss": [f"loss_{layer}" for layer in LAYERS],
            "loss_forward": [f"loss_forward_{layer}" for layer in LAYERS],
            "features": [f"features_{layer}" for layer in LAYERS],
            "depth": "loss_<L> and features_<L> compute layer L and the layers before it only: "
                     "call the one named for the deepest layer a run uses",
            "conv_gradient": "loss_<L> takes each convolution's input gradient with TensorFlow's "
                             "Conv2DBackpropInput; loss_forward_<L> computes the same values as a forward "
                             "convolution with the flipped kernels set_forward_gradient(depth) stores for the first depth "
                             "layers, and from the layers after the second pool on by Winograd's F(4x4, 3x3) "
                             "(faster on CPUs, more memory)",
            "tv": ["vertical", "horizontal", "grid"],
            "tile_features": [f"tile_features_{layer}" for layer in LAYERS],
            "tile_loss": [f"tile_loss_{layer}" for layer in LAYERS],
            "tile": "tile_features_<L>(image, owned) and tile_loss_<L>(image, owned, content_<l>, diff_<l>) "
                    "evaluate a tile of a larger picture: owned = [top, left, bottom, right] input pixels "
                    "the tile owns (multiples of the deepest pooling's stride, or the tile's edge); "
                    "tile_loss takes the owned content targets and D = G - A of the whole picture's Grams, "
                    "and returns the raw content sums there and the tile's input gradient (backprop form)",
        },
        "export_options": {"arch": "vgg19", "weights": "random", "seed": 0, "pooling": "avg",
                           "width_divisor": 16, "mean": [123.0, 117.0, 104.0]},
    }


def test_file_weights_metadata(tmp_path, export_model):
    from export.tests.test_weights import narrow_weights, write_matconvnet

    path = tmp_path / "small-vgg-verydeep-19.mat"
    write_matconvnet(path, narrow_weights(20))
    meta = metadata(export_model("--weights", str(path), "--pooling", "max", "--mean", "1,2.5,3"))
    assert (meta["weights"], meta["weights_source"], meta["seed"]) == ("matconvnet", path.name, None)
    assert (meta["width_divisor"], meta["pooling"], meta["mean_rgb"]) == (16, "max", [1.0, 2.5, 3.0])


@pytest.mark.end_to_end
def test_random_weights_deterministic_and_he_normal(tiny_dir, export_model):
    first = variables(tiny_dir)
    # A second export with the same seed, spelled differently so the fixture runs it anew.
    again = variables(export_model("--seed", "0", "--width-divisor", "16", "--pooling", "avg"))
    assert first.keys() == again.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
    other = variables(export_model("--seed", "1", "--width-divisor", "16"))
    assert any(not np.array_equal(first[n], other[n]) for n in first)

    model = tf.saved_model.load(str(tiny_dir))
    for kernel, bias in zip(model.kernels[8:], model.biases[8:]):  # 9216 samples each
        k = kernel.numpy()
        want = np.sqrt(2.0 / (9 * k.shape[2]))
        assert abs(k.std() / want - 1) < 0.05 and abs(k.mean()) < 0.05 * want
        assert not bias.numpy().any()


def test_existing_out_is_refused_then_forced(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep").write_text("x")
    result = run_cli("--out", str(out), "--width-divisor", "64")
    assert result.returncode == 2 and "--force" in result.stderr
    assert os.listdir(out) == ["keep"]

    assert main(["--out", str(out), "--width-divisor", "64", "--force"]) == 0
    assert (out / "saved_model.pb").exists() and not (out / "keep").exists()
    assert os.listdir(tmp_path) == ["model"]


def test_failed_export_leaves_nothing(tmp_path, monkeypatch, capsys):
    def broken_save(self, path):
        Path(path, "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(StyleGraph, "save", broken_save)
    assert main(["--out", str(tmp_path / "model"), "--width-divisor", "64"]) == 2
    assert "disk full" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


COMMITTED = {
    "vgg19-tiny": TINY_ARGS + ("--pooling", "avg"),
    "vgg19-tiny-max": TINY_ARGS + ("--pooling", "max"),
    "vgg16-tiny": TINY_ARGS + ("--pooling", "max", "--arch", "vgg16"),
}


@pytest.mark.end_to_end
@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_committed_tiny_models_are_current(export_model, name):
    """testdata/<name> is what testdata/regenerate.sh makes from this code, under 6 MiB (both
    convolution gradient forms, the tile signatures and the loss signatures' lean backward pass
    (ReLU masks, kept activations, the first layer's terms in the forward pass): 5.1 MiB for
    VGG19, most of it the graph)."""
    committed = REPO / "testdata" / name
    if not committed.exists():
        pytest.fail(f"testdata/{name} is missing: run testdata/regenerate.sh")
    fresh_dir = export_model(*COMMITTED[name])
    assert metadata(committed) == metadata(fresh_dir)
    fresh, old = variables(fresh_dir), variables(committed)
    assert fresh.keys() == old.keys()
    for var in fresh:
        np.testing.assert_array_equal(fresh[var], old[var], err_msg=var)
    size = sum(f.stat().st_size for f in committed.rglob("*") if f.is_file())
    assert size < 6 << 20, f"testdata/{name} is {size} bytes"


def test_vgg16_metadata_and_signatures(export_model):
    model_dir = export_model(*COMMITTED["vgg16-tiny"])
    meta = metadata(model_dir)
    assert meta["arch"] == "vgg16" and meta["pooling"] == "max"
    assert meta["layers"] == list(VGG16_LAYERS)
    assert meta["channels"] == [4, 4, 8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32]
    assert meta["signatures"]["loss"] == [f"loss_{layer}" for layer in VGG16_LAYERS]
    assert meta["export_options"]["arch"] == "vgg16"
    sigs = set(tf.saved_model.load(str(model_dir)).signatures)
    assert sigs == ({f"loss_{layer}" for layer in VGG16_LAYERS}
                    | {f"loss_forward_{layer}" for layer in VGG16_LAYERS}
                    | {f"features_{layer}" for layer in VGG16_LAYERS}
                    | {f"tile_{kind}_{layer}" for kind in ("features", "loss") for layer in VGG16_LAYERS}
                    | {"set_targets", "set_forward_gradient", "metadata"})

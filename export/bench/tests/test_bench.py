"""The benchmark's own arithmetic and its peer, checked against independent references:
TensorFlow's profiler for the FLOP count, our exported loss signature for the peer's loss,
and hand-made figures for the verdict line. Run: .venv/bin/python -m pytest -q export/bench"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from export import quiet
from export.bench import bench, peer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TINY = os.path.join(ROOT, "testdata", "vgg19-tiny")


def tiny_md():
    with open(os.path.join(TINY, "assets.extra", "metadata.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("h,w", [(32, 48), (37, 45)])  # odd sizes: SAME pooling rounds up
def test_flops_match_tensorflow_profiler(h, w):
    """Conv2D, Conv2DBackpropInput and MatMul FLOPs of the peer's graph and d(loss)/d(image),
    as tf.profiler counts them, equal the harness's count from the shapes."""
    tf = quiet.import_tensorflow()
    from tensorflow.python.profiler import option_builder
    md = tiny_md()
    g = tf.Graph()
    with g.as_default():
        vgg = peer.VGG(md, peer.read_weights(TINY, md["layers"]), "conv5_1")
        x = tf.compat.v1.placeholder(tf.float32, [1, h, w, 3])
        feats = vgg(x)
        loss = tf.add_n([tf.reduce_sum(tf.square(peer.gram(tf, feats[l]))) for l in peer.STYLE_LAYERS]
                        + [tf.reduce_sum(feats["conv4_2"])])
        tf.gradients(loss, x)
        opts = option_builder.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        report = tf.compat.v1.profiler.profile(g, options=opts)
    counted = sum(c.total_float_ops for c in report.children
                  if c.name.split("/")[-1].split("_")[0] in ("Conv2D", "Conv2DBackpropInput", "MatMul"))
    assert counted > 0
    assert bench.gflop_per_iter(md, h, w, gram_grad_matmuls=2) * 1e9 == pytest.approx(counted, rel=1e-9)


def test_flops_full_vgg19_match_issue_figures():
    """The issue's convolution-only figures (about 95, 379, 694 GFLOP) plus the Grams."""
    md = {"format": "styletransfer-vgg/1", "layers": tiny_md()["layers"], "channels": [64, 64, 128, 128] + [256] * 4 + [512] * 8}
    conv_only = {(256, 256): 95, (512, 512): 379, (600, 800): 694}
    for (h, w), want in conv_only.items():
        grams = sum(3 * 2 * (h // s) * (w // s) * c * c for s, c in ((1, 64), (2, 128), (4, 256), (8, 512), (16, 512)))
        assert bench.gflop_per_iter(md, h, w) - grams / 1e9 == pytest.approx(want, rel=0.01)


@pytest.mark.parametrize("onednn", ["1", "0"])
def test_peer_loss_equals_exported_loss_signature(onednn):
    """The peer's notebook loss and our exported graph's loss on the same start image, with
    oneDNN on and off (a fresh process each: TensorFlow reads the setting at import)."""
    r = subprocess.run([sys.executable, "-m", "export.bench.peer", "--model", TINY, "--content", peer.CONTENT,
                        "--style", peer.STYLE, "--height", "40", "--width", "56", "--check"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn})
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert out and out[-1]["event"] == "check"
    assert out[-1]["total_rel_diff"] <= 1e-5
    assert out[-1]["grad_rel_diff"] <= 1e-4


def test_verdict_line():
    case = {"ratio": 0.8, "go_peak_rss_mb": 700, "peer_peak_rss_mb": 1000, "go_overhead_pct": 0.5,
            "peak_fraction": 0.6, "height": 256, "width": 256, "go_s_per_iter": 1.0,
            "go_startup_s": 3.0, "peer_startup_s": 4.0}
    big = dict(case, height=512, width=512, go_s_per_iter=4.0)
    line = bench.verdict([case, big])
    assert "FAIL" not in line and line.count("PASS") == 6
    slow = dict(big, go_s_per_iter=6.0, ratio=0.9, go_overhead_pct=None)
    line = bench.verdict([case, slow])
    assert "Go/peer<=0.85 FAIL" in line and "linear±15% FAIL" in line and "overhead<1% n/a" in line


def test_plan_keeps_counts_when_time_allows_and_shrinks_them_otherwise():
    assert bench.plan(1080, 3, 0.5, 3, 15, 2) == (3, 15)  # an Intel Xeon's 256x256
    w, i = bench.plan(800, 2, 12.0, 3, 15, 2)  # a slow host's 512x512 with two sizes left
    assert (w, i) == (1, 4)
    cost = 32 + 4 * 32 + 4 * (w + i - 1) * 12.0  # check + 4 start-ups + the later iterations
    assert cost <= (800 - 30) / 2
    assert bench.plan(10, 1, 30.0, 3, 15, 2) == (1, 3)  # never below 1 + 3
    counts = [sum(bench.plan(b, 1, 2.0, 3, 15, 2)) for b in range(100, 1500, 50)]
    assert counts == sorted(counts) and counts[-1] == 18


def test_cpu_between_interpolates():
    child = bench.Child.__new__(bench.Child)
    child.samples = [(0.0, 0.0), (1.0, 2.0), (3.0, 4.0)]
    assert child.cpu_between(0.5, 2.0) == pytest.approx(3.0 - 1.0)
    assert child.cpu_between(0.0, 5.0) == pytest.approx(4.0)


def test_start_image_mixes_noise_and_content():
    content = np.full((1, 4, 4, 3), 10.0, np.float32)
    x = peer.start_image(content, 0.7, 0)
    assert np.all(x >= 0.7 * -20 + 3 - 1e-5) and np.all(x <= 0.7 * 20 + 3 + 1e-5)
    assert np.array_equal(x, peer.start_image(content, 0.7, 0))

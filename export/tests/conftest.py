import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf

from export import vgg
from export.__main__ import main

TINY_ARGS = ("--weights", "random", "--seed", "0", "--width-divisor", "16")


@pytest.fixture(scope="session")
def export_model(tmp_path_factory):
    """Runs the CLI in-process (once per argument list) and returns the SavedModel path."""
    done = {}

    def export(*args):
        if args not in done:
            out = tmp_path_factory.mktemp("export") / "model"
            assert main(["--out", str(out), *args]) == 0
            done[args] = out
        return done[args]

    return export


@pytest.fixture(scope="session")
def tiny_dir(export_model):
    return export_model(*TINY_ARGS)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    return tf.saved_model.load(str(tiny_dir))


@pytest.fixture(scope="session")
def tiny_weights():
    """The weights the tiny model should hold, as the NumPy reference's input."""
    return vgg.random_weights(0, 16)


def random_image(rng, h, w):
    """An RGB-minus-mean-like image."""
    return rng.uniform(-120.0, 130.0, (1, h, w, 3)).astype(np.float32)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "end_to_end: a slow end-to-end case; runs with CI=true (.ci/run, or CI=true make test)")


def pytest_collection_modifyitems(config, items):
    """Skips the end_to_end cases unless CI=true, so that `make test` stays under ten
    minutes on two busy cores; .ci/run sets CI=true and runs them all."""
    if os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="slow end-to-end case: runs with CI=true (.ci/run, or CI=true make test)")
    for item in items:
        if "end_to_end" in item.keywords:
            item.add_marker(skip)

"""The exporter's stderr holds only its own lines, whatever TensorFlow prints while loading.

TF_ENABLE_ONEDNN_OPTS=1 forces the oneDNN notice on (it is on by default on Intel CPUs
with AVX-512 and off on AMD), so both CPU kinds are exercised on any machine.
"""

import os
import subprocess
import sys

import pytest

from export.tests.test_weights import REPO


def export(tmp_path, onednn, *extra, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONPATH=str(REPO), TF_ENABLE_ONEDNN_OPTS=onednn, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "export", "--out", str(tmp_path / "m"),
                           "--width-divisor", "32", *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.end_to_end
@pytest.mark.parametrize("onednn", ["1", "0"])
def test_export_stderr_is_empty(tmp_path, onednn):
    done = export(tmp_path, onednn)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("export: wrote ")


@pytest.mark.end_to_end
def test_tensorflow_logs_on_request(tmp_path):
    done = export(tmp_path, "1", env_extra={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert done.returncode == 0, done.stderr
    assert "oneDNN" in done.stderr

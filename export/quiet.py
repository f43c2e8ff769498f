"""Import TensorFlow without its load-time notices on the user's terminal.

TensorFlow's shared libraries print notices from their static initialisers while
``import tensorflow`` loads them (the oneDNN notice on Intel CPUs, CPU-feature hints),
before absl logging starts and whatever TF_CPP_MIN_LOG_LEVEL says. So stderr's file
descriptor points at /dev/null for the duration of the import only; Python's own
messages and everything after the import reach stderr as usual. Setting
TF_CPP_MIN_LOG_LEVEL yourself shows TensorFlow's logs, these notices included.
"""

import contextlib
import importlib
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    held = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(held, 2)
        os.close(held)
        os.close(null)


def import_tensorflow():
    """Returns the tensorflow module, imported quietly unless the user asked for its logs."""
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return importlib.import_module("tensorflow")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _stderr_to_devnull():
        return importlib.import_module("tensorflow")

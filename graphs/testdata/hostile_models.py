"""Builds the SavedModels graphs/safety_test.go loads, all in one process.

Run from the repository root: python graphs/testdata/hostile_models.py OUT. Each hostile
model makes TensorFlow write OUT/written-<vector> when the part of its graph named by
<vector> runs. Writes:
  OUT/max/           a plain `python -m export --pooling max --width-divisor 16` model;
  OUT/<vector>/      a tiny module whose only hostile part is <vector> (features,
                     set_targets, loss, metadata: a signature writes; nested: a function
                     the features signature calls writes; init: the loader's init op
                     writes; restore: the loader's restore function writes; py_function:
                     the features signature runs Python);
  OUT/hostile/       a real export/ StyleGraph (widths /16, max pooling, OUT/max's
                     metadata) with every vector above but py_function, so a trusted
                     load can prove that each one writes.
"""

import os
import sys

from export import __main__ as exporter
from export import quiet

quiet.import_tensorflow()
import tensorflow as tf  # noqa: E402
from tensorflow.python.trackable import base  # noqa: E402

from export import vgg  # noqa: E402
from export.graph import _IMAGE, _TARGETS, StyleGraph  # noqa: E402

OUT = sys.argv[1]


def write(vector):
    return tf.io.write_file(os.path.join(OUT, f"written-{vector}"), f"written by {vector}")


@tf.function
def hidden_writer(x):
    """A function the graph calls: its write lands in a nested library function."""
    write("nested")
    return tf.identity(x)


class _WritingInit(tf.saved_model.experimental.TrackableResource):
    """A resource whose initializer, run by the loader's init op, writes."""

    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="")

    def _initialize(self):
        with tf.control_dependencies([write("init")]):
            return tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)


class _WritingRestore(base.Trackable):
    """A checkpointed object whose restore function, run by the loader's restore op, writes."""

    def _serialize_to_tensors(self):
        return {"v": tf.constant(1.0)}

    def _restore_from_tensors(self, restored_tensors):
        with tf.control_dependencies([restored_tensors["v"]]):
            return write("restore")


class Hostile(StyleGraph):
    def __init__(self, *args):
        super().__init__(*args)
        self.init_writer = _WritingInit()
        self.restore_writer = _WritingRestore()

    @tf.function(input_signature=[_IMAGE])
    def features(self, image):
        write("features")
        return StyleGraph.features.python_function(self, image)

    @tf.function(input_signature=_TARGETS)
    def set_targets(self, *targets):
        write("set_targets")
        return StyleGraph.set_targets.python_function(self, *targets)

    @tf.function(input_signature=[_IMAGE])
    def loss(self, image):
        write("loss")
        return StyleGraph.loss.python_function(self, hidden_writer(image))

    @tf.function(input_signature=[])
    def metadata(self):
        write("metadata")
        return StyleGraph.metadata.python_function(self)


def _named(fn, name):
    """Names the traced function, so its library name is __inference_<name>_<n>."""
    fn.__name__ = name
    return fn


def _tiny(vector):
    """A one-signature module whose only hostile part is vector."""
    m = tf.Module()
    image = tf.TensorSpec([1, None, None, 3], tf.float32)

    def plain(x):
        return {"y": x * 2.0}

    def writing(x):
        write(vector)
        return plain(x)

    def writing_metadata():
        write(vector)
        return {"json": tf.constant("{}")}

    sig = "features"
    if vector in ("features", "set_targets", "loss"):
        sig, body = vector, _named(writing, vector)
    elif vector == "metadata":
        sig, body = vector, _named(writing_metadata, vector)
    elif vector == "nested":
        body = _named(lambda x: plain(hidden_writer(x)), sig)
    elif vector == "py_function":
        body = _named(lambda x: plain(tf.py_function(lambda v: v, [x], tf.float32)), sig)
    else:
        m.writer = {"init": _WritingInit, "restore": _WritingRestore}[vector]()
        body = _named(plain, sig)
    spec = [] if vector == "metadata" else [image]
    tf.saved_model.save(m, os.path.join(OUT, vector),
                        signatures={sig: tf.function(body, input_signature=spec)})


VECTORS = ("features", "set_targets", "loss", "metadata", "nested", "init", "restore", "py_function")


def main():
    if exporter.main(["--out", os.path.join(OUT, "max"), "--pooling", "max",
                      "--width-divisor", "16"]) != 0:
        sys.exit("export --pooling max failed")
    for vector in VECTORS:
        _tiny(vector)
    with open(os.path.join(OUT, "max", "assets.extra", "metadata.json")) as f:
        metadata_json = f.read()
    Hostile(vgg.random_weights(0, 16), "max", metadata_json).save(os.path.join(OUT, "hostile"))
    written = [name for name in os.listdir(OUT) if name.startswith("written-")]
    if written:
        sys.exit(f"building the fixtures wrote {written}")


if __name__ == "__main__":
    main()

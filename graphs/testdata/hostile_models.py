"""Builds the SavedModels graphs/safety_test.go loads, all in one process.

Run from the repository root: python graphs/testdata/hostile_models.py OUT. Each hostile
model makes TensorFlow write OUT/written-<vector> when the part of its graph named by
<vector> runs. Writes:
  OUT/export-<arch>-<pooling>/  plain `python -m export --arch <arch> --pooling <pooling>
                     --width-divisor 16` models, for every combination of the options that
                     change the graph (EXPORTS), so the allowlist is checked against what
                     export/ emits now;
  OUT/<vector>/      a tiny module whose only hostile part is <vector> (features,
                     set_targets, loss, metadata: that signature writes, features and loss
                     being features_conv1_1 and loss_conv1_1; nested: a function the
                     features_conv1_1 signature calls writes; init: the loader's init op
                     writes; restore: the loader's restore function writes; py_function:
                     the features_conv1_1 signature runs Python);
  OUT/hostile/       a real export/ StyleGraph (VGG19, widths /16, max pooling,
                     OUT/export-vgg19-max's metadata) with every vector above but
                     py_function (the nested writer called by loss_conv1_1), so a trusted
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
from export.graph import StyleGraph, features_signature, loss_signature  # noqa: E402

OUT = sys.argv[1]

# Every --arch and --pooling: the options that change which ops the graph holds (the
# weights, seed, width divisor and mean change only constants and shapes).
EXPORTS = [(arch, pooling) for arch in vgg.ARCHS for pooling in ("avg", "max")]

FIRST = vgg.VGG19.layers[0]  # the layer of the hostile features_ and loss_ signatures


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


def _named(fn, name):
    """Names the traced function, so its library name is __inference_<name>_<n>."""
    fn.__name__ = name
    return fn


def _writing(vector, name, fn, nested=False):
    """fn (one of StyleGraph's tf.functions) writing first, traced as `name`; nested
    passes its input through hidden_writer."""

    def body(*args):
        write(vector)
        if nested:
            args = (hidden_writer(args[0]),) + args[1:]
        return fn.python_function(*args)

    # No autograph: it caches converted closures by code object, so one body could run
    # another signature's fn (the bodies share their code); there is no tensor-dependent
    # control flow to convert.
    return tf.function(_named(body, name), input_signature=fn.input_signature, autograph=False)


class Hostile(StyleGraph):
    """export/'s StyleGraph with a writer in each kind of signature, the init op and
    the restore function. signatures() picks the replaced functions up."""

    def __init__(self, *args):
        super().__init__(*args)
        self.init_writer = _WritingInit()
        self.restore_writer = _WritingRestore()
        self.set_targets = _writing("set_targets", "set_targets", self.set_targets)
        self.metadata = _writing("metadata", "metadata", self.metadata)
        # New lists: a tracked list's items cannot be replaced.
        self.features = [_writing("features", features_signature(FIRST), self.features[0]),
                         *self.features[1:]]
        # Both gradient forms: the runner picks one by host (graphs.Options.ConvGradient).
        self.losses = {form: [_writing("loss", loss_signature(FIRST, form), fns[0], nested=True), *fns[1:]]
                       for form, fns in self.losses.items()}


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

    sig = {"features": features_signature(FIRST), "loss": loss_signature(FIRST)}.get(vector, vector)
    if vector in ("features", "set_targets", "loss"):
        body = _named(writing, sig)
    elif vector == "metadata":
        body = _named(writing_metadata, sig)
    else:
        sig = features_signature(FIRST)
        if vector == "nested":
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
    for arch, pooling in EXPORTS:
        if exporter.main(["--out", os.path.join(OUT, f"export-{arch}-{pooling}"), "--arch", arch,
                          "--pooling", pooling, "--width-divisor", "16"]) != 0:
            sys.exit(f"export --arch {arch} --pooling {pooling} failed")
    for vector in VECTORS:
        _tiny(vector)
    with open(os.path.join(OUT, "export-vgg19-max", "assets.extra", "metadata.json")) as f:
        metadata_json = f.read()
    Hostile(vgg.VGG19, vgg.random_weights(0, 16, vgg.VGG19), "max", metadata_json).save(
        os.path.join(OUT, "hostile"))
    written = [name for name in os.listdir(OUT) if name.startswith("written-")]
    if written:
        sys.exit(f"building the fixtures wrote {written}")


if __name__ == "__main__":
    main()

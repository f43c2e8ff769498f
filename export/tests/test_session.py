"""The SavedModel run the way the Go side runs it: TF1 session loading, tensors by SignatureDef names."""

import numpy as np
import tensorflow as tf

from export.tests import reference
from export.tests.conftest import random_image
from export.tests.test_loss import feed_targets, make_problem, set_targets


def test_session_mode_matches_eager_and_numpy(tiny_dir, tiny, tiny_weights):
    image = random_image(np.random.default_rng(8), 20, 14)
    targets, coefficients = make_problem(9, image, tiny_weights)

    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(tiny_dir))
        sigs = meta_graph.signature_def
        assert set(sigs) >= {"features_conv5_4", "set_targets", "loss_conv5_4", "metadata"}

        st = sigs["set_targets"]
        feed = {st.inputs[k].name: v for k, v in feed_targets(targets, coefficients).items()}
        assert set(feed) == {t.name for t in st.inputs.values()}
        assert sess.run(st.outputs["ok"].name, feed) == 1

        loss = sigs["loss_conv5_4"]
        names = sorted(loss.outputs)
        fetched = sess.run([loss.outputs[k].name for k in names], {loss.inputs["image"].name: image})
        got = dict(zip(names, fetched))

        feats = sigs["features_conv3_1"]
        conv3_1 = sess.run(feats.outputs["conv3_1"].name, {feats.inputs["image"].name: image})

    set_targets(tiny, targets, coefficients)
    eager = tiny.signatures["loss_conv5_4"](image=tf.constant(image))
    assert set(names) == set(eager)
    for key in names:
        # The session's graph optimizer may reorder float32 sums: equal to rounding, scaled
        # by each output's largest value.
        want = eager[key].numpy()
        np.testing.assert_allclose(got[key], want, rtol=1e-6, atol=1e-6 * np.abs(want).max(), err_msg=key)

    acts = reference.forward(image, tiny_weights)
    craw, sraw, tv = reference.raw_losses(image, acts, *targets, coefficients[3])
    cw, sw, tw = (c.astype(np.float64) for c in coefficients[:3])
    np.testing.assert_allclose(got["total"], cw @ craw + sw @ sraw + tw @ tv, rtol=1e-5)
    ref3_1 = acts[reference.LAYERS.index("conv3_1")]
    np.testing.assert_allclose(conv3_1, ref3_1, rtol=0, atol=1e-4 * np.abs(ref3_1).max())

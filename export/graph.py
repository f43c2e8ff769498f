"""The exported tf.Module: VGG19 features, raw Gram matrices, and the loss with its gradient.

Design:
- Which layers count, and by how much, are inputs (targets and coefficients), not baked
  in, so one exported model serves every experiment config.
- Losses are raw sums (no normalisation), so Go applies any normalisation (the seed
  notebook's 1/(2 sqrt(N) sqrt(M)) and 1/(4 N^2 M^2), the paper's,
  anishathalye/neural-style's) by folding it into the per-layer coefficients.
- Targets and coefficients live in graph variables set once per run by ``set_targets``,
  so the per-iteration ``loss`` call feeds only the image (nothing constant is re-fed,
  which matters on GPU hosts).
"""

import tensorflow as tf

from .vgg import LAYERS, POOL_BEFORE

SIGNATURES = ("features", "set_targets", "loss", "metadata")

_IMAGE = tf.TensorSpec([1, None, None, 3], tf.float32, name="image")
_TARGETS = (
    [tf.TensorSpec([None] * 4, tf.float32, name=f"content_{layer}") for layer in LAYERS]
    + [tf.TensorSpec([None, None], tf.float32, name=f"gram_{layer}") for layer in LAYERS]
    + [tf.TensorSpec([len(LAYERS)], tf.float32, name="content_weights"),
       tf.TensorSpec([len(LAYERS)], tf.float32, name="style_weights"),
       tf.TensorSpec([2], tf.float32, name="tv_weights")]
)


def gram(act):
    """Raw Gram matrix F^T F of a [1, h, w, c] activation, F being it reshaped to (h*w, c)."""
    f = tf.reshape(act, [-1, tf.shape(act)[-1]])
    return tf.matmul(f, f, transpose_a=True)


def _target(initial, name):
    # Unknown shape: any target shape can be assigned, and a [1,1,...] zero broadcasts.
    return tf.Variable(initial, shape=tf.TensorShape(None), trainable=False, name=name)


class StyleGraph(tf.Module):
    """VGG19 (16 conv+ReLU layers, RGB-minus-mean input) with the style-transfer signatures."""

    def __init__(self, weights, pooling, metadata_json):
        super().__init__(name="vgg19")
        self._pool = {"avg": tf.nn.avg_pool2d, "max": tf.nn.max_pool2d}[pooling]
        self._metadata_json = metadata_json
        self.kernels = [tf.Variable(k, trainable=False, name=f"{layer}_kernel")
                        for layer, (k, _) in zip(LAYERS, weights)]
        self.biases = [tf.Variable(b, trainable=False, name=f"{layer}_bias")
                       for layer, (_, b) in zip(LAYERS, weights)]
        self.content_targets = [_target(tf.zeros([1, 1, 1, 1]), f"content_{layer}") for layer in LAYERS]
        self.gram_targets = [_target(tf.zeros([1, 1]), f"gram_{layer}") for layer in LAYERS]
        self.content_weights = tf.Variable(tf.zeros([len(LAYERS)]), trainable=False, name="content_weights")
        self.style_weights = tf.Variable(tf.zeros([len(LAYERS)]), trainable=False, name="style_weights")
        self.tv_weights = tf.Variable(tf.zeros([2]), trainable=False, name="tv_weights")

    def save(self, path):
        """Writes the SavedModel (tag "serve") with the four signatures.

        The signatures are given as the tf.functions themselves (not concrete functions),
        so each is traced once; that keeps saved_model.pb about half as large.
        """
        tf.saved_model.save(self, path, signatures={name: getattr(self, name) for name in SIGNATURES})

    def _activations(self, image, depth=None):
        """The 16 ReLU outputs. With depth, layers from index depth on are not computed
        (tf.cond runs one branch): a run whose deepest used layer is conv5_1 pays nothing
        for conv5_2..conv5_4, forward or backward."""
        acts = []
        x = image
        for i, (layer, kernel, bias) in enumerate(zip(LAYERS, self.kernels, self.biases)):
            def conv(x=x, layer=layer, kernel=kernel, bias=bias):
                if layer in POOL_BEFORE:
                    x = self._pool(x, ksize=2, strides=2, padding="SAME")
                return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias), name=layer)
            if depth is None:
                x = conv()
            else:
                x = tf.cond(i < depth, conv, lambda c=kernel.shape[-1]: tf.zeros([1, 1, 1, c]))
            acts.append(x)
        return acts

    @tf.function(input_signature=[_IMAGE])
    def features(self, image):
        """Per layer L: activation L, raw Gram L_gram and its spatial size L_hw = [h, w]."""
        out = {}
        for layer, act in zip(LAYERS, self._activations(image)):
            out[layer] = act
            out[f"{layer}_gram"] = gram(act)
            out[f"{layer}_hw"] = tf.shape(act, out_type=tf.int32)[1:3]
        return out

    @tf.function(input_signature=_TARGETS)
    def set_targets(self, *targets):
        """Stores the run's content activations, target Grams and final loss coefficients."""
        n = len(LAYERS)
        for var, value in zip(self.content_targets + self.gram_targets, targets[:2 * n]):
            var.assign(value)
        self.content_weights.assign(targets[2 * n])
        self.style_weights.assign(targets[2 * n + 1])
        self.tv_weights.assign(targets[2 * n + 2])
        return {"ok": tf.constant(1, tf.int32)}

    @tf.function(input_signature=[_IMAGE])
    def loss(self, image):
        """Weighted raw content, style and total-variation sums, per-layer raw sums (0 for layers
        weighted 0), and d(total)/d(image)."""
        # Layers a run weights 0 cost nothing: their terms are tf.cond branches not
        # taken (raw sum reported as 0), and layers past the deepest used one are skipped.
        cw, sw = self.content_weights, self.style_weights
        used = tf.logical_or(cw > 0, sw > 0)
        depth = tf.reduce_max(tf.where(used, tf.range(1, len(LAYERS) + 1), 0))
        zero = lambda: tf.constant(0.0)  # noqa: E731
        # Targets are read outside the branches: a branch reading a variable of unknown
        # shape would need zeros for that variable's gradient, which TF cannot build.
        content_targets = [t.read_value() for t in self.content_targets]
        gram_targets = [g.read_value() for g in self.gram_targets]
        with tf.GradientTape() as tape:
            tape.watch(image)
            acts = self._activations(image, depth)
            craw = tf.stack([
                tf.cond(cw[i] > 0, lambda a=a, t=t: tf.reduce_sum(tf.square(a - t)), zero)
                for i, (a, t) in enumerate(zip(acts, content_targets))])
            sraw = tf.stack([
                tf.cond(sw[i] > 0, lambda a=a, g=g: tf.reduce_sum(tf.square(gram(a) - g)), zero)
                for i, (a, g) in enumerate(zip(acts, gram_targets))])
            tv_y = tf.reduce_sum(tf.square(image[:, 1:, :, :] - image[:, :-1, :, :]))
            tv_x = tf.reduce_sum(tf.square(image[:, :, 1:, :] - image[:, :, :-1, :]))
            content = tf.reduce_sum(cw * craw)
            style = tf.reduce_sum(sw * sraw)
            tv = self.tv_weights[0] * tv_y + self.tv_weights[1] * tv_x
            total = content + style + tv
        return {
            "content": content,
            "style": style,
            "tv": tv,
            "total": total,
            "content_layers": craw,
            "style_layers": sraw,
            "grad": tape.gradient(total, image),
        }

    @tf.function(input_signature=[])
    def metadata(self):
        """The export's metadata JSON (format, layers, channels, pooling, mean, weights, ...)."""
        return {"json": tf.constant(self._metadata_json)}

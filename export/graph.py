"""The exported tf.Module: VGG features, raw Gram matrices, and the loss with its gradient.

Design:
- Which layers count, and by how much, are inputs (targets and coefficients), not baked
  in, so one exported model serves every experiment config.
- No conditionals: one ``loss_<layer>`` and one ``features_<layer>`` signature per layer,
  each computing only that layer and the ones before it. A caller picks the signature of
  its deepest used layer; everything is then plain dataflow that TensorFlow's graph
  optimizer can prune and fuse (tf.cond kept every intermediate alive and blocked it).
- Losses are raw sums (no normalisation), so Go applies any normalisation (the seed
  notebook's 1/(2 sqrt(N) sqrt(M)) and 1/(4 N^2 M^2), the paper's,
  anishathalye/neural-style's) by folding it into the per-layer coefficients.
- Targets and coefficients live in graph variables set once per run by ``set_targets``,
  so the per-iteration loss call feeds only the image (nothing constant is re-fed,
  which matters on GPU hosts).
- The backward pass is written out layer by layer (ReLU, convolution input gradient,
  pooling), each layer adding its own terms' gradient on the way down; no tape runs
  through the network. A term whose coefficient is 0 then costs one broadcast row,
  not a zero tensor the size of its layer held through the step, and the forward
  convolutions fuse with their bias and ReLU. It keeps each layer's ReLU mask (a bool
  per value) and the activations of the layers with terms only, so the others are
  freed as the forward pass goes (docs/performance.md, "Memory per megapixel").
"""

import tensorflow as tf

from export import winograd

_IMAGE = tf.TensorSpec([1, None, None, 3], tf.float32, name="image")

# The total-variation coefficients set_targets takes, in order: vertical, horizontal
# (anishathalye/neural-style's pair sums) and grid (Keras' / jcjohnson's per-pixel form).
TV_TERMS = ("vertical", "horizontal", "grid")


# The two forms of each convolution's input gradient a loss signature can take.
# "backprop": TensorFlow's own gradient (Conv2DBackpropInput). "forward": the same
# values as a forward convolution of the output gradient with the kernel flipped
# in space and its in/out channels swapped (exact for 3x3, stride 1, SAME). Which
# is faster depends on the host's kernels: with oneDNN off (TensorFlow's Eigen
# kernels, e.g. AMD hosts), forward convolutions run 1.1-2.3x faster than
# Conv2DBackpropInput at VGG's shapes; with oneDNN on, the two are even.
# The first layer keeps Conv2DBackpropInput in both: its gradient has the image's 3
# channels, a poor shape for a forward convolution (73 ms against 18 at 256x256).
# The forward form also runs VGG's 256- and 512-channel layers (conv3_2 on), both
# ways, by Winograd's F(4x4, 3x3) (export/winograd.py): same values to a few 1e-6 of
# the outputs' scale, a quarter of the multiplications. Their transformed kernels
# (4x the kernels: 200 MB for conv3_2..conv5_1) are made at each use, just before
# it, and dropped after it: stored for the run they were most of what the forward
# form held over the backprop form (844 against 686 MB peak at 256x256 on a 2-core
# AMD EPYC Zen 4), and made again they cost about 20 ms a pass there.
CONV_GRADIENTS = ("backprop", "forward")


def loss_signature(layer, conv_gradient="backprop"):
    if conv_gradient == "backprop":
        return f"loss_{layer}"
    return f"loss_{conv_gradient}_{layer}"


def features_signature(layer):
    return f"features_{layer}"


# Exact tiled evaluation (a picture too large for one pass, in tiles that each carry a halo):
# tile_features_<L> gives the features and raw Grams of the positions a tile owns, and
# tile_loss_<L> the raw content sums at those positions and the gradient at the tile's input
# of the terms there, given the global Gram difference D = G - A (the sum of every tile's
# owned Grams less the target); the caller adds the tiles' input gradients (overlap-add).
TILE_KINDS = ("features", "loss")


def tile_signature(kind, layer):
    return f"tile_{kind}_{layer}"


_OWNED = tf.TensorSpec([4], tf.int32, name="owned")


def gram(act):
    """Raw Gram matrix F^T F of a [1, h, w, c] activation, F being it reshaped to (h*w, c)."""
    f = tf.reshape(act, [-1, tf.shape(act)[-1]])
    return tf.matmul(f, f, transpose_a=True)


def tv_sums(image, power):
    """Raw total-variation sums of a [1, H, W, C] image: vertical sum(dy^2) over the
    (H-1) x W pairs, horizontal sum(dx^2) over the H x (W-1) pairs, and the grid form
    sum((dx^2 + dy^2)^power) over the (H-1) x (W-1) pixels that have both neighbours,
    dx and dy taken at the same pixel and channel (Keras' example: power 1.25;
    jcjohnson/neural-style's TVLoss: power 1)."""
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    grid = tf.square(dx[:, :-1, :, :]) + tf.square(dy[:, :, :-1, :])
    return tf.reduce_sum(tf.square(dy)), tf.reduce_sum(tf.square(dx)), tf.reduce_sum(tf.pow(grid, power))


def _target(initial, name):
    # Unknown shape: any target shape can be assigned, and a [1,1,...] zero broadcasts.
    return tf.Variable(initial, shape=tf.TensorShape(None), trainable=False, name=name)


def flip_kernel(kernel):
    """The kernel of a 3x3 convolution's input gradient as a forward convolution:
    flipped in space, in and out channels swapped."""
    return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])


class StyleGraph(tf.Module):
    """A VGG (conv+ReLU layers, RGB-minus-mean input) with the style-transfer signatures."""

    def __init__(self, arch, weights, pooling, metadata_json):
        super().__init__(name=arch.name)
        self.layers = tuple(arch.layers)
        self._pool_before = frozenset(arch.pool_before)
        self._pool = {"avg": tf.nn.avg_pool2d, "max": tf.nn.max_pool2d}[pooling]
        # The layers the forward form runs by Winograd's F(4x4, 3x3): those after the
        # second pool that take their block's full width (VGG's 256 and 512 channels in),
        # and of those, the ones after the fourth pool, whose input gradients have few
        # tiles (16-130 at 256-800 px pictures; see winograd.Tiling.conv3x3).
        pools = [i for i, layer in enumerate(self.layers) if layer in self._pool_before]
        self._winograd = frozenset(range(pools[1] + 1, len(self.layers)))
        self._few_tiles = frozenset(range(pools[3], len(self.layers)))
        self._metadata_json = metadata_json
        n = len(self.layers)
        self.kernels = [tf.Variable(k, trainable=False, name=f"{layer}_kernel")
                        for layer, (k, _) in zip(self.layers, weights)]
        self.biases = [tf.Variable(b, trainable=False, name=f"{layer}_bias")
                       for layer, (_, b) in zip(self.layers, weights)]
        # The forward gradient form's flipped kernels (flip_kernel) of the layers it does not
        # run by Winograd, computed once per model load by set_forward_gradient for the
        # layers a run reaches: flipping them at every step cost 5% of a 256x256 step, and
        # storing them in the export would double its size. (The Winograd layers transform
        # their kernels at each use; see CONV_GRADIENTS.)
        self.flipped_kernels = [_target(tf.zeros([1, 1, 1, 1]), f"{layer}_kernel_flipped") for layer in self.layers]
        self.content_targets = [_target(tf.zeros([1, 1, 1, 1]), f"content_{layer}") for layer in self.layers]
        self.gram_targets = [_target(tf.zeros([1, 1]), f"gram_{layer}") for layer in self.layers]
        self.content_weights = tf.Variable(tf.zeros([n]), trainable=False, name="content_weights")
        self.style_weights = tf.Variable(tf.zeros([n]), trainable=False, name="style_weights")
        self.tv_weights = tf.Variable(tf.zeros([len(TV_TERMS)]), trainable=False, name="tv_weights")
        self.tv_grid_power = tf.Variable(1.0, trainable=False, name="tv_grid_power")

        self.set_targets = tf.function(self._set_targets, input_signature=(
            [tf.TensorSpec([None] * 4, tf.float32, name=f"content_{layer}") for layer in self.layers]
            + [tf.TensorSpec([None, None], tf.float32, name=f"gram_{layer}") for layer in self.layers]
            + [tf.TensorSpec([n], tf.float32, name="content_weights"),
               tf.TensorSpec([n], tf.float32, name="style_weights"),
               tf.TensorSpec([len(TV_TERMS)], tf.float32, name="tv_weights"),
               tf.TensorSpec([], tf.float32, name="tv_grid_power")]))
        self.set_forward_gradient = tf.function(self._set_forward_gradient, input_signature=[
            tf.TensorSpec([], tf.int32, name="depth")])
        self.metadata = tf.function(self._metadata, input_signature=[])
        # Each layer, its loss terms, its backward step and the TV terms are functions of
        # their own that every depth calls: the SavedModel holds each once, not per depth.
        act_spec = tf.TensorSpec([1, None, None, None], tf.float32)
        # The forms' layers differ only where the forward form runs Winograd; elsewhere both
        # call one function, so the SavedModel holds it once.
        backprop_layers = [tf.function(lambda x, i=i: self._layer(x, i, "backprop"), input_signature=[act_spec])
                           for i in range(n)]
        self._layer_fns = {
            "backprop": backprop_layers,
            "forward": [tf.function(lambda x, i=i: self._layer(x, i, "forward"), input_signature=[act_spec])
                        if i in self._winograd else backprop_layers[i] for i in range(n)]}
        # The targets and coefficients are arguments, read by the caller: variables read
        # inside a function became control inputs of the next layer's convolution, which
        # kept Grappler from fusing it with its bias and ReLU.
        self._terms_fn = tf.function(self._terms, input_signature=[
            act_spec, tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32),
            tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, None], tf.float32)])
        # One function for every layer's backward step to call (the SavedModel holds it once).
        self._add_terms_gradient_fn = tf.function(self._add_terms_gradient, input_signature=[
            act_spec, act_spec, tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32),
            tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, None], tf.float32)])
        # What the loss signatures' backward pass keeps of each layer (see _loss): its ReLU
        # mask, and its activation only where it has terms.
        self._mask_fn = tf.function(lambda y: y > 0, input_signature=[act_spec])
        self._kept_fn = tf.function(self._kept, input_signature=[
            act_spec, tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32)])
        # dy, the ReLU mask, the kept activation, the layer input's shape (average pooling)
        # or the input itself (max pooling: MaxPoolGrad takes it), then the layer's
        # coefficients, content target and Gram difference D.
        self._pool_input_spec = (act_spec if pooling == "max" else tf.TensorSpec([4], tf.int32))
        backward_spec = [act_spec, tf.TensorSpec([1, None, None, None], tf.bool), act_spec, self._pool_input_spec,
                         tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32),
                         tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, None], tf.float32)]
        backprop_backward = [tf.function(lambda *a, i=i: self._backward(*a, i=i, conv_gradient="backprop"),
                                         input_signature=backward_spec) for i in range(n)]
        # Layer 0's input gradient (the image's) takes the backprop form in both.
        self._backward_fns = {
            "backprop": backprop_backward,
            "forward": [tf.function(lambda *a, i=i: self._backward(*a, i=i, conv_gradient="forward"),
                                    input_signature=backward_spec)
                        if i > 0 else backprop_backward[i] for i in range(n)]}
        self._first_terms_gradient_fn = tf.function(self._first_terms_gradient, input_signature=[
            act_spec, tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32),
            tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, None], tf.float32)])
        self._tv_fn = tf.function(self._tv, input_signature=[_IMAGE])
        self._gram_hw_fn = tf.function(lambda act: (gram(act), tf.shape(act, out_type=tf.int32)[1:3]),
                                       input_signature=[act_spec])
        # One loss and one features function per depth (layers 1..depth are computed).
        self.losses = {
            form: [tf.function(lambda image, d=d, form=form: self._loss(image, d, form), input_signature=[_IMAGE])
                   for d in range(1, n + 1)]
            for form in CONV_GRADIENTS}
        self.features = [tf.function(lambda image, d=d: self._features(image, d), input_signature=[_IMAGE])
                         for d in range(1, n + 1)]
        # Tiles: layer i's positions are 2^(pools up to i) input pixels apart.
        self._strides, stride = [], 1
        for layer in self.layers:
            stride *= 2 if layer in self._pool_before else 1
            self._strides.append(stride)
        self._owned_fn = tf.function(self._owned, input_signature=[
            act_spec, _OWNED, tf.TensorSpec([], tf.int32)])
        self._through_fns = [tf.function(lambda dy, y, x, i=i: self._through(dy, y, x, i, "backprop"),
                                         input_signature=[act_spec] * 3) for i in range(n)]
        self._tile_terms_fn = tf.function(self._tile_terms, input_signature=[
            act_spec, act_spec, _OWNED, tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.float32), tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, None], tf.float32)])
        self.tile_features = [tf.function(lambda image, owned, d=d: self._tile_features(image, owned, d),
                                          input_signature=[_IMAGE, _OWNED]) for d in range(1, n + 1)]
        self.tile_losses = [tf.function(lambda image, owned, *t, d=d: self._tile_loss(image, owned, t, d),
                                        input_signature=[_IMAGE, _OWNED]
                                        + [tf.TensorSpec([1, None, None, None], tf.float32, name=f"content_{layer}")
                                           for layer in self.layers[:d]]
                                        + [tf.TensorSpec([None, None], tf.float32, name=f"diff_{layer}")
                                           for layer in self.layers[:d]])
                            for d in range(1, n + 1)]

    def signatures(self):
        sigs = {"set_targets": self.set_targets, "set_forward_gradient": self.set_forward_gradient,
                "metadata": self.metadata}
        for i, layer in enumerate(self.layers):
            sigs[features_signature(layer)] = self.features[i]
            for form in CONV_GRADIENTS:
                sigs[loss_signature(layer, form)] = self.losses[form][i]
            sigs[tile_signature("features", layer)] = self.tile_features[i]
            sigs[tile_signature("loss", layer)] = self.tile_losses[i]
        return sigs

    def save(self, path):
        """Writes the SavedModel (tag "serve") with every signature.

        The signatures are given as the tf.functions themselves (not concrete functions),
        so each is traced once; that keeps saved_model.pb about half as large.
        """
        tf.saved_model.save(self, path, signatures=self.signatures())

    def _layer(self, x, i, conv_gradient="backprop"):
        """Layer i's ReLU output from the previous layer's (pooled first where VGG pools),
        by Winograd in the forward form's Winograd layers."""
        if self.layers[i] in self._pool_before:
            x = self._pool(x, ksize=2, strides=2, padding="SAME")
        if conv_gradient == "forward" and i in self._winograd:
            z = winograd.F4.conv3x3(x, self._transformed_kernel(i, after=x))
        else:
            z = tf.nn.conv2d(x, self.kernels[i], 1, "SAME")
        return tf.nn.relu(tf.nn.bias_add(z, self.biases[i]))

    def _transformed_kernel(self, i, after):
        """Layer i's kernel transformed for winograd.F4, made once the tensor after is
        ready: without that dependency TensorFlow runs every layer's transform as soon
        as the step starts (they depend on variables only), and all of them are held at
        once, as if stored."""
        with tf.control_dependencies([after]):
            return winograd.F4.transform_kernel(tf.convert_to_tensor(self.kernels[i]))

    def _backward(self, dy, mask, kept, pool_input, cw, sw, target, d, i, conv_gradient):
        """Layer i's backward step in the loss signatures: the gradient at its input, given
        dy, the gradient at its ReLU output from the layers above, plus the gradient of the
        layer's own terms (_add_terms_gradient of kept, its activation where it has terms,
        and of its coefficients cw and sw, content target and Gram difference d), through
        the ReLU by its mask, the convolution in the given form (see CONV_GRADIENTS) and
        the pooling before it (pool_input: see _pool_grad)."""
        dy = self._add_terms_gradient_fn(dy, kept, cw, sw, target, d)
        return self._pool_grad(self._conv_input_grad(tf.where(mask, dy, 0.0), i, conv_gradient), pool_input, i)

    def _through(self, dy, y, x, i, conv_gradient):
        """Layer i's backward step without its own terms, for the tiles: the gradient at its
        input x given dy at its ReLU output y (through the ReLU, the convolution in the given
        form, and the pooling before it where VGG pools)."""
        dz = tf.raw_ops.ReluGrad(gradients=dy, features=y)
        pool_input = x if self._pool is tf.nn.max_pool2d else tf.shape(x)
        return self._pool_grad(self._conv_input_grad(dz, i, conv_gradient), pool_input, i)

    def _conv_input_grad(self, dz, i, conv_gradient):
        """Layer i's convolution's input gradient from dz at its output, in the given form."""
        kernel = tf.convert_to_tensor(self.kernels[i])
        if conv_gradient == "forward" and i in self._winograd:
            return winograd.F4.conv3x3(dz, self._transformed_kernel(i, after=dz), flipped=True,
                                       few_tiles=i in self._few_tiles)
        if conv_gradient == "forward" and i > 0:
            return tf.nn.conv2d(dz, tf.convert_to_tensor(self.flipped_kernels[i]), 1, "SAME")
        shape = tf.concat([tf.shape(dz)[:3], tf.shape(kernel)[2:3]], 0)
        return tf.raw_ops.Conv2DBackpropInput(input_sizes=shape, filter=kernel, out_backprop=dz,
                                              strides=[1, 1, 1, 1], padding="SAME")

    def _pool_grad(self, dx, pool_input, i):
        """dx through the pooling before layer i, where VGG pools: pool_input is the
        pooling's input for max pooling (MaxPoolGrad takes it), its shape for average
        pooling (AvgPoolGrad needs nothing else, so the input need not be kept)."""
        if self.layers[i] not in self._pool_before:
            return dx
        window = dict(ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        if self._pool is tf.nn.avg_pool2d:
            return tf.raw_ops.AvgPoolGrad(orig_input_shape=pool_input, grad=dx, **window)
        return tf.raw_ops.MaxPoolGrad(orig_input=pool_input, orig_output=tf.nn.max_pool2d(pool_input, 2, 2, "SAME"),
                                      grad=dx, **window)

    def _activations(self, image, depth, conv_gradient="backprop"):
        """The ReLU outputs of the first depth layers (computed as conv_gradient's form does)."""
        acts = []
        x = image
        for layer_fn in self._layer_fns[conv_gradient][:depth]:
            x = layer_fn(x)
            acts.append(x)
        return acts

    def _features(self, image, depth):
        """Per layer L up to depth: activation L, raw Gram L_gram and its size L_hw = [h, w]."""
        out = {}
        for layer, act in zip(self.layers, self._activations(image, depth)):
            out[layer] = act
            out[f"{layer}_gram"], out[f"{layer}_hw"] = self._gram_hw_fn(act)
        return out

    def _set_targets(self, *targets):
        """Stores the run's content activations, target Grams (made symmetric: a style
        target is a Gram), final loss coefficients and the grid TV's power."""
        n = len(self.layers)
        for var, value in zip(self.content_targets, targets[:n]):
            var.assign(value)
        # A Gram is symmetric; stored exactly so (its rounding aside), the style gradient
        # is 4 F D with no transpose at every step (see _terms).
        for var, value in zip(self.gram_targets, targets[n:2 * n]):
            var.assign(0.5 * (value + tf.transpose(value)))
        self.content_weights.assign(targets[2 * n])
        self.style_weights.assign(targets[2 * n + 1])
        self.tv_weights.assign(targets[2 * n + 2])
        self.tv_grid_power.assign(targets[2 * n + 3])
        return {"ok": tf.constant(1, tf.int32)}

    def _set_forward_gradient(self, depth):
        """Stores flip_kernel of the first depth layers' kernels for the loss_forward_<L>
        signatures (L at most the depth-th layer); deeper layers and the first (see
        CONV_GRADIENTS) keep an empty kernel, the Winograd layers none at all."""
        for i, (kernel, flipped) in enumerate(zip(self.kernels, self.flipped_kernels)):
            if i in self._winograd:
                continue
            keep = tf.where(i < depth, tf.shape(kernel)[2], 0) if i else 0
            flipped.assign(flip_kernel(kernel)[:, :, :, :keep])
        return {"ok": tf.constant(1, tf.int32)}

    def _terms(self, act, cw, sw, target, gram):
        """A layer's raw content and style sums (0 where the coefficient is 0; target and
        gram are its content target and target Gram) and D = F^T F - gram, which the
        style term's gradient takes (_add_terms_gradient).

        Without conditionals, a term whose coefficient is 0 costs next to nothing: it is
        taken over the first of the layer's h*w rows (all of them otherwise; a
        full-range slice passes its tensor through).
        """
        a, rc, rs = self._rows(act, cw, sw)
        diff = a[:rc] - tf.reshape(target, [-1, tf.shape(target)[-1]])[:rc]
        craw = tf.where(cw != 0, tf.reduce_sum(tf.square(diff)), 0.0)
        f = a[:rs]
        d = tf.matmul(f, f, transpose_a=True) - gram
        sraw = tf.where(sw != 0, tf.reduce_sum(tf.square(d)), 0.0)
        return craw, sraw, d

    @staticmethod
    def _kept(act, cw, sw):
        """What the backward pass keeps of a layer's activation for its terms' gradient
        (_add_terms_gradient): all of it, as [1, 1, h*w, c], where a coefficient is not 0,
        and otherwise a copy of its first position, so that the activation itself is freed
        once the forward pass is done with it. (A slice that keeps every position passes
        its tensor through; one of 1 of them, not along the first axis, is copied.)"""
        c = tf.shape(act)[-1]
        a = tf.reshape(act, [1, 1, -1, c])
        rows = tf.where(cw != 0, tf.shape(a)[2], tf.where(sw != 0, tf.shape(a)[2], 1))
        return a[:, :, :rows]

    @staticmethod
    def _rows(act, cw, sw):
        """act as h*w rows of its channels, and how many rows each term takes: all of
        them, or 1 where its coefficient is 0."""
        a = tf.reshape(act, [-1, tf.shape(act)[-1]])
        rows = tf.shape(a)[0]
        return a, tf.where(cw != 0, rows, 1), tf.where(sw != 0, rows, 1)

    def _add_terms_gradient(self, dy, act, cw, sw, target, d):
        """dy, the gradient at a layer's output act from the layers above, plus the
        gradient of the layer's own weighted terms (cw, sw: its coefficients; target: its
        content target; d: D from _terms). Where both coefficients are 0 the latter is one
        zero row, broadcast onto dy in dy's own buffer.

        Each is written out: d/da sum((a - t)^2) = 2 (a - t), and d/dF sum((F^T F - A)^2)
        = 4 F D with D = F^T F - A (symmetric, as A is a Gram): one matmul where autodiff
        takes two. The terms' gradient is as large as the layer, so it is made once dy
        has arrived, not when its inputs were ready in the forward pass: there each style
        layer's was held to the end of the step (128 MB of the live peak at 512x512).
        """
        c = tf.shape(act)[-1]
        with tf.control_dependencies([dy]):
            g = self._terms_gradient(act, cw, sw, target, d)
        return tf.reshape(tf.reshape(dy, [-1, c]) + g, tf.shape(dy))

    def _terms_gradient(self, act, cw, sw, target, d):
        """The gradient at act of a layer's weighted terms, as act's h*w rows of its
        channels, or one zero row where both coefficients are 0 (_add_terms_gradient)."""
        a, rc, rs = self._rows(act, cw, sw)
        diff = a[:rc] - tf.reshape(target, [-1, tf.shape(target)[-1]])[:rc]
        return (2.0 * cw) * diff + tf.matmul(a[:rs], (4.0 * sw) * d)

    def _tv(self, image):
        """The weighted total-variation loss; with every TV coefficient 0 it is taken over
        0 rows of the image (no conditional), so its gradient costs one zero fill."""
        w = self.tv_weights
        rows = tf.where(tf.reduce_any(w != 0), tf.shape(image)[1], 0)
        tv_v, tv_h, tv_grid = tv_sums(image[:, :rows], self.tv_grid_power)
        return w[0] * tv_v + w[1] * tv_h + w[2] * tv_grid

    def _loss(self, image, depth, conv_gradient):
        """Weighted raw content, style and total-variation sums, per-layer raw sums (0 for
        layers past depth and for coefficients 0), and d(total)/d(image).

        The backward pass through the network is written out (_backward), layer by
        layer; only the TV terms go through a tape. It keeps of each layer its ReLU mask
        (a bool per value) and its activation only where the layer has terms (_kept), so
        each activation is freed once the forward pass is done with it; the first layer's
        terms, as large as the picture times 64 channels, are taken to the image in the
        forward pass (_first_terms_gradient), before the second layer runs.
        """
        n = len(self.layers)
        cws, sws = tf.convert_to_tensor(self.content_weights), tf.convert_to_tensor(self.style_weights)
        targets = [tf.convert_to_tensor(t) for t in self.content_targets[:depth]]
        layer_fns = self._layer_fns[conv_gradient]
        acts, craw, sraw, diffs = [], [], [], []
        x = image
        for i in range(depth):
            if i == 1:
                # The second layer waits for it: run beside it, the first layer's terms'
                # gradient and the second layer's output were both live at once. (On an
                # identity of it: a control dependency on a function's call is lost when
                # the call is inlined, as the function has no side effects.)
                with tf.control_dependencies([tf.identity(first)]):
                    x = tf.identity(x)
            x = layer_fns[i](x)
            acts.append(x)
            c, s, d = self._terms_fn(x, cws[i], sws[i], targets[i], tf.convert_to_tensor(self.gram_targets[i]))
            craw.append(c)
            sraw.append(s)
            diffs.append(d)
            if i == 0:
                first = self._first_terms_gradient_fn(x, cws[0], sws[0], targets[0], d)
        with tf.GradientTape() as tape:
            tape.watch(image)
            tv = self._tv_fn(image)
        craw, sraw = tf.stack(craw), tf.stack(sraw)
        content = tf.reduce_sum(self.content_weights[:depth] * craw)
        style = tf.reduce_sum(self.style_weights[:depth] * sraw)
        total = content + style + tv
        # The backward pass down the layers, each adding its own terms' gradient (the first
        # layer's is in first already).
        masks = [self._mask_fn(act) for act in acts]
        zero = tf.constant(0.0)
        kept = [self._kept_fn(act, cws[i], sws[i]) if i else self._kept_fn(act, zero, zero)
                for i, act in enumerate(acts)]
        inputs = [image] + acts[:-1]
        pool_inputs = [x if self._pool is tf.nn.max_pool2d else tf.shape(x) for x in inputs]
        dy = tf.zeros_like(acts[-1])
        for i in reversed(range(depth)):
            cw, sw = (cws[i], sws[i]) if i else (zero, zero)
            dy = self._backward_fns[conv_gradient][i](dy, masks[i], kept[i], pool_inputs[i], cw, sw,
                                                      targets[i], diffs[i])
        grad = dy + first + tape.gradient(tv, image)
        pad = [[0, n - depth]]
        return {
            "content": content,
            "style": style,
            "tv": tv,
            "total": total,
            "content_layers": tf.pad(craw, pad),
            "style_layers": tf.pad(sraw, pad),
            "grad": grad,
        }

    def _first_terms_gradient(self, act, cw, sw, target, d):
        """The gradient at the image of the first layer's own terms (act: its ReLU output;
        cw, sw, target, d as _add_terms_gradient takes them), through its ReLU and its
        convolution (Conv2DBackpropInput, as both forms take the first layer). Where both
        coefficients are 0 it is taken over one row of the picture (its terms' gradient
        there is 0), and padded to the image's size."""
        c = tf.shape(act)[-1]
        h = tf.shape(act)[1]
        rows = tf.where(cw != 0, h, tf.where(sw != 0, h, 1))
        a = act[:, :rows]
        g = self._terms_gradient(a, cw, sw, target, d)
        dz = tf.reshape(tf.where(tf.reshape(a > 0, [-1, c]), g, 0.0), tf.shape(a))
        kernel = tf.convert_to_tensor(self.kernels[0])
        shape = tf.concat([tf.shape(a)[:3], tf.shape(kernel)[2:3]], 0)
        dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=shape, filter=kernel, out_backprop=dz,
                                            strides=[1, 1, 1, 1], padding="SAME")
        return tf.pad(dx, [[0, 0], [0, h - rows], [0, 0], [0, 0]])

    @staticmethod
    def _owned(act, owned, stride):
        """The positions of act (a layer stride input pixels apart) that a tile owns: owned
        is [top, left, bottom, right] in the tile's input pixels, top and left multiples of
        the stride, bottom and right multiples of it or the input's edge."""
        return act[:, owned[0] // stride:(owned[2] + stride - 1) // stride,
                   owned[1] // stride:(owned[3] + stride - 1) // stride, :]

    def _tile_features(self, image, owned, depth):
        """_features of the positions the tile owns (owned: see _owned)."""
        out = {}
        for layer, act, stride in zip(self.layers, self._activations(image, depth), self._strides):
            out[layer] = self._owned_fn(act, owned, stride)
            out[f"{layer}_gram"], out[f"{layer}_hw"] = self._gram_hw_fn(out[layer])
        return out

    def _tile_terms(self, dy, act, owned, stride, cw, sw, target, d):
        """A tile's layer: the raw content sum over its owned positions (target: their content
        target) and dy plus the gradient of the layer's terms there, zero elsewhere (d: the
        global Gram difference G - A). Made once dy has arrived, as _add_terms_gradient."""
        with tf.control_dependencies([dy]):
            a = self._owned(act, owned, stride)
            rows, cols = tf.shape(a)[1], tf.shape(a)[2]
            craw, _, _ = self._terms(a, cw, 0.0, target, tf.zeros([1, 1]))
            c = tf.shape(a)[-1]
            d = d + tf.zeros([c, c])  # a layer without style terms gets a [1, 1] zero
            g = self._add_terms_gradient(tf.zeros_like(a), a, cw, sw, target, d)
            top, left = owned[0] // stride, owned[1] // stride
            pad = [[0, 0], [top, tf.shape(act)[1] - top - rows], [left, tf.shape(act)[2] - left - cols], [0, 0]]
            return craw, dy + tf.pad(g, pad)

    def _tile_loss(self, image, owned, targets, depth):
        """A tile's raw content sums over its owned positions (per layer, 0 past depth) and
        the gradient at its input of every term at those positions; targets are the owned
        content targets, then the global Gram differences D = G - A, of the first depth
        layers. TV and the style sums are the caller's: they need the whole picture."""
        n = len(self.layers)
        contents, diffs = targets[:depth], targets[depth:]
        acts = self._activations(image, depth)
        cws, sws = tf.convert_to_tensor(self.content_weights), tf.convert_to_tensor(self.style_weights)
        inputs = [image] + acts[:-1]
        dy = tf.zeros_like(acts[-1])
        craw = [None] * depth
        for i in reversed(range(depth)):
            craw[i], dy = self._tile_terms_fn(dy, acts[i], owned, self._strides[i], cws[i], sws[i],
                                              contents[i], diffs[i])
            dy = self._through_fns[i](dy, acts[i], inputs[i])
        return {"content_layers": tf.pad(tf.stack(craw), [[0, n - depth]]), "grad": dy}

    def _metadata(self):
        """The export's metadata JSON (format, arch, layers, channels, pooling, mean, weights, ...)."""
        return {"json": tf.constant(self._metadata_json)}

"""The Python peer: Gatys style transfer as TensorFlow's style-transfer tutorial writes it.

VGG19 is built with tf.nn up to the deepest layer used, from the kernels and biases stored
in one of our SavedModels' variables checkpoint (so both sides hold the same weights); the
losses are the seed notebook's (content 1/(2 sqrt(N) sqrt(M)) sum (x-p)^2 on conv4_2,
style 1/(4 N^2 M^2) sum (G-A)^2 on conv1_1..conv5_1, strength 500); one @tf.function
takes the GradientTape gradient and applies Keras Adam. It is a yardstick, not product.

    python -m export.bench.peer --model DIR --content C --style S --height H --width W \
        --iterations N [--check]

Prints one JSON object per line on stdout: {"event": "iteration", "i", "end" (time.time()
when the step finished), "seconds" (wall), "cpu" (process CPU seconds), "total"}, and with
--check, one {"event": "check", ...} comparing this loss with our exported ``loss`` signature.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from export import quiet

CONTENT = "testdata/images/shipwreck.jpg"
STYLE = "testdata/images/starry_night.jpg"
CONTENT_LAYERS = {"conv4_2": 1.0}
STYLE_LAYERS = {"conv1_1": 1.0, "conv2_1": 1.0, "conv3_1": 1.0, "conv4_1": 1.0, "conv5_1": 1.0}
STYLE_WEIGHT = 500.0
CONTENT_WEIGHT = 1.0


def emit(**fields):
    print(json.dumps(fields), flush=True)


def metadata(model):
    with open(os.path.join(model, "assets.extra", "metadata.json")) as f:
        return json.load(f)


def read_weights(model, layers):
    """(kernel, bias) NumPy pairs per layer, read from the SavedModel's variables checkpoint
    (our exporter stores them as the tf.Module lists ``kernels`` and ``biases``)."""
    tf = quiet.import_tensorflow()
    reader = tf.train.load_checkpoint(os.path.join(model, "variables", "variables"))
    return [(reader.get_tensor(f"kernels/{i}/.ATTRIBUTES/VARIABLE_VALUE"),
             reader.get_tensor(f"biases/{i}/.ATTRIBUTES/VARIABLE_VALUE")) for i in range(len(layers))]


def load_picture(path, height, width, mean):
    """[1, H, W, 3] float32 RGB minus mean: centre-cropped to W:H, then resized."""
    tf = quiet.import_tensorflow()
    img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    h, w = int(img.shape[0]), int(img.shape[1])
    if w * height > h * width:  # too wide: crop the width
        cw = max(1, round(h * width / height))
        img = img[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = max(1, round(w * height / width))
        img = img[(h - ch) // 2:(h - ch) // 2 + ch]
    img = tf.image.resize(tf.cast(img, tf.float32), [height, width], antialias=True)
    return (img - tf.constant(mean, tf.float32))[tf.newaxis]


def start_image(content, ratio, seed):
    """The notebook's ratio * U(-20, 20) + (1 - ratio) * content."""
    noise = np.random.default_rng(seed).uniform(-20, 20, content.shape).astype(np.float32)
    return ratio * noise + (1 - ratio) * content


class VGG:
    """tf.nn VGG19 up to the deepest layer asked for, average (or max) pooling 2x2/2 SAME."""

    def __init__(self, md, weights, upto):
        tf = quiet.import_tensorflow()
        self.tf = tf
        self.layers = md["layers"][:md["layers"].index(upto) + 1]
        self.pool = tf.nn.avg_pool2d if md["pooling"] == "avg" else tf.nn.max_pool2d
        self.weights = [(tf.constant(k), tf.constant(b)) for k, b in weights[:len(self.layers)]]

    def __call__(self, x):
        tf = self.tf
        out = {}
        for layer, (k, b) in zip(self.layers, self.weights):
            if layer.endswith("_1") and layer != "conv1_1":
                x = self.pool(x, ksize=2, strides=2, padding="SAME")
            x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, k, 1, "SAME"), b))
            out[layer] = x
        return out


def gram(tf, act):
    f = tf.reshape(act, [-1, act.shape[-1]])
    return tf.matmul(f, f, transpose_a=True)


def build(args):
    """The peer's pieces: VGG, the start image, and the loss function of an image."""
    tf = quiet.import_tensorflow()
    md = metadata(args.model)
    deepest = max(list(CONTENT_LAYERS) + list(STYLE_LAYERS), key=md["layers"].index)
    vgg = VGG(md, read_weights(args.model, md["layers"]), deepest)
    content = load_picture(args.content, args.height, args.width, md["mean_rgb"])
    style = load_picture(args.style, args.height, args.width, md["mean_rgb"])
    c_feats, s_feats = vgg(content), vgg(style)
    content_targets = {l: c_feats[l] for l in CONTENT_LAYERS}
    style_targets = {l: gram(tf, s_feats[l]) for l in STYLE_LAYERS}

    def loss_fn(image):
        feats = vgg(image)
        c = tf.add_n([
            w / (2 * math.sqrt(feats[l].shape[-1]) * math.sqrt(feats[l].shape[1] * feats[l].shape[2]))
            * tf.reduce_sum(tf.square(feats[l] - content_targets[l])) for l, w in CONTENT_LAYERS.items()])
        s = tf.add_n([
            w / (4 * feats[l].shape[-1] ** 2 * (feats[l].shape[1] * feats[l].shape[2]) ** 2)
            * tf.reduce_sum(tf.square(gram(tf, feats[l]) - style_targets[l])) for l, w in STYLE_LAYERS.items()])
        return CONTENT_WEIGHT * c + STYLE_WEIGHT * s

    x0 = start_image(content.numpy(), args.noise_ratio, args.seed)
    return md, content, style, x0, loss_fn


def check(args, content, style, x0, loss_fn):
    """Our exported ``loss`` signature on the peer's start image, against the peer's loss."""
    tf = quiet.import_tensorflow()
    image = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(image)
        peer_total = loss_fn(image)
    peer_grad = tape.gradient(peer_total, image).numpy()
    ours = ours_loss(args.model, content, style, CONTENT_LAYERS, STYLE_LAYERS, STYLE_WEIGHT)(image)
    total, grad = float(ours["total"]), ours["grad"].numpy()
    emit(event="check", peer_total=float(peer_total), ours_total=total,
         total_rel_diff=abs(total - float(peer_total)) / abs(float(peer_total)),
         grad_rel_diff=float(np.linalg.norm(grad - peer_grad) / np.linalg.norm(peer_grad)),
         grad_max_abs_diff=float(np.abs(grad - peer_grad).max()), grad_norm=float(np.linalg.norm(peer_grad)))


def signature_names(names, layers, used):
    """(features, loss) signature names of an export: format 1 has one ``features`` and one
    ``loss``; format 2 has ``features_<L>`` and ``loss_<L>`` per layer L, and a run uses
    those of its deepest used layer."""
    if "loss" in names:
        return "features", "loss"
    deepest = max(used, key=layers.index)
    return f"features_{deepest}", f"loss_{deepest}"


def target_feed(md, feats, content_layers, style_layers, style_weight, specs):
    """set_targets' inputs as NumPy arrays, keyed by input name: the run's content
    activations and Grams (zeros elsewhere) and the notebook normalisation folded into the
    coefficients, as the Go runner sets them; TV off."""
    layers = md["layers"]
    cw, sw = np.zeros(len(layers), np.float32), np.zeros(len(layers), np.float32)
    feed = {}
    for i, l in enumerate(layers):
        n = md["channels"][i]
        feed[f"content_{l}"] = np.asarray(feats[l]) if l in content_layers else np.zeros([1, 1, 1, 1], np.float32)
        feed[f"gram_{l}"] = np.asarray(feats[f"{l}_style_gram"]) if l in style_layers else np.zeros([1, 1], np.float32)
        if l in content_layers or l in style_layers:
            h, w = (int(v) for v in np.asarray(feats[f"{l}_hw"]))
            if l in content_layers:
                cw[i] = CONTENT_WEIGHT * content_layers[l] / (2 * math.sqrt(n) * math.sqrt(h * w))
            if l in style_layers:
                sw[i] = style_weight * style_layers[l] / (4 * n * n * (h * w) ** 2)
    feed["content_weights"], feed["style_weights"] = cw, sw
    feed["tv_weights"] = np.zeros(specs["tv_weights"], np.float32)
    if "tv_grid_power" in specs:
        feed["tv_grid_power"] = np.float32(1.0)
    return feed


def ours_loss(model, content, style, content_layers, style_layers, style_weight):
    """Our SavedModel with its targets set the way the Go runner sets them (features
    signature, notebook normalisation folded into the coefficients); returns its loss."""
    tf = quiet.import_tensorflow()
    m = tf.saved_model.load(model)
    md = metadata(model)
    feat_name, loss_name = signature_names(set(m.signatures), md["layers"], list(content_layers) + list(style_layers))
    cf = m.signatures[feat_name](image=content)
    sf = m.signatures[feat_name](image=style)
    feats = dict(cf, **{f"{k[:-5]}_style_gram": v for k, v in sf.items() if k.endswith("_gram")})
    st = m.signatures["set_targets"]
    specs = {k: v.shape for k, v in st.structured_input_signature[1].items()}
    feed = target_feed(md, feats, content_layers, style_layers, style_weight, specs)
    st(**{k: tf.constant(v) for k, v in feed.items()})
    return lambda image: m.signatures[loss_name](image=image)


def main(argv=None):
    p = argparse.ArgumentParser(prog="peer", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--iterations", type=int, default=18)
    p.add_argument("--learning-rate", type=float, default=2.0)
    p.add_argument("--noise-ratio", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="compare with our loss signature, then stop")
    args = p.parse_args(argv)
    tf = quiet.import_tensorflow()
    _, content, style, x0, loss_fn = build(args)
    if args.check:
        check(args, content, style, x0, loss_fn)
        return 0

    image = tf.Variable(x0)
    opt = tf.keras.optimizers.Adam(learning_rate=args.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8)

    @tf.function
    def train_step(image):
        with tf.GradientTape() as tape:
            loss = loss_fn(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        return loss

    for i in range(args.iterations):
        t, c = time.perf_counter(), time.process_time()
        total = float(train_step(image))  # reading the loss waits for the step
        emit(event="iteration", i=i, end=time.time(), seconds=time.perf_counter() - t,
             cpu=time.process_time() - c, total=total)
    return 0


if __name__ == "__main__":
    sys.exit(main())

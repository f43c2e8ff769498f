"""python -m export --out DIR [options]: write the style-transfer VGG SavedModel.

Expected failures (bad option, missing or malformed weights file, existing --out) print
one line to stderr and exit 2 with nothing written; the model is exported into a
temporary directory beside DIR and renamed into place only when complete.
"""

import argparse
import json
import os
import shutil
import sys

from . import quiet, vgg

FORMAT = "styletransfer-vgg/2"
DEFAULT_MEAN = (123.0, 117.0, 104.0)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _mean(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"want three numbers R,G,B, got {text!r}")
    return values


def _whole_number(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"want a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def _parser():
    p = _Parser(prog="export", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="SavedModel directory to create")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--arch", choices=tuple(vgg.ARCHS), default="vgg19",
                   help="vgg19 (16 conv layers, default) or vgg16 (13)")
    p.add_argument("--weights", default="random",
                   help="random (default), imagenet (Keras, needs network or its cache), "
                        "or a path to Keras weights (legacy notop .h5, Keras 3 .weights.h5, a whole model "
                        ".keras or .h5) or MatConvNet imagenet-vgg-verydeep-19.mat "
                        "(-16 for --arch vgg16)")
    p.add_argument("--mat-kernels", choices=vgg.MAT_KERNELS,
                   help="MatConvNet kernels: transposed (default; [w,h] swapped to [h,w], as "
                        "anishathalye/neural-style) or as-stored (as the seed notebook)")
    p.add_argument("--seed", type=_whole_number(0), help="seed for --weights random (default 0)")
    p.add_argument("--pooling", choices=("avg", "max"), default="avg",
                   help="2x2/2 SAME pooling: avg (the paper's, default) or max")
    p.add_argument("--width-divisor", type=_whole_number(1),
                   help="divide every layer's channels by this (random weights only; default 1)")
    p.add_argument("--mean", type=_mean, default=DEFAULT_MEAN,
                   help="R,G,B mean the caller subtracts from images (default 123,117,104)")
    return p


def _load_weights(args, parser):
    """Returns (weights, kind, source description) or exits with a one-line error."""
    arch = vgg.ARCHS[args.arch]
    if args.mat_kernels is not None and not args.weights.lower().endswith(".mat"):
        parser.error("--mat-kernels applies only to a MatConvNet .mat --weights file")
    if args.weights != "random":
        for option, value in (("--seed", args.seed), ("--width-divisor", args.width_divisor)):
            if value is not None:
                parser.error(f"{option} applies only to --weights random")
    if args.weights == "random":
        seed = 0 if args.seed is None else args.seed
        return vgg.random_weights(seed, args.width_divisor or 1, arch), "random", f"random seed {seed}"
    if args.weights == "imagenet":
        return vgg.load_keras_imagenet(arch), "imagenet", f"keras.applications.{arch.name.upper()} imagenet"
    loaders = {
        ".h5": ("keras-h5", lambda path: vgg.load_keras(path, arch)),
        ".keras": ("keras", lambda path: vgg.load_keras(path, arch)),
        ".mat": ("matconvnet", lambda path: vgg.load_matconvnet(path, arch, _mat_kernels(args))),
    }
    ext = os.path.splitext(args.weights)[1].lower()
    if ext not in loaders:
        parser.error(f"--weights {args.weights!r}: want random, imagenet, or a Keras .h5 or .keras "
                     "or a MatConvNet .mat file")
    if not os.path.isfile(args.weights):
        raise vgg.WeightsError(f"--weights {args.weights}: no such file")
    kind, load = loaders[ext]
    verified = vgg.verify_known(args.weights)
    source = os.path.basename(args.weights) + (f" ({verified})" if verified else "")
    return load(args.weights), kind, source


def _mat_kernels(args):
    return args.mat_kernels or "transposed"


def _metadata(args, weights, kind, source, divisor, tf_version):
    from . import graph  # after TensorFlow's quiet import

    seed = (0 if args.seed is None else args.seed) if kind == "random" else None
    arch = vgg.ARCHS[args.arch]
    options = {
        "arch": arch.name,
        "weights": args.weights,
        "seed": seed,
        "pooling": args.pooling,
        "width_divisor": divisor,
        "mean": list(args.mean),
    }
    if kind == "matconvnet":
        options["mat_kernels"] = _mat_kernels(args)
    return {
        "format": FORMAT,
        "arch": arch.name,
        "layers": list(arch.layers),
        "channels": [int(k.shape[3]) for k, _ in weights],
        "pooling": args.pooling,
        "pool_padding": "SAME",
        "mean_rgb": list(args.mean),
        "input": "rgb_minus_mean",
        "weights": kind,
        "weights_source": source,
        "seed": seed,
        "width_divisor": divisor,
        "tensorflow": tf_version,
        "signatures": {
            "loss": [graph.loss_signature(layer) for layer in arch.layers],
            "loss_forward": [graph.loss_signature(layer, "forward") for layer in arch.layers],
            "features": [graph.features_signature(layer) for layer in arch.layers],
            "depth": "loss_<L> and features_<L> compute layer L and the layers before it only: "
                     "call the one named for the deepest layer a run uses",
            "conv_gradient": "loss_<L> takes each convolution's input gradient with TensorFlow's "
                             "Conv2DBackpropInput; loss_forward_<L> computes the same values as a forward "
                             "convolution with the flipped kernels set_forward_gradient(depth) stores for the first depth "
                             "layers, and from the layers after the second pool on by Winograd's F(4x4, 3x3) "
                             "(faster on CPUs, more memory)",
            "tv": list(graph.TV_TERMS),
            "tile_features": [graph.tile_signature("features", layer) for layer in arch.layers],
            "tile_loss": [graph.tile_signature("loss", layer) for layer in arch.layers],
            "tile": "tile_features_<L>(image, owned) and tile_loss_<L>(image, owned, content_<l>, diff_<l>) "
                    "evaluate a tile of a larger picture: owned = [top, left, bottom, right] input pixels "
                    "the tile owns (multiples of the deepest pooling's stride, or the tile's edge); "
                    "tile_loss takes the owned content targets and D = G - A of the whole picture's Grams, "
                    "and returns the raw content sums there and the tile's input gradient (backprop form)",
        },
        "export_options": options,
    }


def _write(out, module, text, force):
    """Exports into a hidden directory beside out, then renames it into place."""
    parent, base = os.path.split(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{base}.partial-{os.getpid()}")
    old = os.path.join(parent, f".{base}.old-{os.getpid()}")
    os.mkdir(tmp)
    try:
        module.save(tmp)
        os.mkdir(os.path.join(tmp, "assets.extra"))
        with open(os.path.join(tmp, "assets.extra", "metadata.json"), "w") as f:
            f.write(text)
        if force and os.path.lexists(out):
            os.rename(out, old)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.lexists(old) and not os.path.lexists(out):
            os.rename(old, out)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old)
    elif os.path.lexists(old):
        os.remove(old)


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out)
    if os.path.lexists(out) and not args.force:
        parser.error(f"--out {args.out}: already exists (pass --force to replace it)")
    try:
        weights, kind, source = _load_weights(args, parser)
        divisor = vgg.width_divisor_of(weights, args.weights, vgg.ARCHS[args.arch])
        # TensorFlow starts slowly: import it once the inputs are known good, and quietly.
        quiet.import_tensorflow()
        from . import graph

        metadata = _metadata(args, weights, kind, source, divisor, graph.tf.__version__)
        text = json.dumps(metadata, indent=2) + "\n"
        _write(out, graph.StyleGraph(vgg.ARCHS[args.arch], weights, args.pooling, text), text, args.force)
    except vgg.WeightsError as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"export: cannot write {args.out}: {e}", file=sys.stderr)
        return 2
    print(f"export: wrote {args.out} ({args.arch}, {source}, {args.pooling} pooling)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Regenerates testdata/ from the repository root, deterministically:
#   vgg19-tiny/      the VGG19 topology with every layer's channels divided by 16 and random
#                    weights (seed 0), average pooling, exported by `python -m export`;
#   vgg19-tiny-max/  the same with max pooling;
#   vgg16-tiny/      VGG16 (13 conv layers) likewise, max pooling (as Keras' VGG16);
#   images/      three public-domain paintings downscaled to 384 px on the longer side.
# The originals come from jcjohnson/neural-style's examples folder; point IMAGES_DIR at a
# copy of them (default ../shared/images, beside the clone).
set -euo pipefail

PY=.venv/bin/python
IMAGES_DIR=${IMAGES_DIR:-../shared/images}

"$PY" -m export --out testdata/vgg19-tiny --weights random --seed 0 --width-divisor 16 \
    --pooling avg --force
"$PY" -m export --out testdata/vgg19-tiny-max --weights random --seed 0 --width-divisor 16 \
    --pooling max --force
"$PY" -m export --out testdata/vgg16-tiny --arch vgg16 --weights random --seed 0 --width-divisor 16 \
    --pooling max --force

mkdir -p testdata/images
TF_CPP_MIN_LOG_LEVEL=2 "$PY" - "$IMAGES_DIR" testdata/images <<'PYTHON'
import os
import sys

import tensorflow as tf

LONG_SIDE = 384
QUALITY = 88
src, dst = sys.argv[1:]
for name in ("starry_night.jpg", "shipwreck.jpg", "woman-with-hat-matisse.jpg"):
    image = tf.io.decode_jpeg(tf.io.read_file(os.path.join(src, name)), channels=3)
    h, w = image.shape[:2]
    scale = LONG_SIDE / max(h, w)
    size = (round(h * scale), round(w * scale))
    small = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)
    pixels = tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)
    tf.io.write_file(os.path.join(dst, name), tf.io.encode_jpeg(pixels, quality=QUALITY))
    print(f"testdata/images/{name}: {w}x{h} -> {size[1]}x{size[0]}")
PYTHON

# The sweep pictures (configs/experiments/seed-report-grid.yaml): Munch's The Scream and
# details cropped from the four public-domain paintings, 256 px on the longer side.
# Crop boxes are fractions of the original: (top, left, bottom, right).
TF_CPP_MIN_LOG_LEVEL=2 "$PY" - "$IMAGES_DIR" testdata/images <<'PYTHON'
import os
import sys

import tensorflow as tf

LONG_SIDE = 256
QUALITY = 85
CROPS = {
    "the_scream.jpg": ("the_scream.jpg", (0, 0, 1, 1)),
    "detail-scream-sky.jpg": ("the_scream.jpg", (0, 0, 0.33, 1)),
    "detail-scream-figure.jpg": ("the_scream.jpg", (0.45, 0.2, 1, 0.8)),
    "detail-starry-village.jpg": ("starry_night.jpg", (0.5, 0.35, 1, 1)),
    "detail-starry-cypress.jpg": ("starry_night.jpg", (0, 0, 1, 0.35)),
    "detail-shipwreck-wave.jpg": ("shipwreck.jpg", (0.2, 0.2, 0.9, 0.8)),
    "detail-matisse-face.jpg": ("woman-with-hat-matisse.jpg", (0.08, 0.15, 0.6, 0.85)),
}
src, dst = sys.argv[1:]
for name, (original, (top, left, bottom, right)) in CROPS.items():
    image = tf.io.decode_jpeg(tf.io.read_file(os.path.join(src, original)), channels=3)
    h, w = image.shape[:2]
    y0, x0, y1, x1 = int(top * h), int(left * w), int(bottom * h), int(right * w)
    image = image[y0:y1, x0:x1]
    h, w = image.shape[:2]
    scale = LONG_SIDE / max(h, w)
    size = (round(h * scale), round(w * scale))
    small = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)
    pixels = tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)
    tf.io.write_file(os.path.join(dst, name), tf.io.encode_jpeg(pixels, quality=QUALITY))
    print(f"testdata/images/{name}: {original} crop {w}x{h} -> {size[1]}x{size[0]}")
PYTHON

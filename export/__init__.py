"""Export VGG19 as a TensorFlow SavedModel for Gatys-style neural style transfer.

Run as ``python -m export --out DIR``; see ``export/__main__.py`` for the options,
``export/vgg.py`` for the network and its weights, ``export/graph.py`` for the
signatures the Go runner calls.
"""

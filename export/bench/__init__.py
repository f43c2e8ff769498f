"""Benchmark tools for the Go runner (not part of the product).

``peer.py`` is the yardstick: style transfer written the way TensorFlow's tutorial
writes it, on the weights of one of our SavedModels. ``bench.py`` (``make bench``)
runs it against ``bin/runner``; ``peak.py`` measures the machine's MatMul peak;
``levers.py`` (``make bench-levers``) times session options on our exported graph.
"""

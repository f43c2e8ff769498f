"""Independent NumPy reference of each loss normalisation (README, Normalisations).

Reads a JSON case on stdin: the config's weights, the model's layer order, the
start image x (H, W, 3, mean subtracted) and the raw activations of x, of the
content picture (p) and of each style picture (s), and prints the content,
style and TV losses (and total) that the named formula gives, as JSON.
Written from the formulas of the papers and tools, not from the Go code.
"""
import json
import sys

import numpy as np


def gram(a):
    f = np.asarray(a, np.float64).reshape(-1, np.asarray(a).shape[-1])
    return f.T @ f


def main():
    c = json.load(sys.stdin)
    norm = c["normalization"]
    layers = c["layers"]
    x = np.asarray(c["x"], np.float64)
    H, W = x.shape[0], x.shape[1]
    act = c["act"]

    # Layer weights: content_weight_blend moves (1-b) of the first blend
    # layer's weight to the second; style layer k (model order) gets exp^k.
    cw = dict(c["content_layers"])
    b = c["content_weight_blend"]
    if b != 1:
        l1, l2 = c["content_blend_layers"]
        w1 = cw.get(l1, 0.0)
        cw[l1] = b * w1
        cw[l2] = cw.get(l2, 0.0) + (1 - b) * w1
    sw, e = {}, 1.0
    for l in layers:
        if c["style_layers"].get(l, 0) > 0:
            sw[l] = c["style_layers"][l] * e
            e *= c["style_layer_weight_exp"]
    if norm == "neural-style":
        total_w = sum(sw.values())
        sw = {l: w / total_w for l, w in sw.items()}

    content = 0.0
    for l, w in cw.items():
        if w <= 0:
            continue
        X, P = np.asarray(act[l]["x"], np.float64), np.asarray(act[l]["p"], np.float64)
        h, wd, n = X.shape
        M = h * wd
        d2 = np.sum((X - P) ** 2)
        if norm == "notebook":
            v = d2 / (2 * np.sqrt(n) * np.sqrt(M))
        elif norm == "paper":
            v = 0.5 * d2
        elif norm in ("neural-style", "jcjohnson"):
            v = np.mean((X - P) ** 2)  # 2 * l2_loss / size, MSECriterion
        elif norm == "keras":
            v = d2
        content += c["content_weight"] * w * v

    style = 0.0
    blend = np.asarray(c["blend"], np.float64)
    blend = blend / blend.sum()
    for l, w in sw.items():
        X = np.asarray(act[l]["x"], np.float64)
        h, wd, n = X.shape
        M = h * wd
        for s, bs in zip(act[l]["s"], blend):
            S = np.asarray(s, np.float64)
            if norm in ("notebook", "paper"):
                v = np.sum((gram(X) - gram(S)) ** 2) / (4 * n**2 * M**2)
            elif norm in ("neural-style", "jcjohnson"):
                # Grams divided by each map's size, then the mean square.
                G, A = gram(X) / X.size, gram(S) / S.size
                v = np.mean((G - A) ** 2)
            elif norm == "keras":
                v = np.sum((gram(X) - gram(S)) ** 2) / (4.0 * 3**2 * (H * W) ** 2)
            if norm == "keras":
                v /= len(sw)
            style += c["style_weight"] * w * bs * v

    tv = 0.0
    t = c["tv_weight"]
    dy = x[1:, :, :] - x[:-1, :, :]
    dx = x[:, 1:, :] - x[:, :-1, :]
    if norm in ("notebook", "paper"):
        tv = t * (np.sum(dy**2) + np.sum(dx**2))
    elif norm == "neural-style":
        tv = t * 2 * (np.sum(dy**2) / 2 / dy.size + np.sum(dx**2) / 2 / dx.size)
    elif norm == "jcjohnson":
        gx = x[:-1, :-1, :] - x[:-1, 1:, :]
        gy = x[:-1, :-1, :] - x[1:, :-1, :]
        tv = t / 2 * np.sum(gx**2 + gy**2)
    elif norm == "keras":
        a = (x[:-1, :-1, :] - x[1:, :-1, :]) ** 2
        bb = (x[:-1, :-1, :] - x[:-1, 1:, :]) ** 2
        tv = t * np.sum((a + bb) ** 1.25)
    json.dump({"content": content, "style": style, "tv": tv, "total": content + style + tv}, sys.stdout)


main()

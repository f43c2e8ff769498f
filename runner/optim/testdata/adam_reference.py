"""NumPy reference for Adam (Kingma & Ba 2015, Algorithm 1) on a quadratic.

Reads a JSON problem on stdin: {"a": [...], "c": [...], "x0": [...], "lr", "beta1",
"beta2", "epsilon", "steps", "dtype"}; minimises f(x) = 1/2 sum a*(x-c)^2 with
arrays of that dtype (float32 like the image, or float64) and prints the trajectory
x_1..x_steps as JSON. Written from the paper, not from the Go code.
"""
import json
import sys

import numpy as np

p = json.load(sys.stdin)
dt = np.dtype(p["dtype"])
a, c, x = (np.asarray(p[k], dtype=dt) for k in ("a", "c", "x0"))
alpha, b1, b2, eps = (dt.type(p[k]) for k in ("lr", "beta1", "beta2", "epsilon"))
m = np.zeros_like(x)
v = np.zeros_like(x)
out = []
for t in range(1, p["steps"] + 1):
    g = a * (x - c)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / dt.type(1 - p["beta1"] ** t)
    v_hat = v / dt.type(1 - p["beta2"] ** t)
    x = x - alpha * m_hat / (np.sqrt(v_hat) + eps)
    out.append(x.tolist())
json.dump(out, sys.stdout)

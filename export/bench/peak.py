"""The machine's MatMul peak as TensorFlow reaches it: GFLOP/s of a large square MatMul,
float32 and (where the CPU has AMX or AVX512-BF16) bfloat16; best of a few repeats.

    python -m export.bench.peak [--n 4096] [--repeats 5]

Prints one JSON object: {"tensorflow", "float32_gflops", "bfloat16_gflops" (null when
the CPU lacks the instructions), "n", "threads": {"intra", "inter"}}.
"""

import argparse
import json
import sys
import time

from export import quiet


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_bf16(flags):
    return bool({"amx_bf16", "avx512_bf16"} & flags)


def gflops(tf, dtype, n, repeats):
    a = tf.random.stateless_normal([n, n], seed=[1, 2], dtype=tf.float32)
    b = tf.random.stateless_normal([n, n], seed=[3, 4], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    mm = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    mm(a, b).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(prog="peak")
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    tf = quiet.import_tensorflow()
    out = {"tensorflow": tf.__version__, "n": args.n,
           "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter": tf.config.threading.get_inter_op_parallelism_threads()},
           "float32_gflops": gflops(tf, tf.float32, args.n, args.repeats),
           "bfloat16_gflops": gflops(tf, tf.bfloat16, args.n, args.repeats) if has_bf16(cpu_flags()) else None}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

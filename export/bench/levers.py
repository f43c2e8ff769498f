"""make bench-levers: session options timed on OUR exported graph, the way the Go runner
drives it (TF1 session API: load the SavedModel into a session made with a ConfigProto,
set targets once, then run the ``loss`` signature per iteration, Adam outside TensorFlow).

Each lever runs in a fresh process (thread pools and Grappler are per process/session),
and prints the ConfigProto text to set through the Go session options. Then the bf16
check: 100 iterations at 256x256 in float32 and with oneDNN's bf16 auto mixed precision,
final total loss (re-evaluated in float32) and picture difference.

    python -m export.bench.levers            # all levers; .bench/levers.json
    python -m export.bench.levers --one NAME --size 256x256 --iters 8   # one lever, JSON line

Environment: LEVERS_SIZE (default 256x256), LEVERS_WARMUP (2), LEVERS_ITERS (8),
LEVERS_MODELS (comma list of SavedModels, default .bench/vgg19-random), LEVERS_BF16_ITERS (100),
LEVERS_ROUNDS (2), LEVERS (comma list of lever names, default all).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from export import quiet
from export.bench import peer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _config(tf, name):
    """(ConfigProto, extra environment) of a lever."""
    from tensorflow.core.protobuf import rewriter_config_pb2 as rw
    c = tf.compat.v1.ConfigProto()
    env = {}
    ro = c.graph_options.rewrite_options
    if name == "default":
        pass
    elif name == "inter1":
        c.inter_op_parallelism_threads = 1
    elif name == "intra2_inter1":
        c.intra_op_parallelism_threads, c.inter_op_parallelism_threads = os.cpu_count(), 1
    elif name == "grappler_off":
        ro.disable_meta_optimizer = True
    elif name == "remapping_off":
        ro.remapping = rw.RewriterConfig.OFF
    elif name == "layout_off":
        ro.layout_optimizer = rw.RewriterConfig.OFF
    elif name == "arith_aggressive":
        ro.arithmetic_optimization = rw.RewriterConfig.AGGRESSIVE
        ro.constant_folding = rw.RewriterConfig.AGGRESSIVE
    elif name == "bf16":
        ro.auto_mixed_precision_onednn_bfloat16 = rw.RewriterConfig.ON
    elif name == "bf16_inter1":
        ro.auto_mixed_precision_onednn_bfloat16 = rw.RewriterConfig.ON
        c.inter_op_parallelism_threads = 1
    elif name == "xla_on1":
        c.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
    elif name == "xla_on1_cpu":
        c.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
        c.graph_options.optimizer_options.cpu_global_jit = True
        env["TF_XLA_FLAGS"] = "--tf_xla_cpu_global_jit"
    else:
        raise SystemExit(f"levers: unknown lever {name!r}")
    return c, env


LEVERS = ("default", "inter1", "intra2_inter1", "grappler_off", "remapping_off", "layout_off",
          "arith_aggressive", "bf16", "bf16_inter1", "xla_on1", "xla_on1_cpu")


class Session:
    """Our SavedModel in a TF1 session with a ConfigProto, targets set as the Go runner sets them."""

    def __init__(self, tf, model, config, content, style, conv_gradient="backprop"):
        self.graph = tf.Graph()
        self.sess = tf.compat.v1.Session(graph=self.graph, config=config)
        with self.graph.as_default():
            t = time.perf_counter()
            meta = tf.compat.v1.saved_model.loader.load(self.sess, ["serve"], model)
            self.load_s = time.perf_counter() - t
        sig = meta.signature_def
        md = peer.metadata(model)
        feat_name, loss_name = peer.signature_names(set(sig), md["layers"],
                                                    list(peer.CONTENT_LAYERS) + list(peer.STYLE_LAYERS))
        feats_out = {k: v.name for k, v in sig[feat_name].outputs.items()}
        image_in = sig[feat_name].inputs["image"].name
        cf = self.sess.run(feats_out, {image_in: content})
        sf = self.sess.run(feats_out, {image_in: style})
        feats = dict(cf, **{f"{k[:-5]}_style_gram": v for k, v in sf.items() if k.endswith("_gram")})
        inputs = sig["set_targets"].inputs
        specs = {k: [d.size for d in v.tensor_shape.dim] for k, v in inputs.items()}
        feed = peer.target_feed(md, feats, peer.CONTENT_LAYERS, peer.STYLE_LAYERS, peer.STYLE_WEIGHT, specs)
        self.sess.run({k: v.name for k, v in sig["set_targets"].outputs.items()},
                      {inputs[k].name: v for k, v in feed.items()})
        if conv_gradient == "forward":  # as the runner does: flipped kernels for the run's depth
            depth = md["layers"].index(loss_name[len("loss_"):]) + 1
            out = sig["set_forward_gradient"]
            self.sess.run({k: v.name for k, v in out.outputs.items()}, {out.inputs["depth"].name: depth})
            loss_name = "loss_forward_" + loss_name[len("loss_"):]
        self.image = sig[loss_name].inputs["image"].name
        self.fetch = [sig[loss_name].outputs["total"].name, sig[loss_name].outputs["grad"].name]

    def loss(self, x):
        return self.sess.run(self.fetch, {self.image: x})


def optimise(sess, x, iters, lr=2.0, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba, as the runner's optim.Adam) over sess.loss; returns x, per-step seconds, totals."""
    m, v = np.zeros_like(x), np.zeros_like(x)
    steps, totals = [], []
    for t in range(1, iters + 1):
        start = time.perf_counter()
        total, g = sess.loss(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        steps.append(time.perf_counter() - start)
        totals.append(float(total))
    return x, steps, totals


def profile(tf, s, x, top=10):
    """One traced step: milliseconds per op type (TensorFlow's step stats), largest first."""
    opts = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    meta = tf.compat.v1.RunMetadata()
    s.sess.run(s.fetch, {s.image: x}, options=opts, run_metadata=meta)
    by_op = {}
    for dev in meta.step_stats.dev_stats:
        for n in dev.node_stats:
            label = n.timeline_label
            op = label.split(" = ", 1)[1].split("(", 1)[0] if " = " in label else n.node_name.split(":")[0]
            by_op[op] = by_op.get(op, 0.0) + n.op_end_rel_micros / 1000
    return dict(sorted(by_op.items(), key=lambda kv: -kv[1])[:top])


def pictures(args, tf):
    tf.get_logger().setLevel("ERROR")  # the TF1 loader's deprecation notice
    md = peer.metadata(args.model)
    content = peer.load_picture(peer.CONTENT, args.h, args.w, md["mean_rgb"]).numpy()
    style = peer.load_picture(peer.STYLE, args.h, args.w, md["mean_rgb"]).numpy()
    return md, content, style, peer.start_image(content, 0.7, 0)


def one(args):
    tf = quiet.import_tensorflow()
    md, content, style, x0 = pictures(args, tf)
    config, _ = _config(tf, args.one)
    t = time.perf_counter()
    try:
        s = Session(tf, args.model, config, content, style)
        _, steps, totals = optimise(s, x0, args.warmup + args.iters)
    except Exception as e:  # a lever TensorFlow rejects is a finding, reported as such
        msg = [m.strip() for m in str(e).strip().splitlines() if m.strip()]
        text = " / ".join(msg[:1] + msg[-2:]) if msg else ""
        print(json.dumps({"lever": args.one, "error": f"{type(e).__name__}: {text}"[:600]}))
        return 0
    setup = time.perf_counter() - t - sum(steps)
    print(json.dumps({"lever": args.one, "model": args.model, "size": f"{args.h}x{args.w}",
                      "s_per_iter": statistics.median(steps[args.warmup:]), "first_iter_s": steps[0],
                      "setup_s": setup, "first_total": totals[0],
                      "config": str(config).strip().replace("\n", "; "),
                      "config_hex": config.SerializeToString().hex(),
                      "profile_top_ops": profile(tf, s, x0)}))
    return 0


def bf16_quality(args):
    """float32 against bf16 auto mixed precision: speed, final loss (float32), picture difference.

    Each side runs the form the runner's `conv_gradient: auto` picks for it on a CPU: the
    forward form (Winograd) in float32, the backprop form in bf16, so the speed-up is
    against the runner's fastest float32 and not a straw man."""
    tf = quiet.import_tensorflow()
    md, content, style, x0 = pictures(args, tf)
    f32 = Session(tf, args.model, _config(tf, "default")[0], content, style, conv_gradient="forward")
    b16 = Session(tf, args.model, _config(tf, "bf16")[0], content, style)
    x32, s32, l32 = optimise(f32, x0, args.iters)
    x16, s16, l16 = optimise(b16, x0, args.iters)
    final32, final16 = float(f32.loss(x32)[0]), float(f32.loss(x16)[0])
    mean = np.array(md["mean_rgb"], np.float32)
    p32, p16 = np.clip(x32 + mean, 0, 255), np.clip(x16 + mean, 0, 255)
    print(json.dumps({
        "size": f"{args.h}x{args.w}", "iterations": args.iters,
        "float32_form": "forward", "bf16_form": "backprop",
        "float32_s_per_iter": statistics.median(s32[2:]), "bf16_s_per_iter": statistics.median(s16[2:]),
        "speedup": statistics.median(s32[2:]) / statistics.median(s16[2:]),
        "float32_final_total": final32, "bf16_final_total_in_float32": final16,
        "bf16_final_total_as_computed": l16[-1], "start_total": l32[0],
        "final_total_rel_diff": abs(final16 - final32) / final32,
        "picture_mean_abs_diff": float(np.abs(p16 - p32).mean()),
        "picture_max_abs_diff": float(np.abs(p16 - p32).max()),
        "picture_rms_diff": float(np.sqrt(((p16 - p32) ** 2).mean())),
    }))
    return 0


def run_child(argv, env=None):
    r = subprocess.run([sys.executable, "-m", "export.bench.levers"] + argv, cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ, **(env or {})})
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"argv": argv, "error": f"exit {r.returncode}: {tail[:300]}"}
    return json.loads(lines[-1])


def main(argv=None):
    p = argparse.ArgumentParser(prog="levers")
    p.add_argument("--one", help="run one lever and print a JSON line")
    p.add_argument("--bf16-quality", action="store_true")
    p.add_argument("--model", default=".bench/vgg19-random")
    p.add_argument("--size", default=os.environ.get("LEVERS_SIZE", "256x256"))
    p.add_argument("--warmup", type=int, default=int(os.environ.get("LEVERS_WARMUP", "2")))
    p.add_argument("--iters", type=int, default=int(os.environ.get("LEVERS_ITERS", "8")))
    args = p.parse_args(argv)
    args.h, args.w = (int(v) for v in args.size.split("x"))
    if args.one:
        return one(args)
    if args.bf16_quality:
        return bf16_quality(args)
    tf_levers = os.environ.get("LEVERS", ",".join(LEVERS)).split(",")
    if "default" not in tf_levers:
        tf_levers.insert(0, "default")
    models = os.environ.get("LEVERS_MODELS", args.model).split(",")
    rounds = int(os.environ.get("LEVERS_ROUNDS", "2"))
    out = {"size": args.size, "warmup": args.warmup, "iters": args.iters, "rounds": rounds, "levers": [],
           "loadavg_start": os.getloadavg(),
           "note": "shared 2-core machine: other work makes timings noisy; levers run round-robin and "
                   "each is quoted against the default of the same model and round (speedup > 1 is faster)"}
    tf = quiet.import_tensorflow()
    for rnd in range(rounds):
        for model in models:
            base = None
            for name in tf_levers:
                env = _config(tf, name)[1]
                r = run_child(["--one", name, "--model", model, "--size", args.size,
                               "--warmup", str(args.warmup), "--iters", str(args.iters)], env)
                r.setdefault("lever", name)
                r["model"], r["env"], r["round"] = model, env, rnd + 1
                if name == "default":
                    base = r.get("s_per_iter")
                if base and "s_per_iter" in r:
                    r["speedup_vs_default"] = base / r["s_per_iter"]
                out["levers"].append(r)
                print(f"levers: round {rnd + 1} {model} {name:18s} "
                      + (f"{r['s_per_iter']:.3f} s/it (first {r['first_iter_s']:.2f} s, "
                         f"x{r.get('speedup_vs_default', float('nan')):.2f} vs default)"
                         if "s_per_iter" in r else f"ERROR {r['error']}"), flush=True)
    summary = {}
    for r in out["levers"]:
        if "speedup_vs_default" in r:
            summary.setdefault(f"{r['model']} {r['lever']}", []).append(r["speedup_vs_default"])
    out["median_speedup_vs_default"] = {k: statistics.median(v) for k, v in summary.items()}
    for k, v in out["median_speedup_vs_default"].items():
        print(f"levers: {k:45s} x{v:.2f} vs default (median of {len(summary[k])})")
    bf16_iters = int(os.environ.get("LEVERS_BF16_ITERS", "100"))
    if bf16_iters > 0:
        q = run_child(["--bf16-quality", "--model", models[0], "--size", "256x256", "--iters", str(bf16_iters)])
        out["bf16"] = q
        print(f"levers: bf16 vs float32, {bf16_iters} iterations at 256x256: {json.dumps(q)}", flush=True)
    out["loadavg_end"] = os.getloadavg()
    os.makedirs(os.path.join(ROOT, ".bench"), exist_ok=True)
    path = os.path.join(ROOT, ".bench", "levers.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print(f"levers: results in {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""make bench: the Go runner against the Python peer, alternated A B A B, medians quoted.

For each size: check that both compute the same total loss on the same image, then run
bin/runner and the peer (export/bench/peer.py) in turn, BENCH_ROUNDS times each, with
BENCH_WARMUP warm-up and BENCH_ITERS timed iterations per process. Writes a table on stdout
and .bench/results.json; the last line sums up against issue 7's targets.

Environment: BENCH_SIZES (HxW list, default 256x256,512x512,600x800), BENCH_WARMUP (3),
BENCH_ITERS (15), BENCH_ROUNDS (2), BENCH_BUDGET_S (1080: on a slow host the warm-up and
timed counts of each size shrink, down to 1 + 3, so the run fits; setting BENCH_WARMUP or
BENCH_ITERS fixes the counts), BENCH_MODEL (default .bench/vgg19-random, exported
once), BENCH_RUNNER (default bin/runner), BENCH_OUT (.bench), BENCH_RESULTS (results.json).
Thread settings (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS, OMP_NUM_THREADS,
TF_ENABLE_ONEDNN_OPTS, TF_XLA_FLAGS) pass through to both sides and are recorded.

Timings: Go's come from its metrics.csv (`seconds`, cumulative since the loop started,
one row per evaluation; `tf_seconds`, cumulative time inside TensorFlow's run call, when
the runner writes it), the peer's from its JSON lines. CPU seconds per iteration are
sampled from /proc/PID/stat over the timed window (both sides alike); peak RSS and total
CPU come from os.wait4's rusage of each child.
"""

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTENT = "testdata/images/shipwreck.jpg"
STYLE = "testdata/images/starry_night.jpg"
THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
              "TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS")
TARGETS = {"ratio": 0.85, "rss": 0.8, "overhead_pct": 1.0, "peak_fraction": 0.5, "linear": 0.15}
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUNNER = os.path.join(ROOT, os.environ.get("BENCH_RUNNER", "bin/runner"))


class BenchError(Exception):
    """A step of the benchmark failed; the message is one line."""


def env_int(name, default):
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BenchError(f"{name}={text!r}: want a whole number >= 1")
    return value


def sizes():
    out = []
    for part in os.environ.get("BENCH_SIZES", "256x256,512x512,600x800").split(","):
        try:
            h, w = (int(v) for v in part.strip().lower().split("x"))
        except ValueError:
            h = w = 0
        if h < 1 or w < 1:
            raise BenchError(f"BENCH_SIZES: {part!r} is not HxW (e.g. 512x512)")
        out.append((h, w))
    return out


def machine():
    model, flags, ident = platform.processor() or "unknown", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() in ("cpu family", "model", "stepping", "cpu MHz") and key.strip() not in ident:
                    ident[key.strip()] = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
              "amx_tile", "amx_bf16", "amx_int8")
    return {"cpu_model": model, "cpuid": ident, "flags": {f: f in flags for f in wanted},
            "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "loadavg_start": os.getloadavg()}


class Child:
    """A child process timed with wall clock, /proc CPU samples and wait4's rusage."""

    def __init__(self, argv, log_path):
        self.argv = argv
        with open(log_path, "wb") as log:
            self.start = time.time()
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.samples = [(self.start, 0.0)]
        self._done = threading.Event()
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.end = time.time()
        self._done.set()
        sampler.join()
        self.proc.returncode = self.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_total = usage.ru_utime + usage.ru_stime
        self.peak_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
        self.samples.append((self.end, self.cpu_total))
        self.log_path = log_path

    def _sample(self):
        path = f"/proc/{self.proc.pid}/stat"
        while not self._done.wait(0.05):
            try:
                with open(path) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.samples.append((time.time(), (int(fields[11]) + int(fields[12])) / CLK_TCK))
            except (OSError, IndexError, ValueError):
                return

    def cpu_between(self, t0, t1):
        """CPU seconds the process used between two wall-clock times (interpolated)."""
        def at(t):
            prev = self.samples[0]
            for s in self.samples:
                if s[0] >= t:
                    if s[0] == prev[0]:
                        return s[1]
                    return prev[1] + (s[1] - prev[1]) * (t - prev[0]) / (s[0] - prev[0])
                prev = s
            return prev[1]
        return at(t1) - at(t0)

    def check(self, what):
        if self.returncode != 0:
            with open(self.log_path, errors="replace") as f:
                tail = f.read().strip().splitlines()[-1:] or ["(no output)"]
            raise BenchError(f"{what} exited {self.returncode}: {tail[0]} (log {self.log_path})")


def go_config(model, h, w, iterations):
    return "\n".join([
        f"model: {model}", f"content: {CONTENT}", f"style: {STYLE}", "name: bench",
        f"width: {w}", f"height: {h}", f"iterations: {iterations}", "checkpoint_every: 0",
        "log_every: 0", "seed: 0", "noise_ratio: 0.7", "content_layers: {conv4_2: 1}",
        "style_layers: {conv1_1: 1, conv2_1: 1, conv3_1: 1, conv4_1: 1, conv5_1: 1}",
        "content_weight: 1", "style_weight: 500", "tv_weight: 0", "normalization: notebook",
        "optimizer: adam", "learning_rate: 2.0", "beta1: 0.9", "beta2: 0.999", "epsilon: 1.0e-8", ""])


def run_go(model, h, w, warmup, iters, work):
    """One bin/runner process; per-iteration figures from its metrics.csv."""
    cfg = os.path.join(work, "go.yaml")
    with open(cfg, "w") as f:
        f.write(go_config(model, h, w, warmup + iters - 1))  # evaluations 0..N: N+1 of them
    out = os.path.join(work, "go-out")
    shutil.rmtree(out, ignore_errors=True)
    child = Child([RUNNER, "-config", cfg, "-out", out],
                  os.path.join(work, "go.log"))
    child.check("bin/runner")
    with open(os.path.join(out, "bench", "metrics.csv")) as f:
        header = f.readline().strip().split(",")
        rows = [dict(zip(header, map(float, line.split(",")))) for line in f if line.strip()]
    secs = [r["seconds"] for r in rows]
    steps = [secs[0]] + [b - a for a, b in zip(secs, secs[1:])]
    # The loop ends just before exit (final.png is saved after it): start-up is an upper bound.
    loop_start = child.end - secs[-1]
    overhead = None
    if "tf_seconds" in header:
        tf = [r["tf_seconds"] for r in rows]
        overhead = [100 * (1 - (tf[i] - tf[i - 1]) / (secs[i] - secs[i - 1]))
                    for i in range(max(1, warmup), len(rows))]
    return {
        "steps": steps[warmup:], "first_iter_s": steps[0],
        "startup_s": loop_start + secs[0] - child.start,
        "cpu_per_iter": child.cpu_between(loop_start + secs[warmup - 1], loop_start + secs[-1]) / iters
        if warmup > 0 else child.cpu_between(loop_start, loop_start + secs[-1]) / len(secs),
        "cpu_total_s": child.cpu_total, "peak_rss_mb": child.peak_rss_mb,
        "overhead_pct": overhead, "first_total": rows[0]["total"], "last_total": rows[-1]["total"],
    }


def peer_argv(model, h, w):
    return [sys.executable, "-m", "export.bench.peer", "--model", model, "--content", CONTENT,
            "--style", STYLE, "--height", str(h), "--width", str(w)]


def json_lines(path):
    with open(path, errors="replace") as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def run_peer(model, h, w, warmup, iters, work):
    log = os.path.join(work, "peer.log")
    child = Child(peer_argv(model, h, w) + ["--iterations", str(warmup + iters)], log)
    child.check("peer")
    its = [e for e in json_lines(log) if e.get("event") == "iteration"]
    t0 = its[warmup - 1]["end"] if warmup > 0 else its[0]["end"] - its[0]["seconds"]
    return {
        "steps": [e["seconds"] for e in its[warmup:]], "first_iter_s": its[0]["seconds"],
        "startup_s": its[0]["end"] - child.start,
        "cpu_per_iter": child.cpu_between(t0, its[-1]["end"]) / iters,
        "cpu_total_s": child.cpu_total, "peak_rss_mb": child.peak_rss_mb,
        "first_total": its[0]["total"], "last_total": its[-1]["total"],
    }


def loss_check(model, h, w, work):
    log = os.path.join(work, "check.log")
    child = Child(peer_argv(model, h, w) + ["--check"], log)
    child.check("loss check")
    found = [e for e in json_lines(log) if e.get("event") == "check"]
    if not found:
        raise BenchError(f"loss check printed no result (log {log})")
    return found[0]


def peak(work):
    log = os.path.join(work, "peak.log")
    child = Child([sys.executable, "-m", "export.bench.peak"], log)
    child.check("peak MatMul")
    return json_lines(log)[-1]


def gflop_per_iter(md, h, w, upto="conv5_1", style=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
                   gram_grad_matmuls=None):
    """Forward and input-gradient FLOPs of the 3x3 convolutions up to `upto`, plus the style
    Grams: forward F^T F and its gradient, two MatMuls where autodiff builds it (export
    format 1, the peer), one where the graph writes it out (format 2: 2 F (D + D^T))."""
    if gram_grad_matmuls is None:
        gram_grad_matmuls = 2 if md.get("format", "/1").endswith("/1") else 1
    flop, cin = 0, 3
    for layer, cout in zip(md["layers"], md["channels"]):
        if layer.endswith("_1") and layer != "conv1_1":
            h, w = math.ceil(h / 2), math.ceil(w / 2)  # 2x2/2 SAME pooling
        flop += 2 * (2 * h * w * 9 * cin * cout)  # forward + gradient w.r.t. the input
        if layer in style:
            flop += (1 + gram_grad_matmuls) * (2 * h * w * cout * cout)
        cin = cout
        if layer == upto:
            break
    return flop / 1e9


def exporter_hash():
    """A digest of the exporter's source: the benchmark's model is re-exported when it changes."""
    import hashlib
    h = hashlib.sha256()
    here = os.path.join(ROOT, "export")
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def ensure_model(model):
    """Exports the full-width random VGG19 once; again when the exporter's source changed
    (its digest is kept beside the model), unless BENCH_MODEL names the user's own model."""
    meta = os.path.join(ROOT, model, "assets.extra", "metadata.json")
    stamp = os.path.join(ROOT, model.rstrip("/") + ".exporter")
    want = exporter_hash()
    if os.path.isfile(meta):
        if "BENCH_MODEL" in os.environ:
            return
        if os.path.isfile(stamp):
            with open(stamp) as f:
                if f.read().strip() == want:
                    return
    print(f"bench: exporting the full-width random VGG19 with the current exporter to {model} (once)", flush=True)
    r = subprocess.run([sys.executable, "-m", "export", "--out", model, "--weights", "random", "--seed", "0",
                        "--force"], cwd=ROOT)
    if r.returncode != 0:
        raise BenchError(f"export of {model} failed (exit {r.returncode})")
    with open(stamp, "w") as f:
        f.write(want + "\n")


def plan(remaining_s, cases_left, s_per_iter, warmup, iters, rounds, reserve_s=30.0):
    """The warm-up and timed counts for the next size so that the sizes left fit in
    remaining_s: this size gets an equal share of what is left (a fast size leaves its
    unused share to the next). Each process costs a start-up (load plus a slow first
    iteration, taken as 8 s + 2 iterations) and one iteration per count after the first;
    the loss check costs one start-up. Never below 1 warm-up + 3 timed, never above the
    asked-for counts."""
    startup = 8.0 + 2.0 * s_per_iter
    share = (remaining_s - reserve_s) / cases_left
    n = int((share - startup - 2 * rounds * startup) / (2 * rounds * s_per_iter)) + 1
    if n >= warmup + iters:
        return warmup, iters
    w = 1 if n < 8 else min(warmup, 2)
    return w, max(3, n - w)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(h, w, check, go_runs, peer_runs, gflop, pk):
    go_s = med([s for r in go_runs for s in r["steps"]])
    peer_s = med([s for r in peer_runs for s in r["steps"]])
    overhead = [o for r in go_runs if r["overhead_pct"] is not None for o in r["overhead_pct"]]
    case = {
        "size": f"{h}x{w}", "height": h, "width": w,
        "go_s_per_iter": go_s, "peer_s_per_iter": peer_s, "ratio": go_s / peer_s,
        "go_overhead_pct": med(overhead) if overhead else None,
        "gflop_per_iter": gflop, "achieved_gflops": gflop / go_s, "peer_achieved_gflops": gflop / peer_s,
        "peak_gflops": pk["float32_gflops"], "peak_fraction": gflop / go_s / pk["float32_gflops"],
        "peak_bf16_gflops": pk.get("bfloat16_gflops"),
        "go_peak_rss_mb": med([r["peak_rss_mb"] for r in go_runs]),
        "peer_peak_rss_mb": med([r["peak_rss_mb"] for r in peer_runs]),
        "go_startup_s": med([r["startup_s"] for r in go_runs]),
        "peer_startup_s": med([r["startup_s"] for r in peer_runs]),
        "go_first_iter_s": med([r["first_iter_s"] for r in go_runs]),
        "peer_first_iter_s": med([r["first_iter_s"] for r in peer_runs]),
        "go_cpu_s_per_iter": med([r["cpu_per_iter"] for r in go_runs]),
        "peer_cpu_s_per_iter": med([r["cpu_per_iter"] for r in peer_runs]),
        "go_cpu_s_total": med([r["cpu_total_s"] for r in go_runs]),
        "peer_cpu_s_total": med([r["cpu_total_s"] for r in peer_runs]),
        "loss_check": check,
        "go_runs": go_runs, "peer_runs": peer_runs,
    }
    return case


def verdict(cases):
    """One line against issue 7's targets."""
    parts = []

    def add(name, ok, detail):
        parts.append(f"{name} {'PASS' if ok else ('n/a' if ok is None else 'FAIL')} ({detail})")

    ratios = [c["ratio"] for c in cases]
    add("Go/peer<=0.85", all(r <= TARGETS["ratio"] for r in ratios), " ".join(f"{r:.2f}" for r in ratios))
    rss = [c["go_peak_rss_mb"] / c["peer_peak_rss_mb"] for c in cases]
    add("RSS<=0.8x", all(r <= TARGETS["rss"] for r in rss), " ".join(f"{r:.2f}" for r in rss))
    ov = [c["go_overhead_pct"] for c in cases]
    if any(o is None for o in ov):
        add("overhead<1%", None, "no tf_seconds column in metrics.csv")
    else:
        add("overhead<1%", all(o < TARGETS["overhead_pct"] for o in ov), " ".join(f"{o:.2f}%" for o in ov))
    pf = [c["peak_fraction"] for c in cases]
    add("peak>=0.5", all(p >= TARGETS["peak_fraction"] for p in pf), " ".join(f"{p:.2f}" for p in pf))
    if len(cases) > 1:
        per_px = [c["go_s_per_iter"] / (c["height"] * c["width"]) for c in cases]
        mid = statistics.mean(per_px)
        dev = [p / mid - 1 for p in per_px]
        add("linear±15%", all(abs(d) <= TARGETS["linear"] for d in dev), " ".join(f"{d:+.0%}" for d in dev))
    su = [(c["go_startup_s"], c["peer_startup_s"]) for c in cases]
    add("start-up<=peer", all(g <= p for g, p in su), " ".join(f"{g:.1f}/{p:.1f}s" for g, p in su))
    return "targets: " + "; ".join(parts)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(cases):
    head = ("size", "Go s/it", "peer s/it", "Go/peer", "Go CPU/it", "peer CPU/it", "Go ovh%",
            "GFLOP/it", "Go GFLOP/s", "peak", "frac", "Go RSS MB", "peer RSS MB", "Go start", "peer start")
    rows = [head]
    for c in cases:
        rows.append((c["size"], fmt(c["go_s_per_iter"], ".3f"), fmt(c["peer_s_per_iter"], ".3f"),
                     fmt(c["ratio"], ".2f"), fmt(c["go_cpu_s_per_iter"], ".2f"), fmt(c["peer_cpu_s_per_iter"], ".2f"),
                     fmt(c["go_overhead_pct"], ".2f"), fmt(c["gflop_per_iter"], ".1f"),
                     fmt(c["achieved_gflops"], ".0f"), fmt(c["peak_gflops"], ".0f"), fmt(c["peak_fraction"], ".2f"),
                     fmt(c["go_peak_rss_mb"], ".0f"), fmt(c["peer_peak_rss_mb"], ".0f"),
                     fmt(c["go_startup_s"], ".1f"), fmt(c["peer_startup_s"], ".1f")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(v.rjust(wd) for v, wd in zip(r, widths)) for r in rows)


def write_results(out_dir, info, pk, pk_end, threads_env, settings, cases, complete):
    """Writes results.json (atomically); called after every size, so a cut-short run keeps
    what it measured (complete: false)."""
    info = dict(info, loadavg_end=os.getloadavg())
    # FLOP per cycle per core in float32 at best: two FMA units of 16 lanes (AVX-512) or 8
    # (AVX2; AMD's Zen 1 splits each 256-bit FMA in two, so half that there).
    per_cycle = 64 if info["flags"].get("avx512f") else 32 if info["flags"].get("fma") else 8
    try:
        info["nominal_float32_gflops"] = info["usable_cores"] * float(info["cpuid"]["cpu MHz"]) * per_cycle / 1000
    except (KeyError, ValueError):
        info["nominal_float32_gflops"] = None
    line = verdict(cases) if cases else "targets: no case measured"
    results = {
        "complete": complete, "machine": info, "tensorflow": pk["tensorflow"],
        "threads": {"env": threads_env, "tensorflow_default": pk["threads"],
                    "note": "0 means TensorFlow picks (one thread per core)"},
        "peak": {"start": pk, "end": pk_end}, "settings": settings,
        "overhead_note": None if cases and all(c["go_overhead_pct"] is not None for c in cases)
        else "go_overhead_pct is null: the runner's metrics.csv has no tf_seconds column",
        "startup_note": "Go start-up is process start to the end of the first evaluation, an upper bound "
                        "by the time to save final.png (metrics.csv has loop-relative times only)",
        "cases": cases, "summary": line,
    }
    path = os.path.join(out_dir, os.environ.get("BENCH_RESULTS", "results.json"))
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=2)
    os.replace(path + ".tmp", path)
    return path, line


def main():
    warmup, iters, rounds = env_int("BENCH_WARMUP", 3), env_int("BENCH_ITERS", 15), env_int("BENCH_ROUNDS", 2)
    fixed = bool(os.environ.get("BENCH_WARMUP") or os.environ.get("BENCH_ITERS"))
    budget = env_int("BENCH_BUDGET_S", 1080)
    began = time.monotonic()
    model = os.environ.get("BENCH_MODEL", ".bench/vgg19-random")
    out_dir = os.path.join(ROOT, os.environ.get("BENCH_OUT", ".bench"))
    todo = sizes()
    if not os.access(RUNNER, os.X_OK):
        raise BenchError(f"{os.path.relpath(RUNNER, ROOT)} is missing: run make build (make bench does)")
    os.makedirs(out_dir, exist_ok=True)
    ensure_model(model)
    with open(os.path.join(ROOT, model, "assets.extra", "metadata.json")) as f:
        md = json.load(f)
    info = machine()
    threads_env = {k: os.environ.get(k) for k in THREAD_ENV}
    print(f"bench: {info['cpu_model']} (family {info['cpuid'].get('cpu family')} model {info['cpuid'].get('model')}, "
          f"{info['cpuid'].get('cpu MHz')} MHz), {info['usable_cores']} cores, "
          f"{' '.join(k for k, v in info['flags'].items() if v)}; model {model} ({md.get('weights')} weights)", flush=True)
    print(f"bench: {warmup} warm-up + {iters} timed iterations"
          f"{'' if fixed else f' (fewer where {budget} s would not hold them)'}, {rounds} rounds of Go, peer; "
          f"thread env {', '.join(f'{k}={v}' for k, v in threads_env.items() if v) or 'unset (TensorFlow defaults)'}; "
          f"load average {info['loadavg_start'][0]:.1f} (other work on the machine makes timings noisy)", flush=True)
    settings = {"warmup": warmup, "iters": iters, "rounds": rounds, "budget_s": None if fixed else budget,
                "model": model,
                "model_format": md.get("format"), "runner": os.path.relpath(RUNNER, ROOT), "content": CONTENT,
                "style": STYLE, "layers": "content conv4_2; style conv1_1..conv5_1 weight 1",
                "style_weight": 500, "learning_rate": 2.0, "noise_ratio": 0.7}
    work = tempfile.mkdtemp(prefix="run-", dir=out_dir)
    try:
        pk = peak(work)
        print(f"bench: TensorFlow {pk['tensorflow']}; peak MatMul {pk['float32_gflops']:.0f} GFLOP/s float32, "
              f"{fmt(pk['bfloat16_gflops'], '.0f')} bfloat16", flush=True)
        cases = []
        # Seconds per iteration before anything is measured: half the machine's peak.
        s_per_gflop = 2.0 / pk["float32_gflops"]
        for i, (h, w) in enumerate(todo):
            gflop = gflop_per_iter(md, h, w)
            cw, ci = (warmup, iters) if fixed else plan(
                budget - (time.monotonic() - began), len(todo) - i, gflop * s_per_gflop, warmup, iters, rounds)
            if (cw, ci) != (warmup, iters):
                print(f"bench: {h}x{w}: {cw} warm-up + {ci} timed iterations to stay within {budget} s "
                      f"(about {gflop * s_per_gflop:.1f} s/iter here)", flush=True)
            check = loss_check(model, h, w, work)
            ok = check["total_rel_diff"] <= 1e-5
            print(f"bench: {h}x{w} loss check: total {check['peer_total']:.6g} vs ours {check['ours_total']:.6g}, "
                  f"relative difference {check['total_rel_diff']:.1e} (gradient {check['grad_rel_diff']:.1e}): "
                  f"{'same work' if ok else 'DIFFERENT'}", flush=True)
            if not ok:
                raise BenchError(f"{h}x{w}: the peer and our graph disagree on the loss "
                                 f"({check['total_rel_diff']:.2e} > 1e-5); timings would compare different work")
            go_runs, peer_runs = [], []
            for r in range(rounds):
                go_runs.append(run_go(model, h, w, cw, ci, work))
                peer_runs.append(run_peer(model, h, w, cw, ci, work))
                print(f"bench: {h}x{w} round {r + 1}: Go {med(go_runs[-1]['steps']):.3f} s/it, "
                      f"peer {med(peer_runs[-1]['steps']):.3f} s/it", flush=True)
            cases.append(summarise(h, w, check, go_runs, peer_runs, gflop, pk))
            cases[-1].update(warmup=cw, iters=ci, rounds=rounds)
            s_per_gflop = max(cases[-1]["go_s_per_iter"], cases[-1]["peer_s_per_iter"]) / gflop
            write_results(out_dir, info, pk, None, threads_env, settings, cases, complete=False)
        pk_end = peak(work)
        for c in cases:  # the machine's best figure in this run
            c["peak_gflops"] = max(pk["float32_gflops"], pk_end["float32_gflops"])
            c["peak_fraction"] = c["achieved_gflops"] / c["peak_gflops"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path, line = write_results(out_dir, info, pk, pk_end, threads_env, settings, cases, complete=True)
    print(table(cases))
    print(f"bench: results in {os.path.relpath(path, ROOT)}")
    print(line)
    return 0


def markdown(path):
    """The README's table from a results.json: python -m export.bench.bench --markdown [FILE]."""
    with open(path) as f:
        r = json.load(f)
    lines = ["| size | Go s/iter | peer s/iter | Go/peer | Go CPU s/iter | peer CPU s/iter | GFLOP/iter "
             "| Go GFLOP/s | peak fraction | Go RSS MB | peer RSS MB | Go start-up s | peer start-up s |",
             "| --- " * 13 + "|"]
    for c in r["cases"]:
        lines.append("| " + " | ".join([
            c["size"], f"{c['go_s_per_iter']:.3f}", f"{c['peer_s_per_iter']:.3f}", f"{c['ratio']:.2f}",
            f"{c['go_cpu_s_per_iter']:.2f}", f"{c['peer_cpu_s_per_iter']:.2f}", f"{c['gflop_per_iter']:.0f}",
            f"{c['achieved_gflops']:.0f}", f"{c['peak_fraction']:.2f}", f"{c['go_peak_rss_mb']:.0f}",
            f"{c['peer_peak_rss_mb']:.0f}", f"{c['go_startup_s']:.1f}", f"{c['peer_startup_s']:.1f}"]) + " |")
    return "\n".join(lines) + "\n\n" + r["summary"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--markdown"]:
        print(markdown(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".bench", "results.json")))
        sys.exit(0)
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)

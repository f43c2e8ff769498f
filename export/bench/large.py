"""make bench-large: peak memory and time per iteration of print-size pictures.

For each size, bin/runner runs the paper's settings (make bench's config, Adam) untiled
(tile 0, where its estimate fits this host's max_memory: the runner refuses it otherwise,
and the row says so) and in exact tiles (tile BENCH_TILE), and the Python peer of make
bench runs where the size is at most BENCH_PEER_MAX_MP megapixels. Each process runs
BENCH_LARGE_ITERS iterations (default 2: the first pays TensorFlow's one-off graph
optimisation; s/iteration is the last one's); peak RSS comes from wait4's rusage. A table
on stdout and .bench/large.json.

Environment: BENCH_SIZES (HxW list, default 864x1152,1728x2304,3000x4000,4000x6000: 1, 4,
12 and 24 MP), BENCH_TILE (default 512: at 24 MP its 672x672 input and the 1.9 GB that
Go holds stay under 5 GB; 768 does not), BENCH_LARGE_ITERS (2), BENCH_PEER_MAX_MP (4), BENCH_MODES
(untiled,tiled,peer), BENCH_MODEL, BENCH_RUNNER, BENCH_OUT as make bench.
"""

import json
import os
import shutil
import sys
import tempfile
import time

from export.bench import bench

DEFAULT_SIZES = "864x1152,1728x2304,3000x4000,4000x6000"
TARGETS = {"rss_gb_24mp": 5.0, "rss_gb_12mp": 3.5, "tiled_over_untiled_4mp": 2.0, "untiled_gb_per_mp": 0.8}


def run_go(model, h, w, tile, iters, work):
    cfg = os.path.join(work, "go.yaml")
    with open(cfg, "w") as f:
        f.write(bench.go_config(model, h, w, max(1, iters - 1)) + f"tile: {tile}\n")
    out = os.path.join(work, "go-out")
    shutil.rmtree(out, ignore_errors=True)
    child = bench.Child([bench.RUNNER, "-config", cfg, "-out", out], os.path.join(work, f"go-{tile}.log"))
    if child.returncode != 0:
        with open(child.log_path, errors="replace") as f:
            lines = [line for line in f.read().splitlines() if line.strip() and not line.startswith("I0000")]
        return {"refused": (lines[-1:] or ["(no output)"])[0], "peak_rss_mb": child.peak_rss_mb}
    with open(os.path.join(out, "bench", "metrics.csv")) as f:
        header = f.readline().strip().split(",")
        rows = [dict(zip(header, map(float, line.split(",")))) for line in f if line.strip()]
    secs = [r["seconds"] for r in rows]
    return {"s_per_iter": secs[-1] - secs[-2] if len(secs) > 1 else secs[0], "first_iter_s": secs[0],
            "peak_rss_mb": child.peak_rss_mb, "wall_s": child.end - child.start,
            "first_total": rows[0]["total"], "last_total": rows[-1]["total"]}


def run_peer(model, h, w, iters, work):
    log = os.path.join(work, "peer.log")
    child = bench.Child(bench.peer_argv(model, h, w) + ["--iterations", str(iters)], log)
    if child.returncode != 0:
        return {"refused": f"peer exited {child.returncode}", "peak_rss_mb": child.peak_rss_mb}
    its = [e for e in bench.json_lines(log) if e.get("event") == "iteration"]
    return {"s_per_iter": its[-1]["seconds"], "first_iter_s": its[0]["seconds"], "peak_rss_mb": child.peak_rss_mb,
            "first_total": its[0]["total"], "last_total": its[-1]["total"]}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    sizes = bench.sizes() if os.environ.get("BENCH_SIZES") else [
        tuple(int(v) for v in s.split("x")) for s in DEFAULT_SIZES.split(",")]
    tile = os.environ.get("BENCH_TILE", "512")
    iters = bench.env_int("BENCH_LARGE_ITERS", 2)
    peer_max = float(os.environ.get("BENCH_PEER_MAX_MP", "4"))
    modes = os.environ.get("BENCH_MODES", "untiled,tiled,peer").split(",")
    model = os.environ.get("BENCH_MODEL", ".bench/vgg19-random")
    out_dir = os.path.join(bench.ROOT, os.environ.get("BENCH_OUT", ".bench"))
    os.makedirs(out_dir, exist_ok=True)
    bench.ensure_model(model)
    info = bench.machine()
    cases = []
    print(f"bench-large: {info['cpu_model']}, {info['usable_cores']} cores; tile {tile}; {iters} iterations each",
          flush=True)
    for h, w in sizes:
        mp = h * w / 1e6
        case = {"height": h, "width": w, "megapixels": round(mp, 2)}
        with tempfile.TemporaryDirectory(prefix="bench-large-") as work:
            if "untiled" in modes:
                case["untiled"] = run_go(model, h, w, 0, iters, work)
            if "tiled" in modes:
                case["tiled"] = run_go(model, h, w, tile, iters, work)
            if "peer" in modes and mp <= peer_max:
                case["peer"] = run_peer(model, h, w, iters, work)
        cases.append(case)
        print(json.dumps(case), flush=True)
    print()
    print("| size | MP | untiled s/it | untiled peak GiB | tiled s/it | tiled peak GiB | peer s/it | peer peak GiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in cases:
        cells = []
        for mode in ("untiled", "tiled", "peer"):
            r = c.get(mode) or {}
            if "refused" in r:
                cells += ["refused", "-"]
            else:
                cells += [fmt(r.get("s_per_iter"), ".1f"),
                          fmt(r["peak_rss_mb"] / 1024 if "peak_rss_mb" in r else None, ".2f")]
        print(f"| {c['width']}x{c['height']} | {c['megapixels']} | " + " | ".join(cells) + " |")
    with open(os.path.join(out_dir, "large.json"), "w") as f:
        json.dump({"machine": info, "tile": tile, "iterations": iters, "targets": TARGETS, "cases": cases,
                   "finished": time.time()}, f, indent=2)
    print(f"\nbench-large: wrote {os.path.relpath(os.path.join(out_dir, 'large.json'), bench.ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bench.BenchError as e:
        print(f"bench-large: {e}", file=sys.stderr)
        sys.exit(1)

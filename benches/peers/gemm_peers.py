#!/usr/bin/env python3
"""GEMM GFLOP/s (2*m*n*k / s) of numpy and torch.mm on the ANCHORS.md shapes.

One process measures one library at one thread count and prints one JSON line. Outputs are
preallocated (np.matmul(out=...), torch.mm(out=...)); the weight of a forward product is stored
row-major [out x in] and passed transposed (x @ w.T), as in a layer; wgrad is dY^T * X. Each
figure is the median over repetitions, each repetition timing enough back-to-back calls to last
at least --min-time seconds. Small shapes include the Python call overhead (a few us per call),
which is what a Python training loop pays. Run it through run_all.py (run.sh), which sets the
thread environment and CPU affinity and holds /tmp/bench.lock.
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

from common import Quiet, clean_reps, threads_from_env

# (label, kind, m, k, n, dtype). kind "nn": A[m x k] * B[k x n]; "fwd": X[m x k] * W^T with
# W [n x k]; "wgrad": dY^T * X with dY [k x m], X [k x n].
SHAPES = (
    [(f"{s}^3", "nn", s, s, s, "f32") for s in (16, 32, 64, 128, 256, 512, 1024, 2048)]
    + [
        (f"fwd {b}x{i}x{o}", "fwd", b, i, o, "f32")
        for b, i, o in ((128, 784, 512), (128, 512, 512), (128, 512, 10), (32, 2, 64), (32, 64, 64))
    ]
    + [("wgrad 128x784x512", "wgrad", 512, 128, 784, "f32")]
    + [(f"f64 {s}^3", "nn", s, s, s, "f64") for s in (512, 1024)]
)


def operands(kind, m, k, n, dtype, rng):
    """Row-major operand arrays (a, b_stored) and whether b is used transposed."""
    def r(*shape):
        return (rng.random(shape) * 2.0 - 1.0).astype(dtype)

    if kind == "nn":
        return r(m, k), r(k, n)
    if kind == "fwd":
        return r(m, k), r(n, k)
    return r(k, m), r(k, n)  # wgrad: a = dY [k x m], b = X [k x n]


def time_calls(call, flops, reps, min_time, quiet):
    """Median GFLOP/s over clean repetitions of back-to-back calls (see common.Quiet)."""
    call()
    t0 = time.perf_counter()
    call()
    one = time.perf_counter() - t0
    # Warm-up for about a quarter of a repetition (caches, thread pools spun up).
    for _ in range(max(1, math.ceil(0.25 * min_time / max(one, 1e-9)))):
        call()
    per_rep = max(1, math.ceil(min_time / max(one, 1e-9)))

    def one_rep():
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(per_rep):
            call()
        wall = time.perf_counter() - t0
        return flops * per_rep / wall / 1e9, time.process_time() - c0, wall

    rates, utils, discarded, dirty = clean_reps(one_rep, reps, quiet)
    med = statistics.median(rates)
    return {"gflops": med, "reps": rates, "calls_per_rep": per_rep,
            "us_per_call": flops / med / 1e3, "cpu_util": statistics.median(utils),
            "discarded_reps": discarded, "dirty_reps": dirty}


def bench_numpy(threads, reps, min_time):
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = np.random.default_rng(0)
    quiet = Quiet(threads)
    out = []
    with threadpool_limits(limits=threads):
        for label, kind, m, k, n, dt in SHAPES:
            dtype = np.float32 if dt == "f32" else np.float64
            a, b = operands(kind, m, k, n, dtype, rng)
            c = np.empty((m, n), dtype)
            if kind == "nn":
                lhs, rhs = a, b
            elif kind == "fwd":
                lhs, rhs = a, b.T
            else:
                lhs, rhs = a.T, b
            r = time_calls(lambda: np.matmul(lhs, rhs, out=c), 2.0 * m * n * k, reps,
                           min_time, quiet)
            assert np.allclose(c, lhs @ rhs, rtol=1e-3, atol=1e-3)
            r["shape"] = label
            out.append(r)
        blas = [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                   "filepath")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    return {"results": out, "blas": blas}


def bench_torch(threads, reps, min_time):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    rng = np.random.default_rng(0)
    quiet = Quiet(threads)
    out = []
    with torch.no_grad():
        for label, kind, m, k, n, dt in SHAPES:
            dtype = np.float32 if dt == "f32" else np.float64
            a, b = (torch.from_numpy(t) for t in operands(kind, m, k, n, dtype, rng))
            c = torch.empty((m, n), dtype=a.dtype)
            if kind == "nn":
                lhs, rhs = a, b
            elif kind == "fwd":
                lhs, rhs = a, b.t()
            else:
                lhs, rhs = a.t(), b
            r = time_calls(lambda: torch.mm(lhs, rhs, out=c), 2.0 * m * n * k, reps,
                           min_time, quiet)
            assert torch.allclose(c, lhs @ rhs, rtol=1e-3, atol=1e-3)
            r["shape"] = label
            out.append(r)
    cfg = torch.__config__.show()
    blas = [line.strip() for line in cfg.splitlines() if "Math Kernel" in line or "MKL-DNN" in line]
    return {"results": out, "blas": blas, "threads_reported": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["numpy", "torch"], required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per repetition")
    args = ap.parse_args()
    threads = threads_from_env()
    fn = bench_numpy if args.lib == "numpy" else bench_torch
    res = fn(threads, args.reps, args.min_time)
    res.update({"lib": args.lib, "threads": threads})
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

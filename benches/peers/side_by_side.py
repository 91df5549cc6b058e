"""Training samples/s of depthlab beside the JAX peers, alternating in one run.

The machine is shared and its speed drifts by up to 2x within minutes, so issue 3's ratios are
read from runs made back to back: in each pass, for each thread count and workload, the JAX
peers (whole epoch in one jit `lax.scan`, and jit per step) run, then depthlab's
`examples/step_timing.rs`, each pinned and threaded as `run_all.py` does it. The ratio of a
pass is depthlab over the best peer of that pass; the table shows the median over passes.

Usage (the virtualenv of README.md's setup; numpy and jax are all it needs):
    cargo build --release -p depthlab-nn --example step_timing
    /work/scratch/peers-venv/bin/python benches/peers/side_by_side.py --passes 3
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from run_all import child_env, run_child

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STEP_TIMING = os.path.join(ROOT, "target", "release", "examples", "step_timing")
PEERS = ["jax_scan", "jax_step"]
LINE = re.compile(r"^(W\d) mode=\S+\s*:\s*(\d+) samples/s median")


def run_depthlab(workload, threads):
    """Median samples/s of step_timing: mode 1 in a 1-thread pool, mode 2 on the 2-thread pool."""
    cpus = "0" if threads == 1 else "0,1"
    mode = "1" if threads == 1 else "2"
    env = child_env(threads)
    env["ONLY"] = workload
    cmd = ["flock", "/tmp/bench.lock", "taskset", "-c", cpus, STEP_TIMING, mode]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m and m.group(1) == workload:
            return float(m.group(2))
    raise RuntimeError(f"no samples/s line for {workload} in step_timing output:\n{out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = ap.parse_args()
    if not os.path.exists(STEP_TIMING):
        sys.exit(f"{STEP_TIMING} is missing: cargo build --release -p depthlab-nn --example step_timing")
    rows = {}
    for p in range(args.passes):
        for threads in args.threads:
            for w in args.workloads:
                cell = {}
                for peer in PEERS:
                    res = run_child("train_peers.py", ["--peer", peer, "--workload", w,
                                                       "--reps", "3"], threads)
                    cell[peer] = res.get("median", float("nan"))
                cell["depthlab"] = run_depthlab(w, threads)
                rows.setdefault((w, threads), []).append(cell)
                print(f"pass {p + 1} {w} {threads}T " +
                      " ".join(f"{k} {v:,.0f}" for k, v in cell.items()), flush=True)
    print()
    print("| workload | threads | depthlab | JAX scan | JAX step | depthlab / best peer, per pass | median |")
    print("|---|---|---|---|---|---|---|")
    for (w, threads), cells in rows.items():
        med = {k: statistics.median(c[k] for c in cells) for k in ["depthlab"] + PEERS}
        ratios = [c["depthlab"] / max(c[p] for p in PEERS) for c in cells]
        print(f"| {w} | {threads} | {med['depthlab']:,.0f} | {med['jax_scan']:,.0f} | "
              f"{med['jax_step']:,.0f} | {', '.join(f'{r:.2f}' for r in ratios)} | "
              f"{statistics.median(ratios):.2f}× |")


if __name__ == "__main__":
    main()

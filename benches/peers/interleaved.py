"""depthlab's training step against JAX's whole-epoch scan, alternating in short rounds.

`side_by_side.py` runs each side for several seconds in its own process, one after the other;
on this shared machine, whose speed moves by up to 2x within minutes, a single pass's ratio
then moved from 1.2x to 1.7x. Here one process holds both sides warm and alternates them
round by round (ABBA order, about `--seconds` each): JAX's epoch function in one child,
depthlab in a `step_timing serve` child, both on the same CPUs. The side not running is
stopped (SIGSTOP), so neither's idle threads (XLA's and rayon's spin before they sleep) take
CPU from the other: with both merely idle, W3 on 2 threads read 49k samples/s interleaved
against 66k alone. Each round gives one ratio from conditions seconds apart; the table shows
their median and quartiles, and each side's median samples/s.

Usage (the virtualenv of README.md's setup; numpy and jax are all it needs):
    cargo build --release -p depthlab-nn --example step_timing
    /work/scratch/peers-venv/bin/python benches/peers/interleaved.py [--rounds 21] \
        [--workloads W1 W2 W3] [--threads 1 2] [--seconds 0.3]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STEP_TIMING = os.path.join(ROOT, "target", "release", "examples", "step_timing")


def jax_epoch_runner(workload):
    """(run(seconds) -> samples/s) for JAX's whole-epoch lax.scan, compiled and warmed up."""
    from train_peers import jax_scan_epoch

    run_epoch, sync, samples, _ = jax_scan_epoch(workload)

    def run(seconds):
        t0 = time.perf_counter()
        epochs = 0
        while time.perf_counter() - t0 < seconds:
            run_epoch()
            sync()
            epochs += 1
        return epochs * samples / (time.perf_counter() - t0)

    run(1.0)  # compile and warm up
    return run


def serve_jax(workload):
    """The JAX side as `step_timing serve` is the depthlab side: `ready`, then one samples/s
    line per line of seconds on stdin."""
    run = jax_epoch_runner(workload)
    print("ready", flush=True)
    for line in sys.stdin:
        print(f"{run(float(line)):.0f}", flush=True)


class Side:
    """A serving child, stopped except while it runs a timed request."""

    def __init__(self, name, cmd):
        self.name = name
        self.child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)
        if self.child.stdout.readline().strip() != "ready":
            sys.exit(f"{name} ({' '.join(cmd)}) did not start (exit {self.child.wait()})")
        self.child.send_signal(signal.SIGSTOP)

    def run(self, seconds):
        self.child.send_signal(signal.SIGCONT)
        self.child.stdin.write(f"{seconds}\n")
        self.child.stdin.flush()
        rate = float(self.child.stdout.readline())
        self.child.send_signal(signal.SIGSTOP)
        return rate

    def close(self):
        self.child.send_signal(signal.SIGCONT)
        self.child.stdin.close()
        self.child.wait()


def cell_main(args):
    """One (workload, thread count): rounds alternating the two sides; prints one JSON line."""
    mode = "1" if args.threads[0] == 1 else "2"
    jax = Side("jax_scan", [sys.executable, os.path.abspath(__file__), "--serve-jax",
                            args.workload])
    ours = Side("depthlab", [STEP_TIMING, "serve", args.workload, mode])
    rates = {"depthlab": [], "jax_scan": []}
    for r in range(args.rounds):
        for side in [jax, ours] if r % 2 == 0 else [ours, jax]:
            rates[side.name].append(side.run(args.seconds))
    jax.close()
    ours.close()
    print(json.dumps(rates))


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--seconds", type=float, default=0.3, help="length of each side's run")
    ap.add_argument("--workloads", nargs="+", choices=["W1", "W2", "W3"],
                    default=["W1", "W2", "W3"])
    ap.add_argument("--threads", nargs="+", type=int, choices=[1, 2], default=[1, 2])
    # Set in the children: one cell, and the JAX side of a cell.
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--serve-jax", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_jax:
        serve_jax(args.serve_jax)
        return
    if args.rounds < 2:
        sys.exit(f"--rounds must be at least 2, got {args.rounds}")
    if not args.seconds > 0:
        sys.exit(f"--seconds must be positive, got {args.seconds}")
    if args.workload:
        cell_main(args)
        return
    if not os.path.exists(STEP_TIMING):
        sys.exit(f"{STEP_TIMING} is missing: cargo build --release -p depthlab-nn --example step_timing")
    from run_all import child_env

    rows = []
    for threads in args.threads:
        for w in args.workloads:
            cpus = "0" if threads == 1 else "0,1"
            cmd = ["flock", "/tmp/bench.lock", "taskset", "-c", cpus, sys.executable,
                   os.path.abspath(__file__), "--workload", w, "--threads", str(threads),
                   "--rounds", str(args.rounds), "--seconds", str(args.seconds)]
            out = subprocess.run(cmd, env=child_env(threads), cwd=HERE, capture_output=True,
                                 text=True)
            if out.returncode != 0:
                sys.exit(f"{w} on {threads} thread(s) failed: {out.stderr.strip()[-800:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            ratios = [a / b for a, b in zip(res["depthlab"], res["jax_scan"])]
            q1, med, q3 = quartiles(ratios)
            rows.append((w, threads, statistics.median(res["depthlab"]),
                         statistics.median(res["jax_scan"]), q1, med, q3))
            print(f"{w} {threads}T: ratio median {med:.2f} (quartiles {q1:.2f}-{q3:.2f})",
                  flush=True)
    print()
    print(f"{args.rounds} rounds of {args.seconds} s per side, alternating (ABBA).")
    print()
    print("| workload | threads | depthlab samples/s | JAX scan samples/s | "
          "depthlab / JAX per round: median | quartiles |")
    print("|---|---|---|---|---|---|")
    for w, t, dl, jx, q1, med, q3 in rows:
        print(f"| {w} | {t} | {dl:,.0f} | {jx:,.0f} | {med:.2f}× | {q1:.2f}–{q3:.2f} |")


if __name__ == "__main__":
    main()

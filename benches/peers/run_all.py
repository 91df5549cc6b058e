#!/usr/bin/env python3
"""Runs every peer benchmark, one subprocess per (peer, workload or library, threads, pass).

Each subprocess gets its thread settings in the environment before it imports anything
(OMP/MKL/OPENBLAS_NUM_THREADS, XLA_FLAGS for one thread), is pinned with taskset to one core
(one thread) or both cores (two threads), and holds /tmp/bench.lock for its whole run, so
imports and JIT compilation never overlap someone else's timed window either. Passes run one
after the other over all combinations; a figure is the median of its pass medians.

Writes results.json next to this file (merging with the sections it did not run) and prints
Markdown tables.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results.json")
PEERS = ["torch", "jax_step", "jax_scan", "sklearn"]
PEER_NAMES = {
    "torch": "PyTorch eager",
    "jax_step": "JAX jit per step",
    "jax_scan": "JAX epoch in one jit lax.scan",
    "sklearn": "scikit-learn MLPClassifier",
}
WORKLOADS = ["W1", "W2", "W3"]
LIBS = ["numpy", "torch"]
THREADS = [1, 2]
SPREAD_FLAG = 1.15


def child_env(threads):
    env = dict(os.environ)
    t = str(threads)
    env.update(PEER_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t)
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    else:
        env.pop("XLA_FLAGS", None)
    return env


def run_child(script, args, threads):
    cpus = "0" if threads == 1 else "0,1"
    cmd = ["flock", "/tmp/bench.lock", "taskset", "-c", cpus, sys.executable,
           os.path.join(HERE, script)] + args
    p = subprocess.run(cmd, env=child_env(threads), cwd=HERE, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-800:]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def summarize(values):
    med = statistics.median(values)
    spread = max(values) / min(values) if min(values) > 0 else float("inf")
    return med, spread


def machine_info():
    info = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "L1d cache", "L2 cache", "L3 cache",
                               "Hypervisor vendor"):
                info[key.strip()] = val.strip()
    except OSError:
        pass
    info["python"] = sys.version.split()[0]
    for mod in ("numpy", "scipy", "sklearn", "jax", "jaxlib", "torch", "threadpoolctl"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as e:  # a missing peer is reported, not fatal
            info[mod] = f"unavailable: {e}"
    return info


def dirty_reps(entry):
    """Disturbed repetitions an entry had to use (older entries: inferred from the discards)."""
    if "dirty_reps" in entry:
        return entry["dirty_reps"]
    return max(0, entry.get("discarded_reps", 0) - 3 * len(entry.get("reps", [])))


def train_child(peer, w, t, p, reps, min_time, log):
    r = run_child("train_peers.py", ["--peer", peer, "--workload", w, "--reps", str(reps),
                                     "--min-time", str(min_time)], t)
    r.update(peer=peer, workload=w, threads=t, pass_index=p)
    log(f"pass {p + 1} train {peer} {w} {t}T: "
        + (r["error"][:200] if "error" in r else f"{r['median']:.0f} samples/s"
           f" (cpu/wall {r['cpu_util']:.2f}, discarded reps {r['discarded_reps']},"
           f" disturbed reps kept {r['dirty_reps']})"))
    return r


def gemm_child(lib, t, p, reps, min_time, log):
    r = run_child("gemm_peers.py", ["--lib", lib, "--reps", str(reps), "--min-time",
                                    str(min_time)], t)
    r.update(lib=lib, threads=t, pass_index=p)
    log(f"pass {p + 1} gemm {lib} {t}T: " + (r["error"][:200] if "error" in r else
        " ".join(f"{x['gflops']:.0f}" for x in r["results"])
        + f" (discarded reps {sum(x['discarded_reps'] for x in r['results'])},"
        f" disturbed kept {sum(x['dirty_reps'] for x in r['results'])})"))
    return r


def run_train(first_pass, passes, reps, min_time, peers, log):
    return [train_child(peer, w, t, p, reps, min_time, log)
            for p in range(first_pass, first_pass + passes)
            for w in WORKLOADS for t in THREADS for peer in peers]


def run_gemm(first_pass, passes, reps, min_time, libs, log):
    return [gemm_child(lib, t, p, reps, min_time, log)
            for p in range(first_pass, first_pass + passes) for t in THREADS for lib in libs]


def aggregate_train(raw):
    rows = []
    for w in WORKLOADS:
        for t in THREADS:
            for peer in PEERS:
                mine = [r for r in raw if (r["peer"], r["workload"], r["threads"]) == (peer, w, t)]
                runs = [r for r in mine if "error" not in r]
                if not mine:
                    continue
                if not runs:
                    rows.append({"peer": peer, "workload": w, "threads": t,
                                 "error": mine[0]["error"]})
                    continue
                med, spread = summarize([r["median"] for r in runs])
                rows.append({
                    "peer": peer, "workload": w, "threads": t, "samples_per_s": med,
                    "pass_medians": [r["median"] for r in runs], "spread": spread,
                    "cpu_util": statistics.median(r["cpu_util"] for r in runs),
                    "finite": all(r.get("finite", True) for r in runs),
                    "discarded_reps": sum(r.get("discarded_reps", 0) for r in runs),
                    "dirty_reps": sum(dirty_reps(r) for r in runs),
                })
    return rows


def aggregate_gemm(raw):
    rows = []
    for lib in LIBS:
        for t in THREADS:
            runs = [r for r in raw if r["lib"] == lib and r["threads"] == t and "error" not in r]
            if not runs:
                continue
            for i, shape in enumerate(x["shape"] for x in runs[0]["results"]):
                res = [r["results"][i] for r in runs]
                med, spread = summarize([x["gflops"] for x in res])
                rows.append({"lib": lib, "threads": t, "shape": shape, "gflops": med,
                             "pass_medians": [x["gflops"] for x in res], "spread": spread,
                             "us_per_call": statistics.median(x["us_per_call"] for x in res),
                             "cpu_util": statistics.median(x.get("cpu_util", 0) for x in res),
                             "discarded_reps": sum(x.get("discarded_reps", 0) for x in res),
                             "dirty_reps": sum(dirty_reps(x) for x in res)})
    return rows


def fmt_rate(v):
    return f"{v / 1000:,.0f}k" if v >= 10000 else f"{v / 1000:.1f}k"


def train_table(sec):
    peers = [p for p in PEERS if any(r["peer"] == p for r in sec["rows"])]
    out = ["| workload | threads | " + " | ".join(PEER_NAMES[p] for p in peers) + " |",
           "|---|---|" + "---|" * len(peers)]
    for w in WORKLOADS:
        for t in THREADS:
            cells = []
            for p in peers:
                r = next((r for r in sec["rows"] if (r["peer"], r["workload"], r["threads"])
                          == (p, w, t)), None)
                if r is None or "error" in r:
                    cells.append("failed")
                    continue
                c = fmt_rate(r["samples_per_s"])
                if r["dirty_reps"]:
                    c += "†"
                if r["spread"] > SPREAD_FLAG:
                    lo, hi = min(r["pass_medians"]), max(r["pass_medians"])
                    c += f" ({fmt_rate(lo)}–{fmt_rate(hi)})"
                cells.append(c)
            out.append(f"| {w} | {t} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def gemm_table(sec):
    cols = [(lib, t) for t in THREADS for lib in LIBS
            if any(r["lib"] == lib and r["threads"] == t for r in sec["rows"])]
    shapes = []
    for r in sec["rows"]:
        if r["shape"] not in shapes:
            shapes.append(r["shape"])
    out = ["| shape | " + " | ".join(f"{lib} {t}T" for lib, t in cols) + " |",
           "|---|" + "---|" * len(cols)]
    for s in shapes:
        cells = []
        for lib, t in cols:
            r = next((r for r in sec["rows"] if (r["lib"], r["threads"], r["shape"])
                      == (lib, t, s)), None)
            if r is None:
                cells.append("–")
                continue
            c = f"{r['gflops']:.0f}" if r["gflops"] >= 10 else f"{r['gflops']:.1f}"
            if r["dirty_reps"]:
                c += "†"
            if r["spread"] > SPREAD_FLAG:
                c += f" ({min(r['pass_medians']):.0f}–{max(r['pass_medians']):.0f})"
            cells.append(c)
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def print_tables(data):
    m = data.get("machine", {})
    print(f"Machine: {m.get('Model name')} ({m.get('CPU(s)')} CPUs), {m.get('date_utc')} UTC")
    if "train" in data:
        print(f"\nTraining, samples/s, median of {data['train']['passes']} pass medians"
              " (range shown when passes differ by >15%):\n")
        print(train_table(data["train"]))
    if "gemm" in data:
        print(f"\nGEMM, GFLOP/s, median of {data['gemm']['passes']} pass medians"
              " (range shown when passes differ by >15%):\n")
        print(gemm_table(data["gemm"]))
    print("\n† some repetitions ran while other processes used the CPU (see README).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["train", "gemm"])
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--add", action="store_true",
                    help="append the new passes to those already in results.json")
    ap.add_argument("--redo-disturbed", action="store_true",
                    help="re-run only the entries in results.json that kept disturbed repetitions")
    ap.add_argument("--peers", nargs="+", choices=PEERS, default=PEERS)
    ap.add_argument("--libs", nargs="+", choices=LIBS, default=LIBS)
    ap.add_argument("--quick", action="store_true", help="short repetitions, for a smoke test")
    ap.add_argument("--tables", action="store_true", help="print tables from results.json only")
    ap.add_argument("--no-write", action="store_true", help="do not write results.json")
    args = ap.parse_args()

    data = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            data = json.load(f)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if not args.tables:
        data["machine"] = machine_info()
        train_cfg = (2, 0.1) if args.quick else (5, 0.5)
        gemm_cfg = (2, 0.05) if args.quick else (7, 0.3)
        for name, cfg in (("train", train_cfg), ("gemm", gemm_cfg)):
            if args.only not in (None, name):
                continue
            old = data.get(name, {}).get("raw", []) if (args.add or args.redo_disturbed) else []
            if args.redo_disturbed:
                raw = []
                for e in old:
                    bad = "error" in e or (dirty_reps(e) if name == "train" else
                                           sum(dirty_reps(x) for x in e["results"]))
                    if not bad:
                        raw.append(e)
                    elif name == "train":
                        raw.append(train_child(e["peer"], e["workload"], e["threads"],
                                               e["pass_index"], *cfg, log))
                    else:
                        raw.append(gemm_child(e["lib"], e["threads"], e["pass_index"], *cfg, log))
            else:
                first = 1 + max((e["pass_index"] for e in old), default=-1)
                fn = run_train if name == "train" else run_gemm
                which = args.peers if name == "train" else args.libs
                raw = old + fn(first, args.passes, *cfg, which, log)
            data[name] = {"raw": raw, "passes": len({e["pass_index"] for e in raw}),
                          "reps": cfg[0], "min_rep_time_s": cfg[1],
                          "date_utc": data["machine"]["date_utc"]}
        for name, agg in (("train", aggregate_train), ("gemm", aggregate_gemm)):
            if name in data:
                data[name]["rows"] = agg(data[name]["raw"])
        if not args.no_write:
            with open(RESULTS, "w") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
    for name, agg in (("train", aggregate_train), ("gemm", aggregate_gemm)):
        if name in data:
            data[name]["rows"] = agg(data[name]["raw"])
    print_tables(data)


if __name__ == "__main__":
    main()

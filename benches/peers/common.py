"""Shared pieces of the peer benchmarks: workloads, data and the timing loop.

Every benchmark process measures one (peer, thread count) combination; the driver
(run_all.py) sets the thread environment and CPU affinity before the process starts, because
BLAS and XLA read their thread settings only at import time.
"""

import math
import os
import statistics
import time

import numpy as np

# The ANCHORS.md training workloads. `n` is the number of samples per epoch; it is rounded down
# to whole batches so that every peer (including lax.scan, which needs equal slices) runs the
# same batches in the same order.
WORKLOADS = {
    "W1": {"sizes": [2, 64, 64, 64, 2], "batch": 32, "n": 2048},
    "W2": {"sizes": [64, 256, 256, 10], "batch": 64, "n": 1797},
    "W3": {"sizes": [784, 512, 512, 10], "batch": 128, "n": 4096},
}

LEARNING_RATE = 0.1


def threads_from_env():
    """The thread count the driver asked for (PEER_THREADS), default 1."""
    return int(os.environ.get("PEER_THREADS", "1"))


def two_spirals(n, rng):
    """Two interleaved spirals in 2-D with labels 0/1 (values only; they do not change the work)."""
    half = n // 2
    t = np.sqrt(rng.random(half)) * 3.0 * math.pi
    a = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3.0 * math.pi)
    b = -a
    x = np.concatenate([a, b]) + rng.normal(0.0, 0.02, size=(2 * half, 2))
    y = np.concatenate([np.zeros(half, np.int64), np.ones(half, np.int64)])
    order = rng.permutation(2 * half)
    return x[order].astype(np.float32), y[order]


def workload_data(name, seed=0):
    """(x [n_used, in] f32, y [n_used] int64, batch, n_batches) for a workload."""
    w = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    batch = w["batch"]
    n_batches = w["n"] // batch
    n_used = n_batches * batch
    n_in, n_out = w["sizes"][0], w["sizes"][-1]
    if name == "W1":
        x, y = two_spirals(n_used, rng)
    else:
        # Digits-shaped (W2) or MNIST-shaped (W3) random inputs in [0, 1) and random labels.
        x = rng.random((n_used, n_in), dtype=np.float32)
        y = rng.integers(0, n_out, size=n_used).astype(np.int64)
    return x, y, batch, n_batches


class Quiet:
    """Detects other processes' CPU use during a timed repetition.

    Other people's builds and tests on this 2-core machine do not take /tmp/bench.lock; a
    second thread that loses its core to them stalls every barrier, which can slow a two-thread
    GEMM tenfold. Busy time from /proc/stat (all CPUs for two threads, cpu0 for one thread,
    where the driver pins us) minus this process's own CPU time gives the cores used by
    others; a repetition during which that exceeds `threshold` cores is discarded and redone.
    """

    def __init__(self, threads, threshold=0.15, wait_budget=90.0):
        self.key = "cpu" if threads > 1 else "cpu0"
        self.threshold = threshold
        self.hz = os.sysconf("SC_CLK_TCK")
        # Total seconds this process may wait for quiet while holding the lock, so that a
        # long build elsewhere cannot keep /tmp/bench.lock from the others for long.
        self.wait_budget = wait_budget

    def _busy(self):
        with open("/proc/stat") as f:
            for line in f:
                parts = line.split()
                if parts[0] == self.key:
                    v = [int(x) for x in parts[1:9]]
                    # user nice system idle iowait irq softirq steal: all but idle and iowait.
                    return (sum(v) - v[3] - v[4]) / self.hz
        return 0.0

    def snapshot(self):
        return (self._busy(), time.process_time(), time.perf_counter())

    def others(self, s0, s1):
        """Cores used by other processes between two snapshots."""
        wall = s1[2] - s0[2]
        return max(0.0, ((s1[0] - s0[0]) - (s1[1] - s0[1])) / max(wall, 1e-9))

    def wait(self, window=0.25):
        """Sleeps until a `window` passes with other load under the threshold, within budget."""
        while self.wait_budget > 0:
            s0 = self.snapshot()
            time.sleep(window)
            s1 = self.snapshot()
            self.wait_budget -= s1[2] - s0[2]
            if self.others(s0, s1) < self.threshold:
                return True
        return False


def clean_reps(one_rep, reps, quiet, max_attempts_factor=4):
    """Runs `one_rep()` (returns (rate, cpu_seconds, wall)) until `reps` clean repetitions.

    Returns (rates, cpu/wall ratios, disturbed repetitions thrown away, disturbed repetitions
    kept). After `max_attempts_factor * reps` attempts disturbed ones fill up the count, so
    the run always finishes; the last number says how many figures are disturbed.
    """
    clean, dirty = [], []
    attempts = 0
    while len(clean) < reps and attempts < max_attempts_factor * reps:
        attempts += 1
        quiet.wait()
        s0 = quiet.snapshot()
        rate, cpu, wall = one_rep()
        other = quiet.others(s0, quiet.snapshot())
        (clean if other < quiet.threshold else dirty).append((rate, cpu / wall))
    kept = 0
    while len(clean) < reps and dirty:
        clean.append(dirty.pop())
        kept += 1
    return [r for r, _ in clean], [u for _, u in clean], len(dirty), kept


def measure(run_epoch, sync, samples_per_epoch, reps=5, min_rep_time=0.5, warmup_time=1.0,
            threads=1):
    """Median samples/s over `reps` timed repetitions of whole epochs, after warm-up.

    `run_epoch()` runs one epoch; `sync()` waits for asynchronous work (JAX) to finish. Each
    repetition runs enough epochs to last at least `min_rep_time` seconds; repetitions during
    which other processes used the CPU are redone (see Quiet). Also reports this process's CPU
    time divided by wall time (about 1 on one thread, up to 2 on two), as a check that the
    thread setting took effect.
    """
    # Warm-up: compile, allocate, fault in pages; at least two epochs.
    start = time.perf_counter()
    epochs = 0
    while epochs < 2 or time.perf_counter() - start < warmup_time:
        run_epoch()
        epochs += 1
    sync()
    t0 = time.perf_counter()
    run_epoch()
    sync()
    one = time.perf_counter() - t0
    per_rep = max(1, math.ceil(min_rep_time / max(one, 1e-9)))

    def one_rep():
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(per_rep):
            run_epoch()
        sync()
        wall = time.perf_counter() - t0
        return per_rep * samples_per_epoch / wall, time.process_time() - c0, wall

    rates, utils, discarded, dirty = clean_reps(one_rep, reps, Quiet(threads))
    return {
        "dirty_reps": dirty,
        "median": statistics.median(rates),
        "reps": rates,
        "epochs_per_rep": per_rep,
        "cpu_util": statistics.median(utils),
        "discarded_reps": discarded,
    }

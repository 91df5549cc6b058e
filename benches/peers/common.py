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


def measure(run_epoch, sync, samples_per_epoch, reps=5, min_rep_time=0.5, warmup_time=1.0):
    """Median samples/s over `reps` timed repetitions of whole epochs, after warm-up.

    `run_epoch()` runs one epoch; `sync()` waits for asynchronous work (JAX) to finish. Each
    repetition runs enough epochs to last at least `min_rep_time` seconds. Also reports the
    process CPU time divided by wall time (about 1 on one thread, up to 2 on two), as a check
    that the thread setting took effect.
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
    rates = []
    utils = []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(per_rep):
            run_epoch()
        sync()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        rates.append(per_rep * samples_per_epoch / wall)
        utils.append(cpu / wall)
    return {
        "median": statistics.median(rates),
        "reps": rates,
        "epochs_per_rep": per_rep,
        "cpu_util": statistics.median(utils),
    }

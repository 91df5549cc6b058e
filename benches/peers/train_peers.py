#!/usr/bin/env python3
"""Training throughput (samples/s) of Python peers on the ANCHORS.md workloads W1-W3.

One process measures one peer on one workload at one thread count and prints one JSON line.
A step is forward + softmax cross-entropy + backward + plain SGD update (lr 0.1, f32), batches
in a fixed order, timed after warm-up/compilation. Run it through run_all.py (run.sh), which
sets the thread environment and CPU affinity before the process starts and holds
/tmp/bench.lock.

Peers:
  torch     PyTorch eager: nn.Linear layers, F.cross_entropy, torch.optim.SGD, one Python step
            per batch.
  jax_step  JAX: one jit-compiled step (grad + update, parameters donated) called per batch.
  jax_scan  JAX: a whole epoch in one jit-compiled lax.scan over the batches.
  sklearn   scikit-learn MLPClassifier, solver='sgd', partial_fit = one epoch.
"""

import argparse
import json
import sys

import numpy as np

from common import LEARNING_RATE, WORKLOADS, measure, threads_from_env, workload_data


def bench_torch(name, threads, reps, min_time):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    sizes = WORKLOADS[name]["sizes"]
    x, y, batch, nb = workload_data(name)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)
    xs = [torch.from_numpy(x[i * batch:(i + 1) * batch].copy()) for i in range(nb)]
    ys = [torch.from_numpy(y[i * batch:(i + 1) * batch].copy()) for i in range(nb)]

    def run_epoch():
        for xb, yb in zip(xs, ys):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()

    res = measure(run_epoch, lambda: None, nb * batch, reps, min_time,
                  threads=threads)
    res["finite"] = bool(all(torch.isfinite(p).all() for p in model.parameters()))
    res["threads_reported"] = torch.get_num_threads()
    return res


def _jax_model(name):
    import jax
    import jax.numpy as jnp

    sizes = WORKLOADS[name]["sizes"]
    key = jax.random.PRNGKey(0)
    params = []
    for i in range(len(sizes) - 1):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(sizes[i])
        w = jax.random.uniform(kw, (sizes[i], sizes[i + 1]), jnp.float32, -bound, bound)
        b = jax.random.uniform(kb, (sizes[i + 1],), jnp.float32, -bound, bound)
        params.append((w, b))

    def loss_fn(p, xb, yb):
        h = xb
        for w, b in p[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = p[-1]
        logp = jax.nn.log_softmax(h @ w + b)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def step(p, xb, yb):
        g = jax.grad(loss_fn)(p, xb, yb)
        return jax.tree_util.tree_map(lambda a, d: a - LEARNING_RATE * d, p, g)

    return params, step


def _finite(params):
    import jax.numpy as jnp

    return bool(all(bool(jnp.isfinite(a).all()) for wb in params for a in wb))


def bench_jax_step(name, threads, reps, min_time):
    import jax

    params, step = _jax_model(name)
    jstep = jax.jit(step, donate_argnums=0)
    x, y, batch, nb = workload_data(name)
    xs = [jax.device_put(x[i * batch:(i + 1) * batch]) for i in range(nb)]
    ys = [jax.device_put(y[i * batch:(i + 1) * batch].astype(np.int32)) for i in range(nb)]
    state = {"p": params}

    def run_epoch():
        p = state["p"]
        for xb, yb in zip(xs, ys):
            p = jstep(p, xb, yb)
        state["p"] = p

    res = measure(run_epoch, lambda: jax.block_until_ready(state["p"]), nb * batch,
                  reps, min_time, threads=threads)
    res["finite"] = _finite(state["p"])
    return res


def jax_scan_epoch(name):
    """JAX's whole epoch in one jit-compiled lax.scan over the batches: (run_epoch, sync,
    samples per epoch, params), where run_epoch() starts one epoch, sync() waits for it and
    params() is the current parameters. Not compiled until the first epoch runs."""
    import jax

    params, step = _jax_model(name)

    def epoch(p, xs, ys):
        p, _ = jax.lax.scan(lambda c, b: (step(c, b[0], b[1]), None), p, (xs, ys))
        return p

    jepoch = jax.jit(epoch, donate_argnums=0)
    x, y, batch, nb = workload_data(name)
    xs = jax.device_put(x.reshape(nb, batch, -1))
    ys = jax.device_put(y.astype(np.int32).reshape(nb, batch))
    state = {"p": params}

    def run_epoch():
        state["p"] = jepoch(state["p"], xs, ys)

    return run_epoch, lambda: jax.block_until_ready(state["p"]), nb * batch, lambda: state["p"]


def bench_jax_scan(name, threads, reps, min_time):
    run_epoch, sync, samples, params = jax_scan_epoch(name)
    res = measure(run_epoch, sync, samples, reps, min_time, threads=threads)
    res["finite"] = _finite(params())
    return res


def bench_sklearn(name, threads, reps, min_time):
    import warnings

    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_info, threadpool_limits

    warnings.filterwarnings("ignore")
    sizes = WORKLOADS[name]["sizes"]
    x, y, batch, nb = workload_data(name)
    classes = np.arange(sizes[-1])
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="relu",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        batch_size=batch,
        alpha=0.0,
        shuffle=False,
        random_state=0,
    )
    with threadpool_limits(limits=threads):
        clf.partial_fit(x, y, classes=classes)

        def run_epoch():
            clf.partial_fit(x, y)

        res = measure(run_epoch, lambda: None, nb * batch, reps, min_time,
                  threads=threads)
        res["blas"] = [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    res["finite"] = bool(all(np.isfinite(c).all() for c in clf.coefs_))
    res["dtype"] = str(clf.coefs_[0].dtype)
    # Binary problems (W1) get one logistic output unit in scikit-learn, not two softmax units.
    res["output_units"] = int(clf.coefs_[-1].shape[1])
    return res


PEERS = {
    "torch": bench_torch,
    "jax_step": bench_jax_step,
    "jax_scan": bench_jax_scan,
    "sklearn": bench_sklearn,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", choices=sorted(PEERS), required=True)
    ap.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition")
    args = ap.parse_args()
    threads = threads_from_env()
    res = PEERS[args.peer](args.workload, threads, args.reps, args.min_time)
    res.update({"peer": args.peer, "workload": args.workload, "threads": threads})
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

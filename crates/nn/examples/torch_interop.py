#!/usr/bin/env python3
"""Checks with real PyTorch that depthlab's safetensors files interoperate both ways.

    /path/to/venv/bin/python crates/nn/examples/torch_interop.py [DIR]

needs `pip install torch safetensors`. DIR (default: a temporary folder, removed afterwards)
receives every file both sides write.

1. depthlab -> torch: `torch_interop export DIR` writes each case's model and an input batch
   with depthlab's output. Here the model's "depthlab.config" metadata builds the matching
   `nn.Sequential`, `load_state_dict(..., strict=True)` loads the file, and torch's output on
   the same `x` is compared with depthlab's. The "depthlab.modules" line is also evaluated as
   PyTorch code and must give the same modules, so Rust's `Activation::torch_module` and the
   mapping below cannot drift apart.
2. torch -> depthlab: a freshly seeded torch model per case is saved with
   `safetensors.torch.save_file(model.state_dict(), ...)` (no metadata) with its own `x`/`y`,
   and `torch_interop check DIR` loads it with `load_safetensors_into` and compares.

Errors are `max|dy| / max|y|` (relative to the output scale: an output near zero has no
meaningful relative error of its own); a case passes within TOL_EPS machine epsilons of its
dtype, the same rule as the Rust side. Then the check is shown not to pass vacuously: strict
loading into a net with one Linear too few must raise, near-miss activation mappings must
exceed the tolerance, and `check` must fail (with exit status 1, without a panic) on a copy
whose output was nudged and one whose file lacks a tensor.

Exit status 0 when everything behaves, 1 otherwise.
"""

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from safetensors import safe_open
from torch import nn

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ["cargo", "run", "--release", "--quiet", "-p", "depthlab-nn",
           "--example", "torch_interop", "--"]
# Same rule as TOL_EPS in torch_interop.rs; the reasoning is there.
TOL_EPS = 40.0
ROWS = 17
X_RANGE = 3.0


def tolerance(dtype):
    return TOL_EPS * torch.finfo(dtype).eps


def activation(spec):
    """The torch module for a depthlab activation string such as "elu(1.5)"."""
    m = re.fullmatch(r"\s*([a-z_]+)\s*(?:\(([^)]*)\))?\s*", spec)
    if not m:
        raise ValueError(f"unparsable activation {spec!r}")
    name, arg = m.group(1), m.group(2)
    alpha = float(arg) if arg is not None else None
    if arg is not None and name not in ("leaky_relu", "elu"):
        raise ValueError(f"activation {spec!r} takes no parameter")
    # Defaults spelled out: these are the values depthlab's own defaults must equal.
    table = {
        "identity": lambda: nn.Identity(),
        "linear": lambda: nn.Identity(),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(negative_slope=0.01 if alpha is None else alpha),
        "elu": lambda: nn.ELU(alpha=1.0 if alpha is None else alpha),
        "gelu": lambda: nn.GELU(approximate="none"),
        "softplus": lambda: nn.Softplus(beta=1.0, threshold=20.0),
        "silu": lambda: nn.SiLU(),
    }
    if name not in table:
        raise ValueError(f"unknown activation {spec!r}")
    return table[name]()


def build(cfg, act=None):
    """The `nn.Sequential` of a depthlab MlpConfig (as its JSON), optionally with `act`."""
    widths = [cfg["input"], *cfg["hidden"], cfg["output"]]
    layers = []
    for l, (i, o) in enumerate(zip(widths, widths[1:])):
        if l:
            layers.append(act() if act else activation(cfg["activation"]))
        layers.append(nn.Linear(i, o, bias=cfg["bias"]))
    return nn.Sequential(*layers)


def describe(seq):
    """Each module's class and the settings that change what it computes."""
    out = []
    for m in seq:
        if isinstance(m, nn.Linear):
            params = (m.in_features, m.out_features, m.bias is not None)
        elif isinstance(m, nn.LeakyReLU):
            params = (float(m.negative_slope),)
        elif isinstance(m, nn.ELU):
            params = (float(m.alpha),)
        elif isinstance(m, nn.GELU):
            params = (m.approximate,)
        elif isinstance(m, nn.Softplus):
            params = (float(m.beta), float(m.threshold))
        else:
            params = ()
        out.append((type(m).__name__, params))
    return out


def from_modules_line(line):
    # The line is meant to read as PyTorch constructor code; only torch.nn is in scope.
    return eval(line, {"__builtins__": {}}, dict(vars(nn)))


def errors(got, want):
    """(max|got - want|, that over max|want|) in float64; NaN anywhere gives NaN."""
    d = (got.double() - want.double()).abs()
    max_abs = float("nan") if torch.isnan(d).any() else float(d.max())
    scale = float(want.double().abs().max())
    return max_abs, (max_abs / scale if scale > 0 else max_abs)


def depthlab_cases(folder):
    return sorted(p.name[len("depthlab_"):-len(".safetensors")]
                  for p in folder.glob("depthlab_*.safetensors")
                  if not p.name.endswith(".io.safetensors"))


def load_depthlab(folder, case):
    path = folder / f"depthlab_{case}.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    state = safetensors.torch.load_file(str(path))
    dtypes = {t.dtype for t in state.values()}
    if len(dtypes) != 1:
        raise ValueError(f"{path}: mixed dtypes {dtypes}")
    io = safetensors.torch.load_file(str(folder / f"depthlab_{case}.io.safetensors"))
    return json.loads(meta["depthlab.config"]), meta["depthlab.modules"], state, dtypes.pop(), io


def depthlab_to_torch(folder, cases):
    print("\ndirection 1: depthlab -> torch (load_state_dict strict=True, torch forward)")
    print(f"{'case':<16} {'dtype':<7} {'max_abs':>9} {'max_rel':>9} {'tol':>7}  "
          f"{'dl-vs-f64':>9} {'pt-vs-f64':>9}  modules  result")
    worst, failed = {}, set()
    for case in cases:
        try:
            cfg, modules, state, dtype, io = load_depthlab(folder, case)
            model = build(cfg).to(dtype)
            model.load_state_dict(state, strict=True)
            same_modules = describe(model) == describe(from_modules_line(modules))
            x, y = io["x"], io["y"]
            if x.dtype != dtype or y.dtype != dtype:
                raise ValueError(f"x/y are {x.dtype}/{y.dtype}, the model {dtype}")
            with torch.no_grad():
                y_torch = model(x)
                # The same weights and inputs in float64: which side sits closer to the math.
                y_ref = copy.deepcopy(model).double()(x.double())
        except Exception as e:  # noqa: BLE001 - one failing case must not hide the rest
            print(f"{case:<16} FAIL: {type(e).__name__}: {e}")
            failed.add(case)
            continue
        max_abs, rel = errors(y, y_torch)
        _, dl_ref = errors(y, y_ref)
        _, pt_ref = errors(y_torch, y_ref)
        tol = tolerance(dtype)
        passed = rel <= tol and same_modules
        if not passed:
            failed.add(case)
        name = str(dtype).removeprefix("torch.")
        if passed:
            w = worst.setdefault(case.rsplit("_", 1)[1], [0.0, 0.0])
            w[0], w[1] = max(w[0], max_abs), max(w[1], rel)
        print(f"{case:<16} {name:<7} {max_abs:9.2e} {rel:9.2e} {tol:7.1e}  "
              f"{dl_ref:9.2e} {pt_ref:9.2e}  {'same' if same_modules else 'DIFFER'}"
              f"     {'ok' if passed else 'FAIL'}")
    return failed, worst


def torch_inputs(seed, cols, dtype):
    g = torch.Generator().manual_seed(seed)
    x = (2 * torch.rand(ROWS, cols, generator=g, dtype=torch.float64) - 1) * X_RANGE
    return x.to(dtype)


def write_torch(folder, cases):
    """Fresh torch models (torch's own default init) with x/y, as a PyTorch user saves them."""
    for seed, case in enumerate(cases, start=2000):
        cfg, _, _, dtype, _ = load_depthlab(folder, case)
        torch.manual_seed(seed)
        model = build(cfg).to(dtype)
        x = torch_inputs(seed, cfg["input"], dtype)
        with torch.no_grad():
            y = model(x)
        safetensors.torch.save_file(model.state_dict(), str(folder / f"torch_{case}.safetensors"))
        safetensors.torch.save_file({"x": x, "y": y},
                                    str(folder / f"torch_{case}.io.safetensors"))


LINE = re.compile(r"torch_(\S+)\s+(?:rows=\d+\s+max_abs=(\S+)\s+max_rel=(\S+)\s+tol=(\S+)\s+"
                  r"(ok|FAIL)|(FAIL: .*))$")


def run_check(folder):
    """Runs the Rust `check`; returns (exit status, {case: parsed line}, stderr)."""
    p = subprocess.run([*EXAMPLE, "check", str(folder)], cwd=ROOT, capture_output=True,
                       text=True)
    rows = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            rows[m.group(1)] = m
    return p.returncode, rows, p.stdout, p.stderr


def torch_to_depthlab(folder, cases):
    print("\ndirection 2: torch -> depthlab (save_file(state_dict), load_safetensors_into, "
          "depthlab forward)")
    rc, rows, out, err = run_check(folder)
    print(f"{'case':<16} {'max_abs':>9} {'max_rel':>9} {'tol':>7}  result")
    worst, ok, failed = {}, rc == 0, set()
    for case in cases:
        m = rows.get(case)
        if m is None:
            print(f"{case:<16} FAIL: no line from check")
            failed.add(case)
        elif m.group(6):
            print(f"{case:<16} {m.group(6)}")
            failed.add(case)
        else:
            max_abs, rel = float(m.group(2)), float(m.group(3))
            if m.group(5) == "ok":
                w = worst.setdefault(case.rsplit("_", 1)[1], [0.0, 0.0])
                w[0], w[1] = max(w[0], max_abs), max(w[1], rel)
            else:
                failed.add(case)
            print(f"{case:<16} {max_abs:9.2e} {rel:9.2e} {float(m.group(4)):7.1e}  "
                  f"{m.group(5)}")
    ok &= not failed
    extra = set(rows) - set(cases)
    if extra or (rc != 0 and ok):
        print(f"check exit status {rc}, unexpected lines for {sorted(extra)}:\n{out}{err}")
        ok = False
    if err.strip():
        print(f"check stderr: {err.strip()}")
    return ok, worst, failed


def not_vacuous(folder, cases, already_failed):
    """True when every deliberately wrong setup is caught; `already_failed` are the cases the
    real `check` failed, which the damaged copy must fail as well."""
    print("\nnegative controls (each must be caught)")
    ok = True
    # 1. strict=True refuses a state dict for a different architecture.
    refused, first = 0, ""
    deep = [c for c in cases if load_depthlab(folder, c)[0]["hidden"]]
    for case in deep:
        cfg, _, state, dtype, _ = load_depthlab(folder, case)
        short = dict(cfg, hidden=cfg["hidden"][:-1])
        try:
            build(short).to(dtype).load_state_dict(state, strict=True)
        except RuntimeError as e:
            refused += 1
            # The first line only says "Error(s) in loading"; the next one names the keys.
            first = " ".join(str(e).split("\n")[1:2]).strip()
    good = refused == len(deep)
    ok &= good
    print(f"  strict=True into one Linear too few: refused {refused}/{len(deep)} "
          f"({'ok' if good else 'FAIL'}); e.g. {first!r}")
    # 2. Near-miss activation mappings change the output by more than the tolerance.
    for case, wrong, label in [
        ("gelu_f32", lambda: nn.GELU(approximate="tanh"), "GELU(approximate='tanh')"),
        ("leaky_relu_f32", lambda: nn.LeakyReLU(), "LeakyReLU() default slope"),
        ("elu_f32", lambda: nn.ELU(), "ELU() default alpha"),
    ]:
        cfg, _, state, dtype, io = load_depthlab(folder, case)
        model = build(cfg, act=wrong).to(dtype)
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            _, rel = errors(io["y"], model(io["x"]))
        caught = rel > tolerance(dtype)
        ok &= caught
        print(f"  {case} with {label}: max_rel {rel:.2e} "
              f"{'> tol, caught' if caught else '<= tol, NOT caught: FAIL'}")
    # 3. The Rust check fails, cleanly, on a nudged output and on a file missing a tensor.
    with tempfile.TemporaryDirectory(prefix="torch_interop_bad_") as bad:
        bad = Path(bad)
        for p in folder.glob("torch_*.safetensors"):
            shutil.copy(p, bad / p.name)
        nudged, cut = "tanh_f32", "relu_f64"
        io_path = bad / f"torch_{nudged}.io.safetensors"
        io = safetensors.torch.load_file(str(io_path))
        y = io["y"].clone()
        y[ROWS // 2, 1] += 1e-4 * float(y.abs().max())
        safetensors.torch.save_file({"x": io["x"], "y": y}, str(io_path))
        w_path = bad / f"torch_{cut}.safetensors"
        state = safetensors.torch.load_file(str(w_path))
        del state["2.bias"]
        safetensors.torch.save_file(state, str(w_path))
        rc, rows, out, err = run_check(bad)
        failed = sorted(c for c, m in rows.items() if m.group(6) or m.group(5) == "FAIL")
        want = sorted(set(already_failed) | {nudged, cut})
        good = rc == 1 and failed == want and "panicked" not in err
        ok &= good
        print(f"  check on a copy with {nudged}'s y nudged by 1e-4 and {cut} missing 2.bias: "
              f"exit {rc}, failed {failed}, expected {want} ({'ok' if good else 'FAIL'})")
        for case in (nudged, cut):
            if case in rows:
                print(f"    {rows[case].group(0)}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", nargs="?", help="folder for the files (default: temporary)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}, "
          f"python {sys.version.split()[0]}")
    tmp = None
    if args.dir:
        folder = Path(args.dir).resolve()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="torch_interop_")
        folder = Path(tmp.name)
    try:
        export = subprocess.run([*EXAMPLE, "export", str(folder)], cwd=ROOT,
                                capture_output=True, text=True)
        if export.returncode != 0:
            print(f"export failed ({export.returncode}):\n{export.stdout}{export.stderr}")
            return 1
        cases = depthlab_cases(folder)
        if not cases:
            print(f"export wrote no depthlab_<case>.safetensors into {folder}")
            return 1
        failed1, worst1 = depthlab_to_torch(folder, cases)
        write_torch(folder, cases)
        ok2, worst2, failed2 = torch_to_depthlab(folder, cases)
        ok3 = not_vacuous(folder, cases, failed2)
        print("\nworst over the passing cases (max_abs, max_rel):")
        for label, worst in [("depthlab -> torch", worst1), ("torch -> depthlab", worst2)]:
            parts = ", ".join(f"{k}: {a:.2e}, {r:.2e}" for k, (a, r) in sorted(worst.items()))
            print(f"  {label}: {parts}")
        ok = not failed1 and ok2 and ok3
        summary = f"{len(cases)} cases: {'PASS' if ok else 'FAIL'}"
        if failed1 or failed2:
            summary += (f"; failed depthlab -> torch: {sorted(failed1)}, "
                        f"torch -> depthlab: {sorted(failed2)}")
        print(f"\n{summary}")
        return 0 if ok else 1
    finally:
        if tmp:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())

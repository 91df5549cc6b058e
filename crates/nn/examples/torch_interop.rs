//! The Rust half of a check that depthlab's safetensors files and PyTorch's interoperate both
//! ways; `torch_interop.py` beside it drives both halves and holds the PyTorch half.
//!
//! `cargo run --release -p depthlab-nn --example torch_interop -- export DIR`
//! writes, for every case of [`cases`], `DIR/depthlab_<case>.safetensors` (the model, saved
//! with `save_safetensors`) and `DIR/depthlab_<case>.io.safetensors` (a seeded input batch `x`
//! and depthlab's output `y`).
//!
//! `cargo run --release -p depthlab-nn --example torch_interop -- check DIR`
//! loads every `DIR/torch_<case>.safetensors` (a PyTorch `state_dict`, no metadata) into a
//! model of the case's architecture with `load_safetensors_into`, runs the
//! `x` of `DIR/torch_<case>.io.safetensors` through it and compares with PyTorch's `y`. One
//! line per case; exit status 1 when any case fails, is missing or is unknown.
//!
//! Errors are measured relative to the output scale, `max|Δy| / max|y_torch|`, because an
//! output near zero has no meaningful relative error of its own. The tolerance is
//! [`TOL_EPS`] machine epsilons of the case's type (see [`tolerance`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use depthlab_nn::{
    Activation, Float, Init, Matrix, Mlp, MlpConfig, load_matrix, load_safetensors_into,
    save_matrices, save_safetensors,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows of every input batch: prime, so no SIMD width or GEMM block divides it.
const ROWS: usize = 17;

/// Inputs are drawn from `U(-X_RANGE, X_RANGE)`, wide enough to reach the negative side and
/// the curved parts of every activation.
const X_RANGE: f64 = 3.0;

/// Tolerance in machine epsilons of the case's type, relative to the output scale. Per layer
/// a dot product of at most 9 terms rounds about 9 times and an activation adds at most ~4 ulp
/// (`tanh_f32` is within 5e-7 relative, `exp_f32` within 1 ulp, see `fastmath.rs`); over four
/// layers whose PyTorch-initialised weights barely amplify, that stays well under 40.
const TOL_EPS: f64 = 40.0;

/// Element type of a case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Precision {
    F32,
    F64,
}

/// One model to send through PyTorch and back.
struct Case {
    name: String,
    precision: Precision,
    config: MlpConfig,
}

/// The widths every nonlinear case uses: odd, all different, three hidden layers.
fn hidden() -> Vec<usize> {
    vec![7, 6, 9]
}

/// Every case, in a fixed order; names are stable because the Python side and `check` find
/// files by them.
fn cases() -> Vec<Case> {
    let activations = [
        ("identity", Activation::Identity),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("relu", Activation::Relu),
        ("leaky_relu", Activation::LeakyRelu(0.2)),
        ("elu", Activation::Elu(1.5)),
        ("gelu", Activation::Gelu),
        ("softplus", Activation::Softplus),
        ("silu", Activation::Silu),
    ];
    let net = |activation, bias| MlpConfig {
        activation,
        bias,
        init: Init::PyTorch,
        ..MlpConfig::new(5, hidden(), 3)
    };
    let mut out = Vec::new();
    for (precision, suffix) in [(Precision::F32, "f32"), (Precision::F64, "f64")] {
        for (name, act) in activations {
            out.push(Case {
                name: format!("{name}_{suffix}"),
                precision,
                config: net(act, true),
            });
        }
    }
    out.push(Case {
        name: "depth0_f32".into(),
        precision: Precision::F32,
        config: MlpConfig::new(5, Vec::new(), 3),
    });
    out.push(Case {
        name: "nobias_gelu_f32".into(),
        precision: Precision::F32,
        config: net(Activation::Gelu, false),
    });
    out
}

/// Machine epsilon of `T`, from its width (the crate's `Float` does not expose one).
fn epsilon<T: Float>() -> f64 {
    if T::BYTES == 4 {
        f64::from(f32::EPSILON)
    } else {
        f64::EPSILON
    }
}

/// Largest accepted `max|Δy| / max|y|` for a model in `T`.
fn tolerance<T: Float>() -> f64 {
    TOL_EPS * epsilon::<T>()
}

/// A seeded input batch for a model with `cols` inputs, drawn in `f64` and rounded so an `f32`
/// and an `f64` case from one seed see the same points.
fn input<T: Float>(seed: u64, cols: usize) -> Matrix<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Matrix::from_fn(ROWS, cols, |_, _| {
        T::from_f64(X_RANGE * (2.0 * rng.random::<f64>() - 1.0))
    })
}

/// A seed per case, so that cases do not share weights or inputs.
fn seed_of(index: usize) -> u64 {
    1000 + index as u64
}

fn export_case<T: Float>(dir: &Path, case: &Case, seed: u64) -> Result<(), String> {
    let model: Mlp<T> = case
        .config
        .build_as(seed)
        .map_err(|e| format!("case {}: {e}", case.name))?;
    let x = input::<T>(seed, case.config.input);
    let y = model
        .predict(&x)
        .map_err(|e| format!("case {}: {e}", case.name))?;
    save_safetensors(
        &model,
        dir.join(format!("depthlab_{}.safetensors", case.name)),
    )
    .map_err(|e| e.to_string())?;
    save_matrices(
        dir.join(format!("depthlab_{}.io.safetensors", case.name)),
        &[("x", &x), ("y", &y)],
    )
    .map_err(|e| e.to_string())
}

fn export(dir: &Path) -> Result<bool, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (i, case) in cases().iter().enumerate() {
        match case.precision {
            Precision::F32 => export_case::<f32>(dir, case, seed_of(i))?,
            Precision::F64 => export_case::<f64>(dir, case, seed_of(i))?,
        }
        println!("wrote depthlab_{}", case.name);
    }
    Ok(true)
}

/// `(max|a - b|, that over max|b|)`; a NaN anywhere makes both NaN, so it cannot pass.
fn errors<T: Float>(got: &Matrix<T>, want: &Matrix<T>) -> (f64, f64) {
    let (mut max_abs, mut scale) = (0.0f64, 0.0f64);
    for (&g, &w) in got.as_slice().iter().zip(want.as_slice()) {
        let d = (g.to_f64() - w.to_f64()).abs();
        // `f64::max` would drop a NaN; this keeps it.
        if d.is_nan() || d > max_abs {
            max_abs = d;
        }
        scale = scale.max(w.to_f64().abs());
    }
    let rel = if scale > 0.0 {
        max_abs / scale
    } else {
        max_abs
    };
    (max_abs, rel)
}

/// Loads PyTorch's weights for `case` and compares depthlab's forward pass with PyTorch's;
/// `Ok(passed)` after printing the case's line.
fn check_case<T: Float>(dir: &Path, case: &Case) -> Result<bool, String> {
    let weights = dir.join(format!("torch_{}.safetensors", case.name));
    let io = dir.join(format!("torch_{}.io.safetensors", case.name));
    let mut model: Mlp<T> = case
        .config
        .build_as(0)
        .map_err(|e| format!("case {}: {e}", case.name))?;
    // NaN everywhere first, so a parameter the load failed to overwrite shows in the output
    // instead of hiding behind plausible initial values.
    for (w, b) in model.parameters_mut() {
        w.fill(T::from_f64(f64::NAN));
        if let Some(b) = b {
            b.fill(T::from_f64(f64::NAN));
        }
    }
    load_safetensors_into(&mut model, &weights).map_err(|e| e.to_string())?;
    // Both sides must have computed in the same precision for the comparison to mean
    // anything, and `load_matrix` converts nothing: a tensor in another dtype is an error.
    let x = load_matrix::<T>(&io, "x").map_err(|e| e.to_string())?;
    let y_torch = load_matrix::<T>(&io, "y").map_err(|e| e.to_string())?;
    let y = model
        .predict(&x)
        .map_err(|e| format!("{}: x: {e}", io.display()))?;
    if y.shape() != y_torch.shape() {
        return Err(format!(
            "{}: y is {}x{}, depthlab's output is {}x{}",
            io.display(),
            y_torch.rows(),
            y_torch.cols(),
            y.rows(),
            y.cols()
        ));
    }
    let (max_abs, rel) = errors(&y, &y_torch);
    let tol = tolerance::<T>();
    let pass = rel <= tol;
    println!(
        "torch_{:<20} rows={:<3} max_abs={max_abs:.3e} max_rel={rel:.3e} tol={tol:.1e} {}",
        case.name,
        x.rows(),
        if pass { "ok" } else { "FAIL" }
    );
    Ok(pass)
}

/// The case names of the `torch_<case>.safetensors` weight files in `dir`, sorted.
fn torch_cases(dir: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let case = file
            .strip_prefix("torch_")
            .and_then(|f| f.strip_suffix(".safetensors"))
            .filter(|c| !c.ends_with(".io"));
        if let Some(case) = case {
            names.push(case.to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn check(dir: &Path) -> Result<bool, String> {
    let found = torch_cases(dir)?;
    if found.is_empty() {
        return Err(format!(
            "{}: no torch_<case>.safetensors files to check",
            dir.display()
        ));
    }
    let table = cases();
    let mut all_pass = true;
    for name in &found {
        let Some(case) = table.iter().find(|c| &c.name == name) else {
            println!("torch_{name:<20} FAIL: not a case of this example");
            all_pass = false;
            continue;
        };
        let result = match case.precision {
            Precision::F32 => check_case::<f32>(dir, case),
            Precision::F64 => check_case::<f64>(dir, case),
        };
        // A file that does not load is that case's failure; the other cases still run.
        match result {
            Ok(pass) => all_pass &= pass,
            Err(e) => {
                println!("torch_{name:<20} FAIL: {e}");
                all_pass = false;
            }
        }
    }
    // The Python side writes every case, so a missing one means something skipped it.
    for case in table.iter().filter(|c| !found.contains(&c.name)) {
        println!("torch_{:<20} FAIL: missing", case.name);
        all_pass = false;
    }
    Ok(all_pass)
}

fn run(args: &[String]) -> Result<bool, String> {
    let usage = "usage: torch_interop export DIR | torch_interop check DIR";
    match args {
        [mode, dir] if mode == "export" => export(&PathBuf::from(dir)),
        [mode, dir] if mode == "check" => check(&PathBuf::from(dir)),
        _ => Err(format!("bad arguments {args:?}; {usage}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("torch_interop: {e}");
            ExitCode::FAILURE
        }
    }
}

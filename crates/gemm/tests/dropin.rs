//! Drop-in: `depthlab_gemm::{sgemm, dgemm}` have exactly `matrixmultiply`'s signature and
//! contract. The same raw calls — random shapes, arbitrary input strides (negative and zero
//! included), non-aliasing C strides (negative included), β = 0 over a NaN-filled C — go
//! through both crates and must agree with each other and with the oracle, on every ISA (the
//! raw API follows `DEPTHLAB_GEMM_ISA`, so other ISAs run in child processes).

mod common;

use std::process::Command;

use common::{Buffer, Placement, Real, SENTINEL, Spec, judge, reference, rng};
use depthlab_gemm::{ISA_ENV, Isa, active_isa, available_isas, last_isa_used};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The raw signature both crates share (`m, k, n, α, a, rsa, csa, b, rsb, csb, β, c, rsc, csc`).
type RawGemm<T> = unsafe fn(
    usize,
    usize,
    usize,
    T,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    *mut T,
    isize,
    isize,
);

// Compile-time proof that switching is a change of path: all four coerce to one type.
const OURS_S: RawGemm<f32> = depthlab_gemm::sgemm;
const THEIRS_S: RawGemm<f32> = matrixmultiply::sgemm;
const OURS_D: RawGemm<f64> = depthlab_gemm::dgemm;
const THEIRS_D: RawGemm<f64> = matrixmultiply::dgemm;

/// A placement for arbitrary strides: the offset makes room for negative reach, `margin`
/// guard elements on both sides.
fn fitted(rows: usize, cols: usize, rs: isize, cs: isize, margin: usize) -> Placement {
    let reach = |n: usize, s: isize| if n == 0 { 0 } else { (n as isize - 1) * s };
    let (r, c) = (reach(rows, rs), reach(cols, cs));
    let below = (-r.min(0) - c.min(0)) as usize;
    let above = (r.max(0) + c.max(0)) as usize;
    Placement {
        offset: margin + below,
        len: 2 * margin + below + above + 1,
        rows,
        cols,
        rs,
        cs,
    }
}

/// Any stride for an input: zero, unit, dense, padded or odd, either sign.
fn input_strides(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> (isize, isize) {
    let mut pick = |other: usize| -> isize {
        let mag = [0, 1, 1, other, other + 2, 7][rng.random_range(0..6)] as isize;
        if rng.random_bool(0.3) { -mag } else { mag }
    };
    (pick(cols), pick(rows))
}

/// Non-aliasing strides for C: one axis steps by `u` ∈ {1, 2, 3}, the other past the whole
/// extent of the first (plus padding); either may be negative.
fn output_strides(m: usize, n: usize, rng: &mut ChaCha8Rng) -> (isize, isize) {
    let u = rng.random_range(1..4usize);
    let pad = rng.random_range(0..3usize);
    let (rs, cs) = if rng.random() {
        (u, u * m.max(1) + pad)
    } else {
        (u * n.max(1) + pad, u)
    };
    let sign = |s: usize, neg: bool| if neg { -(s as isize) } else { s as isize };
    (
        sign(rs, rng.random_bool(0.3)),
        sign(cs, rng.random_bool(0.3)),
    )
}

/// One random raw call through `ours` and `theirs`, both judged by the oracle.
fn compare<T: Real>(
    ours: RawGemm<T>,
    theirs: RawGemm<T>,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let (m, k, n) = (
        rng.random_range(0..60),
        rng.random_range(0..60),
        rng.random_range(0..60),
    );
    let (rsa, csa) = input_strides(m, k, rng);
    let (rsb, csb) = input_strides(k, n, rng);
    let (rsc, csc) = output_strides(m, n, rng);
    let spec = Spec {
        alpha: common::SCALARS[rng.random_range(0..3)],
        beta: common::SCALARS[rng.random_range(0..3)],
        ..Spec::dense(m, k, n)
    };
    let a = Buffer::<T>::random(fitted(m, k, rsa, csa, 2), f64::NAN, rng);
    let b = Buffer::<T>::random(fitted(k, n, rsb, csb, 2), f64::NAN, rng);
    let mut c = Buffer::<T>::random(fitted(m, n, rsc, csc, 3), SENTINEL, rng);
    if spec.beta == 0.0 {
        for i in 0..m {
            for j in 0..n {
                let idx = c.at.index(i, j);
                c.data[idx] = T::from_f64(f64::NAN);
            }
        }
    }
    // The contract forbids aliasing C; make sure the generator kept it.
    let mut seen = vec![false; c.at.len];
    for i in 0..m {
        for j in 0..n {
            assert!(
                !std::mem::replace(&mut seen[c.at.index(i, j)], true),
                "test bug: C aliases"
            );
        }
    }
    let (want, tol) = reference(&spec, &a, &b, &c);
    let before = c.data.clone();
    let mut c_theirs = Buffer {
        data: c.data.clone(),
        at: c.at,
    };
    let call = |f: RawGemm<T>, c: &mut Buffer<T>| {
        let (pa, pb, pc) = (a.at, b.at, c.at);
        // SAFETY: every buffer was sized by `fitted` for exactly these dimensions and strides,
        // C's strides do not alias (`output_strides`), and C is a separate allocation.
        unsafe {
            f(
                m,
                k,
                n,
                T::from_f64(spec.alpha),
                a.data.as_ptr().add(pa.offset),
                pa.rs,
                pa.cs,
                b.data.as_ptr().add(pb.offset),
                pb.rs,
                pb.cs,
                T::from_f64(spec.beta),
                c.data.as_mut_ptr().add(pc.offset),
                pc.rs,
                pc.cs,
            )
        }
    };
    call(ours, &mut c);
    call(theirs, &mut c_theirs);
    let strides = format!(
        "strides A ({rsa}, {csa}) B ({rsb}, {csb}) C ({rsc}, {csc}), α {} β {}",
        spec.alpha, spec.beta
    );
    judge(
        &format!("ours [{strides}]"),
        &spec,
        &c,
        &before,
        &want,
        &tol,
    )?;
    judge(
        &format!("matrixmultiply [{strides}]"),
        &spec,
        &c_theirs,
        &before,
        &want,
        &tol,
    )?;
    // Both within the oracle's bound of the exact answer, hence within twice it of each other.
    for i in 0..m {
        for j in 0..n {
            let (x, y): (f64, f64) = (
                c.data[c.at.index(i, j)].into(),
                c_theirs.data[c.at.index(i, j)].into(),
            );
            let diff = (x - y).abs();
            if diff.is_nan() || diff > 2.0 * tol[i * n + j] {
                return Err(format!(
                    "{m}x{k}x{n} {strides}: C({i},{j}) ours {x:e} vs theirs {y:e}"
                ));
            }
        }
    }
    if m > 0 && n > 0 && k > 0 && last_isa_used() != active_isa().ok() {
        return Err(format!(
            "raw call ran {:?}, but the active ISA is {:?}",
            last_isa_used(),
            active_isa()
        ));
    }
    Ok(())
}

/// `count` random calls of each precision.
fn compare_many(seed: u64, count: usize) {
    let mut rng = rng(seed);
    for _ in 0..count {
        compare::<f32>(OURS_S, THEIRS_S, &mut rng).unwrap_or_else(|e| panic!("sgemm: {e}"));
        compare::<f64>(OURS_D, THEIRS_D, &mut rng).unwrap_or_else(|e| panic!("dgemm: {e}"));
    }
}

#[test]
fn raw_calls_agree_with_matrixmultiply_on_the_default_isa() {
    compare_many(0xd201, 1500);
}

#[test]
fn raw_calls_agree_with_matrixmultiply_on_every_other_isa() {
    let default = active_isa().unwrap();
    for isa in available_isas().into_iter().filter(|&i| i != default) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_dropin",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ISA_ENV, isa.name())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("test child_dropin ... ok"),
            "{ISA_ENV}={isa}: child failed\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
#[ignore = "run in a child process per ISA by raw_calls_agree_with_matrixmultiply_on_every_other_isa"]
fn child_dropin() {
    let Ok(name) = std::env::var(ISA_ENV) else {
        return;
    };
    let isa: Isa = name.parse().unwrap();
    assert_eq!(active_isa(), Ok(isa));
    compare_many(0xd202, 600);
    assert_eq!(last_isa_used(), Some(isa));
}

#[test]
fn large_raw_calls_agree_with_matrixmultiply() {
    // Past every cache block, with transposed and reversed operands: the MLP weight gradient
    // dYᵀ·X (k = 128) and a square with negative strides everywhere.
    let mut rng = rng(0xd203);
    for (m, k, n, neg) in [(512, 128, 784, false), (300, 400, 350, true)] {
        let s = if neg { -1 } else { 1 };
        let spec = Spec {
            beta: 1.0,
            ..Spec::dense(m, k, n)
        };
        // A = dYᵀ: stored k×m row-major, read transposed.
        let a = Buffer::<f32>::random(fitted(m, k, s, s * m as isize, 0), f64::NAN, &mut rng);
        let b = Buffer::<f32>::random(fitted(k, n, s * n as isize, s, 0), f64::NAN, &mut rng);
        let c0 = Buffer::<f32>::random(fitted(m, n, s * n as isize, s, 0), SENTINEL, &mut rng);
        let (want, tol) = reference(&spec, &a, &b, &c0);
        for f in [OURS_S, THEIRS_S] {
            let mut c = Buffer {
                data: c0.data.clone(),
                at: c0.at,
            };
            // SAFETY: buffers sized by `fitted` for these dimensions and strides.
            unsafe {
                f(
                    m,
                    k,
                    n,
                    1.0,
                    a.data.as_ptr().add(a.at.offset),
                    a.at.rs,
                    a.at.cs,
                    b.data.as_ptr().add(b.at.offset),
                    b.at.rs,
                    b.at.cs,
                    1.0,
                    c.data.as_mut_ptr().add(c.at.offset),
                    c.at.rs,
                    c.at.cs,
                )
            };
            judge("large", &spec, &c, &c0.data, &want, &tol).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

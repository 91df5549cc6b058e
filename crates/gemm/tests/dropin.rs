//! Drop-in: `depthlab_gemm::{sgemm, dgemm}` have exactly `matrixmultiply`'s signature and
//! contract. The same raw calls — random shapes, arbitrary input strides (negative and zero
//! included), non-aliasing C strides (negative included), β = 0 over a NaN-filled C — go
//! through both crates and must agree with each other and with the oracle, on every ISA (the
//! raw API follows `DEPTHLAB_GEMM_ISA`, so other ISAs run in child processes).

mod common;

use std::process::Command;

use common::{Buffer, Placement, Real, SENTINEL, Spec, judge, reference, rng};
use depthlab_gemm::{
    ISA_ENV, Isa, MatMut, MatRef, Parallelism, active_isa, available_isas, gemm_on, last_isa_used,
};
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

/// A buffer for `place` with small integers inside the view (every sum and scaling below is
/// then exact, so both crates must agree bit for bit up to the sign of zero) and `fill` outside.
fn integers<T: Real>(place: Placement, fill: f64, rng: &mut ChaCha8Rng) -> Buffer<T> {
    let mut buf = Buffer {
        data: vec![T::from_f64(fill); place.len],
        at: place,
    };
    for i in 0..place.rows {
        for j in 0..place.cols {
            buf.set(i, j, f64::from(rng.random_range(-3i8..=3)));
        }
    }
    buf
}

/// NaN and ±∞ planted in A and B, for every α including 0, through each ISA against
/// `matrixmultiply`: its kernels compute `α·(A·B) + β·C` in IEEE arithmetic, so `0·NaN` and
/// `0·∞` are NaN there and α = 0 does not hide them. A switch must not change which elements
/// come out NaN, nor any other value (the inputs make every product exact).
fn non_finite_like_matrixmultiply<T: Real>(theirs: RawGemm<T>) {
    let mut rng = rng(0xd204);
    // Small edges; the dot path both ways round (A rows and B columns contiguous in k);
    // several KC blocks with the planted values past the first; a product big enough to split.
    let shapes = [
        (3, 5, 2),
        (17, 33, 7),
        (128, 64, 10),
        (10, 64, 128),
        (70, 2100, 20),
        (160, 1100, 60),
    ];
    let scalars = [(0.0, 0.0), (0.0, -2.5), (0.0, 1.0), (1.0, 0.0), (-2.5, 1.0)];
    for isa in available_isas() {
        for &(m, k, n) in &shapes {
            let (mi, ki, ni) = (m as isize, k as isize, n as isize);
            // Row- and column-major, zero strides on A and B, negative strides on every operand.
            let layouts = [
                ((ki, 1), (ni, 1), (1, mi)),
                ((ki, 1), (1, ki), (ni, 1)),
                ((1, mi), (0, 1), (-ni, 1)),
                ((1, 0), (-1, -ki), (1, -mi)),
            ];
            for &((rsa, csa), (rsb, csb), (rsc, csc)) in &layouts {
                for plant in 0..3 {
                    for &(alpha, beta) in &scalars {
                        let mut a = integers::<T>(fitted(m, k, rsa, csa, 2), f64::NAN, &mut rng);
                        let mut b = integers::<T>(fitted(k, n, rsb, csb, 2), f64::NAN, &mut rng);
                        let mut c = integers::<T>(fitted(m, n, rsc, csc, 2), SENTINEL, &mut rng);
                        // Past the first KC block of k when there is more than one.
                        let (i0, p0, p1, j1) = (m / 2, k - 1 - k / 7, k / 3, n - 1);
                        match plant {
                            0 => a.set(i0, p0, f64::NAN),
                            1 => b.set(p1, j1, f64::INFINITY),
                            _ => {
                                a.set(i0, p0, f64::NEG_INFINITY);
                                b.set(p1, j1, f64::INFINITY);
                            }
                        }
                        if beta == 0.0 {
                            for i in 0..m {
                                for j in 0..n {
                                    c.set(i, j, f64::NAN);
                                }
                            }
                        }
                        let mut c_theirs = c.data.clone();
                        // SAFETY: buffers sized by `fitted` for these dimensions and strides;
                        // C's strides do not alias and C is its own allocation.
                        unsafe {
                            theirs(
                                m,
                                k,
                                n,
                                T::from_f64(alpha),
                                a.data.as_ptr().add(a.at.offset),
                                rsa,
                                csa,
                                b.data.as_ptr().add(b.at.offset),
                                rsb,
                                csb,
                                T::from_f64(beta),
                                c_theirs.as_mut_ptr().add(c.at.offset),
                                rsc,
                                csc,
                            )
                        };
                        let ca = c.at;
                        gemm_on(
                            isa,
                            Parallelism::Auto,
                            T::from_f64(alpha),
                            MatRef::from_parts(&a.data, a.at.offset, m, k, rsa, csa).unwrap(),
                            MatRef::from_parts(&b.data, b.at.offset, k, n, rsb, csb).unwrap(),
                            T::from_f64(beta),
                            MatMut::from_parts(&mut c.data, ca.offset, m, n, rsc, csc).unwrap(),
                        )
                        .unwrap();
                        for (slot, (&x, &y)) in c.data.iter().zip(&c_theirs).enumerate() {
                            let (x, y): (f64, f64) = (x.into(), y.into());
                            assert!(
                                x == y || (x.is_nan() && y.is_nan()),
                                "{isa:?} {} {m}x{k}x{n} A ({rsa}, {csa}) B ({rsb}, {csb}) \
                                 C ({rsc}, {csc}) plant {plant} α {alpha} β {beta}: slot \
                                 {slot} ours {x} vs matrixmultiply {y}",
                                T::NAME
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn non_finite_inputs_and_alpha_zero_match_matrixmultiply() {
    non_finite_like_matrixmultiply::<f32>(THEIRS_S);
    non_finite_like_matrixmultiply::<f64>(THEIRS_D);
}

#[test]
fn empty_raw_products_touch_no_operand() {
    // With m = 0 or n = 0 no operand has an element, and with k = 0 neither A nor B does: the
    // contract then asks nothing of their pointers. These point into page zero, so any access
    // faults; strides are wild for the same reason.
    let nowhere_s = std::ptr::dangling_mut::<f32>();
    let nowhere_d = std::ptr::dangling_mut::<f64>();
    let wild = isize::MIN / 3;
    for (m, n) in [(0, 5), (5, 0), (0, 0)] {
        for f in [OURS_S, THEIRS_S] {
            // SAFETY: no element is implied, so no pointer is dereferenced.
            unsafe {
                f(
                    m, 7, n, 1.0, nowhere_s, wild, 1, nowhere_s, 3, wild, 1.0, nowhere_s, wild, 9,
                )
            };
        }
        for f in [OURS_D, THEIRS_D] {
            // SAFETY: as above.
            unsafe {
                f(
                    m, 7, n, 1.0, nowhere_d, wild, 1, nowhere_d, 3, wild, 1.0, nowhere_d, wild, 9,
                )
            };
        }
    }
    // k = 0: C ← β·C, and β = 0 overwrites a NaN-filled C with zeros.
    for (beta, c0, want) in [(0.0f32, f32::NAN, 0.0f32), (-2.0, 1.5, -3.0)] {
        for f in [OURS_S, THEIRS_S] {
            let mut c = [c0; 6];
            // SAFETY: C is a 2x3 row-major array; A and B have no elements.
            unsafe {
                f(
                    2,
                    0,
                    3,
                    1.0,
                    nowhere_s,
                    wild,
                    wild,
                    nowhere_s,
                    wild,
                    wild,
                    beta,
                    c.as_mut_ptr(),
                    3,
                    1,
                )
            };
            assert_eq!(c, [want; 6]);
        }
    }
}

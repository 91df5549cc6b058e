//! Every ISA path: forced in-process with `gemm_on` (each call must prove its kernel ran), and
//! forced through `DEPTHLAB_GEMM_ISA` in a child process (the variable is read once per
//! process, so each value needs a fresh one), including unknown and unsupported values.

mod common;

use std::process::Command;

use common::{Layout, Operand, Real, Spec, assert_ok, rng, tiles};
use depthlab_gemm::{
    GemmError, ISA_ENV, Isa, MatMut, MatRef, Parallelism, VectorTask, active_isa, available_isas,
    dgemm, gemm, gemm_on, last_isa_used, sgemm, with_vector_isa,
};

/// Set in the child's environment: what `child_env_isa` must find (`ok:<isa>` or `err`).
const EXPECT_ENV: &str = "DEPTHLAB_GEMM_TEST_EXPECT";

fn forced<T: Real>(isa: Isa) {
    let mut rng = rng(0x15a);
    let elem = std::mem::size_of::<T>();
    // A shape for each kernel of the ISA, plus one large enough to be threaded.
    let mut shapes: Vec<(usize, usize, usize)> = tiles(isa, elem)
        .iter()
        .map(|&(mr, nr)| (mr, 9, nr + 1))
        .collect();
    shapes.extend([(1, 1, 1), (3, 40, 2), (150, 120, 100)]);
    for (m, k, n) in shapes {
        for c in [Layout::ROW, Layout::COL] {
            // Run another ISA first, so a stale `last_isa_used` cannot pass for this one.
            let other = available_isas().into_iter().find(|&i| i != isa);
            if let Some(other) = other {
                assert_ok::<T>(other, &Spec::dense(2, 2, 2), &mut rng);
                assert_eq!(last_isa_used(), Some(other));
            }
            let spec = Spec {
                c,
                beta: -2.5,
                a: Operand::transposed(Layout::COL),
                ..Spec::dense(m, k, n)
            };
            // `check` asserts last_isa_used() == Some(isa) after the call.
            assert_ok::<T>(isa, &spec, &mut rng);
        }
    }
}

#[test]
fn each_forced_isa_runs_its_own_kernel() {
    let isas = available_isas();
    assert_eq!(
        isas.last(),
        Some(&Isa::Scalar),
        "scalar is always available, last"
    );
    for isa in isas {
        forced::<f32>(isa);
        forced::<f64>(isa);
    }
}

#[test]
fn empty_products_and_k_zero_leave_no_trace_of_a_kernel() {
    // Only a product with work for a microkernel records an ISA; k = 0 is a scaling of C.
    let isa = available_isas()[0];
    let mut c = [1.0f32; 6];
    let out = std::thread::spawn(move || {
        let none: [f32; 0] = [];
        gemm_on(
            isa,
            Parallelism::Sequential,
            1.0,
            MatRef::row_major(&none, 2, 0).unwrap(),
            MatRef::row_major(&none, 0, 3).unwrap(),
            2.0,
            MatMut::row_major(&mut c, 2, 3).unwrap(),
        )
        .unwrap();
        (last_isa_used(), c)
    })
    .join()
    .unwrap();
    assert_eq!(out, (None, [2.0; 6]));
}

/// Runs `child_env_isa` in a fresh copy of this test binary with `DEPTHLAB_GEMM_ISA=value`.
fn run_child(value: impl AsRef<std::ffi::OsStr>, expect: &str) {
    let value = value.as_ref();
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_env_isa",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(ISA_ENV, value)
        .env(EXPECT_ENV, expect)
        .output()
        .expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{ISA_ENV}={value:?} (expect {expect}): child failed\n{stdout}\n{stderr}"
    );
    // The filter must have selected exactly the child test, and it must have run.
    assert!(
        stdout.contains("test child_env_isa ... ok") && stdout.contains("1 passed"),
        "{ISA_ENV}={value:?}: child test did not run\n{stdout}"
    );
}

#[test]
fn env_var_forces_each_available_isa() {
    for isa in available_isas() {
        run_child(isa.name(), &format!("ok:{}", isa.name()));
    }
    // Names are case-insensitive and trimmed; empty means "the fastest".
    let avx2 = if Isa::Avx2.is_supported() {
        "ok:avx2"
    } else {
        "err"
    };
    run_child(" AVX2 ", avx2);
    run_child("", &format!("ok:{}", available_isas()[0].name()));
}

#[test]
fn env_var_with_unknown_or_unsupported_isa_is_a_clear_error() {
    run_child("neon9", "err");
    run_child("avx1024", "err");
    // Not Unicode at all: still a value someone set, so an error, not the default ISA.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        run_child(std::ffi::OsStr::from_bytes(b"avx2\xff"), "err");
    }
    for isa in [Isa::Avx512, Isa::Avx2] {
        if !isa.is_supported() {
            run_child(isa.name(), "err");
        }
    }
}

/// One small product through `gemm` (the environment's ISA), checked against the oracle.
fn via_env<T: Real>() -> Result<(), GemmError> {
    let spec = Spec::dense(37, 21, 13);
    let (a, b, mut c) = common::buffers::<T>(&spec, &mut rng(7));
    let (want, tol) = common::reference(&spec, &a, &b, &c);
    let before = c.data.clone();
    gemm(
        T::ONE,
        common::view(&a, spec.a),
        common::view(&b, spec.b),
        T::ZERO,
        common::view_mut(&mut c),
    )?;
    common::judge("env", &spec, &c, &before, &want, &tol).unwrap_or_else(|e| panic!("{e}"));
    Ok(())
}

/// Element-wise work for `with_vector_isa`.
struct SumOfSquares<'a>(&'a [f32]);

impl VectorTask for SumOfSquares<'_> {
    type Output = f32;

    #[inline(always)]
    fn run(self) -> f32 {
        self.0.iter().map(|x| x * x).sum()
    }
}

/// 3x2 · 2x2 through the raw API.
fn raw_product() -> ([f32; 6], [f64; 6]) {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let b = [1.0, 0.0, 0.0, 1.0];
    let (mut cs, mut cd) = ([f32::NAN; 6], [f64::NAN; 6]);
    let (af, bf) = (a.map(|x: f64| x as f32), b.map(|x: f64| x as f32));
    // SAFETY: 3x2, 2x2 and 3x2 row-major arrays of exactly those sizes.
    unsafe {
        sgemm(
            3,
            2,
            2,
            1.0,
            af.as_ptr(),
            2,
            1,
            bf.as_ptr(),
            2,
            1,
            0.0,
            cs.as_mut_ptr(),
            2,
            1,
        );
        dgemm(
            3,
            2,
            2,
            1.0,
            a.as_ptr(),
            2,
            1,
            b.as_ptr(),
            2,
            1,
            0.0,
            cd.as_mut_ptr(),
            2,
            1,
        );
    }
    (cs, cd)
}

#[test]
#[ignore = "run in a child process by the env_var_* tests, with DEPTHLAB_GEMM_ISA set"]
fn child_env_isa() {
    let Ok(expect) = std::env::var(EXPECT_ENV) else {
        // Run by hand (`--ignored`) without a parent: nothing to check against.
        return;
    };
    let value = std::env::var_os(ISA_ENV)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(name) = expect.strip_prefix("ok:") {
        let isa: Isa = name.parse().unwrap();
        assert_eq!(active_isa(), Ok(isa));
        via_env::<f32>().unwrap();
        assert_eq!(
            last_isa_used(),
            Some(isa),
            "gemm f32 under {ISA_ENV}={value:?}"
        );
        via_env::<f64>().unwrap();
        assert_eq!(
            last_isa_used(),
            Some(isa),
            "gemm f64 under {ISA_ENV}={value:?}"
        );
        // The raw drop-in API follows the variable too.
        if let Some(other) = available_isas().into_iter().find(|&i| i != isa) {
            assert_ok::<f32>(other, &Spec::dense(2, 2, 2), &mut rng(1));
        }
        let (cs, cd) = raw_product();
        assert_eq!(
            last_isa_used(),
            Some(isa),
            "sgemm/dgemm under {ISA_ENV}={value:?}"
        );
        assert_eq!(cs, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(cd, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    } else {
        assert_eq!(expect, "err");
        let err = active_isa().unwrap_err();
        let shown = value.trim();
        assert!(matches!(err, GemmError::UnsupportedIsa { .. }), "{err:?}");
        assert!(
            err.to_string().contains(shown),
            "{err} does not name {shown:?}"
        );
        assert!(
            err.to_string().contains("DEPTHLAB_GEMM_ISA"),
            "{err} does not say the variable asked for it"
        );
        for e in [via_env::<f32>().unwrap_err(), via_env::<f64>().unwrap_err()] {
            assert_eq!(e, err, "gemm must return the same error as active_isa");
        }
        // An explicit ISA does not depend on the variable.
        assert_ok::<f32>(Isa::Scalar, &Spec::dense(3, 3, 3), &mut rng(2));
        // Element-wise work has no error channel: it runs as baseline code (documented).
        assert_eq!(with_vector_isa(SumOfSquares(&[1.0, 2.0, 3.0])), 14.0);
        // The raw API has no error channel: it panics (documented), naming the value.
        let panic = std::panic::catch_unwind(raw_product).unwrap_err();
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(
            msg.contains(shown),
            "raw API panic {msg:?} does not name {shown:?}"
        );
    }
}

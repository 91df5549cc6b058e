//! # depthlab-gemm
//!
//! General matrix multiplication `C ← α·op(A)·op(B) + β·C` for `f32` and `f64`, written the
//! Goto/BLIS way: the problem is cut into cache-sized blocks (the five loops live in
//! `src/driver.rs`), panels of `A` and `B` are packed into aligned scratch buffers
//! that are reused across calls, and a register-tiled SIMD microkernel (AVX-512F, AVX2+FMA or
//! a portable scalar fallback, chosen once from the CPU's features) does the arithmetic.
//!
//! Two entry points:
//! - [`gemm`] over checked [`MatRef`]/[`MatMut`] views; bad shapes or strides come back as a
//!   [`GemmError`], never a panic.
//! - [`sgemm`]/[`dgemm`], `unsafe` raw-pointer functions with exactly the signature and contract
//!   of `matrixmultiply::sgemm`/`dgemm`, so switching is a change of path.
//!
//! [`gemm_epilogue`] is [`gemm_with`] plus element-wise steps on `C` (a bias, a ReLU, a
//! ReLU's backward mask: an [`Epilogue`]) applied as each tile is stored, so a network layer
//! needs no separate pass over its output.
//!
//! A transpose is a stride swap: `A.t()` costs nothing. With `β = 0`, `C` is never read, so it
//! may hold NaN or garbage. With `k = 0`, `C ← β·C`.
//!
//! Threads come from rayon's pool (`RAYON_NUM_THREADS`). Work is split over the `m` and `n`
//! block loops only, never over `k`, so every element of `C` is summed in the same order for
//! any thread count: results are bit-identical with 1 or 32 threads.
//!
//! ```
//! use depthlab_gemm::{gemm, MatMut, MatRef};
//! let a = [1.0f32, 2.0, 3.0, 4.0]; // 2x2 row-major
//! let b = [5.0f32, 6.0, 7.0, 8.0];
//! let mut c = [f32::NAN; 4];
//! gemm(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&b, 2, 2)?, 0.0,
//!      MatMut::row_major(&mut c, 2, 2)?)?;
//! assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
//! # Ok::<(), depthlab_gemm::GemmError>(())
//! ```

mod arch;
mod blocking;
mod dot;
mod driver;
mod epilogue;
mod error;
mod kernel;
mod pack;
mod parallel;
pub mod probe;
mod reduce;
mod select;
#[cfg(feature = "tile-timing")]
pub mod tile_timing;
mod view;

pub use driver::last_isa_used;
pub use parallel::{
    MIN_PARALLEL_MACS, MIN_WARM_PARALLEL_MACS, parallelism_override, with_parallelism,
};

/// The largest cache blocks `(KC, MC, NC)` the driver uses for an `mr × nr` tile on
/// `elem`-byte elements, derived from this machine's cache sizes: for tests that sit on block
/// edges. A product splits k and n into as many blocks as these give, of equal size.
#[doc(hidden)]
pub fn block_sizes(mr: usize, nr: usize, elem: usize) -> (usize, usize, usize) {
    // Safe and public, so it must not panic: a zero would divide by zero and a tile taller than
    // the block caps would trip `clamp`. No kernel has such a shape; take the nearest one.
    let b = blocking::blocking(mr.clamp(1, 4096), nr.clamp(1, 1 << 16), elem.clamp(1, 8));
    (b.kc, b.mc, b.nc)
}
pub use epilogue::{BiasAlong, Epilogue};
pub use error::{GemmError, Operand};
pub use kernel::{ISA_ENV, Isa, VectorTask, active_isa, available_isas, with_vector_isa};
pub use view::{MatMut, MatRef};

/// Element types the kernels are written for: `f32` and `f64`.
pub trait Element:
    Copy
    + Send
    + Sync
    + PartialEq
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + 'static
    + kernel::Sealed
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// How many threads one product may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Use rayon's current pool (the global one, or the one a caller `install`ed) when the
    /// product is big enough to gain: from [`MIN_PARALLEL_MACS`] multiply-adds, or from
    /// [`MIN_WARM_PARALLEL_MACS`] deep into a run of back-to-back calls from outside the pool,
    /// when its other worker is still awake; [`with_parallelism`] can override this per thread.
    #[default]
    Auto,
    /// Use rayon's current pool from [`MIN_WARM_PARALLEL_MACS`] multiply-adds up, for a caller
    /// that keeps the pool's other workers awake (depthlab-nn's training step does), so that
    /// handing half of a product over costs µs rather than a wake-up. [`with_parallelism`]
    /// overrides it like `Auto`.
    Warm,
    /// Stay on the calling thread.
    Sequential,
}

/// `C ← α·A·B + β·C` over checked views, using rayon's pool when it pays ([`Parallelism::Auto`]).
///
/// # Errors
/// [`GemmError::ShapeMismatch`] when `A` is not m×k, `B` k×n and `C` m×n.
pub fn gemm<T: Element>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_with(Parallelism::Auto, alpha, a, b, beta, c)
}

/// `sums[i] ← Σ_j x(i, j)`: the row sums of `x`, each in one fixed order on every ISA.
///
/// The order: lane `l` of 16 adds the row's elements `l, l + 16, l + 32, ...` in turn, the 16
/// lanes fold in halves (`l + 8`, `l + 4`, `l + 2`, `l + 1`), then the last `cols mod 16`
/// elements are added one by one. The bits depend on the values and the row length alone:
/// not on the ISA, the strides or the thread.
/// Rows with unit column stride are summed with the vector unit of [`active_isa`] (the
/// portable path for other strides, or when `DEPTHLAB_GEMM_ISA` is unusable: the results are
/// the same).
///
/// # Errors
/// [`GemmError::ShapeMismatch`] when `sums` does not hold one value per row of `x`: the sums
/// are the product `x · 1` of `x` (A) with a column of ones (B), and `sums` is C.
pub fn row_sums<T: Element>(x: MatRef<'_, T>, sums: &mut [T]) -> Result<(), GemmError> {
    sum_rows(active_isa().unwrap_or(Isa::Scalar), x, sums)
}

/// [`row_sums`] on a given instruction set, for tests that compare paths in one process.
///
/// # Errors
/// As [`row_sums`]; [`GemmError::UnsupportedIsa`] when this CPU cannot run `isa`.
pub fn row_sums_on<T: Element>(
    isa: Isa,
    x: MatRef<'_, T>,
    sums: &mut [T],
) -> Result<(), GemmError> {
    require_supported(isa, "row_sums_on")?;
    sum_rows(isa, x, sums)
}

/// `Ok` when this CPU runs `isa`, else the error naming the function (`origin`) that asked.
fn require_supported(isa: Isa, origin: &'static str) -> Result<(), GemmError> {
    if isa.is_supported() {
        return Ok(());
    }
    Err(GemmError::UnsupportedIsa {
        value: isa.name().to_string(),
        origin,
        reason: format!("this CPU does not support {isa}"),
    })
}

/// [`row_sums`] on `isa`, which this CPU supports.
fn sum_rows<T: Element>(isa: Isa, x: MatRef<'_, T>, sums: &mut [T]) -> Result<(), GemmError> {
    let (rows, cols) = (x.rows(), x.cols());
    if sums.len() != rows {
        return Err(GemmError::ShapeMismatch {
            operand: Operand::C,
            a: (rows, cols),
            b: (cols, 1),
            c: (sums.len(), 1),
        });
    }
    T::row_sums_on(isa, x, sums);
    Ok(())
}

/// [`gemm`] with an explicit threading policy.
///
/// # Errors
/// [`GemmError::ShapeMismatch`] when `A` is not m×k, `B` k×n and `C` m×n;
/// [`GemmError::UnsupportedIsa`] when `DEPTHLAB_GEMM_ISA` forces a path this CPU lacks.
pub fn gemm_with<T: Element>(
    par: Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_on(active_isa()?, par, alpha, a, b, beta, c)
}

/// [`gemm_with`] on a given instruction set, whatever `DEPTHLAB_GEMM_ISA` says: for tests and
/// benchmarks that compare paths in one process.
///
/// # Errors
/// [`GemmError::ShapeMismatch`] when `A` is not m×k, `B` k×n and `C` m×n;
/// [`GemmError::UnsupportedIsa`] when this CPU cannot run `isa`.
pub fn gemm_on<T: Element>(
    isa: Isa,
    par: Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    run_checked(isa, "gemm_on", par, alpha, a, b, beta, c, &Epilogue::new())
}

/// [`gemm_with`], then `epilogue` on every element of `C` (a bias, a ReLU, a ReLU's backward
/// mask: see [`Epilogue`]), applied to each tile of `C` right after the tile is computed, while
/// it is still in L1, instead of in a separate pass over `C`. Each element gets exactly the
/// value that the product followed by those steps would give.
///
/// # Errors
/// As [`gemm_with`], and [`GemmError::EpilogueMismatch`] when the bias or the mask does not fit
/// `C`.
pub fn gemm_epilogue<T: Element>(
    par: Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: &Epilogue<'_, T>,
) -> Result<(), GemmError> {
    gemm_epilogue_on(active_isa()?, par, alpha, a, b, beta, c, epilogue)
}

/// [`gemm_epilogue`] on a given instruction set, like [`gemm_on`].
///
/// # Errors
/// As [`gemm_epilogue`]; [`GemmError::UnsupportedIsa`] when this CPU cannot run `isa`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_epilogue_on<T: Element>(
    isa: Isa,
    par: Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: &Epilogue<'_, T>,
) -> Result<(), GemmError> {
    run_checked(isa, "gemm_epilogue_on", par, alpha, a, b, beta, c, epilogue)
}

/// Every safe entry point's checks, then the product.
#[allow(clippy::too_many_arguments)]
fn run_checked<T: Element>(
    isa: Isa,
    origin: &'static str,
    par: Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    epilogue: &Epilogue<'_, T>,
) -> Result<(), GemmError> {
    require_supported(isa, origin)?;
    GemmError::check_shapes(
        (a.rows(), a.cols()),
        (b.rows(), b.cols()),
        (c.rows(), c.cols()),
    )?;
    let epi = epilogue.raw(c.rows(), c.cols())?;
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let problem = driver::Problem {
        m,
        k,
        n,
        alpha,
        a: a.origin(),
        rsa: a.row_stride(),
        csa: a.col_stride(),
        b: b.origin(),
        rsb: b.row_stride(),
        csb: b.col_stride(),
        beta,
        c: c.origin_mut(),
        rsc: c.row_stride(),
        csc: c.col_stride(),
        epi,
    };
    // SAFETY: the views were bounds-checked when built and borrow their slices for this call
    // (so C, borrowed mutably, cannot overlap A, B or the epilogue's bias and mask); `MatMut`
    // guarantees its elements do not alias; the shapes agree (the epilogue's too) and the ISA
    // is supported (checked above).
    unsafe { driver::run_isa(isa, &problem, par) };
    Ok(())
}

/// General matrix multiplication (f32): `C ← α·A·B + β·C`, the `matrixmultiply::sgemm` contract.
///
/// - `m`, `k`, `n`: dimensions; `A` is m×k, `B` is k×n, `C` is m×n.
/// - `a`, `b`, `c`: pointers to element (0, 0) of each matrix.
/// - `rsx`/`csx`: row and column stride of `x`, in elements.
///
/// Strides for `A` and `B` may be arbitrary (negative or zero too). Strides for `C` must not
/// make two elements alias each other (so they cannot be zero). If `β` is zero, `C` need not be
/// initialised: it is never read.
///
/// Threads: uses rayon's pool for products large enough to gain, like [`gemm`].
///
/// # Panics
/// When `DEPTHLAB_GEMM_ISA` forces an ISA this CPU lacks (there is no error channel here; call
/// [`active_isa`] first to turn that into an error).
///
/// # Safety
/// Every element of `A`, `B` and `C` implied by the dimensions and strides must be valid to
/// read (and, for `C`, to write) for the duration of the call, `C` must not overlap `A` or `B`,
/// and no other thread may access `C` meanwhile.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: the caller upholds the pointer contract documented above.
    unsafe { raw_gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

/// General matrix multiplication (f64): `C ← α·A·B + β·C`, the `matrixmultiply::dgemm` contract.
///
/// Same arguments, contract and threading as [`sgemm`].
///
/// # Safety
/// As for [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn dgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    a: *const f64,
    rsa: isize,
    csa: isize,
    b: *const f64,
    rsb: isize,
    csb: isize,
    beta: f64,
    c: *mut f64,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: the caller upholds the pointer contract documented above.
    unsafe { raw_gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

/// The body of [`sgemm`] and [`dgemm`], once for both element types.
///
/// # Safety
/// As for [`sgemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn raw_gemm<T: Element>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let problem = driver::Problem {
        m,
        k,
        n,
        alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        rsc,
        csc,
        epi: None,
    };
    // SAFETY: forwarded from the public entry points' contract.
    unsafe { driver::run(&problem, Parallelism::Auto) }
}

//! The GEMM implementations the benches line up, called the same way: depthlab-gemm,
//! `matrixmultiply`, the `gemm` crate (x86-v4) and the naive loop, plus the shape
//! lists and a check that every implementation computes the same product.

use std::process::{Command, ExitStatus};

use depthlab_gemm::{Element, MatMut, MatRef, Parallelism, gemm_with};

use crate::{Problem, naive_gemm};

/// matrixmultiply's own thread-count variable, read once per process.
pub const MM_THREADS_ENV: &str = "MATMUL_NUM_THREADS";

/// Runs this program again, with the same arguments, `MATMUL_NUM_THREADS=threads` and the extra
/// variables: matrixmultiply reads its thread count once per process, so each count needs one.
///
/// # Errors
/// When the program's path cannot be found or the process cannot be started.
pub fn rerun_with_mm_threads(
    threads: usize,
    extra_env: &[(&str, &str)],
) -> std::io::Result<ExitStatus> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(std::env::args_os().skip(1))
        .env(MM_THREADS_ENV, threads.to_string());
    for &(key, value) in extra_env {
        cmd.env(key, value);
    }
    cmd.status()
}

/// The naive loop is only run up to this many multiply-adds (512³): beyond, it takes seconds.
pub const NAIVE_MAX_MACS: u64 = 512 * 512 * 512;

/// The implementations lined up in every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// depthlab-gemm through its safe API.
    Depthlab,
    /// `matrixmultiply::sgemm`/`dgemm`; its thread count is the process's `MATMUL_NUM_THREADS`.
    Matrixmultiply,
    /// `gemm::gemm` (the kernel behind faer) with its `x86-v4` feature.
    GemmCrate,
    /// The textbook i-k-j loop.
    Naive,
}

impl Impl {
    /// The name used in benchmark ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Depthlab => "depthlab",
            Impl::Matrixmultiply => "matrixmultiply",
            Impl::GemmCrate => "gemm",
            Impl::Naive => "naive",
        }
    }
}

/// The element types benchmarked, with their peers' entry points.
pub trait BenchElement: Element + From<f32> + Into<f64> {
    /// Largest |difference| from the reference, relative to the reference's largest |value|.
    const TOLERANCE: f64;

    /// matrixmultiply's `sgemm`/`dgemm`: `C ← A·B`, C row-major.
    fn matrixmultiply(p: &Problem, a: &[Self], b: &[Self], c: &mut [Self]);
}

macro_rules! bench_element {
    ($t:ty, $tolerance:expr, $mm:path) => {
        impl BenchElement for $t {
            const TOLERANCE: f64 = $tolerance;

            fn matrixmultiply(p: &Problem, a: &[$t], b: &[$t], c: &mut [$t]) {
                check_lengths(p, a.len(), b.len(), c.len());
                let (rsa, csa, rsb, csb) = strides(p);
                // SAFETY: check_lengths proved every element the strides reach lies inside its
                // slice; C is a distinct &mut slice, row-major with no aliasing.
                unsafe {
                    $mm(
                        p.m,
                        p.k,
                        p.n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        c.as_mut_ptr(),
                        p.n as isize,
                        1,
                    )
                }
            }
        }
    };
}

bench_element!(f32, 1e-4, matrixmultiply::sgemm);
bench_element!(f64, 1e-10, matrixmultiply::dgemm);

fn strides(p: &Problem) -> (isize, isize, isize, isize) {
    (
        p.rsa as isize,
        p.csa as isize,
        p.rsb as isize,
        p.csb as isize,
    )
}

/// The raw peers trust their pointers: prove the buffers cover the strided extents first.
fn check_lengths(p: &Problem, a: usize, b: usize, c: usize) {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(a >= extent(p.m, p.k, p.rsa, p.csa), "A too short");
    assert!(b >= extent(p.k, p.n, p.rsb, p.csb), "B too short");
    assert!(c >= p.m * p.n, "C too short");
}

/// One call of `imp` computing `C ← A·B` at `threads` (depthlab: `Sequential` for 1, `Auto`
/// on rayon's current pool otherwise; the gemm crate: `None` / `Rayon(threads)`).
pub fn run<T: BenchElement>(imp: Impl, threads: usize, p: &Problem, a: &[T], b: &[T], c: &mut [T]) {
    match imp {
        Impl::Depthlab => {
            let (rsa, csa, rsb, csb) = strides(p);
            let par = if threads == 1 {
                Parallelism::Sequential
            } else {
                Parallelism::Auto
            };
            let av = MatRef::new(a, p.m, p.k, rsa, csa).expect("A fits its buffer");
            let bv = MatRef::new(b, p.k, p.n, rsb, csb).expect("B fits its buffer");
            let cv = MatMut::row_major(&mut c[..p.m * p.n], p.m, p.n).expect("C fits");
            gemm_with(par, T::ONE, av, bv, T::ZERO, cv).expect("shapes agree");
        }
        Impl::Matrixmultiply => T::matrixmultiply(p, a, b, c),
        Impl::GemmCrate => {
            check_lengths(p, a.len(), b.len(), c.len());
            let (rsa, csa, rsb, csb) = strides(p);
            let par = if threads == 1 {
                gemm::Parallelism::None
            } else {
                gemm::Parallelism::Rayon(threads)
            };
            // SAFETY: check_lengths proved the strided extents lie inside the slices; C is a
            // distinct &mut slice, row-major. The gemm crate computes dst ← α·dst + β·lhs·rhs,
            // with read_dst = false meaning dst is never read.
            unsafe {
                gemm::gemm(
                    p.m,
                    p.n,
                    p.k,
                    c.as_mut_ptr(),
                    1,
                    p.n as isize,
                    false,
                    a.as_ptr(),
                    csa,
                    rsa,
                    b.as_ptr(),
                    csb,
                    rsb,
                    T::ZERO,
                    T::ONE,
                    false,
                    false,
                    false,
                    par,
                )
            }
        }
        Impl::Naive => naive_gemm(p, a, b, c),
    }
}

/// Fails loudly when `imp` does not compute the same product as the reference (naive up to
/// [`NAIVE_MAX_MACS`], otherwise depthlab's sequential path), so a wrong call cannot pass as a
/// fast one.
///
/// # Panics
/// When the results differ by more than [`BenchElement::TOLERANCE`].
pub fn check_against<T: BenchElement>(imp: Impl, threads: usize, p: &Problem, a: &[T], b: &[T]) {
    let reference_impl = if p.flops() / 2 <= NAIVE_MAX_MACS {
        Impl::Naive
    } else {
        Impl::Depthlab
    };
    let mut want = vec![T::ZERO; p.c_len()];
    run(reference_impl, 1, p, a, b, &mut want);
    let mut got = vec![T::ZERO; p.c_len()];
    run(imp, threads, p, a, b, &mut got);
    let scale = want
        .iter()
        .map(|&x| Into::<f64>::into(x).abs())
        .fold(1.0, f64::max);
    let worst = want
        .iter()
        .zip(&got)
        .map(|(&w, &g)| (Into::<f64>::into(w) - Into::<f64>::into(g)).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= T::TOLERANCE * scale,
        "{} at {threads} thread(s) disagrees with {} on {}: max |diff| {worst:e} (scale {scale})",
        imp.name(),
        reference_impl.name(),
        p.label()
    );
}

/// The square f32 sizes of issue 2's table.
pub fn square_sizes() -> Vec<Problem> {
    [16, 32, 64, 128, 256, 512, 1024, 2048]
        .into_iter()
        .map(Problem::square)
        .collect()
}

/// The f32 products of an MLP's Linear layers in issue 2's table.
pub fn mlp_shapes() -> Vec<Problem> {
    let mut v: Vec<Problem> = [
        (128, 784, 512),
        (128, 512, 512),
        (128, 512, 10),
        (32, 2, 64),
        (32, 64, 64),
    ]
    .into_iter()
    .map(|(b, i, o)| Problem::forward(b, i, o))
    .collect();
    v.push(Problem::weight_grad(128, 784, 512));
    v
}

/// The square f64 sizes of issue 2's table.
pub fn dgemm_sizes() -> Vec<Problem> {
    [512, 1024].into_iter().map(Problem::square).collect()
}

//! GEMM throughput: depthlab-gemm against `matrixmultiply`, the `gemm` crate (x86-v4) and the
//! naive i-k-j loop, making the same calls at 1 and 2 threads.
//!
//! Ids are `group/implementation/shape`: groups `sgemm_{1,2}t` (square f32, 16³..2048³),
//! `mlp_{1,2}t` (the f32 products of an MLP's Linear layers, row-major, transposes as strides)
//! and `dgemm_{1,2}t` (square f64); implementations `depthlab`, `matrixmultiply`, `gemm`,
//! `naive` (1 thread only, up to 512³). Throughput is `Elements(2·m·n·k)`: criterion's
//! "elem/s" read as FLOP/s.
//!
//! Threads: ours runs `Parallelism::Sequential` for 1t and `Parallelism::Auto` on rayon's global
//! 2-thread pool for 2t; the gemm crate runs `Parallelism::None` / `Rayon(2)`. matrixmultiply
//! reads `MATMUL_NUM_THREADS` once per process (a lazy static), so it cannot switch thread
//! counts inside one process: this binary re-runs itself once per thread count with that
//! variable set and only the matrixmultiply benchmarks enabled (same arguments, same
//! `target/criterion`), then runs the other implementations itself. Criterion's per-group
//! summary page therefore shows matrixmultiply apart from the others; `depthlab bench-report`
//! lines them up.
//!
//! Before timing a shape, every implementation's result is checked against a reference (naive
//! up to 512³, otherwise our sequential path), so a wrong call cannot pass as a fast one.

use std::hint::black_box;
use std::process::{Command, ExitCode};
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use depthlab_benches::{
    MAX_THREADS, Problem, THREADS, group_name, init_thread_pool, naive_gemm, random_vec,
};
use depthlab_gemm::{Element, MatMut, MatRef, Parallelism, gemm_with};

/// Set (to the thread count) in the child processes that run only matrixmultiply.
const CHILD_ENV: &str = "DEPTHLAB_BENCH_MATRIXMULTIPLY_CHILD";
/// matrixmultiply's own thread-count variable, read once per process.
const MM_THREADS_ENV: &str = "MATMUL_NUM_THREADS";
/// The naive loop is only timed up to this many multiply-adds (512³): beyond, it takes seconds.
const NAIVE_MAX_MACS: u64 = 512 * 512 * 512;

/// The implementations lined up in every group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Depthlab,
    Matrixmultiply,
    GemmCrate,
    Naive,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Depthlab => "depthlab",
            Impl::Matrixmultiply => "matrixmultiply",
            Impl::GemmCrate => "gemm",
            Impl::Naive => "naive",
        }
    }
}

/// The element types benchmarked, with their peers' entry points.
trait BenchElement: Element + From<f32> + Into<f64> {
    /// Largest |difference| from the reference, relative to the reference's largest |value|.
    const TOLERANCE: f64;

    /// matrixmultiply's `sgemm`/`dgemm`: `C ← A·B`, C row-major.
    fn matrixmultiply(p: &Problem, a: &[Self], b: &[Self], c: &mut [Self]);
}

impl BenchElement for f32 {
    const TOLERANCE: f64 = 1e-4;

    fn matrixmultiply(p: &Problem, a: &[f32], b: &[f32], c: &mut [f32]) {
        check_lengths(p, a.len(), b.len(), c.len());
        let (rsa, csa, rsb, csb) = strides(p);
        // SAFETY: check_lengths proved every element the strides reach lies inside its slice;
        // C is a distinct &mut slice, row-major with no aliasing.
        unsafe {
            matrixmultiply::sgemm(
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

impl BenchElement for f64 {
    const TOLERANCE: f64 = 1e-10;

    fn matrixmultiply(p: &Problem, a: &[f64], b: &[f64], c: &mut [f64]) {
        check_lengths(p, a.len(), b.len(), c.len());
        let (rsa, csa, rsb, csb) = strides(p);
        // SAFETY: as for f32 above.
        unsafe {
            matrixmultiply::dgemm(
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

/// One call of `imp` computing `C ← A·B` at `threads`.
fn run<T: BenchElement>(imp: Impl, threads: usize, p: &Problem, a: &[T], b: &[T], c: &mut [T]) {
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
        // Its thread count is this process's MATMUL_NUM_THREADS (see the module docs).
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

/// Fails loudly when `imp` does not compute the same product as the reference.
fn check_against<T: BenchElement>(imp: Impl, threads: usize, p: &Problem, a: &[T], b: &[T]) {
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

/// Times every implementation in `impls` on every problem, in one criterion group.
fn bench_group<T: BenchElement>(
    c: &mut Criterion,
    family: &str,
    threads: usize,
    problems: &[Problem],
    impls: &[Impl],
) {
    let mut group = c.benchmark_group(group_name(family, threads));
    group.warm_up_time(Duration::from_millis(500));
    for p in problems {
        // About 20 ms a call and up: few flat samples keep the full run to minutes.
        let heavy = p.flops() >= 2 * 512 * 512 * 512;
        configure(&mut group, heavy);
        group.throughput(Throughput::Elements(p.flops()));
        let a: Vec<T> = random_vec(p.a_len(), 1);
        let b: Vec<T> = random_vec(p.b_len(), 2);
        let mut out = vec![T::ZERO; p.c_len()];
        for &imp in impls {
            if imp == Impl::Naive && (threads != 1 || p.flops() / 2 > NAIVE_MAX_MACS) {
                continue;
            }
            check_against(imp, threads, p, &a, &b);
            configure(
                &mut group,
                heavy || imp == Impl::Naive && p.flops() >= 2 * 256 * 256 * 256,
            );
            group.bench_with_input(BenchmarkId::new(imp.name(), p.label()), p, |bch, p| {
                bch.iter(|| {
                    run(
                        imp,
                        threads,
                        black_box(p),
                        black_box(&a),
                        black_box(&b),
                        black_box(&mut out),
                    )
                })
            });
        }
    }
    group.finish();
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, heavy: bool) {
    if heavy {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.measurement_time(Duration::from_secs(4));
    } else {
        group.sample_size(30);
        group.sampling_mode(SamplingMode::Auto);
        group.measurement_time(Duration::from_secs(2));
    }
}

fn square_sizes() -> Vec<Problem> {
    [16, 32, 64, 128, 256, 512, 1024, 2048]
        .into_iter()
        .map(Problem::square)
        .collect()
}

fn mlp_shapes() -> Vec<Problem> {
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

fn dgemm_sizes() -> Vec<Problem> {
    [512, 1024].into_iter().map(Problem::square).collect()
}

/// All groups at one thread count, for the given implementations.
fn bench_all(c: &mut Criterion, threads: usize, impls: &[Impl]) {
    bench_group::<f32>(c, "sgemm", threads, &square_sizes(), impls);
    bench_group::<f32>(c, "mlp", threads, &mlp_shapes(), impls);
    bench_group::<f64>(c, "dgemm", threads, &dgemm_sizes(), impls);
}

fn main() -> ExitCode {
    // criterion's plots share plotters (and its ab_glyph text) with the runner: give it a font.
    depthlab_runner::bench_report::register_plot_font();
    if let Ok(threads) = std::env::var(CHILD_ENV) {
        let threads: usize = threads.parse().expect("child thread count");
        let mut c = Criterion::default().configure_from_args();
        bench_all(&mut c, threads, &[Impl::Matrixmultiply]);
        c.final_summary();
        return ExitCode::SUCCESS;
    }

    // matrixmultiply first, one process per thread count (see the module docs).
    let exe = std::env::current_exe().expect("path of this bench binary");
    for threads in THREADS {
        let status = Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(CHILD_ENV, threads.to_string())
            .env(MM_THREADS_ENV, threads.to_string())
            .status()
            .expect("re-running the bench binary for matrixmultiply");
        if !status.success() {
            eprintln!("matrixmultiply benches at {threads} thread(s) failed: {status}");
            return ExitCode::FAILURE;
        }
    }

    init_thread_pool();
    if rayon::current_num_threads() != MAX_THREADS {
        eprintln!(
            "warning: rayon's global pool has {} threads, not {MAX_THREADS}",
            rayon::current_num_threads()
        );
    }
    let mut c = Criterion::default().configure_from_args();
    for threads in THREADS {
        bench_all(
            &mut c,
            threads,
            &[Impl::Depthlab, Impl::GemmCrate, Impl::Naive],
        );
    }
    c.final_summary();
    ExitCode::SUCCESS
}

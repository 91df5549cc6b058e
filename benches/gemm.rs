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
use std::process::ExitCode;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use depthlab_benches::peers::{
    BenchElement, Impl, NAIVE_MAX_MACS, check_against, dgemm_sizes, mlp_shapes,
    rerun_with_mm_threads, run, square_sizes,
};
use depthlab_benches::{MAX_THREADS, Problem, THREADS, group_name, init_thread_pool, random_vec};
use harness::{criterion, measurement_time};

#[path = "support/harness.rs"]
mod harness;

/// Set (to the thread count) in the child processes that run only matrixmultiply.
const CHILD_ENV: &str = "DEPTHLAB_BENCH_MATRIXMULTIPLY_CHILD";

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
    // Quick mode gets a quarter of the time: about 130 GEMM benchmarks share its budget.
    if heavy {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.measurement_time(measurement_time(
            Duration::from_secs(4),
            Duration::from_secs(1),
        ));
    } else {
        group.sample_size(30);
        group.sampling_mode(SamplingMode::Auto);
        group.measurement_time(measurement_time(
            Duration::from_secs(2),
            Duration::from_millis(500),
        ));
    }
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
        let mut c = criterion();
        bench_all(&mut c, threads, &[Impl::Matrixmultiply]);
        c.final_summary();
        return ExitCode::SUCCESS;
    }

    // matrixmultiply first, one process per thread count (see the module docs).
    for threads in THREADS {
        let status = rerun_with_mm_threads(threads, &[(CHILD_ENV, &threads.to_string())])
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
    let mut c = criterion();
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

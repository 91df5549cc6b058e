//! A small study end to end through the runner's library (`sweep::run`: data generation,
//! training every grid point, storing each result), in runs/s, on 1 and 2 threads.
//!
//! Id: `sweep_{1,2}t/depthlab/xor_8runs`, `Throughput::Elements(runs)`. Every iteration starts
//! from an empty results directory (a sweep skips runs already recorded), created outside the
//! timed part.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use depthlab_benches::{THREADS, group_name, init_thread_pool};
use depthlab_runner::shard::Shard;
use depthlab_runner::store::StudyDir;
use depthlab_runner::study::Study;
use depthlab_runner::sweep::{RunPlan, Silent, run};
use harness::{criterion, measurement_time};

#[path = "support/harness.rs"]
mod harness;

/// 2 depths × 2 activations × 2 seeds = 8 short runs on a small XOR set.
const STUDY: &str = r#"
name = "bench-sweep"
save_models = "never"

[axes]
depths = [1, 2]
widths = [8]
activations = ["relu", "tanh"]
seeds = [0, 1]

[train]
optimizer = "sgd"
learning_rate = 0.1
batch_size = 32
epochs = 20

[[datasets]]
name = "xor"
n_samples = 200
"#;

const RUNS: u64 = 8;

/// A fresh, empty directory per iteration under one per-process parent.
fn fresh_dir(parent: &std::path::Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    parent.join(format!("run-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

fn bench_sweep(c: &mut Criterion) {
    let study = Study::parse(STUDY, "benches/sweep.rs").expect("the bench study is valid");
    assert_eq!(study.grid().len() as u64, RUNS, "grid size changed");
    let parent = std::env::temp_dir().join(format!("depthlab-bench-sweep-{}", std::process::id()));
    for threads in THREADS {
        let mut group = c.benchmark_group(group_name("sweep", threads));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(measurement_time(
            Duration::from_secs(4),
            Duration::from_secs(1),
        ));
        group.sample_size(10);
        group.throughput(Throughput::Elements(RUNS));
        group.bench_function(BenchmarkId::new("depthlab", "xor_8runs"), |b| {
            b.iter_batched(
                || RunPlan {
                    study: study.clone(),
                    out: StudyDir::new(fresh_dir(&parent)),
                    shard: Shard::ALL,
                    threads: Some(threads),
                },
                |plan| {
                    let summary = run(&plan, &Silent).expect("sweep");
                    assert_eq!(summary.ran as u64, RUNS, "failed: {:?}", summary.failed);
                    plan
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
    // Best effort: the directories only hold this bench's small result files.
    let _ = std::fs::remove_dir_all(&parent);
}

fn main() {
    // criterion's plots share plotters (and its ab_glyph text) with the runner: give it a font.
    depthlab_runner::bench_report::register_plot_font();
    init_thread_pool();
    let mut c = criterion();
    bench_sweep(&mut c);
    c.final_summary();
}

//! Training throughput in samples/s: one `Trainer::step` (forward, softmax cross-entropy,
//! backward, SGD update at lr 0.1) on the ANCHORS.md workloads, at 1 and 2 threads, after
//! warm-up. Ids: `train_{1,2}t/depthlab/W{1,2,3}`; `Throughput::Elements(batch)` so criterion's
//! elem/s are samples/s.
//!
//! - W1: 2→64→64→64→2 relu, batch 32 (overhead-bound);
//! - W2: 64→256→256→10 relu, batch 64;
//! - W3: 784→512→512→10 relu, batch 128 (GEMM-bound).
//!
//! Inputs are random in [-1, 1) with cycling labels: the data's values do not change the work.
//! One thread: the step runs inside a 1-thread rayon pool (depthlab-gemm stays sequential in a
//! worker); two threads: from the main thread on the global 2-thread pool.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use depthlab_benches::{THREADS, group_name, init_thread_pool, random_vec};
use depthlab_nn::{BatchTargets, Loss, Matrix, Mlp, MlpConfig, OptimizerConfig, Trainer};
use harness::{criterion, measurement_time};

#[path = "support/harness.rs"]
mod harness;
// The W1-W3 table that depthlab-nn's step examples time too.
#[path = "../crates/nn/examples/support/workload.rs"]
mod workload;

use workload::WORKLOADS;

/// Steps run before timing so buffers, caches and the branch predictor are warm.
const WARM_UP_STEPS: usize = 20;

fn bench_train(c: &mut Criterion) {
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a 1-thread pool");
    for threads in THREADS {
        let mut group = c.benchmark_group(group_name("train", threads));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(measurement_time(
            Duration::from_secs(3),
            Duration::from_secs(1),
        ));
        group.sample_size(30);
        for w in &WORKLOADS {
            let cfg = MlpConfig::new(w.input, w.hidden.to_vec(), w.output);
            let mut model: Mlp = cfg.build(0).expect("valid workload");
            let mut trainer = Trainer::new(
                &model,
                w.batch,
                Loss::SoftmaxCrossEntropy,
                OptimizerConfig::sgd(0.1),
            )
            .expect("valid trainer");
            let x = Matrix::new(w.batch, w.input, random_vec::<f32>(w.batch * w.input, 7))
                .expect("batch shape");
            let labels: Vec<usize> = (0..w.batch).map(|i| i % w.output).collect();
            let mut step = || {
                black_box(
                    trainer
                        .step(&mut model, black_box(&x), BatchTargets::Classes(&labels))
                        .expect("step"),
                )
            };
            group.throughput(Throughput::Elements(w.batch as u64));
            // Criterion calls the closure once per batch of iterations: warm up on the first
            // call only, or quick mode (a dozen short batches) spends more time warming up
            // than measuring.
            let mut warm = false;
            let mut warm_then_time = |b: &mut criterion::Bencher<'_>| {
                if !warm {
                    for _ in 0..WARM_UP_STEPS {
                        step();
                    }
                    warm = true;
                }
                b.iter(&mut step)
            };
            group.bench_function(BenchmarkId::new("depthlab", w.name), |b| {
                if threads == 1 {
                    one_thread.install(|| warm_then_time(b))
                } else {
                    warm_then_time(b)
                }
            });
        }
        group.finish();
    }
}

fn main() {
    // criterion's plots share plotters (and its ab_glyph text) with the runner: give it a font.
    depthlab_runner::bench_report::register_plot_font();
    init_thread_pool();
    let mut c = criterion();
    bench_train(&mut c);
    c.final_summary();
}

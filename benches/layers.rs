//! Layer throughput: `Linear` forward and backward at the W1–W3 shapes (GFLOP/s, at 1 and 2
//! threads), and every activation's forward and backward slice pass (elements/s, one thread:
//! the element-wise passes are sequential by design).
//!
//! Ids: `linear_fwd_{1,2}t/depthlab/fwd_BxINxOUT` with `Elements(2·B·in·out)`,
//! `linear_bwd_{1,2}t/depthlab/bwd_BxINxOUT` with `Elements(4·B·in·out)` (dW = dYᵀ·X and
//! dX = dY·W; the bias sum is not counted), and `activation_fwd/<name>/N`,
//! `activation_bwd/<name>/N` with `Elements(N)`.
//!
//! The activation benches time the public slice passes, not a per-element loop (which
//! training stopped using): `activation_bwd` times `Activation::backward_slice`, the very
//! pass the trainer's backward step runs (there it also sums the bias gradient on the way);
//! `activation_fwd` times `Activation::forward_slice`, built on the same per-activation
//! closures as the layers' fused bias + activation pass, which is crate-private and also adds
//! the bias.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use depthlab_benches::{THREADS, group_name, init_thread_pool, random_vec};
use depthlab_nn::{Activation, Linear, LinearGrads, Matrix};
use harness::{criterion, measurement_time};

#[path = "support/harness.rs"]
mod harness;

/// (batch, in, out) of every Linear layer of W1, W2 and W3, without repeats.
const LAYERS: [(usize, usize, usize); 9] = [
    (32, 2, 64),
    (32, 64, 64),
    (32, 64, 2),
    (64, 64, 256),
    (64, 256, 256),
    (64, 256, 10),
    (128, 784, 512),
    (128, 512, 512),
    (128, 512, 10),
];

/// Elements per activation call: one W3 hidden layer's batch (128 × 512).
const ACT_ELEMENTS: usize = 128 * 512;

fn bench_linear(c: &mut Criterion) {
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a 1-thread pool");
    // Run `f` at `threads`: inside a 1-thread pool (depthlab-gemm stays sequential in a
    // worker) or from the main thread on the global pool.
    let on = |threads: usize, f: &mut (dyn FnMut() + Send)| {
        if threads == 1 {
            one_thread.install(f)
        } else {
            f()
        }
    };
    for threads in THREADS {
        for backward in [false, true] {
            let family = if backward { "linear_bwd" } else { "linear_fwd" };
            let mut group = c.benchmark_group(group_name(family, threads));
            group.warm_up_time(Duration::from_millis(300));
            group.measurement_time(measurement_time(
                Duration::from_secs(2),
                Duration::from_millis(500),
            ));
            group.sample_size(30);
            for &(batch, inputs, outputs) in &LAYERS {
                let weight = Matrix::new(outputs, inputs, random_vec::<f32>(outputs * inputs, 3))
                    .expect("weight shape");
                let layer =
                    Linear::new(weight, Some(random_vec::<f32>(outputs, 4))).expect("layer");
                let x =
                    Matrix::new(batch, inputs, random_vec::<f32>(batch * inputs, 5)).expect("x");
                let macs = (batch * inputs * outputs) as u64;
                if backward {
                    let dy = Matrix::new(batch, outputs, random_vec::<f32>(batch * outputs, 6))
                        .expect("dy");
                    let mut dx = Matrix::zeros(batch, inputs);
                    let mut grads = LinearGrads::for_layer(&layer);
                    group.throughput(Throughput::Elements(4 * macs));
                    let id =
                        BenchmarkId::new("depthlab", format!("bwd_{batch}x{inputs}x{outputs}"));
                    group.bench_function(id, |b| {
                        on(threads, &mut || {
                            b.iter(|| {
                                layer
                                    .backward(
                                        black_box(&x),
                                        black_box(&dy),
                                        Some(&mut dx),
                                        &mut grads,
                                    )
                                    .expect("backward")
                            })
                        })
                    });
                } else {
                    let mut y = Matrix::zeros(batch, outputs);
                    group.throughput(Throughput::Elements(2 * macs));
                    let id =
                        BenchmarkId::new("depthlab", format!("fwd_{batch}x{inputs}x{outputs}"));
                    group.bench_function(id, |b| {
                        on(threads, &mut || {
                            b.iter(|| layer.forward(black_box(&x), &mut y).expect("forward"))
                        })
                    });
                }
            }
            group.finish();
        }
    }
}

fn bench_activations(c: &mut Criterion) {
    let z: Vec<f32> = random_vec(ACT_ELEMENTS, 8)
        .into_iter()
        .map(|v: f32| 4.0 * v)
        .collect();
    let dy: Vec<f32> = random_vec(ACT_ELEMENTS, 9);
    for backward in [false, true] {
        let family = if backward {
            "activation_bwd"
        } else {
            "activation_fwd"
        };
        let mut group = c.benchmark_group(family);
        group.warm_up_time(Duration::from_millis(200));
        group.measurement_time(measurement_time(
            Duration::from_secs(1),
            Duration::from_millis(500),
        ));
        group.sample_size(20);
        group.throughput(Throughput::Elements(ACT_ELEMENTS as u64));
        for act in Activation::ALL {
            let mut a = vec![0.0f32; ACT_ELEMENTS];
            act.forward_slice(&z, &mut a).expect("same lengths");
            let id = BenchmarkId::new(act.base_name(), ACT_ELEMENTS);
            if backward {
                // dZ = dA ⊙ f'(Z) in place, given Z and A = f(Z) as the layers keep them.
                let mut delta = dy.clone();
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut timed = Duration::ZERO;
                        for _ in 0..iters {
                            // Restored untimed: passes in a row would shrink delta towards
                            // subnormals (|f'| < 1 for sigmoid and tanh), which x86 runs far
                            // slower than the gradients training sees.
                            delta.copy_from_slice(&dy);
                            let start = Instant::now();
                            act.backward_slice(black_box(&z), &a, black_box(&mut delta))
                                .expect("same lengths");
                            timed += start.elapsed();
                        }
                        timed
                    })
                });
            } else {
                let mut out = vec![0.0f32; ACT_ELEMENTS];
                group.bench_function(id, |b| {
                    b.iter(|| {
                        act.forward_slice(black_box(&z), black_box(&mut out))
                            .expect("same lengths")
                    })
                });
            }
        }
        group.finish();
    }
}

fn main() {
    // criterion's plots share plotters (and its ab_glyph text) with the runner: give it a font.
    depthlab_runner::bench_report::register_plot_font();
    init_thread_pool();
    let mut c = criterion();
    bench_linear(&mut c);
    bench_activations(&mut c);
    c.final_summary();
}

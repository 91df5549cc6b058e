//! Proof that a steady-state training step allocates nothing: a counting global allocator
//! (process-wide, so GEMM worker threads count too) watches many `Trainer::step` calls after
//! warm-up. Its own binary, because `#[global_allocator]` is per binary.

use std::alloc::System;

use depthlab_nn::{
    Activation, BatchTargets, Loss, Matrix, MlpConfig, OptimizerConfig, Targets, Trainer,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn batch(rows: usize, cols: usize, seed: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |i, j| {
        (((i * 31 + j * 17 + seed) % 23) as f32 - 11.0) / 11.0
    })
}

/// Runs warm-up steps, then counts allocations over `steps` more (alternating a full and a
/// partial batch), for every optimizer.
fn allocations_per_run(act: Activation, loss: Loss, dims: (usize, Vec<usize>, usize), b: usize) {
    let (input, hidden, output) = dims;
    let x_full = batch(b, input, 1);
    let x_part = batch(b - 3, input, 2);
    let labels: Vec<usize> = (0..b).map(|i| i % output).collect();
    let values = batch(b, output, 3);
    let targets = |rows: usize| match loss {
        Loss::Mse => BatchTargets::Values(&values.as_slice()[..rows * output]),
        _ => BatchTargets::Classes(&labels[..rows]),
    };
    for opt in [
        OptimizerConfig::sgd(0.01),
        OptimizerConfig::Sgd {
            lr: 0.01,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
        },
        OptimizerConfig::adam(1e-3),
        OptimizerConfig::adamw(1e-3),
    ] {
        let cfg = MlpConfig {
            activation: act,
            ..MlpConfig::new(input, hidden.clone(), output)
        };
        let mut model = cfg.build(1).unwrap();
        let mut trainer = Trainer::new(&model, b, loss, opt).unwrap();
        for _ in 0..3 {
            trainer.step(&mut model, &x_full, targets(b)).unwrap();
            trainer.step(&mut model, &x_part, targets(b - 3)).unwrap();
        }
        // The counter is process-wide, so it also sees GEMM's rayon workers, which grow their
        // per-thread packing buffers the first time each meets a block size (which worker gets
        // which block varies from run to run). Those one-off growths may land in a window, so
        // windows of 20 step pairs are measured until one is clean: a step that allocated would
        // dirty every window.
        let mut windows = Vec::new();
        for _ in 0..5 {
            let region = Region::new(GLOBAL);
            let mut total = 0.0;
            for _ in 0..20 {
                total += trainer.step(&mut model, &x_full, targets(b)).unwrap();
                total += trainer.step(&mut model, &x_part, targets(b - 3)).unwrap();
            }
            let stats = region.change();
            assert!(total.is_finite());
            windows.push((
                stats.allocations,
                stats.reallocations,
                stats.bytes_allocated,
            ));
            if stats.allocations == 0 && stats.reallocations == 0 {
                break;
            }
        }
        let (allocs, reallocs, _) = *windows.last().unwrap();
        assert_eq!(
            (allocs, reallocs),
            (0, 0),
            "{act} {loss} {opt} {input}->{hidden:?}->{output}, batch {b}: steady-state steps \
             allocated in every window (allocations, reallocations, bytes): {windows:?}"
        );
    }
}

#[test]
fn steady_state_training_steps_do_not_allocate() {
    // Start rayon's global pool and let every worker run once, so thread start-up does not
    // land in a measured window.
    rayon::broadcast(|_| std::hint::black_box(0));
    // The W1 shape, and one whose products are big enough for a parallel GEMM.
    allocations_per_run(
        Activation::Relu,
        Loss::SoftmaxCrossEntropy,
        (2, vec![64, 64, 64], 2),
        32,
    );
    allocations_per_run(Activation::Gelu, Loss::Mse, (16, vec![32], 3), 16);
    allocations_per_run(
        Activation::Tanh,
        Loss::BinaryCrossEntropy,
        (8, vec![16, 16], 4),
        8,
    );
    // Big enough for GEMM to use both threads. Run from inside the pool: a job injected into
    // rayon from outside lands in its global injector, which allocates one 1.5 KiB block per
    // 63 jobs (rayon's cost, not ours); from a worker, jobs go to its reusable local deque.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    const _: () = assert!(128 * 384 * 384 >= depthlab_gemm::MIN_PARALLEL_MACS);
    pool.install(|| {
        allocations_per_run(
            Activation::Relu,
            Loss::SoftmaxCrossEntropy,
            (128, vec![384, 384], 10),
            128,
        )
    });

    // The counter does see allocations: the test can fail.
    let region = Region::new(GLOBAL);
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(region.change().allocations >= 1);
    drop(v);

    evaluation_does_not_allocate_either();
}

/// Called from the single test: the counter is process-wide, so tests must not overlap.
fn evaluation_does_not_allocate_either() {
    let mut model = MlpConfig::new(4, vec![16], 3).build(2).unwrap();
    let mut trainer = Trainer::new(
        &model,
        8,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.1),
    )
    .unwrap();
    let x = batch(30, 4, 5);
    let y = Targets::Classes {
        labels: (0..30).map(|i| i % 3).collect(),
        n_classes: 3,
    };
    trainer.evaluate(&model, &x, &y).unwrap();
    let region = Region::new(GLOBAL);
    let m = trainer.evaluate(&model, &x, &y).unwrap();
    assert_eq!(region.change().allocations, 0);
    assert!(m.accuracy.is_some());
    model.parameters_mut().next().unwrap().0[0] = 1.0;
}

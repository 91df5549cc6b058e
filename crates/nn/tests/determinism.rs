//! Same seed, same weights, bit for bit, with 1 and with 2 threads, and with the GEMM's
//! epilogue or separate element-wise passes.

use depthlab_nn::{
    Activation, BatchTargets, Loss, Matrix, Mlp, MlpConfig, OptimizerConfig, Targets, TrainConfig,
    TrainData, Trainer, train,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Hidden width: a 128-row batch through a WIDTH×WIDTH layer is a product (and a pair of
/// backward products) big enough for depthlab-gemm to split and the trainer to join.
const WIDTH: usize = 384;

const _: () = assert!(
    BATCH * WIDTH * WIDTH >= depthlab_gemm::MIN_PARALLEL_MACS,
    "the hidden products must be big enough to be threaded"
);

/// Rows per batch.
const BATCH: usize = 128;

/// Random 64-feature data, 10 classes: big enough products that a parallel GEMM splits them.
fn data() -> TrainData {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut make = |n: usize| {
        let x = Matrix::from_fn(n, 64, |_, _| rng.random::<f32>());
        let labels = (0..n).map(|_| rng.random_range(0..10)).collect();
        (
            x,
            Targets::Classes {
                labels,
                n_classes: 10,
            },
        )
    };
    let (x_train, y_train) = make(512);
    let (x_test, y_test) = make(128);
    TrainData {
        x_train,
        y_train,
        x_test,
        y_test,
    }
}

fn run(threads: usize, data: &TrainData) -> (Mlp, Vec<f64>) {
    run_with(
        Some(threads),
        OptimizerConfig::adam(1e-3),
        &[WIDTH, WIDTH],
        data,
    )
}

/// Trains a 64→hidden→10 net inside a pool of `threads` workers, or with `None` from the
/// calling thread (outside any pool: the trainer then moves big steps onto rayon's global
/// pool itself).
fn run_with(
    threads: Option<usize>,
    opt: OptimizerConfig,
    hidden: &[usize],
    data: &TrainData,
) -> (Mlp, Vec<f64>) {
    let go = || {
        let mut model = MlpConfig::new(64, hidden.to_vec(), 10).build(3).unwrap();
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: BATCH,
            optimizer: opt,
            seed: 9,
            ..TrainConfig::default()
        };
        let report = train(&mut model, data, &cfg, &mut |_| {}).unwrap();
        (model, report.history.iter().map(|s| s.train_loss).collect())
    };
    on_threads(threads, go)
}

/// Runs `go` inside a fresh pool of `threads` workers, or with `None` on the calling thread
/// (outside any pool).
fn on_threads<R: Send>(threads: Option<usize>, go: impl FnOnce() -> R + Send) -> R {
    match threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(go),
        None => go(),
    }
}

/// Every weight and bias (when there are biases) of `model`, as bits.
fn all_bits(model: &Mlp) -> Vec<u32> {
    model
        .layers()
        .iter()
        .flat_map(|l| {
            l.weight()
                .as_slice()
                .iter()
                .chain(l.bias().unwrap_or(&[]))
                .map(|v| v.to_bits())
        })
        .collect()
}

#[test]
fn training_is_bit_identical_across_runs_and_thread_counts() {
    let data = data();
    let (m1a, h1a) = run(1, &data);
    let (m1b, h1b) = run(1, &data);
    let (m2a, h2a) = run(2, &data);
    let (m2b, h2b) = run(2, &data);
    let reference = all_bits(&m1a);
    assert_ne!(
        reference,
        all_bits(&MlpConfig::new(64, vec![WIDTH, WIDTH], 10).build(3).unwrap())
    );
    for (name, m) in [
        ("1 thread again", &m1b),
        ("2 threads", &m2a),
        ("2 threads again", &m2b),
    ] {
        assert!(
            all_bits(m) == reference,
            "{name}: weights differ from the 1-thread run"
        );
    }
    assert_eq!(h1a, h1b);
    assert_eq!(h1a, h2a);
    assert_eq!(h1a, h2b);
}

#[test]
fn plain_sgd_with_fused_updates_is_bit_identical_inside_and_outside_the_pool() {
    // Plain SGD fuses the update into the weight-gradient GEMM of every layer. With three
    // hidden layers of WIDTH and batches of 128, the backward pipeline runs the middle layer's
    // update beside the first layer's input gradient when it has two threads, and one after
    // the other when it has one; the step also hops onto the global pool when called from
    // outside it. None of it may change a bit.
    let data = data();
    let sgd = OptimizerConfig::sgd(0.05);
    let hidden = [WIDTH, WIDTH, WIDTH];
    let (one, h_one) = run_with(Some(1), sgd, &hidden, &data);
    let (two, h_two) = run_with(Some(2), sgd, &hidden, &data);
    let (outside, h_outside) = run_with(None, sgd, &hidden, &data);
    let reference = all_bits(&one);
    assert!(all_bits(&two) == reference, "2 threads differ from 1");
    assert!(all_bits(&outside) == reference, "outside the pool differs");
    assert_eq!(h_one, h_two);
    assert_eq!(h_one, h_outside);
    assert!(h_one.iter().all(|l| l.is_finite()));
}

/// W2's shape: 64-row batches through 256-wide layers, products of 2²² multiply-adds, under
/// depthlab-gemm's bar for splitting on its own but over the one for a warm pool.
const W2_HIDDEN: [usize; 2] = [256, 256];

const _: () = assert!(
    64 * W2_HIDDEN[0] * W2_HIDDEN[1] >= depthlab_gemm::MIN_WARM_PARALLEL_MACS
        && 64 * W2_HIDDEN[0] * W2_HIDDEN[1] < depthlab_gemm::MIN_PARALLEL_MACS,
    "W2's products must be split only on a warm pool"
);

#[test]
fn steps_split_on_a_warm_pool_give_the_same_bits() {
    // Called from outside any pool, the trainer moves each step onto rayon's global pool and
    // keeps a second worker awake; products from 2²⁰ multiply-adds up are then split. Inside
    // a 1-thread pool nothing is.
    let data = data();
    let steps = |threads: Option<usize>| {
        let go = || {
            let mut model = MlpConfig::new(64, W2_HIDDEN.to_vec(), 10).build(5).unwrap();
            let mut trainer = Trainer::new(
                &model,
                64,
                Loss::SoftmaxCrossEntropy,
                OptimizerConfig::sgd(0.05),
            )
            .unwrap();
            let Targets::Classes { labels, .. } = &data.y_train else {
                unreachable!()
            };
            let mut losses = Vec::new();
            for b in 0..8 {
                let rows = b * 64..(b + 1) * 64;
                let x =
                    Matrix::from_fn(64, 64, |i, j| data.x_train.get(rows.start + i, j).unwrap());
                let y = BatchTargets::Classes(&labels[rows]);
                losses.push(trainer.step(&mut model, &x, y).unwrap());
            }
            (all_bits(&model), losses)
        };
        on_threads(threads, go)
    };
    let (one, l_one) = steps(Some(1));
    let (outside, l_outside) = steps(None);
    assert!(
        outside == one,
        "steps on the warm pool differ from 1 thread"
    );
    assert_eq!(l_one, l_outside);
}

#[test]
fn same_seed_gives_same_initial_weights_and_different_seeds_differ() {
    let cfg = MlpConfig::new(5, vec![7, 3], 2);
    assert_eq!(cfg.build(1).unwrap(), cfg.build(1).unwrap());
    assert_ne!(cfg.build(1).unwrap(), cfg.build(2).unwrap());
    // f64 and f32 builds hold the same draws.
    let (a, b) = (cfg.build(4).unwrap(), cfg.build_as::<f64>(4).unwrap());
    for (la, lb) in a.layers().iter().zip(b.layers()) {
        for (x, y) in la.weight().as_slice().iter().zip(lb.weight().as_slice()) {
            assert_eq!(*x, *y as f32);
        }
    }
}

#[test]
fn the_gemm_epilogue_gives_the_same_bits_as_separate_passes() {
    // Bias and ReLU (or identity) in the forward product's epilogue, and the ReLU's mask in the
    // backward product's, must change nothing against the separate passes: on feature-major
    // batches (64 rows and more) and batch-major ones, with and without biases, with the fused
    // SGD update and with Adam. Tanh is not fused and must be untouched by the switch.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for activation in [Activation::Relu, Activation::Identity, Activation::Tanh] {
        for (rows, bias) in [(96, true), (96, false), (20, true)] {
            for opt in [OptimizerConfig::sgd(0.05), OptimizerConfig::adam(1e-3)] {
                let cfg = MlpConfig {
                    activation,
                    bias,
                    ..MlpConfig::new(24, vec![70, 33], 5)
                };
                let x = Matrix::from_fn(rows, 24, |_, _| rng.random::<f32>() - 0.5);
                let labels: Vec<usize> = (0..rows).map(|_| rng.random_range(0..5)).collect();
                let run = |fuse: bool| {
                    let mut model = cfg.build(1).unwrap();
                    let mut trainer =
                        Trainer::new(&model, rows, Loss::SoftmaxCrossEntropy, opt).unwrap();
                    trainer.set_fuse_epilogue(fuse);
                    let losses: Vec<u64> = (0..4)
                        .map(|_| {
                            trainer
                                .step(&mut model, &x, BatchTargets::Classes(&labels))
                                .unwrap()
                                .to_bits()
                        })
                        .collect();
                    (losses, all_bits(&model))
                };
                let (fused, separate) = (run(true), run(false));
                let case = format!("{activation:?}, {rows} rows, bias {bias}, {opt:?}");
                assert_eq!(fused.0, separate.0, "losses differ: {case}");
                assert!(fused.1 == separate.1, "weights differ: {case}");
                assert!(
                    fused.1 != all_bits(&cfg.build(1).unwrap()),
                    "training did not move the weights: {case}"
                );
            }
        }
    }
}

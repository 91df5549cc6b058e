//! The claims the project exists to show, on data generated here:
//! 1. a linear model cannot separate XOR, one hidden ReLU layer can;
//! 2. stacked linear layers collapse into one linear map;
//! 3. a sum of ReLUs fits a curve.

use depthlab_nn::{
    Activation, EpochStats, Matrix, Mlp, MlpConfig, OptimizerConfig, Outcome, Targets, TrainConfig,
    TrainData, train,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Four Gaussian clusters at the corners (±1, ±1); opposite corners share a class
/// ("triangles vs squares").
fn xor_data(n: usize, noise: f32, seed: u64) -> (Matrix, Targets) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let (sx, sy) = [(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)][i % 4];
        x.push(sx + noise * rng.sample::<f32, _>(StandardNormal));
        x.push(sy + noise * rng.sample::<f32, _>(StandardNormal));
        labels.push(usize::from(i % 4 >= 2));
    }
    (
        Matrix::new(n, 2, x).unwrap(),
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )
}

fn xor_split() -> TrainData {
    let (x_train, y_train) = xor_data(400, 0.3, 1);
    let (x_test, y_test) = xor_data(400, 0.3, 2);
    TrainData {
        x_train,
        y_train,
        x_test,
        y_test,
    }
}

fn fit(model: &mut Mlp, data: &TrainData, cfg: &TrainConfig) -> EpochStats {
    let report = train(model, data, cfg, &mut |_| {}).unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    report.history.last().unwrap().clone()
}

fn xor_cfg() -> TrainConfig {
    TrainConfig {
        epochs: 60,
        batch_size: 32,
        optimizer: OptimizerConfig::adam(0.02),
        seed: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn linear_model_cannot_separate_xor_but_one_relu_layer_can() {
    let data = xor_split();
    let mut linear = MlpConfig::new(2, vec![], 2).build(7).unwrap();
    let lin = fit(&mut linear, &data, &xor_cfg());
    let lin_acc = lin.test_accuracy.unwrap();
    assert!(lin_acc <= 0.65, "depth 0 test accuracy {lin_acc}");

    let mut hidden = MlpConfig::new(2, vec![8], 2).build(7).unwrap();
    let deep = fit(&mut hidden, &data, &xor_cfg());
    let acc = deep.test_accuracy.unwrap();
    assert!(
        acc >= 0.97,
        "one relu layer of width 8: test accuracy {acc}"
    );
}

/// The single affine map `x ↦ x·Mᵀ + c` equal to a stack of Linear layers (no activation),
/// folded in f64: `M = W_L⋯W_0`, `c = W_L(⋯(W_1 b_0 + b_1)⋯) + b_L`.
fn collapse(model: &Mlp) -> (Vec<Vec<f64>>, Vec<f64>) {
    let first = &model.layers()[0];
    let mut m: Vec<Vec<f64>> = (0..first.out_features())
        .map(|o| {
            first
                .weight()
                .row(o)
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        })
        .collect();
    let mut c: Vec<f64> = first
        .bias()
        .unwrap()
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    for layer in &model.layers()[1..] {
        let w = layer.weight();
        let b = layer.bias().unwrap();
        let new_m = (0..w.rows())
            .map(|o| {
                (0..m[0].len())
                    .map(|i| {
                        (0..w.cols())
                            .map(|k| f64::from(w.row(o)[k]) * m[k][i])
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let new_c = (0..w.rows())
            .map(|o| {
                (0..w.cols())
                    .map(|k| f64::from(w.row(o)[k]) * c[k])
                    .sum::<f64>()
                    + f64::from(b[o])
            })
            .collect();
        m = new_m;
        c = new_c;
    }
    (m, c)
}

#[test]
fn stacked_identity_layers_collapse_into_one_linear_map() {
    let data = xor_split();
    let cfg = MlpConfig {
        activation: Activation::Identity,
        ..MlpConfig::new(2, vec![16, 16, 16], 2)
    };
    let mut deep = cfg.build(11).unwrap();
    let deep_stats = fit(&mut deep, &data, &xor_cfg());

    let (m, c) = collapse(&deep);
    let out = deep.predict(&data.x_test).unwrap();
    let mut max_diff = 0.0f64;
    let mut max_abs = 0.0f64;
    for r in 0..out.rows() {
        let x = data.x_test.row(r);
        for o in 0..2 {
            let folded = m[o][0] * f64::from(x[0]) + m[o][1] * f64::from(x[1]) + c[o];
            max_diff = max_diff.max((folded - f64::from(out.row(r)[o])).abs());
            max_abs = max_abs.max(folded.abs());
        }
    }
    assert!(max_abs > 1e-3, "degenerate outputs");
    assert!(
        max_diff <= 1e-5 * max_abs,
        "deep linear net differs from its folded map by {max_diff:e} (scale {max_abs:e})"
    );

    // On XOR neither separates anything: both sit at chance, with the log-loss of a
    // constant guess (ln 2), where accuracy itself is just noise around 50%.
    let mut linear = MlpConfig::new(2, vec![], 2).build(11).unwrap();
    let lin_stats = fit(&mut linear, &data, &xor_cfg());
    let (a, b) = (
        deep_stats.test_accuracy.unwrap(),
        lin_stats.test_accuracy.unwrap(),
    );
    assert!(a <= 0.65 && b <= 0.65, "deep linear {a}, depth 0 {b}");
    let ln2 = std::f64::consts::LN_2;
    assert!(
        (deep_stats.test_loss - ln2).abs() < 0.03,
        "deep linear loss {}",
        deep_stats.test_loss
    );
    assert!(
        (lin_stats.test_loss - ln2).abs() < 0.03,
        "depth 0 loss {}",
        lin_stats.test_loss
    );
}

/// Two overlapping Gaussian blobs (centres ±(1, 0.5), unit noise): the best linear boundary
/// gets about 87% right, so accuracies can be compared meaningfully.
fn blobs(n: usize, seed: u64) -> (Matrix, Targets) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let s = if i % 2 == 0 { 1.0f32 } else { -1.0 };
        x.push(s + rng.sample::<f32, _>(StandardNormal));
        x.push(0.5 * s + rng.sample::<f32, _>(StandardNormal));
        labels.push(i % 2);
    }
    (
        Matrix::new(n, 2, x).unwrap(),
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )
}

#[test]
fn deep_linear_net_classifies_like_the_linear_model() {
    let (x_train, y_train) = blobs(1000, 4);
    let (x_test, y_test) = blobs(2000, 5);
    let data = TrainData {
        x_train,
        y_train,
        x_test,
        y_test,
    };
    let deep_cfg = MlpConfig {
        activation: Activation::Identity,
        ..MlpConfig::new(2, vec![16, 16, 16], 2)
    };
    let mut deep = deep_cfg.build(12).unwrap();
    let mut linear = MlpConfig::new(2, vec![], 2).build(12).unwrap();
    let cfg = TrainConfig {
        epochs: 30,
        ..xor_cfg()
    };
    let a = fit(&mut deep, &data, &cfg).test_accuracy.unwrap();
    let b = fit(&mut linear, &data, &cfg).test_accuracy.unwrap();
    assert!(b > 0.8, "depth 0 on blobs {b}");
    assert!((a - b).abs() <= 0.02, "deep linear {a} vs depth 0 {b}");
}

#[test]
fn one_hidden_relu_layer_fits_sine() {
    let grid = |n: usize, offset: f64| {
        let xs: Vec<f32> = (0..n)
            .map(|i| {
                (-std::f64::consts::PI
                    + 2.0 * std::f64::consts::PI * (i as f64 + offset) / n as f64)
                    as f32
            })
            .collect();
        let ys: Vec<f32> = xs.iter().map(|x| x.sin()).collect();
        (
            Matrix::new(n, 1, xs).unwrap(),
            Matrix::new(n, 1, ys).unwrap(),
        )
    };
    let (x_train, y_train) = grid(512, 0.0);
    let (x_test, y_test) = grid(200, 0.5);
    let data = TrainData {
        x_train,
        y_train: Targets::Values(y_train),
        x_test,
        y_test: Targets::Values(y_test),
    };
    let mut model = MlpConfig::new(1, vec![64], 1).build(5).unwrap();
    let cfg = TrainConfig {
        epochs: 300,
        batch_size: 32,
        loss: depthlab_nn::Loss::Mse,
        optimizer: OptimizerConfig::adam(0.01),
        schedule: depthlab_nn::Schedule::Cosine {
            total_epochs: 300,
            min_lr: 1e-4,
        },
        seed: 1,
        ..TrainConfig::default()
    };
    let last = fit(&mut model, &data, &cfg);
    let mse = last.test_mse.unwrap();
    assert!(mse < 1e-3, "sin(x) test MSE {mse}");
    assert_eq!(last.test_accuracy, None);
}

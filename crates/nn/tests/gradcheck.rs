//! Finite-difference checks, in f64, of every analytic derivative: each activation, each loss
//! (with each kind of target), `Linear::backward`, and a 3-hidden-layer MLP per activation.

use depthlab_nn::{
    Activation, BatchTargets, Init, Linear, LinearGrads, Loss, Matrix, MlpConfig, OptimizerConfig,
    Trainer,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const H: f64 = 1e-6;

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 1e-6 * (1.0 + analytic.abs().max(numeric.abs()));
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic:e} vs finite difference {numeric:e}"
    );
}

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix<f64> {
    Matrix::from_fn(rows, cols, |_, _| 2.0 * rng.random::<f64>() - 1.0)
}

#[test]
fn every_activation_derivative_matches_finite_differences() {
    let points = [
        -3.1, -1.7, -0.6, -0.2, -1e-3, 1e-3, 0.25, 0.7, 1.3, 2.9, 8.0, -8.0,
    ];
    let mut acts = Activation::ALL.to_vec();
    acts.extend([Activation::LeakyRelu(0.2), Activation::Elu(0.5)]);
    for act in acts {
        for &z in &points {
            let a = act.value(z);
            let numeric = (act.value(z + H) - act.value(z - H)) / (2.0 * H);
            assert_close(&format!("{act} at {z}"), act.derivative(z, a), numeric);
        }
    }
}

#[test]
fn activation_values_match_their_definitions() {
    let z = 0.7f64;
    let sig = 1.0 / (1.0 + (-z).exp());
    let cases = [
        (Activation::Identity, z),
        (Activation::Sigmoid, sig),
        (Activation::Tanh, z.tanh()),
        (Activation::Relu, z),
        (Activation::LeakyRelu(0.1), z),
        (Activation::Elu(1.0), z),
        // GELU(0.7) = 0.7·Φ(0.7), Φ(0.7) = 0.758036347776927
        (Activation::Gelu, 0.7 * 0.758_036_347_776_927),
        (Activation::Softplus, (1.0 + z.exp()).ln()),
        (Activation::Silu, z * sig),
    ];
    for (act, want) in cases {
        assert!((act.value(z) - want).abs() < 1e-12, "{act}({z})");
    }
    assert_eq!(Activation::Relu.value(-2.0f64), 0.0);
    assert!((Activation::LeakyRelu(0.1).value(-2.0f64) + 0.2).abs() < 1e-15);
    assert!((Activation::Elu(0.5).value(-2.0f64) - 0.5 * ((-2.0f64).exp() - 1.0)).abs() < 1e-15);
    // Stable forms do not overflow.
    assert_eq!(Activation::Sigmoid.value(-1000.0f64), 0.0);
    assert_eq!(Activation::Softplus.value(1000.0f64), 1000.0);
    assert!(Activation::Silu.value(-1000.0f64).abs() < 1e-300);
}

/// Checks `dL/doutputs` of `loss` against central differences.
fn check_loss(loss: Loss, outputs: &[f64], n: usize, targets: BatchTargets<'_, f64>, label: &str) {
    let mut grad = vec![0.0; outputs.len()];
    let l0 = loss.evaluate(outputs, n, targets, Some(&mut grad)).unwrap();
    assert!(l0.is_finite());
    let l_nograd = loss.evaluate(outputs, n, targets, None).unwrap();
    assert!(
        (l0 - l_nograd).abs() < 1e-14,
        "{label}: loss with and without gradient"
    );
    for k in 0..outputs.len() {
        let mut plus = outputs.to_vec();
        let mut minus = outputs.to_vec();
        plus[k] += H;
        minus[k] -= H;
        let numeric = (loss.evaluate(&plus, n, targets, None).unwrap()
            - loss.evaluate(&minus, n, targets, None).unwrap())
            / (2.0 * H);
        assert_close(&format!("{label} d/dz[{k}]"), grad[k], numeric);
    }
}

#[test]
fn every_loss_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (b, n) = (5, 4);
    let z: Vec<f64> = (0..b * n)
        .map(|_| 3.0 * rng.random::<f64>() - 1.5)
        .collect();
    let labels = [0usize, 3, 1, 2, 3];
    let values: Vec<f64> = (0..b * n).map(|_| rng.random::<f64>()).collect();
    // Soft targets: each row a probability distribution.
    let mut soft = values.clone();
    for row in soft.chunks_exact_mut(n) {
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    for loss in [
        Loss::Mse,
        Loss::SoftmaxCrossEntropy,
        Loss::BinaryCrossEntropy,
    ] {
        check_loss(
            loss,
            &z,
            n,
            BatchTargets::Classes(&labels),
            &format!("{loss} classes"),
        );
        let t = if loss == Loss::SoftmaxCrossEntropy {
            &soft
        } else {
            &values
        };
        check_loss(
            loss,
            &z,
            n,
            BatchTargets::Values(t),
            &format!("{loss} values"),
        );
    }
    // A single output: BCE with 0/1 labels, MSE with the label as value.
    let z1: Vec<f64> = z[..b].to_vec();
    let bin = [0usize, 1, 1, 0, 1];
    check_loss(
        Loss::BinaryCrossEntropy,
        &z1,
        1,
        BatchTargets::Classes(&bin),
        "bce 1 output",
    );
    check_loss(
        Loss::Mse,
        &z1,
        1,
        BatchTargets::Classes(&bin),
        "mse 1 output",
    );
}

#[test]
fn softmax_cross_entropy_is_stable_for_huge_logits() {
    let z = [1000.0f64, 0.0, -1000.0, 1000.0];
    let mut g = [0.0; 4];
    let l = Loss::SoftmaxCrossEntropy
        .evaluate(&z, 2, BatchTargets::Classes(&[1, 0]), Some(&mut g))
        .unwrap();
    // Row 1: loss 1000 (prob of class 1 is e^-1000); row 2: loss 2000.
    assert!((l - 1500.0).abs() < 1e-9, "{l}");
    assert!(g.iter().all(|v| v.is_finite()));
}

#[test]
fn linear_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (b, i, o) = (3, 4, 5);
    let x = random_matrix(&mut rng, b, i);
    let w = random_matrix(&mut rng, o, i);
    let bias: Vec<f64> = (0..o).map(|_| rng.random::<f64>()).collect();
    let dy = random_matrix(&mut rng, b, o);
    let layer = Linear::new(w, Some(bias)).unwrap();
    // L = Σ dy ⊙ (x·Wᵀ + b), so dL/dy = dy.
    let objective = |layer: &Linear<f64>, x: &Matrix<f64>| {
        let mut y = Matrix::zeros(b, o);
        layer.forward(x, &mut y).unwrap();
        y.as_slice()
            .iter()
            .zip(dy.as_slice())
            .map(|(a, c)| a * c)
            .sum::<f64>()
    };
    let mut grads = LinearGrads::for_layer(&layer);
    let mut dx = Matrix::zeros(b, i);
    layer.backward(&x, &dy, Some(&mut dx), &mut grads).unwrap();

    for k in 0..o * i {
        let (mut p, mut m) = (layer.clone(), layer.clone());
        p.weight_mut()[k] += H;
        m.weight_mut()[k] -= H;
        let numeric = (objective(&p, &x) - objective(&m, &x)) / (2.0 * H);
        assert_close(&format!("dW[{k}]"), grads.weight.as_slice()[k], numeric);
    }
    for k in 0..o {
        let (mut p, mut m) = (layer.clone(), layer.clone());
        p.bias_mut().unwrap()[k] += H;
        m.bias_mut().unwrap()[k] -= H;
        let numeric = (objective(&p, &x) - objective(&m, &x)) / (2.0 * H);
        assert_close(
            &format!("db[{k}]"),
            grads.bias.as_ref().unwrap()[k],
            numeric,
        );
    }
    for k in 0..b * i {
        let (mut p, mut m) = (x.clone(), x.clone());
        p.as_mut_slice()[k] += H;
        m.as_mut_slice()[k] -= H;
        let numeric = (objective(&layer, &p) - objective(&layer, &m)) / (2.0 * H);
        assert_close(&format!("dX[{k}]"), dx.as_slice()[k], numeric);
    }
}

#[test]
fn linear_rejects_wrong_shapes_naming_both() {
    let layer = Linear::<f64>::zeros(4, 5, true);
    let x = Matrix::zeros(3, 4);
    let mut y = Matrix::zeros(3, 4);
    let err = layer.forward(&x, &mut y).unwrap_err().to_string();
    assert!(err.contains("3x5") && err.contains("3x4"), "{err}");
}

/// Gradients of a 3-hidden-layer MLP from `Trainer::step` on a batch of `rows` rows (SGD with
/// lr 0, so nothing moves) against central differences of the loss in every parameter.
fn check_mlp(act: Activation, loss: Loss, bias: bool, rows: usize) {
    let cfg = MlpConfig {
        input: 3,
        hidden: vec![5, 4, 3],
        output: 3,
        activation: act,
        init: Init::XavierUniform,
        bias,
    };
    let mut model = cfg.build_as::<f64>(5).unwrap();
    // Non-zero biases so every term of the gradient is exercised.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (_, bias) in model.parameters_mut() {
        if let Some(b) = bias {
            b.iter_mut()
                .for_each(|v| *v = 0.4 * rng.random::<f64>() - 0.2);
        }
    }
    let x = random_matrix(&mut rng, rows, 3);
    let labels: Vec<usize> = (0..rows).map(|i| [0usize, 2, 1, 1, 0, 2][i % 6]).collect();
    let values: Vec<f64> = (0..rows * 3).map(|_| rng.random::<f64>()).collect();
    let targets = if loss == Loss::Mse {
        BatchTargets::Values(&values)
    } else {
        BatchTargets::Classes(&labels)
    };
    let mut trainer = Trainer::new(&model, rows, loss, OptimizerConfig::sgd(0.0)).unwrap();
    // Plain SGD fuses its update into the GEMM and never forms dW unless asked to.
    trainer.set_fuse_sgd(false);
    let before = model.clone();
    trainer.step(&mut model, &x, targets).unwrap();
    assert_eq!(model, before, "lr 0 must leave parameters unchanged");

    let loss_of = |m: &depthlab_nn::Mlp<f64>| {
        let out = m.predict(&x).unwrap();
        loss.evaluate(out.as_slice(), 3, targets, None).unwrap()
    };
    for l in 0..model.layers().len() {
        let (dw, db) = trainer.gradients(l).unwrap();
        let n_w = model.layers()[l].weight().as_slice().len();
        for k in 0..n_w {
            let (mut p, mut m) = (model.clone(), model.clone());
            p.parameters_mut().nth(l).unwrap().0[k] += H;
            m.parameters_mut().nth(l).unwrap().0[k] -= H;
            let numeric = (loss_of(&p) - loss_of(&m)) / (2.0 * H);
            assert_close(
                &format!("{act} {loss} layer {l} dW[{k}]"),
                dw.as_slice()[k],
                numeric,
            );
        }
        assert_eq!(
            db.len(),
            if bias {
                model.layers()[l].out_features()
            } else {
                0
            }
        );
        for (k, &analytic) in db.iter().enumerate() {
            let (mut p, mut m) = (model.clone(), model.clone());
            p.parameters_mut().nth(l).unwrap().1.unwrap()[k] += H;
            m.parameters_mut().nth(l).unwrap().1.unwrap()[k] -= H;
            let numeric = (loss_of(&p) - loss_of(&m)) / (2.0 * H);
            assert_close(
                &format!("{act} {loss} layer {l} db[{k}]"),
                analytic,
                numeric,
            );
        }
    }
}

#[test]
fn three_hidden_layer_mlp_gradients_match_for_every_activation() {
    let mut acts = Activation::ALL.to_vec();
    acts.extend([Activation::LeakyRelu(0.2), Activation::Elu(0.5)]);
    for act in acts {
        check_mlp(act, Loss::SoftmaxCrossEntropy, true, 6);
    }
}

#[test]
fn mlp_gradients_match_for_every_loss_and_without_bias() {
    check_mlp(Activation::Tanh, Loss::Mse, true, 6);
    check_mlp(Activation::Silu, Loss::BinaryCrossEntropy, true, 6);
    check_mlp(Activation::Gelu, Loss::SoftmaxCrossEntropy, false, 6);
}

/// Batches of 64 rows and more keep hidden layers feature-major (another set of products and
/// element-wise passes); 70 rows also leave a tail after the 16-wide bias-gradient sums.
#[test]
fn mlp_gradients_match_on_feature_major_batches() {
    let mut acts = Activation::ALL.to_vec();
    acts.extend([Activation::LeakyRelu(0.2), Activation::Elu(0.5)]);
    for act in acts {
        check_mlp(act, Loss::SoftmaxCrossEntropy, true, 70);
    }
    check_mlp(Activation::Tanh, Loss::Mse, true, 64);
    check_mlp(Activation::Silu, Loss::BinaryCrossEntropy, true, 64);
    check_mlp(Activation::Relu, Loss::SoftmaxCrossEntropy, false, 65);
}

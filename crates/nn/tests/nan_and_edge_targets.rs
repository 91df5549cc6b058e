//! NaN inputs, huge logits and inconsistent splits: the cases where a quiet wrong answer is
//! worse than an error or a diverged run.

use depthlab_nn::{
    Activation, BatchTargets, Float, Loss, Matrix, MlpConfig, NnError, Outcome, Targets,
    TrainConfig, TrainData, train,
};

/// XOR, 4 points repeated 8 times, optionally with one NaN feature.
fn xor(nan_at: Option<usize>) -> TrainData {
    let pts = [
        ([0.0f32, 0.0], 0usize),
        ([0.0, 1.0], 1),
        ([1.0, 0.0], 1),
        ([1.0, 1.0], 0),
    ];
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..8 {
        for (p, l) in pts {
            x.extend(p);
            labels.push(l);
        }
    }
    if let Some(i) = nan_at {
        x[i] = f32::NAN;
    }
    let x = Matrix::new(32, 2, x).unwrap();
    let y = Targets::Classes {
        labels,
        n_classes: 2,
    };
    TrainData::new(x.clone(), y.clone(), x, y).unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 5,
        batch_size: 8,
        ..TrainConfig::default()
    }
}

#[test]
fn nan_input_gives_nan_output_for_every_activation() {
    for act in Activation::ALL {
        assert!(act.value(f32::NAN).is_nan(), "{act} f32");
        assert!(act.value(f64::NAN).is_nan(), "{act} f64");
        let model = MlpConfig {
            activation: act,
            ..MlpConfig::new(2, vec![8], 2)
        }
        .build(1)
        .unwrap();
        let x = Matrix::new(2, 2, vec![0.5f32, f32::NAN, 0.5, -0.5]).unwrap();
        let y = model.predict(&x).unwrap();
        assert!(y.row(0).iter().all(|v| v.is_nan()), "{act}: {:?}", y.row(0));
        assert!(
            y.row(1).iter().all(|v| v.is_finite()),
            "{act}: {:?}",
            y.row(1)
        );
    }
}

#[test]
fn nan_in_the_training_data_makes_relu_and_elu_runs_diverge() {
    for act in [Activation::Relu, Activation::Elu(1.0)] {
        let cfg = MlpConfig {
            activation: act,
            ..MlpConfig::new(2, vec![8], 2)
        };
        let mut clean = cfg.build(3).unwrap();
        let report = train(&mut clean, &xor(None), &config(), &mut |_| {}).unwrap();
        assert_eq!(report.outcome, Outcome::Completed, "{act} without NaN");

        let mut model = cfg.build(3).unwrap();
        let report = train(&mut model, &xor(Some(13)), &config(), &mut |_| {}).unwrap();
        assert_eq!(report.outcome, Outcome::Diverged { epoch: 1 }, "{act}");
        // The step that met the NaN was refused, so the model is still usable.
        for layer in model.layers() {
            let params = layer
                .weight()
                .as_slice()
                .iter()
                .chain(layer.bias().unwrap());
            assert!(params.clone().all(|w| w.is_finite()), "{act}");
        }
    }
}

/// `|got - want| / want` in units of `T::EPSILON`.
fn rel_ulps(got: f64, want: f64, eps: f64) -> f64 {
    (got - want).abs() / want.abs() / eps
}

fn equal_logits_give_ln3<T: Float>(eps: f64) {
    let ln3 = 3f64.ln();
    for big in [1e8, 1e6, -1e4, 0.0] {
        let z = [T::from_f64(big); 3];
        let ce = Loss::SoftmaxCrossEntropy;
        let plain = ce
            .evaluate(&z, 3, BatchTargets::Classes(&[0]), None)
            .unwrap();
        let mut g = [T::ZERO; 3];
        let fused = ce
            .evaluate(&z, 3, BatchTargets::Classes(&[2]), Some(&mut g))
            .unwrap();
        let third = [T::from_f64(1.0 / 3.0); 3];
        let soft = ce
            .evaluate(&z, 3, BatchTargets::Values(&third), None)
            .unwrap();
        for (what, l) in [("plain", plain), ("fused", fused), ("soft", soft)] {
            assert!(rel_ulps(l, ln3, eps) <= 4.0, "{what} z={big}: {l} vs ln 3");
        }
        // Only z - max enters the gradient, so it cannot depend on the logits' size.
        let mut g0 = [T::ZERO; 3];
        ce.evaluate(&[T::ZERO; 3], 3, BatchTargets::Classes(&[2]), Some(&mut g0))
            .unwrap();
        assert_eq!(g, g0, "gradient at z={big}");
    }
}

#[test]
fn softmax_cross_entropy_of_equal_huge_logits_is_ln_n() {
    equal_logits_give_ln3::<f32>(f64::from(f32::EPSILON));
    equal_logits_give_ln3::<f64>(f64::EPSILON);
}

#[test]
fn binary_cross_entropy_with_huge_logits_does_not_cancel() {
    let bce = |z: f32, t: f32| {
        let mut g = [0.0f32];
        let l = Loss::BinaryCrossEntropy
            .evaluate(&[z], 1, BatchTargets::Values(&[t]), Some(&mut g))
            .unwrap();
        (l, g[0])
    };
    for (z, t, loss, grad) in [
        (1e8, 1.0, 0.0, 0.0),
        (-1e8, 0.0, 0.0, 0.0),
        (1e8, 0.0, 1e8, 1.0),
    ]
    .into_iter()
    .chain([(-1e8, 1.0, 1e8, -1.0)])
    {
        let (l, g) = bce(z, t);
        // σ(-1e8) comes out as ~1e-38 (the fast exponential's floor), not 0.
        assert!(
            l == loss && (g - grad).abs() < 1e-37,
            "z={z} t={t}: {l}, {g}"
        );
    }
    // Soft targets near the saturated side: z·(1-t) (or -z·t) has one rounding, where
    // z - z·t loses everything below the ulp of z (8 at 1e8).
    for (z, t) in [(1e8f32, 0.999_999f32), (-1e8, 1e-6), (3e7, 0.9999)] {
        let want = if z > 0.0 {
            f64::from(z) * (1.0 - f64::from(t))
        } else {
            -f64::from(z) * f64::from(t)
        };
        let (l, _) = bce(z, t);
        assert!(
            rel_ulps(l, want, f64::from(f32::EPSILON)) <= 2.0,
            "z={z} t={t}: {l} vs {want}"
        );
    }
}

#[test]
fn early_stopping_without_a_test_set_is_an_error() {
    let full = xor(None);
    let data = TrainData::new(
        full.x_train,
        full.y_train,
        Matrix::new(0, 2, vec![]).unwrap(),
        Targets::Classes {
            labels: vec![],
            n_classes: 2,
        },
    )
    .unwrap();
    let mut model = MlpConfig::new(2, vec![8], 2).build(1).unwrap();
    let cfg = TrainConfig {
        patience: Some(3),
        ..config()
    };
    let err = train(&mut model, &data, &cfg, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, NnError::InvalidValue { field, .. } if field == "patience"),
        "{err}"
    );
    assert!(err.to_string().contains("test set"), "{err}");
    // Nothing was trained, and without patience the same split trains to the end.
    assert_eq!(model, MlpConfig::new(2, vec![8], 2).build(1).unwrap());
    let report = train(&mut model, &data, &config(), &mut |_| {}).unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(report.history.iter().all(|h| h.test_loss.is_nan()));
}

#[test]
fn train_rejects_test_values_against_training_classes_as_new_does() {
    let full = xor(None);
    let values = Targets::Values(Matrix::new(32, 2, vec![0.0f32; 64]).unwrap());
    let from_new = TrainData::new(
        full.x_train.clone(),
        full.y_train.clone(),
        full.x_test.clone(),
        values.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(&from_new, NnError::Shape { what, .. } if what == "y_test kind vs y_train kind"),
        "{from_new}"
    );
    let mut model = MlpConfig::new(2, vec![8], 2).build(1).unwrap();
    for (y_train, y_test) in [
        (full.y_train.clone(), values.clone()),
        (values.clone(), full.y_train.clone()),
    ] {
        let data = TrainData {
            y_train,
            y_test,
            ..full.clone()
        };
        for loss in [Loss::SoftmaxCrossEntropy, Loss::Mse] {
            let cfg = TrainConfig { loss, ..config() };
            let err = train(&mut model, &data, &cfg, &mut |_| {}).unwrap_err();
            assert!(
                matches!(&err, NnError::Shape { what, .. } if what == "y_test kind vs y_train kind"),
                "{loss}: {err}"
            );
        }
    }
    let from_train = train(
        &mut model,
        &TrainData {
            y_test: values,
            ..full
        },
        &config(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(from_train.to_string(), from_new.to_string());
}

/// Four XOR points with value targets (one column per class), one of them replaced.
fn xor_values(bad: Option<(usize, f32)>) -> (Matrix, Targets) {
    let x = Matrix::new(4, 2, vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
    let mut t = vec![1.0f32, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    if let Some((i, v)) = bad {
        t[i] = v;
    }
    (x, Targets::Values(Matrix::new(4, 2, t).unwrap()))
}

fn expect_bad_target<T: std::fmt::Debug>(result: Result<T, NnError>, field_start: &str) {
    match result {
        Err(NnError::InvalidValue { field, value, .. }) => {
            assert!(field.starts_with(field_start), "{field}");
            assert!(field.ends_with("row 2, column 1"), "{field}");
            assert!(value == "NaN" || value == "inf", "{value}");
        }
        other => panic!("expected an error naming {field_start}, got {other:?}"),
    }
}

#[test]
fn non_finite_target_values_are_errors_naming_row_and_column() {
    let (x, good) = xor_values(None);
    for bad in [f32::NAN, f32::INFINITY] {
        // Row 2, column 1 is element 5.
        let (_, y) = xor_values(Some((5, bad)));
        expect_bad_target(
            TrainData::new(x.clone(), y.clone(), x.clone(), good.clone()),
            "y_train target",
        );
        expect_bad_target(
            TrainData::new(x.clone(), good.clone(), x.clone(), y.clone()),
            "y_test target",
        );

        // A split built from its public fields reaches `train` unchecked; the run used to
        // end as Diverged at epoch 1, blaming the optimiser for bad data.
        let data = TrainData {
            x_train: x.clone(),
            y_train: y.clone(),
            x_test: x.clone(),
            y_test: good.clone(),
        };
        for loss in [
            Loss::Mse,
            Loss::BinaryCrossEntropy,
            Loss::SoftmaxCrossEntropy,
        ] {
            let mut model = MlpConfig::new(2, vec![4], 2).build(0).unwrap();
            let cfg = TrainConfig { loss, ..config() };
            expect_bad_target(
                train(&mut model, &data, &cfg, &mut |_| {}),
                "y_train target",
            );
        }

        // The loss itself, as the trainer's step and evaluation call it.
        let Targets::Values(m) = &y else {
            unreachable!()
        };
        let mut g = [0.0f32; 8];
        for loss in [
            Loss::Mse,
            Loss::BinaryCrossEntropy,
            Loss::SoftmaxCrossEntropy,
        ] {
            expect_bad_target(
                loss.evaluate(
                    &[0.5f32; 8],
                    2,
                    BatchTargets::Values(m.as_slice()),
                    Some(&mut g),
                ),
                "batch target",
            );
        }
    }
    assert!(TrainData::new(x.clone(), good.clone(), x, good).is_ok());
}

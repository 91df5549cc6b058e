//! Names, configuration errors, shape errors and the training loop's outcomes.

use depthlab_nn::{
    Activation, BatchTargets, EpochStats, Init, Loss, Matrix, MlpConfig, NnError, OptimizerConfig,
    Outcome, Schedule, Targets, TrainConfig, TrainData, Trainer, train,
};

#[test]
fn activation_names_parse_and_round_trip() {
    for name in Activation::ALL_NAMES {
        let act: Activation = name.parse().unwrap();
        assert_eq!(act.to_string(), name);
    }
    assert_eq!(
        "linear".parse::<Activation>().unwrap(),
        Activation::Identity
    );
    assert_eq!(
        "leaky_relu".parse::<Activation>().unwrap(),
        Activation::LeakyRelu(0.01)
    );
    assert_eq!(
        "leaky_relu(0.2)".parse::<Activation>().unwrap(),
        Activation::LeakyRelu(0.2)
    );
    assert_eq!("elu".parse::<Activation>().unwrap(), Activation::Elu(1.0));
    assert_eq!(
        " ELU(0.5) ".parse::<Activation>().unwrap(),
        Activation::Elu(0.5)
    );
    for act in [
        Activation::LeakyRelu(0.2),
        Activation::Elu(0.5),
        Activation::LeakyRelu(1e-7),
    ] {
        assert_eq!(act.to_string().parse::<Activation>().unwrap(), act, "{act}");
    }
    assert_eq!(Activation::LeakyRelu(0.2).to_string(), "leaky_relu(0.2)");
}

#[test]
fn bad_activation_name_lists_every_valid_name() {
    let err = "swish".parse::<Activation>().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NnError::UnknownActivation { .. }));
    assert!(text.contains("\"swish\""), "{text}");
    for name in Activation::ALL_NAMES {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
    assert!(text.contains("linear"), "{text}");
    for bad in ["relu(0.1)", "leaky_relu(abc)", "elu(nan)", "gelu(", ""] {
        assert!(bad.parse::<Activation>().is_err(), "{bad:?} parsed");
    }
    let text = "leaky_relu(abc)"
        .parse::<Activation>()
        .unwrap_err()
        .to_string();
    assert!(text.contains("abc"), "{text}");
}

#[test]
fn slice_passes_equal_the_per_element_functions_and_check_lengths() {
    // Odd length (not a multiple of any SIMD width), values across both sides of every kink
    // and far into the saturated tails.
    let z: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.037).collect();
    let z64: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
    let dy: Vec<f32> = (0..1001)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
        .collect();
    for act in Activation::ALL {
        let mut a = vec![f32::NAN; z.len()];
        act.forward_slice(&z, &mut a).unwrap();
        for (i, (&ai, &zi)) in a.iter().zip(&z).enumerate() {
            assert_eq!(
                ai.to_bits(),
                act.value(zi).to_bits(),
                "{act} forward at {i}"
            );
        }
        let mut d = dy.clone();
        act.backward_slice(&z, &a, &mut d).unwrap();
        for i in 0..z.len() {
            let want = dy[i] * act.derivative(z[i], a[i]);
            assert!(
                (d[i] - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{act} backward at {i}: {} vs {want}",
                d[i]
            );
        }
        // f64 goes through the same code with the std functions.
        let mut a64 = vec![0.0f64; z64.len()];
        act.forward_slice(&z64, &mut a64).unwrap();
        assert!(
            a64.iter().zip(&z64).all(|(&x, &zi)| x == act.value(zi)),
            "{act} f64"
        );
        // f32 tracks the f64 values closely (the fast exp/tanh paths).
        for (&x32, &x64) in a.iter().zip(&a64) {
            assert!(
                (f64::from(x32) - x64).abs() <= 2e-6 * x64.abs().max(1.0),
                "{act}: f32 {x32} vs f64 {x64}"
            );
        }
        let mut short = vec![0.0f32; 3];
        assert!(matches!(
            act.forward_slice(&z, &mut short),
            Err(NnError::Shape { .. })
        ));
        assert!(matches!(
            act.backward_slice(&z, &a[..3], &mut short),
            Err(NnError::Shape { .. })
        ));
    }
}

#[test]
fn init_loss_names_parse() {
    for name in Init::ALL_NAMES {
        assert_eq!(name.parse::<Init>().unwrap().to_string(), name);
    }
    for name in Loss::ALL_NAMES {
        assert_eq!(name.parse::<Loss>().unwrap().to_string(), name);
    }
    let text = "orthogonal".parse::<Init>().unwrap_err().to_string();
    assert!(
        text.contains("pytorch") && text.contains("kaiming_normal"),
        "{text}"
    );
}

#[test]
fn zero_width_is_an_error_naming_the_layer() {
    let err = MlpConfig::new(2, vec![4, 0, 3], 2)
        .build(0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("hidden layer 2"), "{err}");
    let err = MlpConfig::new(0, vec![], 2)
        .build(0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input"), "{err}");
    let err = MlpConfig::new(2, vec![3], 0)
        .build(0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("output"), "{err}");
}

#[test]
fn parameter_count_is_exact() {
    let cfg = MlpConfig::new(784, vec![512, 512], 10);
    let want = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;
    assert_eq!(cfg.parameter_count(), want);
    assert_eq!(cfg.build(0).unwrap().parameter_count(), want);
    let no_bias = MlpConfig {
        bias: false,
        ..MlpConfig::new(2, vec![3], 4)
    };
    assert_eq!(no_bias.build(0).unwrap().parameter_count(), 2 * 3 + 3 * 4);
    assert_eq!(
        MlpConfig::new(2, vec![], 1)
            .build(0)
            .unwrap()
            .parameter_count(),
        3
    );
}

#[test]
fn init_schemes_have_the_documented_ranges() {
    let cfg = |init| MlpConfig {
        init,
        ..MlpConfig::new(100, vec![50], 10)
    };
    let m = cfg(Init::PyTorch).build(1).unwrap();
    let bound = 1.0 / 10.0;
    let w = m.layers()[0].weight().as_slice();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
    assert!(
        m.layers()[0]
            .bias()
            .unwrap()
            .iter()
            .all(|v| v.abs() <= bound && *v != 0.0)
    );
    let m = cfg(Init::XavierUniform).build(1).unwrap();
    let bound = (6.0f32 / 150.0).sqrt();
    assert!(
        m.layers()[0]
            .weight()
            .as_slice()
            .iter()
            .all(|v| v.abs() <= bound)
    );
    assert!(m.layers()[0].bias().unwrap().iter().all(|v| *v == 0.0));
    let m = cfg(Init::KaimingNormal).build(1).unwrap();
    let w = m.layers()[0].weight().as_slice();
    let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    assert!((var - 0.02).abs() < 0.002, "variance {var}, want 2/100");
}

fn tiny_data() -> TrainData {
    let x = Matrix::new(4, 2, vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
    let y = Targets::Classes {
        labels: vec![0, 1, 1, 0],
        n_classes: 2,
    };
    TrainData {
        x_train: x.clone(),
        y_train: y.clone(),
        x_test: x,
        y_test: y,
    }
}

#[test]
fn shape_mismatches_are_errors_naming_both_shapes() {
    let mut model = MlpConfig::new(3, vec![4], 2).build(0).unwrap();
    let err = train(
        &mut model,
        &tiny_data(),
        &TrainConfig::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("4x3") && err.contains("4x2"), "{err}");

    let mut model = MlpConfig::new(2, vec![4], 3).build(0).unwrap();
    let err = train(
        &mut model,
        &tiny_data(),
        &TrainConfig::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("2 classes") && err.contains("3 outputs"),
        "{err}"
    );

    let mut data = tiny_data();
    data.y_train = Targets::Classes {
        labels: vec![0, 1, 5, 0],
        n_classes: 2,
    };
    let mut model = MlpConfig::new(2, vec![4], 2).build(0).unwrap();
    let err = train(&mut model, &data, &TrainConfig::default(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            NnError::LabelOutOfRange {
                row: 2,
                label: 5,
                ..
            }
        ),
        "{err}"
    );

    let mut data = tiny_data();
    data.y_test = Targets::Classes {
        labels: vec![0],
        n_classes: 2,
    };
    let err = train(&mut model, &data, &TrainConfig::default(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("y_test"), "{err}");

    let mut trainer = Trainer::new(
        &model,
        2,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.1),
    )
    .unwrap();
    let x = Matrix::zeros(3, 2);
    let err = trainer
        .step(&mut model, &x, BatchTargets::Classes(&[0, 1, 0]))
        .unwrap_err();
    assert!(err.to_string().contains("3x2"), "{err}");
    let other = MlpConfig::new(2, vec![5], 2).build(0).unwrap().clone();
    let mut other = other;
    let err = trainer
        .step(
            &mut other,
            &Matrix::zeros(2, 2),
            BatchTargets::Classes(&[0, 1]),
        )
        .unwrap_err();
    assert!(err.to_string().contains("architecture"), "{err}");
    let err = trainer
        .step(
            &mut model,
            &Matrix::zeros(2, 2),
            BatchTargets::Classes(&[0, 2]),
        )
        .unwrap_err();
    assert!(
        matches!(err, NnError::LabelOutOfRange { label: 2, .. }),
        "{err}"
    );
    let err = trainer
        .step(&mut model, &Matrix::zeros(0, 2), BatchTargets::Classes(&[]))
        .unwrap_err();
    assert!(matches!(err, NnError::Empty { .. }), "{err}");
}

#[test]
fn invalid_settings_are_errors() {
    let mut model = MlpConfig::new(2, vec![4], 2).build(0).unwrap();
    let data = tiny_data();
    let cases = [
        TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            optimizer: OptimizerConfig::sgd(-1.0),
            ..TrainConfig::default()
        },
        TrainConfig {
            optimizer: OptimizerConfig::Sgd {
                lr: 0.1,
                momentum: 0.0,
                nesterov: true,
                weight_decay: 0.0,
            },
            ..TrainConfig::default()
        },
        TrainConfig {
            schedule: Schedule::Step {
                every: 0,
                gamma: 0.5,
            },
            ..TrainConfig::default()
        },
        TrainConfig {
            patience: Some(0),
            ..TrainConfig::default()
        },
    ];
    for cfg in cases {
        assert!(
            matches!(
                train(&mut model, &data, &cfg, &mut |_| {}),
                Err(NnError::InvalidValue { .. })
            ),
            "{cfg:?}"
        );
    }
}

#[test]
fn divergence_is_an_outcome_not_a_panic() {
    let mut model = MlpConfig::new(2, vec![8], 2).build(0).unwrap();
    let cfg = TrainConfig {
        epochs: 50,
        batch_size: 2,
        loss: Loss::Mse,
        optimizer: OptimizerConfig::sgd(1e6),
        ..TrainConfig::default()
    };
    let mut seen = Vec::new();
    let report = train(&mut model, &tiny_data(), &cfg, &mut |s: &EpochStats| {
        seen.push(s.epoch)
    })
    .unwrap();
    let Outcome::Diverged { epoch } = report.outcome else {
        panic!("expected divergence, got {:?}", report.outcome);
    };
    assert_eq!(report.epochs_run, epoch);
    assert_eq!(seen.len(), epoch);
    assert!(!report.history.last().unwrap().train_loss.is_finite());
    assert!(epoch < 50);
}

#[test]
fn early_stopping_waits_patience_epochs_without_improvement() {
    let mut model = MlpConfig::new(2, vec![8], 2).build(0).unwrap();
    // lr 0: the test loss never improves after the first epoch.
    let cfg = TrainConfig {
        epochs: 20,
        optimizer: OptimizerConfig::sgd(0.0),
        patience: Some(3),
        ..TrainConfig::default()
    };
    let report = train(&mut model, &tiny_data(), &cfg, &mut |_| {}).unwrap();
    assert_eq!(report.outcome, Outcome::EarlyStopped { epoch: 4 });
    assert_eq!(report.history.len(), 4);
}

#[test]
fn schedules_follow_their_formulas_and_reach_the_epoch_stats() {
    assert_eq!(Schedule::Constant.lr_at(0.1, 7), 0.1);
    let step = Schedule::Step {
        every: 2,
        gamma: 0.5,
    };
    assert_eq!(
        [0, 1, 2, 3, 4].map(|e| step.lr_at(1.0, e)),
        [1.0, 1.0, 0.5, 0.5, 0.25]
    );
    let cos = Schedule::Cosine {
        total_epochs: 4,
        min_lr: 0.0,
    };
    assert!((cos.lr_at(1.0, 2) - 0.5).abs() < 1e-15);
    assert_eq!(cos.lr_at(1.0, 0), 1.0);
    assert!(cos.lr_at(1.0, 4).abs() < 1e-15 && cos.lr_at(1.0, 9).abs() < 1e-15);

    let mut model = MlpConfig::new(2, vec![8], 2).build(0).unwrap();
    let cfg = TrainConfig {
        epochs: 5,
        schedule: step,
        ..TrainConfig::default()
    };
    let report = train(&mut model, &tiny_data(), &cfg, &mut |_| {}).unwrap();
    let lrs: Vec<f64> = report.history.iter().map(|s| s.lr).collect();
    assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
    // 4 rows in one batch of 32: one step per epoch.
    assert_eq!(report.steps, 5);
}

#[test]
fn partial_last_batch_and_regression_metrics() {
    // 5 rows, batch 2: batches of 2, 2, 1.
    let x = Matrix::from_fn(5, 1, |i, _| i as f32);
    let y = Matrix::from_fn(5, 1, |i, _| 2.0 * i as f32 + 1.0);
    let data = TrainData {
        x_train: x.clone(),
        y_train: Targets::Values(y.clone()),
        x_test: x,
        y_test: Targets::Values(y),
    };
    let mut model = MlpConfig::new(1, vec![], 1).build(0).unwrap();
    let cfg = TrainConfig {
        epochs: 200,
        batch_size: 2,
        loss: Loss::Mse,
        optimizer: OptimizerConfig::adam(0.1),
        ..TrainConfig::default()
    };
    let report = train(&mut model, &data, &cfg, &mut |_| {}).unwrap();
    assert_eq!(report.steps, 200 * 3);
    let last = report.history.last().unwrap();
    assert!(last.train_mse.unwrap() < 1e-3, "{last:?}");
    assert_eq!(last.train_mse.unwrap(), last.train_loss);
    assert_eq!(last.train_accuracy, None);
    let w = model.layers()[0].weight().as_slice()[0];
    assert!((w - 2.0).abs() < 0.05, "slope {w}");
}

#[test]
fn train_data_new_checks_the_split_is_consistent() {
    let x = Matrix::<f32>::zeros(4, 2);
    let classes = |labels: Vec<usize>, n_classes| Targets::Classes { labels, n_classes };
    assert!(
        TrainData::new(
            x.clone(),
            classes(vec![0, 1, 1, 0], 2),
            x.clone(),
            classes(vec![1; 4], 2)
        )
        .is_ok()
    );
    let err = TrainData::new(
        x.clone(),
        classes(vec![0, 1, 1], 2),
        x.clone(),
        classes(vec![1; 4], 2),
    )
    .unwrap_err();
    assert!(err.to_string().contains("y_train"), "{err}");
    let err = TrainData::new(
        x.clone(),
        classes(vec![0; 4], 2),
        Matrix::zeros(4, 3),
        classes(vec![1; 4], 2),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("4x2") && err.to_string().contains("4x3"),
        "{err}"
    );
    let err = TrainData::new(
        x.clone(),
        classes(vec![0; 4], 2),
        x.clone(),
        classes(vec![2; 4], 2),
    )
    .unwrap_err();
    assert!(matches!(err, NnError::LabelOutOfRange { .. }), "{err}");
    let err = TrainData::new(
        x.clone(),
        classes(vec![0; 4], 2),
        x.clone(),
        Targets::Values(Matrix::zeros(4, 1)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kind"), "{err}");
}

#[test]
fn a_parenthesised_name_without_a_parameter_lists_the_valid_names() {
    // Only leaky_relu and elu take (α); anything else with parentheses is a misspelt name,
    // and the error must say which names exist rather than complain about an alpha.
    for bad in ["gelu()", "swish(x)", "relu()", "tanh(beta)", "sigmoid("] {
        match bad.parse::<Activation>() {
            Err(e @ NnError::UnknownActivation { .. }) => {
                let text = e.to_string();
                for name in Activation::ALL_NAMES {
                    assert!(text.contains(name), "{bad}: {name} missing from {text}");
                }
            }
            other => panic!("{bad:?}: expected UnknownActivation, got {other:?}"),
        }
    }
    // A parameterised name keeps its own message about the value.
    let err = "elu(x)".parse::<Activation>().unwrap_err();
    assert!(
        matches!(&err, NnError::InvalidValue { field, .. } if field == "elu alpha"),
        "{err}"
    );
}

#[test]
fn set_lr_refuses_rates_that_would_silently_ruin_the_parameters() {
    let mut model = MlpConfig::new(2, vec![4], 2).build(0).unwrap();
    let before = model.clone();
    let mut trainer = Trainer::new(
        &model,
        4,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.1),
    )
    .unwrap();
    for bad in [f64::NAN, f64::INFINITY, -0.1] {
        let err = trainer.set_lr(bad).unwrap_err();
        assert!(
            matches!(&err, NnError::InvalidValue { field, value, .. }
                if field == "sgd lr" && *value == bad.to_string()),
            "{bad}: {err}"
        );
    }
    assert_eq!(trainer.lr(), 0.1, "a refused rate is not kept");
    // Before, a NaN rate went through: the step returned the batch's finite loss as Ok and
    // left every weight NaN.
    let data = tiny_data();
    let Targets::Classes { labels, .. } = &data.y_train else {
        unreachable!()
    };
    let loss = trainer
        .step(&mut model, &data.x_train, BatchTargets::Classes(labels))
        .unwrap();
    assert!(loss.is_finite());
    assert_ne!(model, before, "the step at rate 0.1 moved the weights");
    assert!(
        model
            .layers()
            .iter()
            .all(|l| { l.weight().as_slice().iter().all(|w| w.is_finite()) })
    );
    trainer.set_lr(0.0).unwrap();
    assert_eq!(trainer.lr(), 0.0);
}

#[test]
fn schedules_that_cannot_give_a_rate_are_errors_before_training() {
    let fresh = MlpConfig::new(2, vec![4], 2).build(0).unwrap();
    let data = tiny_data();
    // Annealing over 0 epochs divides by 0; it used to train at min_lr throughout.
    let cosine = TrainConfig {
        schedule: Schedule::Cosine {
            total_epochs: 0,
            min_lr: 0.01,
        },
        ..TrainConfig::default()
    };
    // 0.1·1e200^k overflows to infinity at the third epoch.
    let growing = TrainConfig {
        epochs: 3,
        schedule: Schedule::Step {
            every: 1,
            gamma: 1e200,
        },
        ..TrainConfig::default()
    };
    for (cfg, field) in [
        (cosine, "cosine schedule total_epochs"),
        (growing.clone(), "step schedule gamma"),
    ] {
        let mut model = fresh.clone();
        let err = train(&mut model, &data, &cfg, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, NnError::InvalidValue { field: f, .. } if f == field),
            "{err}"
        );
        assert_eq!(model, fresh, "nothing trained");
    }
    // Two epochs stay finite (1e199), so the same schedule is accepted for them.
    let mut model = fresh.clone();
    let short = TrainConfig {
        epochs: 2,
        ..growing
    };
    assert!(train(&mut model, &data, &short, &mut |_| {}).is_ok());
}

#[test]
fn an_update_that_overflows_ends_the_run_with_the_epochs_starting_weights() {
    // At lr 1e20 the first step's loss is finite and its update too; in the second epoch the
    // loss (taken before the update) is still finite, but the update overflows f32. The run
    // used to end Diverged with NaN weights in the model.
    let cfg = TrainConfig {
        epochs: 50,
        batch_size: 4,
        optimizer: OptimizerConfig::sgd(1e20),
        ..TrainConfig::default()
    };
    let fresh = MlpConfig::new(2, vec![8], 2).build(0).unwrap();
    let mut model = fresh.clone();
    let report = train(&mut model, &tiny_data(), &cfg, &mut |_| {}).unwrap();
    assert_eq!(report.outcome, Outcome::Diverged { epoch: 2 });
    assert!(report.history[1].train_loss.is_nan());
    for layer in model.layers() {
        let bias = layer.bias().unwrap();
        assert!(
            layer
                .weight()
                .as_slice()
                .iter()
                .chain(bias)
                .all(|w| w.is_finite())
        );
    }
    // Exactly the weights one epoch of the same run leaves.
    let mut one_epoch = fresh;
    let first = TrainConfig { epochs: 1, ..cfg };
    let report = train(&mut one_epoch, &tiny_data(), &first, &mut |_| {}).unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(model, one_epoch);
}

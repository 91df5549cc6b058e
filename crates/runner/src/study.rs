//! Studies: a TOML file naming datasets, axes and fixed settings, validated once into a
//! [`Study`] and expanded into its cartesian grid of [`GridPoint`]s, each with a stable id
//! such as `spirals-d3-w16-relu-s0`.
//!
//! Every value that can be wrong is checked here, before anything touches the disk, and an
//! error names the value and where it came from (`study.toml:9:10: width 0 ...`).
//!
//! A setting for a grid point comes from, in order: its axis (when the axis is given), the
//! dataset's own `train` table, the study's `[train]` table, the built-in default.
//!
//! No axis may list a value twice (names compare case-insensitively, numbers by value): the
//! two grid points would share an id. Float axis values appear in ids as Rust prints them
//! (`-lr0.01`, `-ln0.2`) for magnitudes from 1e-6 up to 1e6, and in exponent form outside
//! that range (`-lr1e-7`, `-lr1e30`), where the plain form runs to dozens of digits.
//!
//! # Limits
//!
//! Values that could only exhaust memory or run for years are refused, with the limit in the
//! message, before anything is written. They are far above anything a CPU study of MLPs
//! runs; the `train` command applies the same ones to its flags.
//!
//! | what | limit |
//! |---|---|
//! | depth (hidden layers) | [`MAX_DEPTH`] = 1,000 |
//! | width | [`MAX_WIDTH`] = 1,000,000 |
//! | parameters of one model, on its data's inputs and outputs | [`MAX_PARAMETERS`] = 10⁹ |
//! | activations of a batch, batch × (inputs + depth·width + outputs) | [`MAX_ACTIVATIONS`] = 10⁹ |
//! | epochs, patience | [`MAX_EPOCHS`] = 1,000,000 |
//! | batch size, `train_size`, `n_samples` | [`MAX_BATCH_SIZE`] = 10,000,000 |
//! | grid points of a study | [`MAX_GRID_POINTS`] = 1,000,000 |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::report::ReportSettings;

/// The built-in default study, exactly as `depthlab init` writes it.
pub const DEFAULT_STUDY_TOML: &str = include_str!("default_study.toml");

/// How the built-in default study is named in messages.
pub const DEFAULT_ORIGIN: &str = "<built-in default study>";

/// Most hidden layers a model may have.
pub const MAX_DEPTH: usize = 1_000;
/// Widest hidden layer allowed.
pub const MAX_WIDTH: usize = 1_000_000;
/// Most trainable parameters one model may have: 4 GB of `f32` weights, about 16 GB with
/// gradients and Adam's moments.
pub const MAX_PARAMETERS: u128 = 1_000_000_000;
/// Most activations one mini-batch may hold across the layers of a model (4 GB of `f32`).
pub const MAX_ACTIVATIONS: u128 = 1_000_000_000;
/// Most epochs (and largest patience) a run may ask for; every epoch is kept in its record.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest mini-batch (and `train_size`): no dataset may have more samples than this.
pub const MAX_BATCH_SIZE: usize = crate::data::MAX_SAMPLES;
/// Most grid points a study may expand to (every point is held in memory while it runs).
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// A study that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The study file could not be read.
    #[error("cannot read study file {}: {source}", path.display())]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The TOML is malformed or a value is out of range.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// File name (or [`DEFAULT_ORIGIN`]).
        origin: String,
        /// 1-based line of the offending value.
        line: usize,
        /// 1-based column (in characters) of the offending value.
        column: usize,
        /// What is wrong, naming the value.
        message: String,
    },
}

/// An optimizer the study can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with optional (Nesterov) momentum.
    Sgd,
    /// Adam (Kingma & Ba 2015).
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    AdamW,
}

impl OptimizerKind {
    /// The lowercase name used in configs, ids and records.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(format!(
                "unknown optimizer `{s}`; valid values are sgd, adam, adamw"
            )),
        }
    }
}

/// When to save each run's trained model under `runs/<study>/models/<id>.safetensors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveModels {
    /// Save when the data has at most two input features (reports draw decision regions and
    /// fitted curves from those models; larger inputs cannot be drawn, so their models would
    /// only cost disk).
    #[default]
    Auto,
    /// Save every model.
    Always,
    /// Save none.
    Never,
}

impl SaveModels {
    /// Whether a model over `n_features` inputs is saved.
    pub fn applies_to(self, n_features: usize) -> bool {
        match self {
            SaveModels::Auto => n_features <= 2,
            SaveModels::Always => true,
            SaveModels::Never => false,
        }
    }
}

/// Training settings of one grid point, every default and override resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Epochs to train for (at most; early stopping may end sooner).
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// SGD momentum (ignored by Adam).
    pub momentum: f64,
    /// L2 weight decay (decoupled for AdamW).
    pub weight_decay: f64,
    /// Stop after this many epochs without improvement of the test loss; `None` never stops.
    pub patience: Option<usize>,
    /// Fraction of training labels replaced by a different class.
    pub label_noise: f64,
    /// Seeded subsample size of the training split; `None` keeps it whole.
    pub train_size: Option<usize>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 100,
            batch_size: 32,
            learning_rate: 0.01,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            weight_decay: 0.0,
            patience: None,
            label_noise: 0.0,
            train_size: None,
        }
    }
}

/// One dataset of a study, with its data knobs and its resolved training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetConfig {
    /// Built-in dataset name, or a CSV path as written.
    pub name: String,
    /// The name used in grid-point ids (the `label` field, else the name or the CSV stem).
    pub label: String,
    /// Target column of a CSV file.
    pub target: Option<String>,
    /// Samples to generate (generated datasets).
    pub n_samples: Option<usize>,
    /// Generator noise (generated datasets).
    pub noise: Option<f64>,
    /// Fraction of samples held out for testing.
    pub test_fraction: Option<f64>,
    /// Standardise features on the training split.
    pub standardize: bool,
    /// Extra generator parameters (e.g. `classes` for blobs, `k` for checkerboard).
    pub params: BTreeMap<String, f64>,
    /// Training settings for this dataset before axes are applied.
    pub train: TrainSettings,
}

impl DatasetConfig {
    /// Whether the dataset is a user CSV file rather than a built-in name.
    pub fn is_csv(&self) -> bool {
        is_csv_name(&self.name)
    }
}

/// The swept values of a study. Optional axes are `None` when not swept; a one-value axis
/// acts like a fixed setting but does not add a suffix to ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Axes {
    /// Hidden-layer counts.
    pub depths: Vec<usize>,
    /// Hidden-layer widths.
    pub widths: Vec<usize>,
    /// Activation names, lowercase, each accepted by `depthlab_nn::Activation`.
    pub activations: Vec<String>,
    /// Seeds (data split, initialisation, shuffling).
    pub seeds: Vec<u64>,
    /// Learning rates.
    pub learning_rates: Option<Vec<f64>>,
    /// Optimizers.
    pub optimizers: Option<Vec<OptimizerKind>>,
    /// Epoch budgets.
    pub epochs: Option<Vec<usize>>,
    /// Mini-batch sizes.
    pub batch_sizes: Option<Vec<usize>>,
    /// Label-noise fractions.
    pub label_noise: Option<Vec<f64>>,
    /// Training-set sizes.
    pub train_sizes: Option<Vec<usize>>,
}

/// A validated study: what to run, and the TOML it came from.
#[derive(Debug, Clone)]
pub struct Study {
    /// Study name; results go to `runs/<name>/`.
    pub name: String,
    /// Datasets, in file order.
    pub datasets: Vec<DatasetConfig>,
    /// Swept values.
    pub axes: Axes,
    /// When to save trained models.
    pub save_models: SaveModels,
    /// Report thresholds (the `[report]` table).
    pub report: ReportSettings,
    /// The TOML text, copied verbatim into the results directory.
    pub source: String,
    /// Where the TOML came from (a path or [`DEFAULT_ORIGIN`]).
    pub origin: String,
    /// Where each dataset entry and its keys are written, for errors only loading finds.
    places: Vec<DatasetPlace>,
}

/// `origin:line:column` of a dataset entry and of the keys written in it.
#[derive(Debug, Clone, Default)]
struct DatasetPlace {
    entry: String,
    keys: BTreeMap<String, String>,
}

/// One point of a study's grid: everything needed to train one model.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    /// Position in the expanded grid (shards split on it).
    pub index: usize,
    /// Stable id, e.g. `spirals-d3-w16-relu-s0` (+ `-lr0.01` etc. for swept optional axes).
    pub id: String,
    /// Index into [`Study::datasets`].
    pub dataset: usize,
    /// Hidden layers.
    pub depth: usize,
    /// Hidden width.
    pub width: usize,
    /// Activation name (lowercase).
    pub activation: String,
    /// Seed for data, initialisation and shuffling.
    pub seed: u64,
    /// Training settings with this point's axis values applied.
    pub train: TrainSettings,
}

impl Study {
    /// The built-in default study.
    ///
    /// # Errors
    /// Only if the embedded TOML were invalid, which a test rules out.
    pub fn default_study() -> Result<Study, StudyError> {
        Study::parse(DEFAULT_STUDY_TOML, DEFAULT_ORIGIN)
    }

    /// Reads and validates a study file.
    ///
    /// # Errors
    /// [`StudyError::Read`] when the file cannot be read, [`StudyError::Invalid`] when it is not
    /// a valid study.
    pub fn load(path: &Path) -> Result<Study, StudyError> {
        let source = std::fs::read_to_string(path).map_err(|source| StudyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Study::parse(&source, &path.display().to_string())
    }

    /// `origin:line:column` of dataset `dataset`'s key `key` (a knob such as `n_samples`, or a
    /// `params` name) when the file sets it, else of the dataset entry; for errors found only
    /// when the data is loaded.
    pub fn dataset_location(&self, dataset: usize, key: Option<&str>) -> String {
        let Some(place) = self.places.get(dataset) else {
            return self.origin.clone();
        };
        key.and_then(|k| place.keys.get(k))
            .unwrap_or(&place.entry)
            .clone()
    }

    /// Validates study TOML text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`StudyError::Invalid`] with the line and column of the first problem found.
    pub fn parse(source: &str, origin: &str) -> Result<Study, StudyError> {
        let cx = Cx { source, origin };
        let raw: RawStudy = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            // The parser's messages do not always quote the offending text ("duplicate key").
            let message = e.message().trim().to_string();
            let snippet = snippet(source, span.clone());
            if snippet.is_empty() || message.contains(&snippet) {
                cx.err(span, message)
            } else {
                cx.err(span, format!("{message} at `{snippet}`"))
            }
        })?;
        raw.validate(&cx)
    }

    /// The cartesian grid: datasets, then label noise, training-set size, optimizer, learning
    /// rate, epochs, batch size, depth, width, activation and, innermost, seed.
    pub fn grid(&self) -> Vec<GridPoint> {
        let mut points = Vec::new();
        for (d, ds) in self.datasets.iter().enumerate() {
            let base = &ds.train;
            let noises = axis_or(&self.axes.label_noise, base.label_noise);
            let sizes = match &self.axes.train_sizes {
                Some(v) => v.iter().map(|&s| Some(s)).collect(),
                None => vec![base.train_size],
            };
            let opts = axis_or(&self.axes.optimizers, base.optimizer);
            let lrs = axis_or(&self.axes.learning_rates, base.learning_rate);
            let epochs = axis_or(&self.axes.epochs, base.epochs);
            let batches = axis_or(&self.axes.batch_sizes, base.batch_size);
            for &label_noise in &noises {
                for &train_size in &sizes {
                    for &optimizer in &opts {
                        for &learning_rate in &lrs {
                            for &ep in &epochs {
                                for &batch_size in &batches {
                                    let train = TrainSettings {
                                        epochs: ep,
                                        batch_size,
                                        learning_rate,
                                        optimizer,
                                        label_noise,
                                        train_size,
                                        ..base.clone()
                                    };
                                    let mut suffix = String::new();
                                    if swept(&self.axes.learning_rates) {
                                        suffix
                                            .push_str(&format!("-lr{}", id_number(learning_rate)));
                                    }
                                    if swept(&self.axes.optimizers) {
                                        suffix.push_str(&format!("-{optimizer}"));
                                    }
                                    if swept(&self.axes.epochs) {
                                        suffix.push_str(&format!("-e{ep}"));
                                    }
                                    if swept(&self.axes.batch_sizes) {
                                        suffix.push_str(&format!("-b{batch_size}"));
                                    }
                                    if swept(&self.axes.label_noise) {
                                        suffix.push_str(&format!("-ln{}", id_number(label_noise)));
                                    }
                                    if swept(&self.axes.train_sizes) {
                                        let n = train_size.map_or(0, |n| n);
                                        suffix.push_str(&format!("-n{n}"));
                                    }
                                    self.push_points(&mut points, d, &train, &suffix);
                                }
                            }
                        }
                    }
                }
            }
        }
        points
    }

    fn push_points(
        &self,
        points: &mut Vec<GridPoint>,
        d: usize,
        train: &TrainSettings,
        suffix: &str,
    ) {
        let label = &self.datasets[d].label;
        for &depth in &self.axes.depths {
            for &width in &self.axes.widths {
                for activation in &self.axes.activations {
                    for &seed in &self.axes.seeds {
                        points.push(GridPoint {
                            index: points.len(),
                            id: format!("{label}-d{depth}-w{width}-{activation}-s{seed}{suffix}"),
                            dataset: d,
                            depth,
                            width,
                            activation: activation.clone(),
                            seed,
                            train: train.clone(),
                        });
                    }
                }
            }
        }
    }
}

/// A float as ids show it: as Rust prints it for magnitudes in [1e-6, 1e6) and zero, the form
/// ids of existing results directories were made with (they resume by id), and in exponent
/// form outside, where the plain form runs to dozens of digits (1e300 would not fit in a file
/// name). Both forms round-trip, so distinct values keep distinct ids.
fn id_number(x: f64) -> String {
    let magnitude = x.abs();
    if magnitude == 0.0 || (1e-6..1e6).contains(&magnitude) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Trainable parameters of an MLP (biases included), exactly; `u128` cannot overflow for
/// any `usize` sizes and depths up to [`MAX_DEPTH`].
pub fn model_parameters(inputs: usize, depth: usize, width: usize, outputs: usize) -> u128 {
    let (i, w, o) = (inputs as u128, width as u128, outputs as u128);
    if depth == 0 {
        return i * o + o;
    }
    let hidden = (depth as u128 - 1).saturating_mul(w * w + w);
    (i * w + w).saturating_add(hidden).saturating_add(w * o + o)
}

/// Checks a model against [`MAX_PARAMETERS`] and one mini-batch of `batch` samples against
/// [`MAX_ACTIVATIONS`], once the data's inputs and outputs are known.
///
/// # Errors
/// A message naming the sizes, the count and the limit.
pub fn check_model_size(
    inputs: usize,
    outputs: usize,
    depth: usize,
    width: usize,
    batch: usize,
) -> Result<(), String> {
    let params = model_parameters(inputs, depth, width, outputs);
    let shape = format!("depth {depth} x width {width} on {inputs} inputs and {outputs} outputs");
    if params > MAX_PARAMETERS {
        return Err(format!(
            "{shape} has {params} parameters, more than the limit of {MAX_PARAMETERS}"
        ));
    }
    let per_sample = (inputs as u128)
        .saturating_add((depth as u128).saturating_mul(width as u128))
        .saturating_add(outputs as u128);
    let values = (batch as u128).saturating_mul(per_sample);
    if values > MAX_ACTIVATIONS {
        return Err(format!(
            "{shape} with batch size {batch} holds {values} activations per batch, more than the \
             limit of {MAX_ACTIVATIONS}; use a smaller batch size"
        ));
    }
    Ok(())
}

/// Whether an optional axis has more than one value (and so appears in ids).
fn swept<T>(axis: &Option<Vec<T>>) -> bool {
    axis.as_ref().is_some_and(|v| v.len() > 1)
}

fn axis_or<T: Copy>(axis: &Option<Vec<T>>, fixed: T) -> Vec<T> {
    axis.clone().unwrap_or_else(|| vec![fixed])
}

/// Whether a dataset name denotes a CSV file rather than a built-in dataset.
pub fn is_csv_name(name: &str) -> bool {
    crate::data::is_csv_path(name)
}

/// The id label of a CSV path: its file stem with anything but `[A-Za-z0-9_.]` replaced.
fn csv_label(name: &str) -> String {
    let stem = Path::new(name)
        .file_stem()
        .map_or_else(|| name.into(), |s| s.to_string_lossy());
    sanitize_label(&stem)
}

fn sanitize_label(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Source text and its name, for turning byte spans into `origin:line:column`.
struct Cx<'a> {
    source: &'a str,
    origin: &'a str,
}

impl Cx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> StudyError {
        let (line, column) = line_column(self.source, span.start);
        let message: String = message.into();
        StudyError::Invalid {
            origin: self.origin.to_string(),
            line,
            column,
            // Messages must stay on one line: the CLI prints exactly one.
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }

    /// `origin:line:column` of a span.
    fn at(&self, span: Range<usize>) -> String {
        let (line, column) = line_column(self.source, span.start);
        format!("{}:{line}:{column}", self.origin)
    }
}

/// The source text a span covers, cut to its first line and at most 40 characters.
fn snippet(source: &str, span: Range<usize>) -> String {
    let start = span.start.min(source.len());
    let end = span.end.clamp(start, source.len());
    let text = source.get(start..end).filter(|t| !t.trim().is_empty());
    let text = text.or_else(|| source.get(start..)).unwrap_or("");
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(40).collect()
}

/// 1-based line and character column of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

// ---- the file as written ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    name: Spanned<String>,
    datasets: Spanned<Vec<Spanned<RawDataset>>>,
    axes: Spanned<RawAxes>,
    #[serde(default)]
    train: Option<RawSettings>,
    #[serde(default)]
    save_models: SaveModels,
    #[serde(default)]
    report: Option<Spanned<ReportSettings>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxes {
    depths: Spanned<Vec<Spanned<i64>>>,
    widths: Spanned<Vec<Spanned<i64>>>,
    activations: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    seeds: Option<Spanned<Vec<Spanned<u64>>>>,
    #[serde(default)]
    learning_rates: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default)]
    optimizers: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    epochs: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    batch_sizes: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    label_noise: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default)]
    train_sizes: Option<Spanned<Vec<Spanned<i64>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    epochs: Option<Spanned<i64>>,
    batch_size: Option<Spanned<i64>>,
    learning_rate: Option<Spanned<f64>>,
    optimizer: Option<Spanned<String>>,
    momentum: Option<Spanned<f64>>,
    weight_decay: Option<Spanned<f64>>,
    patience: Option<Spanned<i64>>,
    label_noise: Option<Spanned<f64>>,
    train_size: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatasetTable {
    name: Spanned<String>,
    #[serde(default)]
    label: Option<Spanned<String>>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    #[serde(default)]
    n_samples: Option<Spanned<i64>>,
    #[serde(default)]
    noise: Option<Spanned<f64>>,
    #[serde(default)]
    test_fraction: Option<Spanned<f64>>,
    #[serde(default = "yes")]
    standardize: bool,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, f64>,
    #[serde(default)]
    train: Option<RawSettings>,
}

fn yes() -> bool {
    true
}

/// A dataset entry: either a bare name (`"xor"`) or a table with knobs.
struct RawDataset(RawDatasetTable);

impl<'de> Deserialize<'de> for RawDataset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDataset;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dataset name or a table with at least `name`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDataset, E> {
                Ok(RawDataset(RawDatasetTable {
                    name: Spanned::new(0..0, v.to_string()),
                    label: None,
                    target: None,
                    n_samples: None,
                    noise: None,
                    test_fraction: None,
                    standardize: true,
                    params: BTreeMap::new(),
                    train: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDataset, A::Error> {
                RawDatasetTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawDataset)
            }
        }
        deserializer.deserialize_any(V)
    }
}

// ---- validation ------------------------------------------------------------------------

/// An integer in `min..=max`.
fn count(cx: &Cx, v: &Spanned<i64>, what: &str, min: i64, max: usize) -> Result<usize, StudyError> {
    let x = *v.get_ref();
    if x < min {
        return Err(cx.err(
            v.span(),
            format!("{what} {x} is not allowed (must be at least {min})"),
        ));
    }
    usize::try_from(x)
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| {
            cx.err(
                v.span(),
                format!("{what} {x} is too large (the limit is {max})"),
            )
        })
}

fn fraction(cx: &Cx, v: &Spanned<f64>, what: &str, hi_open: bool) -> Result<f64, StudyError> {
    let x = *v.get_ref();
    let ok = x.is_finite() && x >= 0.0 && if hi_open { x < 1.0 } else { x <= 1.0 };
    if !ok {
        let range = if hi_open { "[0, 1)" } else { "[0, 1]" };
        return Err(cx.err(
            v.span(),
            format!("{what} {x} is out of range (must be in {range})"),
        ));
    }
    Ok(x)
}

fn positive(cx: &Cx, v: &Spanned<f64>, what: &str) -> Result<f64, StudyError> {
    let x = *v.get_ref();
    if !(x.is_finite() && x > 0.0) {
        return Err(cx.err(
            v.span(),
            format!("{what} {x} is not allowed (must be positive)"),
        ));
    }
    Ok(x)
}

fn optimizer(cx: &Cx, v: &Spanned<String>) -> Result<OptimizerKind, StudyError> {
    v.get_ref().parse().map_err(|m: String| cx.err(v.span(), m))
}

fn activation(cx: &Cx, v: &Spanned<String>) -> Result<String, StudyError> {
    let name = v.get_ref().trim().to_ascii_lowercase();
    crate::execute::parse_activation(&name).map_err(|m| cx.err(v.span(), m))
}

/// What makes two values of an axis the same grid setting.
trait AxisValue: fmt::Display {
    /// Equal for values that train alike (so `"Adam"` repeats `"adam"`).
    fn key(&self) -> String {
        self.to_string()
    }
}

impl AxisValue for usize {}
impl AxisValue for u64 {}
impl AxisValue for String {}
impl AxisValue for OptimizerKind {}

impl AxisValue for f64 {
    fn key(&self) -> String {
        // -0 trains as 0; Display is the shortest round-trip form, so other values stay apart.
        (self + 0.0).to_string()
    }
}

/// An axis: not empty, every value valid, and no value twice, since the two grid points
/// would share an id (both would run, and merging would keep only one).
fn axis<R, T: AxisValue>(
    cx: &Cx,
    raw: &Spanned<Vec<Spanned<R>>>,
    name: &str,
    parse: impl Fn(&Spanned<R>) -> Result<T, StudyError>,
) -> Result<Vec<T>, StudyError> {
    if raw.get_ref().is_empty() {
        return Err(cx.err(
            raw.span(),
            format!("axis `{name}` is empty; give at least one value"),
        ));
    }
    let mut values = Vec::with_capacity(raw.get_ref().len());
    // Each key with the value first written for it, to name both when they print apart (-0, 0).
    let mut seen = HashMap::new();
    for v in raw.get_ref() {
        let x = parse(v)?;
        if let Some(first) = seen.insert(x.key(), x.to_string()) {
            let what = if first == x.to_string() {
                format!("`{x}` twice")
            } else {
                format!("`{x}` (the same as `{first}`)")
            };
            return Err(cx.err(
                v.span(),
                format!("axis `{name}` lists {what}, which would repeat grid ids"),
            ));
        }
        values.push(x);
    }
    Ok(values)
}

/// [`axis`] for an optional axis.
fn optional_axis<R, T: AxisValue>(
    cx: &Cx,
    raw: &Option<Spanned<Vec<Spanned<R>>>>,
    name: &str,
    parse: impl Fn(&Spanned<R>) -> Result<T, StudyError>,
) -> Result<Option<Vec<T>>, StudyError> {
    raw.as_ref().map(|a| axis(cx, a, name, parse)).transpose()
}

/// Byte offset of `key = ...` in the table starting at `from` (its header or inline brace),
/// ignoring comments; `None` when the key is not written there.
fn find_key(source: &str, from: usize, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let mut offset = from;
    for (i, line) in source.get(from..)?.split_inclusive('\n').enumerate() {
        if i > 0 && line.trim_start().starts_with('[') {
            return None;
        }
        let code = line.split('#').next().unwrap_or("");
        let mut start = 0;
        while let Some(p) = code[start..].find(key) {
            let at = start + p;
            let follows_word = code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !follows_word && code[at + key.len()..].trim_start().starts_with('=') {
                return Some(offset + at);
            }
            start = at + key.len();
        }
        offset += line.len();
    }
    None
}

impl RawSettings {
    /// Applies these overrides on top of `base`.
    fn apply(&self, cx: &Cx, base: &TrainSettings) -> Result<TrainSettings, StudyError> {
        let mut t = base.clone();
        if let Some(v) = &self.epochs {
            t.epochs = count(cx, v, "epochs", 1, MAX_EPOCHS)?;
        }
        if let Some(v) = &self.batch_size {
            t.batch_size = count(cx, v, "batch_size", 1, MAX_BATCH_SIZE)?;
        }
        if let Some(v) = &self.learning_rate {
            t.learning_rate = positive(cx, v, "learning_rate")?;
        }
        if let Some(v) = &self.optimizer {
            t.optimizer = optimizer(cx, v)?;
        }
        if let Some(v) = &self.momentum {
            t.momentum = fraction(cx, v, "momentum", true)?;
        }
        if let Some(v) = &self.weight_decay {
            let x = *v.get_ref();
            if !(x.is_finite() && x >= 0.0) {
                return Err(cx.err(
                    v.span(),
                    format!("weight_decay {x} must be zero or positive"),
                ));
            }
            t.weight_decay = x;
        }
        if let Some(v) = &self.patience {
            // 0 switches early stopping off, which reads better than a missing key in overrides.
            let p = count(cx, v, "patience", 0, MAX_EPOCHS)?;
            t.patience = (p > 0).then_some(p);
        }
        if let Some(v) = &self.label_noise {
            t.label_noise = fraction(cx, v, "label_noise", true)?;
        }
        if let Some(v) = &self.train_size {
            t.train_size = Some(count(cx, v, "train_size", 1, MAX_BATCH_SIZE)?);
        }
        Ok(t)
    }
}

impl RawStudy {
    fn validate(self, cx: &Cx) -> Result<Study, StudyError> {
        let name = self.name.get_ref().trim().to_string();
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !name.starts_with('.');
        if !name_ok {
            return Err(cx.err(
                self.name.span(),
                format!("study name `{name}` is not allowed (use letters, digits, `-`, `_`, `.`; it names a directory)"),
            ));
        }

        let axes_span = self.axes.span();
        let axes = self.axes.into_inner();
        let depths = axis(cx, &axes.depths, "depths", |v| {
            count(cx, v, "depth", 0, MAX_DEPTH)
        })?;
        let widths = axis(cx, &axes.widths, "widths", |v| {
            count(cx, v, "width", 1, MAX_WIDTH)
        })?;
        let activations = axis(cx, &axes.activations, "activations", |v| activation(cx, v))?;
        let seeds = optional_axis(cx, &axes.seeds, "seeds", |v| Ok(*v.get_ref()))?;
        let axes_v = Axes {
            depths,
            widths,
            activations,
            seeds: seeds.unwrap_or_else(|| vec![0]),
            learning_rates: optional_axis(cx, &axes.learning_rates, "learning_rates", |v| {
                positive(cx, v, "learning rate")
            })?,
            optimizers: optional_axis(cx, &axes.optimizers, "optimizers", |v| optimizer(cx, v))?,
            epochs: optional_axis(cx, &axes.epochs, "epochs", |v| {
                count(cx, v, "epochs", 1, MAX_EPOCHS)
            })?,
            batch_sizes: optional_axis(cx, &axes.batch_sizes, "batch_sizes", |v| {
                count(cx, v, "batch size", 1, MAX_BATCH_SIZE)
            })?,
            label_noise: optional_axis(cx, &axes.label_noise, "label_noise", |v| {
                fraction(cx, v, "label noise", true)
            })?,
            train_sizes: optional_axis(cx, &axes.train_sizes, "train_sizes", |v| {
                count(cx, v, "training-set size", 1, MAX_BATCH_SIZE)
            })?,
        };
        // The data's inputs and outputs are only known once it loads (the sweep checks the
        // exact count then); one of each is a lower bound that already rejects widths no
        // dataset could train at the deepest depth.
        let deepest = axes_v.depths.iter().copied().max().unwrap_or(0);
        for (&width, raw) in axes_v.widths.iter().zip(axes.widths.get_ref()) {
            let params = model_parameters(1, deepest, width, 1);
            if params > MAX_PARAMETERS {
                return Err(cx.err(
                    raw.span(),
                    format!(
                        "width {width} at depth {deepest} makes models of more than {params} \
                         parameters, above the limit of {MAX_PARAMETERS}"
                    ),
                ));
            }
        }

        let study_train = match &self.train {
            Some(raw) => raw.apply(cx, &TrainSettings::default())?,
            None => TrainSettings::default(),
        };

        if self.datasets.get_ref().is_empty() {
            return Err(cx.err(
                self.datasets.span(),
                "`datasets` is empty; name at least one dataset",
            ));
        }
        let mut datasets = Vec::new();
        let mut places = Vec::new();
        let mut labels = HashSet::new();
        for entry in self.datasets.get_ref() {
            let raw = &entry.get_ref().0;
            // A bare string has no span of its own; the entry's span points at it.
            let name_span = if raw.name.span() == (0..0) {
                entry.span()
            } else {
                raw.name.span()
            };
            let name = raw.name.get_ref().trim().to_string();
            if !is_csv_name(&name) {
                crate::execute::check_dataset_name(&name)
                    .map_err(|m| cx.err(name_span.clone(), m))?;
            }
            let label = match &raw.label {
                Some(l) => {
                    let s = sanitize_label(l.get_ref().trim());
                    if s.is_empty() {
                        return Err(cx.err(l.span(), "dataset label is empty"));
                    }
                    s
                }
                None if is_csv_name(&name) => csv_label(&name),
                None => sanitize_label(&name),
            };
            if !labels.insert(label.clone()) {
                return Err(cx.err(
                    name_span,
                    format!("dataset `{label}` appears twice; give one a distinct `label` so grid ids stay unique"),
                ));
            }
            let train = match &raw.train {
                Some(t) => t.apply(cx, &study_train)?,
                None => study_train.clone(),
            };
            let mut keys: BTreeMap<String, String> = raw
                .params
                .keys()
                .map(|k| (k.get_ref().clone(), cx.at(k.span())))
                .collect();
            let knobs = [
                ("target", raw.target.as_ref().map(Spanned::span)),
                ("n_samples", raw.n_samples.as_ref().map(Spanned::span)),
                ("noise", raw.noise.as_ref().map(Spanned::span)),
                (
                    "test_fraction",
                    raw.test_fraction.as_ref().map(Spanned::span),
                ),
            ];
            for (knob, span) in knobs {
                if let Some(span) = span {
                    keys.insert(knob.to_string(), cx.at(span));
                }
            }
            places.push(DatasetPlace {
                entry: cx.at(name_span),
                keys,
            });
            datasets.push(DatasetConfig {
                name,
                label,
                target: raw.target.as_ref().map(|t| t.get_ref().clone()),
                n_samples: raw
                    .n_samples
                    .as_ref()
                    .map(|v| count(cx, v, "n_samples", 1, crate::data::MAX_SAMPLES))
                    .transpose()?,
                noise: raw
                    .noise
                    .as_ref()
                    .map(|v| {
                        let x = *v.get_ref();
                        if x.is_finite() && x >= 0.0 {
                            Ok(x)
                        } else {
                            Err(cx.err(v.span(), format!("noise {x} must be zero or positive")))
                        }
                    })
                    .transpose()?,
                test_fraction: raw
                    .test_fraction
                    .as_ref()
                    .map(|v| {
                        let x = fraction(cx, v, "test_fraction", true)?;
                        if x == 0.0 {
                            return Err(cx.err(v.span(), "test_fraction 0 leaves no test set"));
                        }
                        Ok(x)
                    })
                    .transpose()?,
                standardize: raw.standardize,
                params: raw
                    .params
                    .iter()
                    .map(|(k, v)| (k.get_ref().clone(), *v))
                    .collect(),
                train,
            });
        }

        let a = &axes_v;
        let lengths = [
            datasets.len(),
            a.depths.len(),
            a.widths.len(),
            a.activations.len(),
            a.seeds.len(),
            a.learning_rates.as_ref().map_or(1, Vec::len),
            a.optimizers.as_ref().map_or(1, Vec::len),
            a.epochs.as_ref().map_or(1, Vec::len),
            a.batch_sizes.as_ref().map_or(1, Vec::len),
            a.label_noise.as_ref().map_or(1, Vec::len),
            a.train_sizes.as_ref().map_or(1, Vec::len),
        ];
        let points = lengths
            .iter()
            .fold(1u128, |n, &k| n.saturating_mul(k as u128));
        if points > MAX_GRID_POINTS as u128 {
            return Err(cx.err(
                axes_span,
                format!(
                    "the grid has {points} points (datasets x every axis), more than the limit \
                     of {MAX_GRID_POINTS}; shorten the axes or split the study"
                ),
            ));
        }

        let report = match self.report {
            Some(r) => {
                let span = r.span();
                let settings = r.into_inner();
                settings.validate().map_err(|e| {
                    // Point at the key rather than at the table when it is written there.
                    let at = find_key(cx.source, span.start, e.key).map_or(span, |i| i..i);
                    cx.err(at, e.message)
                })?;
                settings
            }
            None => ReportSettings::default(),
        };

        Ok(Study {
            name,
            datasets,
            axes: axes_v,
            save_models: self.save_models,
            report,
            source: cx.source.to_string(),
            origin: cx.origin.to_string(),
            places,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{find_key, id_number};

    #[test]
    fn find_key_skips_comments_longer_keys_and_other_tables() {
        let src = "[report]\n# overfit_gap = 1\nmy_overfit_gap = 2\noverfit_gap=3\n[train]\n";
        assert_eq!(find_key(src, 0, "overfit_gap"), src.find("overfit_gap=3"));
        assert_eq!(find_key(src, 0, "epochs"), None);
        let inline = "report = { trend_drop = -1 }\n";
        assert_eq!(find_key(inline, 9, "trend_drop"), Some(11));
        assert_eq!(find_key(src, 0, ""), None);
    }

    #[test]
    fn id_numbers_switch_to_exponents_only_outside_the_plain_range() {
        assert_eq!(id_number(0.0), "0");
        assert_eq!(id_number(1e-6), "0.000001");
        assert_eq!(id_number(999_999.5), "999999.5");
        assert_eq!(id_number(1e6), "1e6");
        assert_eq!(id_number(2.5e-7), "2.5e-7");
        assert_eq!(id_number(f64::MAX), "1.7976931348623157e308");
    }
}

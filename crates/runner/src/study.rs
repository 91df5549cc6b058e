//! Studies: a TOML file naming datasets, axes and fixed settings, validated once into a
//! [`Study`] and expanded into its cartesian grid of [`GridPoint`]s, each with a stable id
//! such as `spirals-d3-w16-relu-s0`.
//!
//! Every value that can be wrong is checked here, before anything touches the disk, and an
//! error names the value and where it came from (`study.toml:9:10: width 0 ...`).
//!
//! A setting for a grid point comes from, in order: its axis (when the axis is given), the
//! dataset's own `train` table, the study's `[train]` table, the built-in default.

use std::collections::{BTreeMap, HashSet};
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
                                        suffix.push_str(&format!("-lr{learning_rate}"));
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
                                        suffix.push_str(&format!("-ln{label_noise}"));
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
    seeds: Option<Spanned<Vec<u64>>>,
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
    target: Option<String>,
    #[serde(default)]
    n_samples: Option<Spanned<i64>>,
    #[serde(default)]
    noise: Option<Spanned<f64>>,
    #[serde(default)]
    test_fraction: Option<Spanned<f64>>,
    #[serde(default = "yes")]
    standardize: bool,
    #[serde(default)]
    params: BTreeMap<String, f64>,
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

fn count(cx: &Cx, v: &Spanned<i64>, what: &str, min: i64) -> Result<usize, StudyError> {
    let x = *v.get_ref();
    if x < min {
        return Err(cx.err(
            v.span(),
            format!("{what} {x} is not allowed (must be at least {min})"),
        ));
    }
    usize::try_from(x).map_err(|_| cx.err(v.span(), format!("{what} {x} is too large")))
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

fn non_empty<T>(cx: &Cx, axis: &Spanned<Vec<T>>, name: &str) -> Result<(), StudyError> {
    if axis.get_ref().is_empty() {
        return Err(cx.err(
            axis.span(),
            format!("axis `{name}` is empty; give at least one value"),
        ));
    }
    Ok(())
}

fn optimizer(cx: &Cx, v: &Spanned<String>) -> Result<OptimizerKind, StudyError> {
    v.get_ref().parse().map_err(|m: String| cx.err(v.span(), m))
}

fn activation(cx: &Cx, v: &Spanned<String>) -> Result<String, StudyError> {
    let name = v.get_ref().trim().to_ascii_lowercase();
    crate::execute::parse_activation(&name).map_err(|m| cx.err(v.span(), m))
}

impl RawSettings {
    /// Applies these overrides on top of `base`.
    fn apply(&self, cx: &Cx, base: &TrainSettings) -> Result<TrainSettings, StudyError> {
        let mut t = base.clone();
        if let Some(v) = &self.epochs {
            t.epochs = count(cx, v, "epochs", 1)?;
        }
        if let Some(v) = &self.batch_size {
            t.batch_size = count(cx, v, "batch_size", 1)?;
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
            let p = count(cx, v, "patience", 0)?;
            t.patience = (p > 0).then_some(p);
        }
        if let Some(v) = &self.label_noise {
            t.label_noise = fraction(cx, v, "label_noise", true)?;
        }
        if let Some(v) = &self.train_size {
            t.train_size = Some(count(cx, v, "train_size", 1)?);
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

        let axes = self.axes.into_inner();
        let depths = {
            non_empty(cx, &axes.depths, "depths")?;
            let v = axes
                .depths
                .get_ref()
                .iter()
                .map(|d| count(cx, d, "depth", 0));
            v.collect::<Result<Vec<_>, _>>()?
        };
        let widths = {
            non_empty(cx, &axes.widths, "widths")?;
            let v = axes
                .widths
                .get_ref()
                .iter()
                .map(|w| count(cx, w, "width", 1));
            v.collect::<Result<Vec<_>, _>>()?
        };
        non_empty(cx, &axes.activations, "activations")?;
        let activations = axes
            .activations
            .get_ref()
            .iter()
            .map(|a| activation(cx, a))
            .collect::<Result<Vec<_>, _>>()?;
        let seeds = match &axes.seeds {
            Some(s) => {
                non_empty(cx, s, "seeds")?;
                s.get_ref().clone()
            }
            None => vec![0],
        };
        let ints = |axis: &Option<Spanned<Vec<Spanned<i64>>>>, name: &str, what: &str| {
            axis.as_ref()
                .map(|a| {
                    non_empty(cx, a, name)?;
                    a.get_ref()
                        .iter()
                        .map(|v| count(cx, v, what, 1))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
        };
        let learning_rates = axes
            .learning_rates
            .as_ref()
            .map(|a| {
                non_empty(cx, a, "learning_rates")?;
                a.get_ref()
                    .iter()
                    .map(|v| positive(cx, v, "learning rate"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let optimizers = axes
            .optimizers
            .as_ref()
            .map(|a| {
                non_empty(cx, a, "optimizers")?;
                a.get_ref()
                    .iter()
                    .map(|v| optimizer(cx, v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let label_noise = axes
            .label_noise
            .as_ref()
            .map(|a| {
                non_empty(cx, a, "label_noise")?;
                a.get_ref()
                    .iter()
                    .map(|v| fraction(cx, v, "label noise", true))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let axes_v = Axes {
            depths,
            widths,
            activations,
            seeds,
            learning_rates,
            optimizers,
            epochs: ints(&axes.epochs, "epochs", "epochs")?,
            batch_sizes: ints(&axes.batch_sizes, "batch_sizes", "batch size")?,
            label_noise,
            train_sizes: ints(&axes.train_sizes, "train_sizes", "training-set size")?,
        };
        let seeds_span = axes.seeds.as_ref().map_or(0..0, |s| s.span());
        for (name, dup, span) in [
            ("depths", has_duplicate(&axes_v.depths), axes.depths.span()),
            ("widths", has_duplicate(&axes_v.widths), axes.widths.span()),
            (
                "activations",
                has_duplicate(&axes_v.activations),
                axes.activations.span(),
            ),
            ("seeds", has_duplicate(&axes_v.seeds), seeds_span),
        ] {
            if let Some(v) = dup {
                return Err(cx.err(
                    span,
                    format!("axis `{name}` lists {v} twice, which would repeat grid ids"),
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
            datasets.push(DatasetConfig {
                name,
                label,
                target: raw.target.clone(),
                n_samples: raw
                    .n_samples
                    .as_ref()
                    .map(|v| count(cx, v, "n_samples", 1))
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
                params: raw.params.clone(),
                train,
            });
        }

        let report = match self.report {
            Some(r) => {
                let span = r.span();
                let settings = r.into_inner();
                settings
                    .validate()
                    .map_err(|m| cx.err(span, format!("[report]: {m}")))?;
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
        })
    }
}

fn has_duplicate<T: PartialEq + fmt::Display>(v: &[T]) -> Option<String> {
    v.iter()
        .enumerate()
        .find(|(i, x)| v[..*i].contains(x))
        .map(|(_, x)| format!("`{x}`"))
}

//! Study reports: plots, fit verdicts, tables and summaries written under `reports/`.
//!
//! # Entry points
//! - [`write_study_report`]`(records, &StudyContext)` writes `index.html` (self-contained: the
//!   PNG plots next to it, each linking to its SVG; no JavaScript, no network), `README.md`
//!   (the same content), `plots/<dataset>[-<variant>]/<n>-<name>.svg|png`, `verdicts.csv`, `verdicts.md` and
//!   a copy of the study's `meta.json` into [`StudyContext::out_dir`]. Called by
//!   `depthlab report runs/<study>` and at the end of `depthlab run`. Plot 6 loads
//!   `RunRecord::model_path` models from [`StudyContext::study_dir`] and regenerates their
//!   training data from the `study.toml` stored there; without either it is skipped with a note
//!   ([`ReportSummary::notes`]).
//! - [`compare_studies`]`((name_a, records_a), (name_b, records_b), out, &settings)` writes the
//!   same kind of page comparing two studies run by run (matched by id; deltas B − A of test
//!   metric, gap and time; overlaid plots; `deltas.csv`). Called by
//!   `depthlab compare runs/A runs/B` with `out = reports/compare-A-B`.
//! - [`fit_verdicts`] gives the verdict of every configuration without writing anything.
//!
//! [`ReportSettings`] is the `[report]` table of a study TOML (thresholds of the verdicts);
//! every threshold is printed in the report it produced.
//!
//! # What is in a study report
//! Per dataset (and per training variant when the study sweeps label noise, training-set size
//! or optimiser settings): (1) train/test metric vs parameter count, (2) generalisation gap vs
//! parameter count, (3) test metric vs depth per width, (4) depth × width heatmaps,
//! (5) loss curves of the smallest, best and largest model, (6) decision regions or fitted
//! curves of saved models, (7) the linear collapse at a fixed width and, when label noise or
//! training-set size is swept, (8) the double-descent view. Classification reports accuracy
//! in percent; regression reports mean squared error (lower is better).
//!
//! Rendering uses plotters with an embedded font (see `font.rs`), so the PNGs are identical
//! on machines without font packages; that is why both pages show the PNGs. The SVGs name the
//! generic sans-serif family, so their text is set in whatever font the viewer has, and every
//! report says so. Figures are rendered in parallel on the rayon pool.
//!
//! Plots 1 and 2 (and the comparison's overlays) draw one marker per configuration at its
//! exact parameter count, the mean over seeds with a min–max whisker; nothing is pooled
//! across configurations.

mod analysis;
mod compare;
pub(crate) mod font;
mod metric;
mod page;
mod plots;
mod settings;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use analysis::Verdict;
pub use compare::CompareSummary;
pub use settings::ReportSettings;

use crate::record::RunRecord;

/// Everything that can stop a report. Messages name the file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No records to report on.
    #[error("no finished runs to report for study \"{study}\"; run the study first")]
    NoRecords {
        /// Study name.
        study: String,
    },
    /// A `[report]` setting is out of range.
    #[error("invalid report settings: {0}")]
    Settings(String),
    /// Reading or writing a file failed.
    #[error("cannot write or read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing a plot failed (a failed draw could otherwise leave a blank image).
    #[error("cannot draw plot {path}: {message}")]
    Plot {
        /// The SVG or PNG file being drawn.
        path: PathBuf,
        /// What plotters reported.
        message: String,
    },
    /// Two studies to compare share no run id.
    #[error("studies \"{a}\" and \"{b}\" have no run id in common; nothing to compare")]
    NothingInCommon {
        /// First study.
        a: String,
        /// Second study.
        b: String,
    },
    /// The embedded font could not be registered.
    #[error("font error: {0}")]
    Font(String),
}

/// Where a study report comes from and goes to.
#[derive(Debug, Clone)]
pub struct StudyContext {
    /// Study name, used in titles.
    pub name: String,
    /// The study's results directory (`runs/<study>`): `meta.json` and saved models
    /// (`RunRecord::model_path` is relative to it).
    pub study_dir: PathBuf,
    /// Where the report goes (`reports/<study>`); created when missing.
    pub out_dir: PathBuf,
    /// Thresholds and plot choices (the study TOML's `[report]` table).
    pub settings: ReportSettings,
}

impl StudyContext {
    /// A context with default settings.
    pub fn new(
        name: impl Into<String>,
        study_dir: impl Into<PathBuf>,
        out_dir: impl Into<PathBuf>,
    ) -> Self {
        StudyContext {
            name: name.into(),
            study_dir: study_dir.into(),
            out_dir: out_dir.into(),
            settings: ReportSettings::default(),
        }
    }
}

/// What a study report wrote and found.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    /// The report directory.
    pub out_dir: PathBuf,
    /// `out_dir/index.html`.
    pub index_html: PathBuf,
    /// `out_dir/README.md`.
    pub readme: PathBuf,
    /// Every file written, as paths under `out_dir`.
    pub files: Vec<PathBuf>,
    /// Records reported on.
    pub runs: usize,
    /// Configurations (grid points without the seed) judged.
    pub configurations: usize,
    /// The generated summary sentences, as printed at the top of the report.
    pub summary: Vec<String>,
    /// Plots that were skipped and why (e.g. no saved models).
    pub notes: Vec<String>,
}

/// The verdict of one configuration (all seeds of one grid point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigVerdict {
    /// Dataset name.
    pub dataset: String,
    /// Training variant when the study has several per dataset (e.g. `label noise 0.2`), else empty.
    pub variant: String,
    /// Activation name.
    pub activation: String,
    /// Hidden layers.
    pub depth: usize,
    /// Hidden width.
    pub width: usize,
    /// Trainable parameters.
    pub parameter_count: usize,
    /// Seeds that finished.
    pub seeds_ok: usize,
    /// Seeds that diverged.
    pub seeds_diverged: usize,
    /// Mean train metric over finished seeds (accuracy in %, or MSE).
    pub train: Option<f64>,
    /// Mean test metric over finished seeds.
    pub test: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, with the threshold that decided it (e.g. `gap 7.1 pts > 5 pts`).
    pub reason: String,
}

/// Judges every configuration in `records` (grouped by dataset and variant, seeds averaged).
///
/// # Errors
/// [`ReportError::Settings`] when a threshold is out of range.
pub fn fit_verdicts(
    records: &[RunRecord],
    settings: &ReportSettings,
) -> Result<Vec<ConfigVerdict>, ReportError> {
    settings
        .validate()
        .map_err(|e| ReportError::Settings(e.into()))?;
    let datasets = analysis::analyse(records, settings);
    Ok(page::verdict_rows(&datasets))
}

/// Writes the report of one study into `ctx.out_dir` and returns what it wrote.
///
/// # Errors
/// No records, out-of-range settings, unwritable output files and failed drawing; never
/// fails because a saved model or `meta.json` is missing (the report notes it instead).
pub fn write_study_report(
    records: &[RunRecord],
    ctx: &StudyContext,
) -> Result<ReportSummary, ReportError> {
    ctx.settings
        .validate()
        .map_err(|e| ReportError::Settings(e.into()))?;
    if records.is_empty() {
        return Err(ReportError::NoRecords {
            study: ctx.name.clone(),
        });
    }
    page::study_report(records, ctx)
}

/// Compares two studies: runs matched by id, deltas of test metric, gap and time (B − A),
/// overlaid plots. Writes `index.html`, `README.md`, `deltas.csv` and `plots/` into `out`.
///
/// # Errors
/// Either study empty, no run id in common, out-of-range settings, unwritable files.
pub fn compare_studies(
    a: (&str, &[RunRecord]),
    b: (&str, &[RunRecord]),
    out: &Path,
    settings: &ReportSettings,
) -> Result<CompareSummary, ReportError> {
    settings
        .validate()
        .map_err(|e| ReportError::Settings(e.into()))?;
    compare::compare(a, b, out, settings)
}

/// Writes `contents` to `path`, naming the path on failure.
pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, contents).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

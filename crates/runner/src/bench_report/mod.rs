//! `depthlab bench-report`: criterion's saved estimates turned into a comparison report.
//!
//! # Public API (what the CLI calls)
//! ```no_run
//! use depthlab_runner::bench_report::{write_bench_report, BenchReportOptions};
//! let opts = BenchReportOptions {
//!     baseline: Some("main".into()), // --baseline NAME
//!     ..BenchReportOptions::default() // --criterion-dir target/criterion, --out reports/bench
//! };
//! let summary = write_bench_report(&opts)?; // Err(BenchReportError) → exit code 2
//! println!("{} benchmarks, report in {}", summary.benchmarks, summary.markdown.display());
//! # Ok::<(), depthlab_runner::bench_report::BenchReportError>(())
//! ```
//! CLI: `depthlab bench-report [--criterion-dir DIR] [--baseline NAME] [--out DIR] [--peak FILE.json]`.
//!
//! # What it reads
//! Every `<criterion-dir>/**/new/benchmark.json` (ids and throughput) with its
//! `new/estimates.json`, and `<baseline>/estimates.json` beside it for `--baseline NAME`
//! (saved by `cargo bench -- --save-baseline NAME`, before the pass being judged). Criterion
//! copies `new/` into the baseline it saves, and into `base` on every plain run, so `--baseline
//! base`, or a baseline identical to `new/` everywhere, is refused: it would compare a run with
//! itself. Ids follow `group/implementation/shape`;
//! a group named `<family>_<n>t` ran on n threads. The peak probe's JSON
//! (`cargo run --release -p depthlab-gemm --example peak -- --json > peak.json`) gives the
//! header and the ceilings.
//!
//! # What it writes
//! `<out>/README.md` (PNG plots) and `<out>/index.html` (SVG plots), the same content; plots in
//! `<out>/plots/`: GFLOP/s against square size per family and thread count with the measured
//! peak as a ceiling and each depthlab point as % of peak; the MLP layer products as grouped
//! bars; training samples/s per workload with the ANCHORS.md peers for reference; every
//! benchmark in a table; against a baseline, every change with its interval, regressions
//! first. The probe runs at another time than the benches, so a rate can exceed its peak:
//! such shares are marked † and counted in the header, and stay relative to the probe.
//!
//! # Change and noise
//! Criterion's "typical" time (its slope estimate when it has one, else the mean) with its
//! confidence interval is taken for both runs. The change is `new/base − 1`; its interval is
//! the widest ratio of the two intervals (`new_lo/base_hi − 1 ..= new_hi/base_lo − 1`). A
//! benchmark is a regression when the intervals do not overlap (the change's lower bound is
//! above zero) and the change exceeds the noise band ([`BenchReportOptions::noise`], 5% by
//! default: a shared 2-core machine moves more than criterion's 1% default).

mod anchors;
mod criterion;
mod peak;
mod plots;
mod render;

use std::path::{Path, PathBuf};

pub use anchors::{PEER_LABEL, PeerFigure, peers};
pub use criterion::{Benchmark, Estimate, Throughput};
pub use peak::{PeakEntry, PeakFile};

/// Registers the embedded plot font with plotters (idempotent). plotters is built with
/// ab_glyph and no system fonts, and Cargo unifies that feature into criterion's own plotters:
/// a bench binary must call this before criterion draws its HTML plots, or text layout fails.
pub fn register_plot_font() {
    plots::register_font();
}

/// Everything `depthlab bench-report` can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReportOptions {
    /// Criterion's output directory (`--criterion-dir`, default `target/criterion`).
    pub criterion_dir: PathBuf,
    /// A baseline saved with `--save-baseline NAME` to compare against (`--baseline`).
    pub baseline: Option<String>,
    /// Where the report goes (`--out`, default `reports/bench`).
    pub out_dir: PathBuf,
    /// The peak probe's JSON (`--peak`).
    pub peak: Option<PathBuf>,
    /// Relative change a regression must exceed (default 0.05).
    pub noise: f64,
    /// A free-text remark printed under the header (e.g. "taken while other work ran").
    pub note: Option<String>,
}

impl Default for BenchReportOptions {
    fn default() -> Self {
        Self {
            criterion_dir: PathBuf::from("target/criterion"),
            baseline: None,
            out_dir: PathBuf::from("reports/bench"),
            peak: None,
            noise: 0.05,
            note: None,
        }
    }
}

/// How one benchmark moved against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// `group/implementation/shape`.
    pub id: String,
    /// Relative change of the time per iteration (`new/base − 1`; positive is slower).
    pub change: f64,
    /// Lower end of the change's interval.
    pub lower: f64,
    /// Upper end of the change's interval.
    pub upper: f64,
    /// The verdict against the noise band.
    pub verdict: Verdict,
}

/// A comparison's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Slower beyond the noise band, intervals disjoint.
    Regression,
    /// Faster beyond the noise band, intervals disjoint.
    Improvement,
    /// Within noise.
    NoChange,
}

impl Verdict {
    /// How the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "within noise",
        }
    }
}

/// Compares a new estimate against a baseline under the noise band.
pub fn compare(id: &str, new: &Estimate, base: &Estimate, noise: f64) -> Comparison {
    let change = new.point / base.point - 1.0;
    let lower = new.lower / base.upper - 1.0;
    let upper = new.upper / base.lower - 1.0;
    let verdict = if lower > 0.0 && change > noise {
        Verdict::Regression
    } else if upper < 0.0 && change < -noise {
        Verdict::Improvement
    } else {
        Verdict::NoChange
    };
    Comparison {
        id: id.to_string(),
        change,
        lower,
        upper,
        verdict,
    }
}

/// What a report run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReportSummary {
    /// Benchmarks read.
    pub benchmarks: usize,
    /// Every comparison against the baseline, regressions first (empty without a baseline).
    pub comparisons: Vec<Comparison>,
    /// Ids of the flagged regressions.
    pub regressions: Vec<String>,
    /// The Markdown report.
    pub markdown: PathBuf,
    /// The HTML report.
    pub html: PathBuf,
    /// Every plot file written (SVG and PNG).
    pub plots: Vec<PathBuf>,
}

/// Why a report could not be written. Every variant names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum BenchReportError {
    /// The criterion directory does not exist.
    #[error(
        "criterion directory {path} does not exist (run `cargo bench` first, or pass --criterion-dir)"
    )]
    MissingCriterionDir {
        /// The directory looked for.
        path: PathBuf,
    },
    /// The criterion directory holds no saved benchmark.
    #[error("no criterion results (*/new/estimates.json) under {path}")]
    NoBenchmarks {
        /// The directory searched.
        path: PathBuf,
    },
    /// No benchmark has the named baseline.
    #[error("baseline {name:?} not found under {path} (saved baselines: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownBaseline {
        /// The name asked for.
        name: String,
        /// The criterion directory searched.
        path: PathBuf,
        /// Baseline names that do exist.
        available: Vec<String>,
    },
    /// The baseline cannot show a change: it is criterion's `base`, which every plain
    /// `cargo bench` overwrites, or it holds the latest run's own estimates.
    #[error(
        "baseline {name:?} under {path} {why}: save a reference pass with `cargo bench -- --save-baseline NAME`, run the later pass with plain `cargo bench` (or `cargo bench -- --baseline NAME`), then `depthlab bench-report --baseline NAME`"
    )]
    SelfBaseline {
        /// The name asked for.
        name: String,
        /// The criterion directory searched.
        path: PathBuf,
        /// Why nothing can be compared, worded to follow the name.
        why: &'static str,
    },
    /// The `--peak` file cannot be read.
    #[error("cannot read peak file {path}: {reason}")]
    UnreadablePeak {
        /// The file named by `--peak`.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A results or probe file does not parse or holds impossible numbers.
    #[error("malformed file {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error("cannot draw {path}: {reason}")]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// The drawing error.
        reason: String,
    },
    /// The noise band is not a finite fraction ≥ 0.
    #[error("noise band must be a finite fraction >= 0, got {0}")]
    BadNoise(f64),
}

/// The machine facts the header shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub isa: String,
    /// From the probe file, or None (then no ceilings or % of peak).
    pub peak: Option<PeakFile>,
    /// Whether the CPU facts come from the probe file (the benchmarked machine) or from the
    /// machine writing the report.
    pub from_probe: bool,
}

fn machine(peak: Option<PeakFile>) -> Machine {
    match peak {
        Some(p) => Machine {
            cpu: p.cpu.clone(),
            cores: p.cores,
            isa: p.active_isa.clone(),
            peak: Some(p),
            from_probe: true,
        },
        None => Machine {
            cpu: peak::local_cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            isa: depthlab_gemm::active_isa().map_or_else(|e| e.to_string(), |i| i.to_string()),
            peak: None,
            from_probe: false,
        },
    }
}

fn create_dir(path: &Path) -> Result<(), BenchReportError> {
    std::fs::create_dir_all(path).map_err(|source| BenchReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), BenchReportError> {
    std::fs::write(path, text).map_err(|source| BenchReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses a baseline that would compare a run with itself. Criterion copies `new/` into the
/// baseline it saves (`base` unless told `--save-baseline NAME`), so `base` equals `new/` after
/// every plain run, and a named baseline does right after it was saved: every change would
/// read +0.0%.
fn check_baseline_differs(
    name: &str,
    root: &Path,
    benches: &[Benchmark],
) -> Result<(), BenchReportError> {
    let why = if name == "base" {
        "is criterion's own, rewritten by every plain `cargo bench` to equal the run's new/ \
         estimates"
    } else if benches
        .iter()
        .filter_map(|b| b.baseline.as_ref().map(|base| (base, &b.new)))
        .all(|(base, new)| base == new)
    {
        "holds the same estimates as the latest run (new/) for every benchmark, so the \
         comparison would be a run against itself"
    } else {
        return Ok(());
    };
    Err(BenchReportError::SelfBaseline {
        name: name.to_string(),
        path: root.to_path_buf(),
        why,
    })
}

/// Reads criterion's results and writes the Markdown + HTML report with its plots.
///
/// # Errors
/// A [`BenchReportError`] naming the path at fault: missing criterion directory, unknown
/// baseline or one identical to the latest run (or criterion's `base`), malformed estimates,
/// unreadable or malformed probe file, unwritable output.
pub fn write_bench_report(
    opts: &BenchReportOptions,
) -> Result<BenchReportSummary, BenchReportError> {
    if !(opts.noise.is_finite() && opts.noise >= 0.0) {
        return Err(BenchReportError::BadNoise(opts.noise));
    }
    let benches = criterion::load(&opts.criterion_dir, opts.baseline.as_deref())?;
    if let Some(name) = &opts.baseline {
        check_baseline_differs(name, &opts.criterion_dir, &benches)?;
    }
    let peak = opts.peak.as_deref().map(PeakFile::load).transpose()?;
    let machine = machine(peak);

    let mut comparisons: Vec<Comparison> = benches
        .iter()
        .filter_map(|b| {
            b.baseline
                .as_ref()
                .map(|base| compare(&b.id(), &b.new, base, opts.noise))
        })
        .collect();
    comparisons.sort_by(|a, b| {
        a.verdict
            .cmp(&b.verdict)
            .then(b.change.total_cmp(&a.change))
    });

    let plot_dir = opts.out_dir.join("plots");
    create_dir(&plot_dir)?;
    let doc = render::build(&benches, &machine, &comparisons, opts);
    let mut plots = Vec::new();
    for (stem, chart) in &doc.charts {
        plots.extend(plots::write_chart(chart, &plot_dir, stem)?);
    }
    let markdown = opts.out_dir.join("README.md");
    let html = opts.out_dir.join("index.html");
    write_file(&markdown, &doc.markdown)?;
    write_file(&html, &doc.html)?;
    Ok(BenchReportSummary {
        benchmarks: benches.len(),
        regressions: comparisons
            .iter()
            .filter(|c| c.verdict == Verdict::Regression)
            .map(|c| c.id.clone())
            .collect(),
        comparisons,
        markdown,
        html,
        plots,
    })
}

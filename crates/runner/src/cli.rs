//! The `depthlab` command line: clap definitions, validation of raw arguments into plans, and
//! one function per command calling the library. Errors the user can fix are wrapped in
//! [`BadInput`] so `main` exits with code 2 for them and 1 for everything else.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};

use depthlab_runner::data;
use depthlab_runner::execute::{self, ModelOut};
use depthlab_runner::record::RunRecord;
use depthlab_runner::report;
use depthlab_runner::shard::Shard;
use depthlab_runner::store::{self, StudyDir};
use depthlab_runner::study::{self, DatasetConfig, GridPoint, OptimizerKind, Study, TrainSettings};
use depthlab_runner::sweep::{self, Observer, RunPlan};

use crate::progress;

/// An error caused by the user's input (arguments, study file, data file): exit code 2.
#[derive(Debug)]
pub struct BadInput(pub anyhow::Error);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

/// An error and its causes, `: `-separated. Library errors often quote their cause in their
/// own message already, so a cause is added only when its text is not there yet (`{:#}` would
/// repeat it: "cannot read study file x: not found: not found").
pub fn describe(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

impl std::error::Error for BadInput {}

/// Wraps an error as the user's fault.
fn bad(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(BadInput(e.into()))
}

/// Study directory and report directory defaults.
const RUNS_DIR: &str = "runs";
const REPORTS_DIR: &str = "reports";

#[derive(Debug, Parser)]
#[command(
    name = "depthlab",
    version,
    about = "Study how depth, width and activation shape what a multi-layer perceptron learns",
    after_help = "Examples:\n  depthlab run                      # the built-in default study -> runs/default, reports/default\n  depthlab init my.toml && depthlab run my.toml --threads 2\n  depthlab train --data spirals --depth 3 --width 16 --activation relu"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(RunArgs),
    Train(TrainArgs),
    Init(InitArgs),
    Merge(MergeArgs),
    Datasets(DatasetsArgs),
    Report(ReportArgs),
    Compare(CompareArgs),
    BenchReport(BenchReportArgs),
}

/// Run a study (the built-in default when no file is given), resuming where it stopped, then
/// write its report.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  depthlab run                                   # default study -> runs/default\n  depthlab run study.toml --threads 2 --out runs/try1\n  depthlab run study.toml --shard 3/8            # grid points with index = 3 mod 8\n  depthlab run study.toml --shard 3/8 --list     # what that shard would run\n  sbatch --array=0-7 --wrap 'depthlab run study.toml --shard /8'"
)]
struct RunArgs {
    /// Study file (TOML); omit to run the built-in default study.
    study: Option<PathBuf>,
    /// Results directory [default: runs/STUDY, or runs/STUDY-shard-I-of-N for a shard].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only grid points whose index = i (mod n); `/n` takes i from SLURM_ARRAY_TASK_ID,
    /// `slurm` takes both from the job array.
    #[arg(long, value_name = "i/n")]
    shard: Option<String>,
    /// Worker threads [default: RAYON_NUM_THREADS or all cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    threads: Option<u32>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Do not write the report at the end.
    #[arg(long)]
    no_report: bool,
    /// Print this shard's grid points (index, id, done or pending) and exit without running.
    #[arg(long)]
    list: bool,
}

/// Train one model and print its record.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  depthlab train --data spirals --depth 3 --width 16 --activation tanh --epochs 200\n  depthlab train --data my.csv --target label --depth 2 --width 32 --activation relu --json > run.json\n  depthlab train --data xor --depth 1 --width 4 --activation relu --save xor.safetensors"
)]
struct TrainArgs {
    /// Built-in dataset name or a CSV file (header required).
    #[arg(long, value_name = "NAME|FILE.csv")]
    data: String,
    /// Target column of the CSV file [default: target].
    #[arg(long, value_name = "COL")]
    target: Option<String>,
    /// Hidden layers (0 = linear model).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    depth: i64,
    /// Width of every hidden layer.
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    width: i64,
    /// Activation: identity, relu, tanh, sigmoid, leaky_relu, elu, gelu, softplus, silu.
    #[arg(long, value_name = "A")]
    activation: String,
    /// Epochs (at most; --patience may stop sooner).
    #[arg(
        long,
        value_name = "E",
        default_value_t = 100,
        allow_negative_numbers = true
    )]
    epochs: i64,
    /// Mini-batch size.
    #[arg(
        long,
        value_name = "B",
        default_value_t = 32,
        allow_negative_numbers = true
    )]
    batch: i64,
    /// Learning rate.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 0.01,
        allow_negative_numbers = true
    )]
    lr: f64,
    /// Optimizer: sgd, adam or adamw.
    #[arg(long, value_name = "sgd|adam", default_value = "adam")]
    optimizer: String,
    /// Stop after this many epochs without a better test loss (0 = never).
    #[arg(long, value_name = "P", default_value_t = 0)]
    patience: u64,
    /// Seed for data, initialisation and shuffling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Fraction of training labels replaced by a different class.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    label_noise: f64,
    /// Samples to generate (generated datasets) or to keep (digits, CSV).
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Save the trained model (safetensors).
    #[arg(long, value_name = "MODEL.safetensors")]
    save: Option<PathBuf>,
    /// Print the run's record as JSON on stdout (per-epoch lines still go to stderr).
    #[arg(long)]
    json: bool,
    /// No per-epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

/// Write the built-in default study to a file to edit.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  depthlab init my-study.toml && $EDITOR my-study.toml && depthlab run my-study.toml"
)]
struct InitArgs {
    /// File to write.
    #[arg(default_value = "study.toml")]
    file: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

/// Join shard directories of one study into one, listing grid points still missing.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  depthlab merge runs/default runs/default-shard-*")]
struct MergeArgs {
    /// Output study directory.
    out: PathBuf,
    /// Shard (or other) result directories of the same study.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
}

/// List the built-in datasets with their sizes.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  depthlab datasets")]
struct DatasetsArgs {}

/// Write the report of a finished (or partial) study.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  depthlab report runs/default              # -> reports/default/\n  depthlab report runs/default --out /tmp/r"
)]
struct ReportArgs {
    /// Study results directory.
    dir: PathBuf,
    /// Report directory [default: reports/STUDY].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Compare two studies grid point by grid point.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  depthlab compare runs/A runs/B           # -> reports/compare-A-B/"
)]
struct CompareArgs {
    /// First study directory.
    a: PathBuf,
    /// Second study directory.
    b: PathBuf,
    /// Report directory [default: reports/compare-A-B].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Turn criterion's saved estimates into a comparison report.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cargo bench -- --quick && depthlab bench-report\n  depthlab bench-report --baseline main --out reports/bench"
)]
struct BenchReportArgs {
    /// Criterion's output directory.
    #[arg(long, value_name = "DIR", default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// A saved criterion baseline to compare against.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Report directory.
    #[arg(long, value_name = "DIR", default_value = "reports/bench")]
    out: PathBuf,
    /// JSON written by the peak probe (`cargo run --release -p depthlab-gemm --example peak -- --json`).
    #[arg(long, value_name = "FILE")]
    peak: Option<PathBuf>,
    /// Relative change a regression must exceed to be flagged.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.05)]
    noise: f64,
    /// A remark printed under the report's header.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

/// Parses the command line; on failure returns the exit code after printing help, the version
/// or a one-line error.
pub fn parse() -> std::result::Result<Cli, u8> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    Err(0)
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    Err(2)
                }
                _ => {
                    // clap's own rendering spans several lines (tips, usage); keep the first.
                    let text = e.render().to_string();
                    let first = text.lines().next().unwrap_or("invalid arguments");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    progress::note(format_args!("depthlab: {first} (see depthlab --help)"));
                    Err(2)
                }
            }
        }
    }
}

/// Runs the parsed command; `Ok` carries the exit code.
pub fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Train(a) => cmd_train(a),
        Command::Init(a) => cmd_init(a),
        Command::Merge(a) => cmd_merge(a),
        Command::Datasets(_) => cmd_datasets(),
        Command::Report(a) => cmd_report(a),
        Command::Compare(a) => cmd_compare(a),
        Command::BenchReport(a) => cmd_bench_report(a),
    }
}

fn cmd_run(a: RunArgs) -> Result<u8> {
    let study = match &a.study {
        Some(path) => Study::load(path).map_err(bad)?,
        None => Study::default_study().context("the built-in default study is invalid")?,
    };
    let shard = match &a.shard {
        Some(s) => Shard::parse(s, &|k| std::env::var(k).ok()).map_err(bad)?,
        None => Shard::ALL,
    };
    let out = a.out.clone().unwrap_or_else(|| {
        let name = if shard.is_all() {
            study.name.clone()
        } else {
            format!("{}-shard-{}-of-{}", study.name, shard.index, shard.count)
        };
        Path::new(RUNS_DIR).join(name)
    });
    let out_label = if a.out.is_some() {
        "--out"
    } else {
        "results directory"
    };
    check_out_dir(out_label, &out)?;
    if a.list {
        let done: std::collections::HashSet<String> =
            store::read_results(&StudyDir::new(&out).results())?
                .records
                .into_iter()
                .map(|r| r.id)
                .collect();
        for p in study.grid().into_iter().filter(|p| shard.contains(p.index)) {
            let state = if done.contains(&p.id) {
                "done"
            } else {
                "pending"
            };
            progress::out(format_args!("{}\t{}\t{state}", p.index, p.id))?;
        }
        return Ok(0);
    }
    let report_dir = default_report_dir(&out, &study);
    let reporting = !a.no_report && shard.is_all();
    if reporting {
        check_report_dir("report directory", &report_dir, Some(&out))?;
    }
    let plan = RunPlan {
        study,
        out: StudyDir::new(&out),
        shard,
        threads: a.threads.map(|t| t as usize),
    };
    // Everything is checked before anything under runs/ is created or touched.
    plan.check()
        .map_err(|e| if e.is_user_error() { bad(e) } else { e.into() })?;

    let started = std::time::Instant::now();
    let observer: Box<dyn Observer> = if a.quiet {
        Box::new(sweep::Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(progress::Bar::new())
    } else {
        Box::new(progress::Lines::new())
    };
    let summary = sweep::run(&plan, observer.as_ref())?;
    drop(observer);
    if !a.quiet {
        let shared = match summary.shared {
            0 => String::new(),
            n => format!(", {n} of them the result of an identical depth-0 run"),
        };
        progress::note(format_args!(
            "{}: {} of {} grid points recorded in {} ({} run now{shared}, {} failed) in {}",
            summary.start.study,
            summary.records.len(),
            summary.start.grid,
            plan.out.root().display(),
            summary.ran,
            summary.failed.len(),
            progress::duration(started.elapsed().as_secs_f64()),
        ));
    }
    // A partial study still gets its report; failures then decide the exit code.
    if reporting && !summary.records.is_empty() {
        write_report(
            &plan.study,
            plan.out.root(),
            &summary.records,
            &report_dir,
            a.quiet,
        )?;
        if !a.quiet {
            progress::note(format_args!(
                "report: {}",
                report_dir.join("index.html").display()
            ));
        }
    }
    if !summary.failed.is_empty() {
        for (id, msg) in &summary.failed {
            progress::note(format_args!("depthlab: run {id} failed: {msg}"));
        }
        progress::note(format_args!(
            "depthlab: {} runs failed; rerun the same command to retry them",
            summary.failed.len()
        ));
        return Ok(1);
    }
    Ok(0)
}

fn cmd_train(a: TrainArgs) -> Result<u8> {
    // The study format's limits (see `depthlab_runner::study`), so a typo cannot exhaust memory.
    let int = |v: i64, flag: &str, min: i64, max: usize| -> Result<usize> {
        if v < min {
            return Err(bad(anyhow!("--{flag} {v}: must be at least {min}")));
        }
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| bad(anyhow!("--{flag} {v}: too large (the limit is {max})")))
    };
    let depth = int(a.depth, "depth", 0, study::MAX_DEPTH)?;
    let width = int(a.width, "width", 1, study::MAX_WIDTH)?;
    let epochs = int(a.epochs, "epochs", 1, study::MAX_EPOCHS)?;
    let batch_size = int(a.batch, "batch", 1, study::MAX_BATCH_SIZE)?;
    let patience = usize::try_from(a.patience)
        .ok()
        .filter(|&p| p <= study::MAX_EPOCHS)
        .ok_or_else(|| {
            bad(anyhow!(
                "--patience {}: too large (the limit is {})",
                a.patience,
                study::MAX_EPOCHS
            ))
        })?;
    if let Some(n) = a.samples
        && !(2..=data::MAX_SAMPLES).contains(&n)
    {
        return Err(bad(anyhow!(
            "--samples {n}: must be in 2..={}",
            data::MAX_SAMPLES
        )));
    }
    if !(a.lr.is_finite() && a.lr > 0.0) {
        return Err(bad(anyhow!("--lr {}: must be a positive number", a.lr)));
    }
    if !(a.label_noise.is_finite() && (0.0..1.0).contains(&a.label_noise)) {
        return Err(bad(anyhow!(
            "--label-noise {}: must be in [0, 1)",
            a.label_noise
        )));
    }
    let optimizer: OptimizerKind = a
        .optimizer
        .parse()
        .map_err(|m: String| bad(anyhow!("--optimizer: {m}")))?;
    let activation =
        execute::parse_activation(&a.activation).map_err(|m| bad(anyhow!("--activation: {m}")))?;
    if !study::is_csv_name(&a.data) {
        execute::check_dataset_name(&a.data).map_err(|m| bad(anyhow!("--data: {m}")))?;
    }
    let train = TrainSettings {
        epochs,
        batch_size,
        learning_rate: a.lr,
        optimizer,
        patience: (patience > 0).then_some(patience),
        label_noise: a.label_noise,
        ..TrainSettings::default()
    };
    let label = Path::new(&a.data)
        .file_stem()
        .map_or_else(|| a.data.clone(), |s| s.to_string_lossy().into_owned());
    let ds = DatasetConfig {
        name: a.data.clone(),
        label: label.clone(),
        target: a.target.clone(),
        n_samples: a.samples,
        noise: None,
        test_fraction: None,
        standardize: true,
        params: Default::default(),
        train: train.clone(),
    };
    let point = GridPoint {
        index: 0,
        id: format!("{label}-d{depth}-w{width}-{activation}-s{}", a.seed),
        dataset: 0,
        depth,
        width,
        activation,
        seed: a.seed,
        train,
    };
    if let Some(save) = &a.save {
        check_out_file("--save", save)?;
        // Tab completion makes `--data my.csv --save my.csv` an easy slip, and the model would
        // replace the data it was trained on.
        if study::is_csv_name(&a.data) && same_file(Path::new(&a.data), save) {
            return Err(bad(anyhow!(
                "--save {}: is the --data file; save the model elsewhere",
                save.display()
            )));
        }
    }
    // Load once up front so a bad CSV is reported as the user's input, before training.
    let loaded = data::load(&execute::data_spec(&ds, point.seed, &point.train)).map_err(|e| {
        if matches!(e, data::DataError::TooManyClasses { .. }) {
            bad(anyhow!(
                "{e}; `depthlab train` always infers the task: to treat a numeric target as \
                 values, run the file from a study with params = {{ classification = 0 }}"
            ))
        } else {
            bad(e)
        }
    })?;
    let batch = batch_size.min(loaded.n_train());
    study::check_model_size(loaded.n_features, loaded.n_outputs, depth, width, batch)
        .map_err(|m| bad(anyhow!("--depth {depth} --width {width}: {m}")))?;

    let save_to = a.save.clone();
    let save = move |_: &data::Dataset, _: &study::GridPoint| {
        save_to.as_ref().map(|p| ModelOut {
            path: p.clone(),
            record_as: p.display().to_string(),
        })
    };
    let quiet = a.quiet;
    let total = epochs;
    let record = execute::execute("train", &point, &ds, Some(&save), &mut |p| {
        if !quiet {
            progress::note(progress::epoch_line(p, total));
        }
    })?;
    if a.json {
        progress::out(serde_json::to_string(&record)?)?;
    } else {
        progress::out(progress::record_line(&record))?;
    }
    Ok(0)
}

fn cmd_init(a: InitArgs) -> Result<u8> {
    if a.file.exists() && !a.force {
        return Err(bad(anyhow!(
            "{}: already exists (use --force to overwrite)",
            a.file.display()
        )));
    }
    check_out_file("study file", &a.file)?;
    // Unlike the output directories, a study file's directory is not created for it.
    if let Some(dir) = a.file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(bad(anyhow!(
            "study file {}: no such directory {}",
            a.file.display(),
            dir.display()
        )));
    }
    std::fs::write(&a.file, study::DEFAULT_STUDY_TOML)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    progress::note(format_args!(
        "wrote {}; run it with: depthlab run {}",
        a.file.display(),
        a.file.display()
    ));
    Ok(0)
}

fn cmd_merge(a: MergeArgs) -> Result<u8> {
    for d in &a.dirs {
        if !d.is_dir() {
            return Err(bad(anyhow!("{}: no such directory", d.display())));
        }
    }
    check_out_dir("output directory", &a.out)?;
    let summary = store::merge(&a.out, &a.dirs)
        .map_err(|e| if e.is_user_error() { bad(e) } else { e.into() })?;
    for (path, tail) in &summary.dropped {
        progress::note(format_args!(
            "note: {}:{}: ignored an interrupted last line ({} bytes)",
            path.display(),
            tail.line,
            tail.bytes
        ));
    }
    progress::note(format_args!(
        "merged {} directories into {}: {} records, {} duplicate ids dropped, {} grid points missing",
        a.dirs.len(),
        a.out.display(),
        summary.records,
        summary.duplicates,
        summary.missing.len()
    ));
    for id in &summary.missing {
        progress::out(format_args!("missing {id}"))?;
    }
    Ok(0)
}

fn cmd_datasets() -> Result<u8> {
    progress::out(format_args!(
        "{:<14} {:<15} {:>8} {:>8} {:>8}  description",
        "name", "task", "samples", "features", "classes"
    ))?;
    for d in data::catalog() {
        let task = match d.task {
            depthlab_runner::record::Task::Classification => "classification",
            depthlab_runner::record::Task::Regression => "regression",
        };
        let classes = d
            .n_classes
            .map_or_else(|| "-".to_string(), |c| c.to_string());
        progress::out(format_args!(
            "{:<14} {:<15} {:>8} {:>8} {:>8}  {}",
            d.name, task, d.default_samples, d.n_features, classes, d.description
        ))?;
    }
    progress::out(
        "\nor any CSV file with a header: --data FILE.csv --target COLUMN (optional `split` column: train/test)",
    )?;
    Ok(0)
}

/// Loads a study directory for the report commands.
fn load_study_dir(dir: &Path) -> Result<(Study, Vec<RunRecord>)> {
    if !dir.is_dir() {
        return Err(bad(anyhow!("{}: no such study directory", dir.display())));
    }
    let sd = StudyDir::new(dir);
    let study = sd.read_study().map_err(bad)?;
    let loaded = sd.read()?;
    if let Some(t) = &loaded.dropped {
        progress::note(format_args!(
            "note: {}:{}: ignored an interrupted last line ({} bytes)",
            sd.results().display(),
            t.line,
            t.bytes
        ));
    }
    if loaded.records.is_empty() {
        return Err(bad(anyhow!(
            "{}: no finished runs to report on",
            sd.results().display()
        )));
    }
    Ok((study, loaded.records))
}

/// `reports/<name of the results directory>`: `runs/widths` reports to `reports/widths`, and two
/// `--out` trials of one study to two report directories instead of one overwriting the other.
/// A results path without a last component (`.`) falls back to the study's name.
fn default_report_dir(results: &Path, study: &Study) -> PathBuf {
    let name = results
        .file_name()
        .map_or_else(|| study.name.clone(), |n| n.to_string_lossy().into_owned());
    Path::new(REPORTS_DIR).join(name)
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "study".to_string(), |n| n.to_string_lossy().into_owned())
}

fn cmd_report(a: ReportArgs) -> Result<u8> {
    let (study, records) = load_study_dir(&a.dir)?;
    let label = if a.out.is_some() {
        "--out"
    } else {
        "report directory"
    };
    let out = a.out.unwrap_or_else(|| default_report_dir(&a.dir, &study));
    check_report_dir(label, &out, Some(&a.dir))?;
    write_report(&study, &a.dir, &records, &out, false)?;
    progress::note(format_args!("report: {}", out.join("index.html").display()));
    Ok(0)
}

fn cmd_compare(a: CompareArgs) -> Result<u8> {
    let (sa, ra) = load_study_dir(&a.a)?;
    let (_, rb) = load_study_dir(&a.b)?;
    let label = if a.out.is_some() {
        "--out"
    } else {
        "report directory"
    };
    let out = a.out.unwrap_or_else(|| {
        Path::new(REPORTS_DIR).join(format!("compare-{}-{}", dir_name(&a.a), dir_name(&a.b)))
    });
    check_report_dir(label, &out, None)?;
    // Directory names, not study names: comparing two runs of one study is the common case.
    let (na, nb) = (dir_name(&a.a), dir_name(&a.b));
    report::compare_studies((&na, &ra), (&nb, &rb), &out, &sa.report).map_err(report_error)?;
    progress::note(format_args!("report: {}", out.join("index.html").display()));
    Ok(0)
}

fn cmd_bench_report(a: BenchReportArgs) -> Result<u8> {
    use depthlab_runner::bench_report::{self, BenchReportError, BenchReportOptions};
    check_out_dir("--out", &a.out)?;
    let opts = BenchReportOptions {
        criterion_dir: a.criterion_dir,
        baseline: a.baseline,
        out_dir: a.out,
        peak: a.peak,
        noise: a.noise,
        note: a.note,
    };
    let summary = bench_report::write_bench_report(&opts).map_err(|e| match e {
        BenchReportError::Io { .. } | BenchReportError::Plot { .. } => anyhow::Error::new(e),
        user => bad(user),
    })?;
    progress::note(format_args!(
        "bench report: {} benchmarks, {} compared, {} regressions flagged -> {}",
        summary.benchmarks,
        summary.comparisons.len(),
        summary.regressions.len(),
        summary.html.display()
    ));
    for id in &summary.regressions {
        progress::note(format_args!("regression: {id}"));
    }
    Ok(0)
}

/// Checks up front that `path` can be a directory to write into: it is one, or its nearest
/// existing ancestor is, so it can be created. `--out afile/sub` is then the user's error
/// (exit 2), found before anything runs rather than after a study trained.
fn check_out_dir(label: &str, path: &Path) -> Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(bad(anyhow!(
            "{label} {}: exists and is not a directory",
            path.display()
        )));
    }
    check_parents(label, path)
}

/// Whether two paths name the same file or directory (links and `..` resolved when both exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// [`check_out_dir`] for a report, which must not go into a results directory other than
/// `own` (the study it reports on): its `meta.json` would replace the one recorded with that
/// directory's runs.
fn check_report_dir(label: &str, path: &Path, own: Option<&Path>) -> Result<()> {
    check_out_dir(label, path)?;
    let dir = StudyDir::new(path);
    let holds = [dir.results(), dir.study()]
        .into_iter()
        .find(|f| f.exists());
    let is_own = own.is_some_and(|own| same_file(path, own));
    match holds {
        Some(file) if !is_own => Err(bad(anyhow!(
            "{label} {}: is a results directory (it holds {}); write the report elsewhere",
            path.display(),
            file.file_name().unwrap_or_default().to_string_lossy()
        ))),
        _ => Ok(()),
    }
}

/// [`check_out_dir`] for a file to write: not a directory, in a directory that is or can be.
fn check_out_file(label: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(bad(anyhow!("{label} {}: is a directory", path.display())));
    }
    check_parents(label, path)
}

/// The nearest existing ancestor of `path` must be a directory.
fn check_parents(label: &str, path: &Path) -> Result<()> {
    // `exists` is false below a regular file too, so the walk goes on up to that file.
    let nearest = path
        .ancestors()
        .skip(1)
        .find(|p| p.as_os_str().is_empty() || p.exists());
    match nearest {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(bad(anyhow!(
            "{label} {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Maps a report error to bad input (exit 2) or a failure (exit 1).
fn report_error(e: report::ReportError) -> anyhow::Error {
    match e {
        report::ReportError::NoRecords { .. } | report::ReportError::Settings(_) => bad(e),
        other => anyhow::Error::new(other),
    }
}

/// Writes a study report and prints its findings unless `quiet`.
fn write_report(
    study: &Study,
    dir: &Path,
    records: &[RunRecord],
    out: &Path,
    quiet: bool,
) -> Result<()> {
    let ctx = report::StudyContext {
        name: study.name.clone(),
        study_dir: dir.to_path_buf(),
        out_dir: out.to_path_buf(),
        settings: study.report.clone(),
    };
    let summary = report::write_study_report(records, &ctx).map_err(report_error)?;
    if !quiet {
        for line in &summary.summary {
            progress::note(format_args!("  {line}"));
        }
        for note in &summary.notes {
            progress::note(format_args!("note: {note}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct Quoting {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn describe_names_each_cause_once() {
        let missing = || std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
        // A cause already quoted by its error is not repeated...
        let quoted = anyhow::Error::new(Quoting {
            path: "a.toml".into(),
            source: missing(),
        });
        assert_eq!(describe(&quoted), "cannot read a.toml: not found");
        // ...and one that is not quoted is appended.
        let wrapped = anyhow::Error::new(missing()).context("loading b.csv");
        assert_eq!(describe(&wrapped), "loading b.csv: not found");
    }
}

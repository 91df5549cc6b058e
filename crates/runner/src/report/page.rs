//! Assembles a study report: figures planned (and rendered in parallel), tables and sentences
//! gathered into a [`Document`], written as HTML and Markdown.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::analysis::{self, Config, DatasetGroups, Group, Verdict};
use super::metric::{Metric, fmt_sig, thousands};
use super::plots::{self, Figure};
use super::settings::ReportSettings;
use super::{ConfigVerdict, ReportError, ReportSummary, StudyContext, write_file};
use crate::document::{Block, Document, HtmlStyle, PlotFiles};
use crate::record::{RunRecord, Task};

type Job = Box<dyn Fn() -> Result<PlotFiles, ReportError> + Send + Sync>;

/// The look of study and comparison pages: long pages of many sections, hence navigation, and
/// the plots' font first, so where it is installed the text around figures matches theirs.
pub(super) const HTML_STYLE: HtmlStyle = HtmlStyle {
    css: "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1180px;margin:2em auto;\
padding:0 1em;color:#222;line-height:1.45}h1{border-bottom:2px solid #ccc}h2{margin-top:2em;\
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}\
tr:nth-child(even) td{background:#fafafa}figure{margin:1.5em 0}figure img{max-width:100%;\
border:1px solid #eee}figcaption{font-size:.9em;color:#555}.note{background:#fff8e1;\
border-left:4px solid #f0b400;padding:.5em 1em}details{margin:1em 0}summary{cursor:pointer;\
font-weight:bold}nav ul{columns:2}",
    navigation: true,
};

/// What the reader should know about the two formats of every plot, said in every page.
pub(super) const PLOT_FORMATS: &str = "Plots are shown as PNG images, drawn with the DejaVu Sans font embedded in depthlab, so they look the same on every machine. Each plot links to its SVG, a vector version that stays sharp at any zoom; the SVGs' text uses the viewer's own sans-serif font, so their lettering can differ slightly from the PNGs'.";

/// Figures to draw, collected while the document is built and rendered together at the end.
pub(crate) struct Plan {
    dir: PathBuf,
    rel: String,
    jobs: Vec<Job>,
}

impl Plan {
    /// Figures go to `root/rel`.
    pub fn new(root: &Path, rel: &str) -> Plan {
        Plan {
            dir: root.join(rel),
            rel: rel.to_string(),
            jobs: Vec::new(),
        }
    }

    /// Schedules `fig` as `<stem>.svg|png` and returns the links it will have.
    pub fn add<F: Figure + Send + Sync + 'static>(&mut self, fig: F, stem: &str) -> PlotFiles {
        let files = PlotFiles {
            svg: format!("{}/{stem}.svg", self.rel),
            png: format!("{}/{stem}.png", self.rel),
        };
        let (dir, rel, stem) = (self.dir.clone(), self.rel.clone(), stem.to_string());
        self.jobs
            .push(Box::new(move || plots::render(&fig, &dir, &rel, &stem)));
        files
    }

    /// Draws everything; returns the files written, relative to the report root.
    pub fn run(self) -> Result<Vec<PathBuf>, ReportError> {
        let done: Vec<PlotFiles> = self
            .jobs
            .par_iter()
            .map(|j| j())
            .collect::<Result<_, _>>()?;
        Ok(done
            .into_iter()
            .flat_map(|f| [PathBuf::from(f.svg), PathBuf::from(f.png)])
            .collect())
    }
}

fn figure(files: PlotFiles, title: String, caption: impl Into<String>) -> Block {
    Block::Figure {
        files,
        title,
        caption: Some(caption.into()),
    }
}

/// Flattens the analysis into public verdict rows.
pub(crate) fn verdict_rows(datasets: &[DatasetGroups<'_>]) -> Vec<ConfigVerdict> {
    let mut rows = Vec::new();
    for d in datasets {
        for g in &d.groups {
            for c in &g.configs {
                rows.push(ConfigVerdict {
                    dataset: g.dataset.clone(),
                    variant: g.variant_label.clone(),
                    activation: c.activation.clone(),
                    depth: c.depth,
                    width: c.width,
                    parameter_count: c.params,
                    seeds_ok: c.runs.len(),
                    seeds_diverged: c.diverged,
                    train: c.train_mean(),
                    test: c.test_mean(),
                    verdict: c.verdict,
                    reason: c.reason.clone(),
                });
            }
        }
    }
    rows
}

fn task_name(t: Task) -> &'static str {
    match t {
        Task::Classification => "classification",
        Task::Regression => "regression",
    }
}

fn opt(m: Metric, v: Option<f64>) -> String {
    v.map_or("–".into(), |v| m.fmt(v))
}

fn config_row(m: Metric, first: String, c: &Config<'_>) -> Vec<String> {
    vec![
        first,
        format!("d{}-w{}", c.depth, c.width),
        thousands(c.params),
        opt(m, c.train_mean()),
        opt(m, c.test_mean()),
        c.gap.map_or("–".into(), |g| m.fmt_gap(g.mean)),
        c.verdict.to_string(),
        c.wall.map_or("–".into(), |w| fmt_sig(w.mean)),
    ]
}

fn config_header(first: &str) -> Vec<String> {
    [
        first,
        "config",
        "parameters",
        "train",
        "test",
        "gap",
        "verdict",
        "seconds/run",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The threshold list printed in every report.
fn thresholds(s: &ReportSettings, tasks: &[Task]) -> Vec<String> {
    let mut out = Vec::new();
    if tasks.contains(&Task::Classification) {
        out.push(format!(
            "Classification: underfit when mean train accuracy < {}%; overfit when the mean train − test gap > {} points, or when test accuracy is more than {} points below a smaller model of the same activation (same depth, narrower; or same width, shallower) while train accuracy kept rising (the larger model trains at least as well as the smaller one, and no more than {} point(s) below any model between them); otherwise good.",
            s.underfit_accuracy, s.overfit_gap, s.trend_drop, s.near_best_points
        ));
    }
    if tasks.contains(&Task::Regression) {
        out.push(format!(
            "Regression: underfit when mean train MSE > {}; overfit when test MSE > {}× train MSE and exceeds it by more than {}, or when test MSE is more than {:.0}% above a smaller model's (same line, as for classification) while train MSE kept falling (no higher than the smaller model's, and no more than {:.0}% above any model between them); otherwise good.",
            s.underfit_mse,
            s.overfit_mse_ratio,
            s.overfit_mse_min_gap,
            s.trend_rise_mse * 100.0,
            s.near_best_mse_ratio * 100.0
        ));
    }
    out.push(format!(
        "\"Near best\" means within {} accuracy point(s) (classification) or {:.0}% of the lowest MSE (regression). Set these in the study TOML's [report] table.",
        s.near_best_points,
        s.near_best_mse_ratio * 100.0
    ));
    out.push("Every figure is averaged over seeds; diverged runs are left out of the means and counted separately.".into());
    out
}

fn group_tables(g: &Group<'_>, s: &ReportSettings) -> Vec<Block> {
    let m = g.metric;
    let mut blocks = Vec::new();
    let mut rows = Vec::new();
    for act in &g.activations {
        if let Some(c) = g.best(g.of_activation(act)) {
            rows.push(config_row(m, act.clone(), c));
        }
    }
    blocks.push(Block::Heading(
        4,
        format!("{}: best configuration per activation", g.title()),
    ));
    blocks.push(Block::Table {
        header: config_header("activation"),
        rows,
    });
    let mut rows = Vec::new();
    for &d in &g.depths {
        if let Some(c) = g.best(g.configs.iter().filter(|c| c.depth == d)) {
            rows.push(config_row(m, d.to_string(), c));
        }
    }
    blocks.push(Block::Heading(
        4,
        format!("{}: best configuration per depth", g.title()),
    ));
    let mut header = config_header("depth");
    header[1] = "config".into();
    blocks.push(Block::Table { header, rows });

    let tol = if m.higher_is_better() {
        format!("{} point(s)", s.near_best_points)
    } else {
        format!("{:.0}%", s.near_best_mse_ratio * 100.0)
    };
    let mut rows = Vec::new();
    let mut scopes: Vec<(String, Vec<&Config>)> = vec![("all".into(), g.configs.iter().collect())];
    for act in &g.activations {
        scopes.push((act.clone(), g.of_activation(act).collect()));
    }
    for (scope, configs) in scopes {
        let (Some(best), Some(small)) = (
            g.best(configs.iter().copied()),
            g.smallest_near(configs.iter().copied(), s),
        ) else {
            continue;
        };
        rows.push(vec![
            scope,
            best.name(),
            opt(m, best.test_mean()),
            thousands(best.params),
            small.name(),
            opt(m, small.test_mean()),
            thousands(small.params),
        ]);
    }
    blocks.push(Block::Heading(
        4,
        format!("{}: smallest model within {tol} of the best", g.title()),
    ));
    blocks.push(Block::Table {
        header: [
            "scope",
            "best",
            "best test",
            "parameters",
            "smallest near best",
            "its test",
            "its parameters",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    });

    // Compact verdict grid: one row per activation and depth, one column per width.
    let mut header = vec!["activation".to_string(), "depth".to_string()];
    header.extend(g.widths.iter().map(|w| format!("w{w}")));
    let mut rows = Vec::new();
    for act in &g.activations {
        for &d in &g.depths {
            let mut row = vec![act.clone(), d.to_string()];
            for &w in &g.widths {
                row.push(match g.get(act, d, w) {
                    Some(c) => {
                        let letter = match c.verdict {
                            Verdict::Underfit => "U",
                            Verdict::Good => "G",
                            Verdict::Overfit => "O",
                            Verdict::Diverged => "D",
                        };
                        match c.test_mean() {
                            Some(t) if m.higher_is_better() => format!("{letter} {t:.1}"),
                            Some(t) => format!("{letter} {}", fmt_sig(t)),
                            None => letter.to_string(),
                        }
                    }
                    None => String::new(),
                });
            }
            rows.push(row);
        }
    }
    blocks.push(Block::Heading(4, format!("{}: verdicts", g.title())));
    let counts = g.verdict_counts();
    blocks.push(Block::Para(format!(
        "U = underfit, G = good, O = overfit, D = diverged, followed by the mean test {}. Counts: {}.",
        m.name(),
        counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    )));
    blocks.push(Block::Table { header, rows });
    blocks
}

/// Double-descent sentence: where test error peaks near the interpolation threshold.
fn double_descent_sentence(d: &DatasetGroups<'_>, depth: usize, s: &ReportSettings) -> Vec<String> {
    let mut out = Vec::new();
    for g in &d.groups {
        let m = g.metric;
        let threshold = g.n_train * g.n_outputs;
        for act in g.activations.iter().filter(|a| *a != "identity") {
            let mut line: Vec<&Config> =
                g.of_activation(act).filter(|c| c.depth == depth).collect();
            line.sort_by_key(|c| c.params);
            let errs: Vec<(usize, f64)> = line
                .iter()
                .filter_map(|c| c.test_mean().map(|t| (c.params, m.error(t))))
                .collect();
            if errs.len() < 3 {
                continue;
            }
            let tol = if m.higher_is_better() {
                s.trend_drop
            } else {
                0.0
            };
            let mut peak: Option<(usize, f64)> = None;
            for i in 1..errs.len() - 1 {
                let before = errs[..i].iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
                let after = errs[i + 1..]
                    .iter()
                    .map(|e| e.1)
                    .fold(f64::INFINITY, f64::min);
                let e = errs[i].1;
                let rises = if m.higher_is_better() {
                    e - before > tol
                } else {
                    e > before * (1.0 + s.trend_rise_mse)
                };
                let falls = if m.higher_is_better() {
                    e - after > tol
                } else {
                    e > after * (1.0 + s.trend_rise_mse)
                };
                if rises && falls && peak.is_none_or(|p| e > p.1) {
                    peak = Some(errs[i]);
                }
            }
            let variant = if g.variant_label.is_empty() {
                String::new()
            } else {
                format!(" with {}", g.variant_label)
            };
            if let Some((p, e)) = peak {
                out.push(format!(
                    "Double descent on {}{variant}: {act} test error peaks at {} parameters ({}; interpolation threshold ≈ {}) and falls again for larger models.",
                    d.dataset,
                    thousands(p),
                    if m.higher_is_better() { format!("{e:.1}% error") } else { format!("MSE {}", fmt_sig(e)) },
                    thousands(threshold)
                ));
            }
        }
    }
    if out.is_empty() {
        out.push(format!(
            "On {}, no double-descent peak shows at depth {depth}: test error does not rise and fall again around the interpolation threshold.",
            d.dataset
        ));
    }
    out
}

/// Key fields of `meta.json` shown in the report.
fn meta_table(study_dir: &Path) -> Option<(Block, String)> {
    let path = study_dir.join("meta.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let obj = value.as_object()?;
    let mut rows = Vec::new();
    for (key, v) in obj {
        let shown = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "–".into(),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        rows.push(vec![key.clone(), shown]);
    }
    Some((
        Block::Table {
            header: vec!["meta.json".into(), "value".into()],
            rows,
        },
        text,
    ))
}

/// Builds and writes the whole study report.
pub(crate) fn study_report(
    records: &[RunRecord],
    ctx: &StudyContext,
) -> Result<ReportSummary, ReportError> {
    let s = &ctx.settings;
    let out = &ctx.out_dir;
    let datasets = analysis::analyse(records, s);
    let specs = plots::regions::SpecSource::load(&ctx.study_dir);
    let mut plan = Plan::new(out, "plots");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut summary: Vec<String> = Vec::new();
    let mut summary_blocks: Vec<(String, Vec<String>)> = Vec::new();
    let mut body: Vec<Block> = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();

    for d in &datasets {
        let g0 = &d.groups[0];
        if !tasks.contains(&g0.metric.0) {
            tasks.push(g0.metric.0);
        }
        body.push(Block::Heading(2, format!("Dataset: {}", d.dataset)));
        let n_runs: usize = d
            .groups
            .iter()
            .flat_map(|g| &g.configs)
            .map(|c| c.runs.len() + c.diverged)
            .sum();
        body.push(Block::Para(format!(
            "{} ({} input feature{}, {} output{}), {} training samples; {} runs in {} configuration{}.",
            task_name(g0.metric.0),
            g0.n_features,
            if g0.n_features == 1 { "" } else { "s" },
            g0.n_outputs,
            if g0.n_outputs == 1 { "" } else { "s" },
            thousands(g0.n_train),
            n_runs,
            d.groups.iter().map(|g| g.configs.len()).sum::<usize>(),
            if d.groups.iter().map(|g| g.configs.len()).sum::<usize>() == 1 { "" } else { "s" },
        )));
        for g in &d.groups {
            let m = g.metric;
            let lines = analysis::summarise(g, s);
            summary_blocks.push((d.dataset.clone(), lines.clone()));
            summary.extend(lines);
            if d.groups.len() > 1 {
                body.push(Block::Heading(3, g.title()));
            }
            let slug = &g.slug;
            let mname = m.name();
            let f = plan.add(
                plots::size::metric_vs_params(g),
                &format!("{slug}/1-metric-vs-params"),
            );
            body.push(figure(
                f,
                format!("{}: train and test {mname} vs parameters", g.title()),
                format!(
                    "Plot 1. Train (left) and test (right) {mname} against parameter count, one colour per activation. Each marker is one configuration (depth × width) at its exact parameter count: the mean over seeds, with a whisker from the lowest to the highest seed. The faint line joins an activation's configurations in order of parameter count; it only groups them by colour, and where it zigzags, configurations of about the same size but different shape (deep and narrow against shallow and wide) differ. Nothing is averaged across configurations, so no point mixes depths or widths. Low train {mname} means underfitting; train {} while test {} means overfitting.",
                    if m.higher_is_better() { "rising" } else { "falling" },
                    if m.higher_is_better() { "falls" } else { "rises" }
                ),
            ));
            let f = plan.add(
                plots::size::gap_vs_params(g, s),
                &format!("{slug}/2-gap-vs-params"),
            );
            body.push(figure(
                f,
                format!("{}: generalisation gap vs parameters", g.title()),
                "Plot 2. Generalisation gap against parameter count, drawn as plot 1: one marker per configuration (mean over seeds of each seed's gap, whisker from the lowest to the highest seed), a faint line per activation in parameter-count order. Positive means the test figure is worse than the train figure.",
            ));
            if g.depths.len() > 1 {
                let f = plan.add(
                    plots::depth::test_vs_depth(g),
                    &format!("{slug}/3-test-vs-depth"),
                );
                body.push(figure(
                    f,
                    format!("{}: test {mname} vs depth", g.title()),
                    format!("Plot 3. Mean test {mname} against the number of hidden layers, one line per width, one panel per activation."),
                ));
            } else {
                notes.push(format!(
                    "{}: plot 3 skipped, the study has a single depth.",
                    g.title()
                ));
            }
            let f = plan.add(
                plots::heatmap::Heatmap::new(g),
                &format!("{slug}/4-heatmap"),
            );
            body.push(figure(
                f,
                format!("{}: depth × width heatmap", g.title()),
                format!("Plot 4. Mean test {mname} for every depth and width, one panel per activation; brighter is better, grey cells were not run."),
            ));
            if let Some(fig) = plots::curves::loss_curves(g) {
                let f = plan.add(fig, &format!("{slug}/5-loss-curves"));
                body.push(figure(
                    f,
                    format!("{}: loss curves", g.title()),
                    "Plot 5. Per-epoch train (solid) and test (dashed) loss of the smallest, the best (by mean test metric) and the largest configuration of each activation (lowest seed).",
                ));
            }
            match plots::regions::plan_regions(g, ctx, &specs, &mut plan) {
                Ok((f, caption, more)) => {
                    body.push(figure(
                        f,
                        format!("{}: what the models learned", g.title()),
                        caption,
                    ));
                    notes.extend(more);
                }
                Err(note) => {
                    body.push(Block::Note(format!(
                        "Plot 6 skipped for {}: {note}",
                        g.title()
                    )));
                    notes.push(format!("{}: plot 6 skipped: {note}", g.title()));
                }
            }
            if g.depths.len() > 1
                && let Some(w) = g.fixed_width(s)
            {
                let f = plan.add(
                    plots::depth::linear_collapse(g, w),
                    &format!("{slug}/7-linear-collapse"),
                );
                body.push(figure(
                    f,
                    format!("{}: linear collapse", g.title()),
                    format!("Plot 7. Test {mname} against depth at width {w}, one line per activation, band = min–max over seeds. A stack of identity layers is one linear map, so its line stays flat; nonlinear activations can use depth."),
                ));
            }
            body.extend(group_tables(g, s));
        }
        if plots::size::double_descent_applies(d)
            && let Some((fig, depth)) = plots::size::double_descent(d)
        {
            let f = plan.add(fig, &format!("{}/8-double-descent", d.slug));
            body.push(Block::Heading(3, format!("{}: double descent", d.dataset)));
            body.push(figure(
                f,
                format!("{}: double descent", d.dataset),
                format!("Plot 8. Test error against parameter count at depth {depth}, one line per label-noise level or training-set size (band = min–max over seeds); the dashed line marks the interpolation threshold, parameters = training samples × outputs."),
            ));
            let lines = double_descent_sentence(d, depth, s);
            if let Some(last) = summary_blocks.last_mut() {
                last.1.extend(lines.clone());
            }
            summary.extend(lines);
        }
    }

    // Front matter.
    let n_diverged = records
        .iter()
        .filter(|r| r.outcome == crate::record::RunOutcome::Diverged)
        .count();
    let configs: usize = datasets
        .iter()
        .flat_map(|d| &d.groups)
        .map(|g| g.configs.len())
        .sum();
    let mut blocks = vec![Block::Para(format!(
        "{} runs ({} diverged) in {} configurations on {}. Generated by depthlab {}.",
        records.len(),
        n_diverged,
        configs,
        datasets
            .iter()
            .map(|d| d.dataset.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        env!("CARGO_PKG_VERSION"),
    ))];
    blocks.push(Block::Para(PLOT_FORMATS.into()));
    blocks.push(Block::Heading(2, "Summary".into()));
    // One list per dataset (its variants' sentences together), so a mixed study reads in
    // sections.
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    for (dataset, lines) in summary_blocks {
        match merged.last_mut() {
            Some((d, l)) if *d == dataset => l.extend(lines),
            _ => merged.push((dataset, lines)),
        }
    }
    if merged.len() == 1 {
        blocks.push(Block::List(summary.clone()));
    } else {
        for (dataset, lines) in merged {
            blocks.push(Block::Heading(3, format!("Summary: {dataset}")));
            blocks.push(Block::List(lines));
        }
    }
    blocks.push(Block::Heading(2, "Fit verdicts and thresholds".into()));
    blocks.push(Block::List(thresholds(s, &tasks)));
    blocks.extend(body);

    let rows = verdict_rows(&datasets);
    let verdict_table = Block::Table {
        header: [
            "dataset",
            "variant",
            "activation",
            "depth",
            "width",
            "parameters",
            "seeds",
            "train",
            "test",
            "verdict",
            "reason",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                let m = Metric(
                    records
                        .iter()
                        .find(|x| x.dataset == r.dataset)
                        .map_or(Task::Classification, |x| x.task),
                );
                vec![
                    r.dataset.clone(),
                    r.variant.clone(),
                    r.activation.clone(),
                    r.depth.to_string(),
                    r.width.to_string(),
                    thousands(r.parameter_count),
                    format!("{}+{}d", r.seeds_ok, r.seeds_diverged),
                    opt(m, r.train),
                    opt(m, r.test),
                    r.verdict.to_string(),
                    r.reason.clone(),
                ]
            })
            .collect(),
    };
    blocks.push(Block::Heading(2, "All configurations".into()));
    blocks.push(Block::Details {
        summary: format!("Verdict of all {} configurations", rows.len()),
        blocks: vec![verdict_table.clone()],
        md_link: Some("verdicts.md".into()),
    });

    let mut links = vec![
        ("verdicts.csv".to_string(), "verdicts.csv".to_string()),
        ("verdicts.md".to_string(), "verdicts.md".to_string()),
    ];
    blocks.push(Block::Heading(2, "Provenance".into()));
    match meta_table(&ctx.study_dir) {
        Some((table, text)) => {
            blocks.push(table);
            write_file(&out.join("meta.json"), text.as_bytes())?;
            files.push("meta.json".into());
            links.push(("meta.json".into(), "meta.json".into()));
        }
        None => {
            let note = format!("no readable meta.json in {}", ctx.study_dir.display());
            blocks.push(Block::Note(note.clone()));
            notes.push(note);
        }
    }
    blocks.push(Block::Para(format!(
        "Report settings: {}",
        serde_json::to_string(s).unwrap_or_default()
    )));
    blocks.push(Block::Links(links));

    let doc = Document {
        title: format!("depthlab study report: {}", ctx.name),
        blocks,
    };
    files.extend(plan.run()?);

    let mut csv = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        csv.serialize(r).map_err(|e| ReportError::Io {
            path: out.join("verdicts.csv"),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    let csv = csv.into_inner().map_err(|e| ReportError::Io {
        path: out.join("verdicts.csv"),
        source: std::io::Error::other(e.to_string()),
    })?;
    write_file(&out.join("verdicts.csv"), &csv)?;
    let verdict_doc = Document {
        title: format!("{}: fit verdicts of all configurations", ctx.name),
        blocks: vec![Block::List(thresholds(s, &tasks)), verdict_table],
    };
    write_file(
        &out.join("verdicts.md"),
        verdict_doc.to_markdown().as_bytes(),
    )?;
    write_file(&out.join("index.html"), doc.to_html(&HTML_STYLE).as_bytes())?;
    write_file(&out.join("README.md"), doc.to_markdown().as_bytes())?;
    files.extend(["verdicts.csv", "verdicts.md", "index.html", "README.md"].map(PathBuf::from));

    Ok(ReportSummary {
        out_dir: out.clone(),
        index_html: out.join("index.html"),
        readme: out.join("README.md"),
        files,
        runs: records.len(),
        configurations: configs,
        summary,
        notes,
    })
}

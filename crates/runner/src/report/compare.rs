//! `depthlab compare runs/A runs/B`: two studies run by run. Runs are matched by id (grid
//! point and seed); deltas are B − A. The overlaid plots use only matched runs, so both sides
//! describe the same grid.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use plotters::style::RGBColor;
use serde::Serialize;

use super::analysis::{self, Group};
use super::metric::{Metric, thousands};
use super::page::{HTML_STYLE, PLOT_FORMATS, Plan};
use super::plots::size::{config_series, per_config};
use super::plots::{LegendItem, Panel, PanelFigure, Series, Stroke, Swatch, activation_color};
use super::settings::ReportSettings;
use super::{ReportError, write_file};
use crate::document::{Block, Document};
use crate::record::RunRecord;

/// What a comparison wrote and found.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSummary {
    /// The comparison directory.
    pub out_dir: PathBuf,
    /// `out_dir/index.html`.
    pub index_html: PathBuf,
    /// `out_dir/README.md`.
    pub readme: PathBuf,
    /// Every file written, relative to `out_dir`.
    pub files: Vec<PathBuf>,
    /// Runs present in both studies.
    pub matched: usize,
    /// Ids only in study A.
    pub only_a: Vec<String>,
    /// Ids only in study B.
    pub only_b: Vec<String>,
    /// Mean test-metric delta (B − A) per dataset: accuracy points, or MSE.
    pub mean_test_delta: BTreeMap<String, f64>,
    /// The generated sentences at the top of the comparison.
    pub summary: Vec<String>,
}

/// One matched run: `(a, b)`.
type Pair<'a> = (&'a RunRecord, &'a RunRecord);

/// One row of `deltas.csv`.
#[derive(Debug, Serialize)]
struct DeltaRow {
    id: String,
    dataset: String,
    activation: String,
    depth: usize,
    width: usize,
    seed: u64,
    parameter_count: usize,
    test_a: Option<f64>,
    test_b: Option<f64>,
    test_delta: Option<f64>,
    gap_a: Option<f64>,
    gap_b: Option<f64>,
    gap_delta: Option<f64>,
    seconds_a: f64,
    seconds_b: f64,
    time_ratio: f64,
}

fn delta_row((a, b): Pair<'_>) -> DeltaRow {
    let m = Metric(a.task);
    let (ta, tb) = (m.test(a), m.test(b));
    let gap = |r: &RunRecord| Some(m.gap(m.train(r)?, m.test(r)?));
    let (ga, gb) = (gap(a), gap(b));
    DeltaRow {
        id: a.id.clone(),
        dataset: a.dataset.clone(),
        activation: a.activation.clone(),
        depth: a.depth,
        width: a.width,
        seed: a.seed,
        parameter_count: a.parameter_count,
        test_a: ta,
        test_b: tb,
        test_delta: ta.zip(tb).map(|(x, y)| y - x),
        gap_a: ga,
        gap_b: gb,
        gap_delta: ga.zip(gb).map(|(x, y)| y - x),
        seconds_a: a.wall_seconds,
        seconds_b: b.wall_seconds,
        time_ratio: b.wall_seconds / a.wall_seconds.max(1e-9),
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Plot-1-style overlay: `value` against parameter count per configuration (mean over the
/// matched seeds), A as filled markers with min–max whiskers, B as hollow markers.
fn overlay(
    ga: &Group<'_>,
    gb: &Group<'_>,
    value: impl Fn(&RunRecord) -> Option<f64> + Copy,
    y_label: &str,
    log_y: bool,
) -> Panel {
    let mut panel = Panel {
        x_label: "parameters (log scale)".into(),
        y_label: y_label.into(),
        log_x: true,
        log_y,
        ..Panel::default()
    };
    let mut marks = Vec::new();
    for (g, whiskers) in [(ga, true), (gb, false)] {
        for act in &g.activations {
            let pts = per_config(g.of_activation(act), value);
            let [line, m] = config_series(activation_color(act), &pts, whiskers);
            panel.series.push(line);
            marks.push(m);
        }
    }
    // Every line below every marker, so neither study's lines hide the other's points.
    panel.series.extend(marks);
    panel
}

/// Writes the comparison; see [`super::compare_studies`].
pub(crate) fn compare(
    (name_a, recs_a): (&str, &[RunRecord]),
    (name_b, recs_b): (&str, &[RunRecord]),
    out: &Path,
    settings: &ReportSettings,
) -> Result<CompareSummary, ReportError> {
    for (name, recs) in [(name_a, recs_a), (name_b, recs_b)] {
        if recs.is_empty() {
            return Err(ReportError::NoRecords {
                study: name.to_string(),
            });
        }
    }
    let by_id_b: HashMap<&str, &RunRecord> = recs_b.iter().map(|r| (r.id.as_str(), r)).collect();
    let ids_a: HashMap<&str, &RunRecord> = recs_a.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut pairs: Vec<Pair> = recs_a
        .iter()
        .filter_map(|a| by_id_b.get(a.id.as_str()).map(|b| (a, *b)))
        .filter(|(a, b)| a.task == b.task)
        .collect();
    pairs.sort_by(|x, y| x.0.id.cmp(&y.0.id));
    pairs.dedup_by(|x, y| x.0.id == y.0.id);
    let mut only_a: Vec<String> = recs_a
        .iter()
        .filter(|r| !by_id_b.contains_key(r.id.as_str()))
        .map(|r| r.id.clone())
        .collect();
    let mut only_b: Vec<String> = recs_b
        .iter()
        .filter(|r| !ids_a.contains_key(r.id.as_str()))
        .map(|r| r.id.clone())
        .collect();
    only_a.sort();
    only_b.sort();
    if pairs.is_empty() {
        return Err(ReportError::NothingInCommon {
            a: name_a.to_string(),
            b: name_b.to_string(),
        });
    }

    let matched_a: Vec<RunRecord> = pairs.iter().map(|p| p.0.clone()).collect();
    let matched_b: Vec<RunRecord> = pairs.iter().map(|p| p.1.clone()).collect();
    let an_a = analysis::analyse(&matched_a, settings);
    let an_b = analysis::analyse(&matched_b, settings);

    let mut plan = Plan::new(out, "plots");
    let mut body = Vec::new();
    let mut summary = Vec::new();
    let mut mean_test_delta = BTreeMap::new();
    let side_legend = |g: &Group<'_>| {
        let mut legend: Vec<LegendItem> = g
            .activations
            .iter()
            .map(|a| LegendItem::new(a.clone(), activation_color(a), Swatch::Box))
            .collect();
        legend.push(LegendItem::new(
            format!("A: {name_a}"),
            RGBColor(0, 0, 0),
            Swatch::Whisker,
        ));
        legend.push(LegendItem::new(
            format!("B: {name_b}"),
            RGBColor(0, 0, 0),
            Swatch::Hollow,
        ));
        legend
    };

    for da in &an_a {
        let Some(db) = an_b.iter().find(|d| d.dataset == da.dataset) else {
            continue;
        };
        let ds_pairs: Vec<Pair> = pairs
            .iter()
            .copied()
            .filter(|p| p.0.dataset == da.dataset)
            .collect();
        let m = Metric(ds_pairs[0].0.task);
        let rows: Vec<DeltaRow> = ds_pairs.iter().copied().map(delta_row).collect();
        let dt: Vec<f64> = rows.iter().filter_map(|r| r.test_delta).collect();
        let dg: Vec<f64> = rows.iter().filter_map(|r| r.gap_delta).collect();
        let ratios: Vec<f64> = rows
            .iter()
            .map(|r| r.time_ratio)
            .filter(|x| x.is_finite())
            .collect();
        let better = dt.iter().filter(|d| m.better(**d, 0.0)).count();
        let worse = dt.iter().filter(|d| m.better(0.0, **d)).count();
        if let Some(mdt) = mean(&dt) {
            mean_test_delta.insert(da.dataset.clone(), mdt);
            let unit = if m.higher_is_better() {
                format!("{mdt:+.2} accuracy points")
            } else {
                format!("{} test MSE", super::metric::Metric(m.0).fmt_gap(mdt))
            };
            let mut geo = ratios.iter().map(|r| r.max(1e-9).ln()).sum::<f64>();
            geo = (geo / ratios.len().max(1) as f64).exp();
            summary.push(format!(
                "On {}, B ({name_b}) differs from A ({name_a}) by {unit} on average over {} matched runs (B better in {better}, worse in {worse}); the generalisation gap changes by {} on average; B takes {:.2}× A's time per run (geometric mean).",
                da.dataset,
                rows.len(),
                mean(&dg).map_or("–".into(), |g| m.fmt_gap(g)),
                geo
            ));
        }

        body.push(Block::Heading(2, format!("Dataset: {}", da.dataset)));
        for (gi, ga) in da.groups.iter().enumerate() {
            // Same training variant when B has it; otherwise the variant at the same position
            // (comparing studies that differ in a fixed setting, e.g. the learning rate, is the
            // main use of `compare`).
            let Some(gb) = db
                .groups
                .iter()
                .find(|g| g.variant == ga.variant)
                .or_else(|| db.groups.get(gi))
            else {
                continue;
            };
            if da.groups.len() > 1 {
                body.push(Block::Heading(3, ga.title()));
            }
            let slug = &ga.slug;
            let test_panel = overlay(
                ga,
                gb,
                |r| m.test(r),
                &format!("test {}", m.axis()),
                m.log_axis(),
            );
            let gap_panel = overlay(
                ga,
                gb,
                |r| Some(m.gap(m.train(r)?, m.test(r)?)),
                m.gap_axis(),
                false,
            );
            let time_panel = overlay(
                ga,
                gb,
                |r| Some(r.wall_seconds).filter(|w| *w > 0.0),
                "seconds per run",
                true,
            );
            for (panel, stem, what) in [
                (test_panel, "test", format!("test {}", m.name())),
                (gap_panel, "gap", "generalisation gap".to_string()),
                (time_panel, "time", "training time".to_string()),
            ] {
                let fig = PanelFigure {
                    title: format!("{}: {what} vs parameters, A vs B", ga.title()),
                    panels: vec![panel],
                    legend: side_legend(ga),
                    max_cols: 1,
                    panel_size: (820, 480),
                };
                let files = plan.add(fig, &format!("{slug}/{stem}"));
                body.push(Block::Figure {
                    files,
                    title: format!("{}: {what}", ga.title()),
                    caption: Some(format!(
                        "{what} against parameter count, one marker per configuration at its exact parameter count (mean over matched seeds): A ({name_a}) filled with a min–max whisker over seeds and a faint solid line, B ({name_b}) hollow with a faint dashed line; lines join an activation's configurations in parameter-count order."
                    )),
                });
            }
            // Config-level scatter: A's mean test metric against B's.
            let mut scatter = Panel {
                x_label: format!("A ({name_a}) test {}", m.axis()),
                y_label: format!("B ({name_b}) test {}", m.axis()),
                log_x: m.log_axis(),
                log_y: m.log_axis(),
                ..Panel::default()
            };
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            for act in &ga.activations {
                let mut pts = Vec::new();
                for c in ga.of_activation(act) {
                    if let (Some(x), Some(y)) = (
                        c.test_mean(),
                        gb.get(act, c.depth, c.width).and_then(|c| c.test_mean()),
                    ) {
                        lo = lo.min(x.min(y));
                        hi = hi.max(x.max(y));
                        pts.push((x, y));
                    }
                }
                scatter
                    .series
                    .push(Series::scatter(activation_color(act), pts));
            }
            if lo.is_finite() {
                scatter.series.insert(
                    0,
                    Series {
                        stroke: Stroke::Dashed,
                        markers: false,
                        width: 1,
                        ..Series::line(RGBColor(150, 150, 150), vec![(lo, lo), (hi, hi)])
                    },
                );
            }
            let mut legend: Vec<LegendItem> = ga
                .activations
                .iter()
                .map(|a| LegendItem::new(a.clone(), activation_color(a), Swatch::Box))
                .collect();
            legend.push(LegendItem::new(
                "A = B",
                RGBColor(150, 150, 150),
                Swatch::Dashed,
            ));
            let fig = PanelFigure {
                title: format!(
                    "{}: test {} per configuration, B vs A",
                    ga.title(),
                    m.name()
                ),
                panels: vec![scatter],
                legend,
                max_cols: 1,
                panel_size: (620, 560),
            };
            let files = plan.add(fig, &format!("{slug}/scatter"));
            body.push(Block::Figure {
                files,
                title: format!("{}: B vs A per configuration", ga.title()),
                caption: Some(format!(
                    "Each point is one configuration (mean over matched seeds); {} the dashed diagonal means B is better.",
                    if m.higher_is_better() { "above" } else { "below" }
                )),
            });

            // Per-configuration deltas, largest changes first.
            let mut cfg_rows: Vec<(f64, Vec<String>)> = Vec::new();
            for ca in &ga.configs {
                let Some(cb) = gb.get(&ca.activation, ca.depth, ca.width) else {
                    continue;
                };
                let (Some(ta), Some(tb)) = (ca.test_mean(), cb.test_mean()) else {
                    continue;
                };
                let gap = ca.gap.zip(cb.gap).map(|(x, y)| y.mean - x.mean);
                let time = ca.wall.zip(cb.wall).map(|(x, y)| y.mean / x.mean.max(1e-9));
                cfg_rows.push((
                    (tb - ta).abs(),
                    vec![
                        ca.name(),
                        thousands(ca.params),
                        m.fmt(ta),
                        m.fmt(tb),
                        if m.higher_is_better() {
                            format!("{:+.2}", tb - ta)
                        } else {
                            m.fmt_gap(tb - ta)
                        },
                        gap.map_or("–".into(), |g| m.fmt_gap(g)),
                        time.map_or("–".into(), |t| format!("{t:.2}×")),
                        format!("{} → {}", ca.verdict, cb.verdict),
                    ],
                ));
            }
            cfg_rows.sort_by(|x, y| y.0.total_cmp(&x.0));
            let header: Vec<String> = [
                "config",
                "parameters",
                "test A",
                "test B",
                "Δ test",
                "Δ gap",
                "time B/A",
                "verdict A → B",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let top: Vec<Vec<String>> = cfg_rows.iter().take(12).map(|r| r.1.clone()).collect();
            body.push(Block::Heading(
                4,
                format!("{}: largest changes per configuration", ga.title()),
            ));
            body.push(Block::Table {
                header: header.clone(),
                rows: top,
            });
            if cfg_rows.len() > 12 {
                body.push(Block::Details {
                    summary: format!("All {} matched configurations", cfg_rows.len()),
                    blocks: vec![Block::Table {
                        header,
                        rows: cfg_rows.into_iter().map(|r| r.1).collect(),
                    }],
                    md_link: Some("deltas.csv".into()),
                });
            }
        }
    }

    let mut blocks = vec![Block::Para(format!(
        "A = {name_a} ({} runs), B = {name_b} ({} runs): {} runs matched by id; {} only in A, {} only in B. Deltas are B − A.",
        recs_a.len(),
        recs_b.len(),
        pairs.len(),
        only_a.len(),
        only_b.len()
    ))];
    blocks.push(Block::Para(PLOT_FORMATS.into()));
    blocks.push(Block::Heading(2, "Summary".into()));
    blocks.push(Block::List(summary.clone()));
    blocks.extend(body);
    if !only_a.is_empty() || !only_b.is_empty() {
        blocks.push(Block::Heading(2, "Unmatched runs".into()));
        let show = |v: &[String]| {
            let mut s = v.iter().take(30).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 30 {
                s.push_str(&format!(", … ({} more)", v.len() - 30));
            }
            s
        };
        if !only_a.is_empty() {
            blocks.push(Block::Para(format!("Only in A: {}", show(&only_a))));
        }
        if !only_b.is_empty() {
            blocks.push(Block::Para(format!("Only in B: {}", show(&only_b))));
        }
    }
    blocks.push(Block::Links(vec![(
        "deltas.csv (every matched run)".into(),
        "deltas.csv".into(),
    )]));
    let doc = Document {
        title: format!("depthlab comparison: {name_a} vs {name_b}"),
        blocks,
    };

    let mut files = plan.run()?;
    let csv_path = out.join("deltas.csv");
    let io = |e: &dyn std::fmt::Display| ReportError::Io {
        path: csv_path.clone(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut csv = csv::Writer::from_writer(Vec::new());
    for p in &pairs {
        csv.serialize(delta_row(*p)).map_err(|e| io(&e))?;
    }
    let csv = csv.into_inner().map_err(|e| io(&e))?;
    write_file(&csv_path, &csv)?;
    write_file(&out.join("index.html"), doc.to_html(&HTML_STYLE).as_bytes())?;
    write_file(&out.join("README.md"), doc.to_markdown().as_bytes())?;
    files.extend(["deltas.csv", "index.html", "README.md"].map(PathBuf::from));
    Ok(CompareSummary {
        out_dir: out.to_path_buf(),
        index_html: out.join("index.html"),
        readme: out.join("README.md"),
        files,
        matched: pairs.len(),
        only_a,
        only_b,
        mean_test_delta,
        summary,
    })
}

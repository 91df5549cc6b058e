//! Figures against parameter count: the under/overfitting picture (plot 1), the
//! generalisation gap (plot 2) and the double-descent view (plot 8).
//!
//! Plots 1 and 2 draw every configuration (depth × width of an activation) at its exact
//! parameter count: a marker at the mean over seeds with a whisker from the lowest to the
//! highest seed. Pooling configurations of similar size into bins would average deep-narrow
//! and shallow-wide networks together and stretch the band over both, so nothing is pooled;
//! a faint line joins an activation's configurations in parameter-count order to group them
//! by colour.

use super::super::analysis::{Config, DatasetGroups, Group, Stat};
use super::super::metric::thousands;
use super::super::settings::ReportSettings;
use super::{
    LegendItem, Panel, PanelFigure, RefLine, Series, Stroke, Swatch, activation_color, fade,
    nth_color,
};
use crate::record::RunRecord;
use plotters::style::RGBColor;

/// How far toward white the joining lines are faded, so markers and whiskers stand out.
const LINE_FADE: f64 = 0.6;

/// `(parameter count, stat over seeds)` of every configuration with a value, in ascending
/// parameter count (ties by depth, then width, so the order is stable). `value` gives one
/// run's figure; configurations whose runs all lack it are left out.
pub(crate) fn per_config<'c, 'a: 'c>(
    configs: impl Iterator<Item = &'c Config<'a>>,
    value: impl Fn(&RunRecord) -> Option<f64>,
) -> Vec<(f64, Stat)> {
    let mut rows: Vec<(usize, usize, usize, Stat)> = configs
        .filter(|c| c.params > 0)
        .filter_map(|c| {
            let vals: Vec<f64> = c.runs.iter().filter_map(|r| value(r)).collect();
            Some((c.params, c.depth, c.width, Stat::of(&vals)?))
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    rows.into_iter()
        .map(|(p, _, _, st)| (p as f64, st))
        .collect()
}

/// The series of one activation's configurations: a faint joining line (dashed for the
/// second study of an overlay), then the means as markers, with min–max whiskers when
/// `whiskers` (filled) or without (hollow, for the overlaid study).
pub(crate) fn config_series(color: RGBColor, pts: &[(f64, Stat)], whiskers: bool) -> [Series; 2] {
    let means: Vec<(f64, f64)> = pts.iter().map(|(x, st)| (*x, st.mean)).collect();
    let line = Series {
        stroke: if whiskers {
            Stroke::Solid
        } else {
            Stroke::Dashed
        },
        markers: false,
        width: 1,
        ..Series::line(fade(color, LINE_FADE), means.clone())
    };
    let mut marks = Series::scatter(color, means);
    if whiskers {
        marks.band = pts.iter().map(|(x, st)| (*x, st.min, st.max)).collect();
        marks.whiskers = true;
    } else {
        marks.hollow = true;
    }
    [line, marks]
}

/// Adds one activation's line and markers to `panel`, lines first so no line covers a marker.
fn push_activation(panel: &mut Panel, act: &str, pts: &[(f64, Stat)]) {
    let [line, marks] = config_series(activation_color(act), pts, true);
    let at = panel.series.iter().take_while(|s| !s.markers).count();
    panel.series.insert(at, line);
    panel.series.push(marks);
}

fn activation_legend(g: &Group<'_>) -> Vec<LegendItem> {
    g.activations
        .iter()
        .map(|a| LegendItem::new(a.clone(), activation_color(a), Swatch::Whisker))
        .collect()
}

/// Plot 1: train and test metric against parameter count, one colour per activation, one
/// marker per configuration (mean over seeds, min–max whisker).
pub(crate) fn metric_vs_params(g: &Group<'_>) -> PanelFigure {
    let m = g.metric;
    let mut panels = Vec::new();
    for (split, is_train) in [("train", true), ("test", false)] {
        let mut panel = Panel {
            caption: format!("{split} {}", m.name()),
            x_label: "parameters (log scale)".into(),
            y_label: format!("{split} {}", m.axis()),
            log_x: true,
            log_y: m.log_axis(),
            ..Panel::default()
        };
        for act in &g.activations {
            let pts = per_config(g.of_activation(act), |r| {
                if is_train { m.train(r) } else { m.test(r) }
            });
            push_activation(&mut panel, act, &pts);
        }
        panels.push(panel);
    }
    let mut fig = PanelFigure {
        title: format!("{}: train and test {} vs parameters", g.title(), m.name()),
        panels,
        legend: activation_legend(g),
        max_cols: 2,
        panel_size: (540, 420),
    };
    fig.share_y();
    fig
}

/// Plot 2: generalisation gap against parameter count, drawn like plot 1.
pub(crate) fn gap_vs_params(g: &Group<'_>, s: &ReportSettings) -> PanelFigure {
    let m = g.metric;
    let mut panel = Panel {
        caption: String::new(),
        x_label: "parameters (log scale)".into(),
        y_label: m.gap_axis().into(),
        log_x: true,
        ..Panel::default()
    };
    panel.hlines.push(RefLine {
        value: 0.0,
        color: RGBColor(120, 120, 120),
        note: None,
    });
    if m.higher_is_better() {
        panel.hlines.push(RefLine {
            value: s.overfit_gap,
            color: RGBColor(200, 30, 30),
            note: Some(format!("overfit threshold ({} pts)", s.overfit_gap)),
        });
    }
    for act in &g.activations {
        let pts = per_config(g.of_activation(act), |r| {
            Some(m.gap(m.train(r)?, m.test(r)?))
        });
        push_activation(&mut panel, act, &pts);
    }
    PanelFigure {
        title: format!("{}: generalisation gap vs parameters", g.title()),
        panels: vec![panel],
        legend: activation_legend(g),
        max_cols: 1,
        panel_size: (820, 480),
    }
}

/// True when a dataset's study sweeps label noise or training-set size (with several widths),
/// which is what the double-descent view needs.
pub(crate) fn double_descent_applies(d: &DatasetGroups<'_>) -> bool {
    let noisy = d.groups.iter().any(|g| g.variant.label_noise > 0.0);
    let sizes: Vec<Option<usize>> = d.groups.iter().map(|g| g.variant.train_size).collect();
    let varied_size = sizes.iter().any(|s| *s != sizes[0]);
    (noisy || varied_size) && d.groups.iter().any(|g| g.widths.len() >= 3)
}

/// Plot 8: test error against parameter count at one depth, one line per variant (label noise
/// or training-set size), with the interpolation threshold (parameters = samples × outputs).
pub(crate) fn double_descent(d: &DatasetGroups<'_>) -> Option<(PanelFigure, usize)> {
    let first = d.groups.first()?;
    let m = first.metric;
    let common: Vec<usize> = first
        .depths
        .iter()
        .copied()
        .filter(|dp| d.groups.iter().all(|g| g.depths.contains(dp)))
        .collect();
    let depth = if common.contains(&1) {
        1
    } else {
        common
            .iter()
            .copied()
            .find(|&x| x > 0)
            .or(common.first().copied())?
    };
    let mut activations: Vec<String> = Vec::new();
    for g in &d.groups {
        for a in &g.activations {
            if !activations.contains(a) {
                activations.push(a.clone());
            }
        }
    }
    let thresholds: Vec<usize> = d.groups.iter().map(|g| g.n_train * g.n_outputs).collect();
    let one_threshold = thresholds.iter().all(|t| *t == thresholds[0]);
    let mut panels = Vec::new();
    for act in &activations {
        let mut panel = Panel {
            caption: format!("{act}, depth {depth}"),
            x_label: "parameters (log scale)".into(),
            y_label: m.error_axis().into(),
            log_x: true,
            log_y: m.log_axis(),
            ..Panel::default()
        };
        for (i, g) in d.groups.iter().enumerate() {
            let color = nth_color(i);
            let mut line: Vec<&Config> =
                g.of_activation(act).filter(|c| c.depth == depth).collect();
            line.sort_by_key(|c| c.params);
            let mut series = Series::line(color, Vec::new());
            for c in line {
                let errs: Vec<f64> = c
                    .runs
                    .iter()
                    .filter_map(|r| m.test(r))
                    .map(|t| m.error(t))
                    .collect();
                if errs.is_empty() {
                    continue;
                }
                let mean = errs.iter().sum::<f64>() / errs.len() as f64;
                let lo = errs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = errs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                series.points.push((c.params as f64, mean));
                series.band.push((c.params as f64, lo, hi));
            }
            panel.series.push(series);
            if !one_threshold || i == 0 {
                panel.vlines.push(RefLine {
                    value: thresholds[i] as f64,
                    color: if one_threshold {
                        RGBColor(90, 90, 90)
                    } else {
                        color
                    },
                    note: one_threshold.then(|| format!("n·k = {}", thousands(thresholds[i]))),
                });
            }
        }
        panels.push(panel);
    }
    let mut legend: Vec<LegendItem> = d
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let label = if g.variant_label.is_empty() {
                "baseline".to_string()
            } else {
                g.variant_label.clone()
            };
            LegendItem::new(label, nth_color(i), Swatch::Band)
        })
        .collect();
    legend.push(LegendItem::new(
        "interpolation threshold",
        RGBColor(90, 90, 90),
        Swatch::Dashed,
    ));
    let mut fig = PanelFigure {
        title: format!("{}: test error vs parameters (double descent)", d.dataset),
        panels,
        legend,
        max_cols: 2,
        panel_size: (520, 400),
    };
    fig.share_y();
    Some((fig, depth))
}

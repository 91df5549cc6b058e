//! Figures against parameter count: the under/overfitting picture (plot 1), the
//! generalisation gap (plot 2) and the double-descent view (plot 8).
//!
//! Plots 1 and 2 pool every depth × width of an activation, so configurations are binned by
//! parameter count (quarter decades): the line is the mean over the configurations and seeds in
//! a bin, the band spans the bin's lowest and highest single run.

use std::collections::BTreeMap;

use super::super::analysis::{Config, DatasetGroups, Group};
use super::super::metric::thousands;
use super::super::settings::ReportSettings;
use super::{
    LegendItem, Panel, PanelFigure, RefLine, Series, Stroke, Swatch, activation_color, nth_color,
};
use plotters::style::RGBColor;

/// Bins per decade of parameter count.
const BINS_PER_DECADE: f64 = 4.0;

/// `(geometric-mean params, mean, min, max)` per occupied bin, in ascending order. `value`
/// gives the per-seed values of a configuration.
pub(crate) fn binned<'c, 'a: 'c>(
    configs: impl Iterator<Item = &'c Config<'a>>,
    value: impl Fn(&Config<'a>) -> Vec<f64>,
) -> Vec<(f64, f64, f64, f64)> {
    // Per bin: log10 parameter counts, configuration means, every single-run value.
    type Bin = (Vec<f64>, Vec<f64>, Vec<f64>);
    let mut bins: BTreeMap<i64, Bin> = BTreeMap::new();
    for c in configs {
        let vals = value(c);
        if vals.is_empty() || c.params == 0 {
            continue;
        }
        let lp = (c.params as f64).log10();
        let bin = (lp * BINS_PER_DECADE).floor() as i64;
        let e = bins.entry(bin).or_default();
        e.0.push(lp);
        e.1.push(vals.iter().sum::<f64>() / vals.len() as f64);
        e.2.extend(vals);
    }
    bins.values()
        .map(|(lps, means, all)| {
            let x = 10f64.powf(lps.iter().sum::<f64>() / lps.len() as f64);
            let mean = means.iter().sum::<f64>() / means.len() as f64;
            let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (x, mean, lo, hi)
        })
        .collect()
}

fn banded(color: RGBColor, bins: &[(f64, f64, f64, f64)], stroke: Stroke) -> Series {
    Series {
        color,
        points: bins.iter().map(|b| (b.0, b.1)).collect(),
        band: bins.iter().map(|b| (b.0, b.2, b.3)).collect(),
        stroke,
        markers: true,
        width: 2,
    }
}

fn activation_legend(g: &Group<'_>) -> Vec<LegendItem> {
    g.activations
        .iter()
        .map(|a| LegendItem::new(a.clone(), activation_color(a), Swatch::Band))
        .collect()
}

/// Plot 1: train and test metric against parameter count, one colour per activation.
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
            let bins = binned(g.of_activation(act), |c| {
                c.runs
                    .iter()
                    .filter_map(|r| if is_train { m.train(r) } else { m.test(r) })
                    .collect()
            });
            panel
                .series
                .push(banded(activation_color(act), &bins, Stroke::Solid));
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

/// Plot 2: generalisation gap against parameter count.
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
        let bins = binned(g.of_activation(act), |c| {
            c.runs
                .iter()
                .filter_map(|r| Some(m.gap(m.train(r)?, m.test(r)?)))
                .collect()
        });
        panel
            .series
            .push(banded(activation_color(act), &bins, Stroke::Solid));
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

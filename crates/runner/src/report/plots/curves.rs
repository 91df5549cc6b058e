//! Plot 5: loss curves per epoch for the smallest, the best and the largest model of each
//! activation (the lowest-seed run of each), train solid and test dashed.

use plotters::style::{BLACK, RGBColor};

use super::super::analysis::{Config, Group};
use super::{LegendItem, Panel, PanelFigure, Series, Stroke, Swatch};

const ROLES: [(&str, RGBColor); 3] = [
    ("smallest", RGBColor(31, 119, 180)),
    ("best test", RGBColor(44, 160, 44)),
    ("largest", RGBColor(214, 39, 40)),
];

/// Builds the figure; `None` when no run has a curve.
pub(crate) fn loss_curves(g: &Group<'_>) -> Option<PanelFigure> {
    let mut panels = Vec::new();
    for act in &g.activations {
        let finished: Vec<&Config> = g
            .of_activation(act)
            .filter(|c| !c.runs.is_empty())
            .collect();
        let smallest = finished.iter().copied().min_by_key(|c| (c.params, c.depth));
        let largest = finished.iter().copied().max_by_key(|c| (c.params, c.depth));
        let best = g.best(finished.iter().copied());
        let picks = [smallest, best, largest];
        let all_positive = picks
            .iter()
            .flatten()
            .filter_map(|c| c.runs.first())
            .flat_map(|r| r.curve.iter().flat_map(|p| [p.train_loss, p.test_loss]))
            .filter(|v| v.is_finite())
            .all(|v| v > 0.0);
        let mut panel = Panel {
            x_label: "epoch".into(),
            y_label: if all_positive {
                "loss (log scale)".into()
            } else {
                "loss".into()
            },
            log_y: all_positive,
            integer_x: true,
            ..Panel::default()
        };
        let mut names: Vec<String> = Vec::new();
        for (i, pick) in picks.iter().enumerate() {
            let Some(c) = pick else { continue };
            let Some(run) = c.runs.first() else { continue };
            let short = format!("d{}-w{}", c.depth, c.width);
            if names.contains(&short) {
                continue;
            }
            names.push(short);
            let color = ROLES[i].1;
            let train: Vec<(f64, f64)> = run
                .curve
                .iter()
                .map(|p| (p.epoch as f64, p.train_loss))
                .collect();
            let test: Vec<(f64, f64)> = run
                .curve
                .iter()
                .map(|p| (p.epoch as f64, p.test_loss))
                .collect();
            let mut s = Series::line(color, train);
            s.markers = run.curve.len() <= 30;
            let mut t = s.clone();
            t.points = test;
            t.stroke = Stroke::Dashed;
            panel.series.push(s);
            panel.series.push(t);
        }
        if panel.series.is_empty() {
            continue;
        }
        panel.caption = format!("{act}: {}", names.join(" · "));
        panels.push(panel);
    }
    if panels.is_empty() {
        return None;
    }
    let mut legend: Vec<LegendItem> = ROLES
        .iter()
        .map(|(label, color)| LegendItem::new(*label, *color, Swatch::Box))
        .collect();
    legend.push(LegendItem::new("train loss", BLACK, Swatch::Line));
    legend.push(LegendItem::new("test loss", BLACK, Swatch::Dashed));
    let mut fig = PanelFigure {
        title: format!("{}: loss curves (smallest, best, largest model)", g.title()),
        panels,
        legend,
        max_cols: 2,
        panel_size: (520, 380),
    };
    fig.share_y();
    Some(fig)
}

//! Figures against depth: test metric per width for each activation (plot 3) and the linear
//! collapse at a fixed width (plot 7).

use super::super::analysis::Group;
use super::{LegendItem, Panel, PanelFigure, Series, Swatch, activation_color, ramp};

/// Plot 3: test metric against depth, one line per width, one panel per activation.
pub(crate) fn test_vs_depth(g: &Group<'_>) -> PanelFigure {
    let m = g.metric;
    let mut panels = Vec::new();
    for act in &g.activations {
        let mut panel = Panel {
            caption: act.clone(),
            x_label: "depth (hidden layers)".into(),
            y_label: format!("test {}", m.axis()),
            log_y: m.log_axis(),
            integer_x: true,
            ..Panel::default()
        };
        for (i, &w) in g.widths.iter().enumerate() {
            let points: Vec<(f64, f64)> = g
                .depths
                .iter()
                .filter_map(|&d| {
                    g.get(act, d, w)
                        .and_then(|c| c.test_mean())
                        .map(|t| (d as f64, t))
                })
                .collect();
            panel
                .series
                .push(Series::line(ramp(i, g.widths.len()), points));
        }
        panels.push(panel);
    }
    let legend = g
        .widths
        .iter()
        .enumerate()
        .map(|(i, w)| LegendItem::new(format!("width {w}"), ramp(i, g.widths.len()), Swatch::Line))
        .collect();
    let mut fig = PanelFigure {
        title: format!("{}: test {} vs depth, per width", g.title(), m.name()),
        panels,
        legend,
        max_cols: 2,
        panel_size: (500, 380),
    };
    fig.share_y();
    fig
}

/// Plot 7: test metric against depth at one width, one line per activation with the min–max
/// band over seeds. Identity networks compute a linear map at every depth, so their line stays
/// flat while the others can bend.
pub(crate) fn linear_collapse(g: &Group<'_>, width: usize) -> PanelFigure {
    let m = g.metric;
    let mut panel = Panel {
        caption: String::new(),
        x_label: "depth (hidden layers)".into(),
        y_label: format!("test {}", m.axis()),
        log_y: m.log_axis(),
        integer_x: true,
        ..Panel::default()
    };
    for act in &g.activations {
        let mut s = Series::line(activation_color(act), Vec::new());
        for &d in &g.depths {
            if let Some(t) = g.get(act, d, width).and_then(|c| c.test) {
                s.points.push((d as f64, t.mean));
                s.band.push((d as f64, t.min, t.max));
            }
        }
        panel.series.push(s);
    }
    let legend = g
        .activations
        .iter()
        .map(|a| LegendItem::new(a.clone(), activation_color(a), Swatch::Band))
        .collect();
    PanelFigure {
        title: format!(
            "{}: linear collapse, test {} vs depth at width {width}",
            g.title(),
            m.name()
        ),
        panels: vec![panel],
        legend,
        max_cols: 1,
        panel_size: (820, 480),
    }
}

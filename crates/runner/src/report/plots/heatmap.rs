//! Plot 4: depth × width heatmaps of the mean test metric, one per activation, each cell
//! labelled with its value. One colour scale is shared by all panels; bright means better
//! (high accuracy, or low MSE on a log scale).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::analysis::Group;
use super::super::metric::{Metric, fmt_sig};
use super::{
    AXIS, Axis, CAPTION, Figure, LegendItem, PlotError, SMALL, Swatch, frame, grid_shape,
    grid_size, text, viridis,
};

/// The figure, with values gathered from a group.
pub(crate) struct Heatmap {
    title: String,
    metric: Metric,
    activations: Vec<String>,
    depths: Vec<usize>,
    widths: Vec<usize>,
    /// `[activation][depth][width]` mean test metric.
    values: Vec<Vec<Vec<Option<f64>>>>,
    lo: f64,
    hi: f64,
    legend: Vec<LegendItem>,
}

const PANEL: (u32, u32) = (500, 400);

impl Heatmap {
    /// Gathers the cells of `g`.
    pub fn new(g: &Group<'_>) -> Heatmap {
        let m = g.metric;
        let values: Vec<Vec<Vec<Option<f64>>>> = g
            .activations
            .iter()
            .map(|a| {
                g.depths
                    .iter()
                    .map(|&d| {
                        g.widths
                            .iter()
                            .map(|&w| g.get(a, d, w).and_then(|c| c.test_mean()))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let flat: Vec<f64> = values
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| v.is_finite() && (!m.log_axis() || *v > 0.0))
            .collect();
        let lo = flat.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = flat.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut h = Heatmap {
            title: format!("{}: test {} by depth and width", g.title(), m.name()),
            metric: m,
            activations: g.activations.clone(),
            depths: g.depths.clone(),
            widths: g.widths.clone(),
            values,
            lo,
            hi,
            legend: Vec::new(),
        };
        if lo.is_finite() {
            let steps = 5;
            h.legend = (0..steps)
                .rev()
                .map(|i| {
                    let t = i as f64 / (steps - 1) as f64;
                    let v = h.value_at(t);
                    LegendItem::new(m.fmt(v), viridis(t), Swatch::Box)
                })
                .collect();
        }
        h
    }

    /// Position of `v` on the colour scale, 1 = best.
    fn scale(&self, v: f64) -> f64 {
        if self.hi - self.lo <= 0.0 {
            return 1.0;
        }
        if self.metric.log_axis() {
            let (l, h) = (self.lo.log10(), self.hi.log10());
            if h - l <= 0.0 {
                1.0
            } else {
                (h - v.max(self.lo).log10()) / (h - l)
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Inverse of [`Heatmap::scale`], for the legend.
    fn value_at(&self, t: f64) -> f64 {
        if self.metric.log_axis() {
            let (l, h) = (self.lo.log10(), self.hi.log10());
            10f64.powf(h - t * (h - l))
        } else {
            self.lo + t * (self.hi - self.lo)
        }
    }

    fn cell_label(&self, v: f64) -> String {
        if self.metric.higher_is_better() {
            format!("{v:.1}")
        } else {
            fmt_sig(v)
        }
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        a: usize,
    ) -> Result<(), PlotError> {
        let (nd, nw) = (self.depths.len(), self.widths.len());
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .margin_right(18)
            .caption(&self.activations[a], text(CAPTION))
            .x_label_area_size(46)
            .y_label_area_size(52)
            .build_cartesian_2d(
                Axis::new(
                    -0.5,
                    nw as f64 - 0.5,
                    (0..nw).map(|i| i as f64).collect(),
                    Vec::new(),
                ),
                Axis::new(
                    -0.5,
                    nd as f64 - 0.5,
                    (0..nd).map(|i| i as f64).collect(),
                    Vec::new(),
                ),
            )?;
        let widths = self.widths.clone();
        let depths = self.depths.clone();
        let label = |vals: &[usize], v: f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < vals.len() {
                vals[i as usize].to_string()
            } else {
                String::new()
            }
        };
        let xf = |v: &f64| label(&widths, *v);
        let yf = |v: &f64| label(&depths, *v);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("width")
            .y_desc("depth")
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .label_style(text(SMALL))
            .axis_desc_style(text(AXIS))
            .draw()?;
        let font = if nw > 8 { 10 } else { 12 };
        for (di, row) in self.values[a].iter().enumerate() {
            for (wi, v) in row.iter().enumerate() {
                let (x, y) = (wi as f64, di as f64);
                let cell = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
                match v {
                    Some(v) => {
                        let c = viridis(self.scale(*v));
                        chart.draw_series(std::iter::once(Rectangle::new(cell, c.filled())))?;
                        let luminance = 0.299 * f64::from(c.0)
                            + 0.587 * f64::from(c.1)
                            + 0.114 * f64::from(c.2);
                        let ink = if luminance > 140.0 { BLACK } else { WHITE };
                        let style = text(font)
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Center));
                        chart.draw_series(std::iter::once(Text::new(
                            self.cell_label(*v),
                            (x, y),
                            style,
                        )))?;
                    }
                    None => {
                        let grey = RGBColor(235, 235, 235);
                        chart.draw_series(std::iter::once(Rectangle::new(cell, grey.filled())))?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = grid_shape(self.activations.len(), 2);
        grid_size(rows, cols, PANEL, &self.legend)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (rows, cols) = grid_shape(self.activations.len(), 2);
        let areas = frame(root, &self.title, &self.legend, rows, cols)?;
        for (a, area) in areas.iter().enumerate().take(self.activations.len()) {
            self.draw_panel(area, a)?;
        }
        Ok(())
    }
}

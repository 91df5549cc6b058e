//! The report's charts, described as plain data ([`LineChart`], [`BarChart`]) and drawn with
//! plotters to SVG and PNG. One drawing function per chart kind, generic over the backend, so
//! the two files always show the same thing.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::BenchReportError;

/// Pixel size of every chart.
const SIZE: (u32, u32) = (960, 560);
/// The family the report's embedded font is registered under.
const FONT: &str = crate::report::font::FAMILY;

/// A fixed palette (colour-blind safe, Okabe-Ito), one colour per implementation.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue: depthlab
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // green
    RGBColor(204, 121, 167), // purple
    RGBColor(86, 180, 233),  // sky
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(240, 228, 66),  // yellow
    RGBColor(90, 90, 90),    // grey
];

/// The colour of the `i`-th series.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, x in data units (the chart may draw it on a log axis).
    pub points: Vec<(f64, f64)>,
    /// Optional text drawn beside each point (e.g. "93%").
    pub point_labels: Vec<Option<String>>,
    /// Palette index.
    pub color: usize,
}

/// Rates against a size on a log2 x axis, with horizontal ceiling lines (the measured peak).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// Y axis description.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Dashed horizontal lines: (label, y).
    pub ceilings: Vec<(String, f64)>,
}

/// One implementation's bars across the categories of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Legend text.
    pub name: String,
    /// One value per category; `None` leaves a gap.
    pub values: Vec<Option<f64>>,
    /// Palette index.
    pub color: usize,
    /// Drawn hatched-light: figures not timed beside ours (ANCHORS.md), for reference only.
    pub reference: bool,
}

/// Grouped bars: categories along x, one bar per series in each.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Caption.
    pub title: String,
    /// X axis description, under the category names.
    pub x_desc: String,
    /// Y axis description.
    pub y_desc: String,
    /// Category names along x.
    pub categories: Vec<String>,
    /// The bar series.
    pub series: Vec<BarSeries>,
    /// A footnote drawn under the plot (e.g. where reference figures come from).
    pub note: Option<String>,
}

/// Any chart the report draws.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Rates against size.
    Line(LineChart),
    /// Grouped bars.
    Bar(BarChart),
}

/// Registers the report's embedded font with plotters under [`FONT`]: text is laid out with
/// ab_glyph, which knows no system fonts.
pub(crate) fn register_font() {
    // The font is compiled in and parsed by the report tests: failure cannot happen here, and
    // SVG output would still be written if it did.
    let _ = crate::report::font::ensure_registered();
}

fn draw_err(path: &Path, e: impl std::fmt::Display) -> BenchReportError {
    BenchReportError::Plot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Draws `chart` as `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns the paths written.
///
/// # Errors
/// [`BenchReportError::Plot`] naming the file that could not be drawn.
pub fn write_chart(
    chart: &Chart,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, BenchReportError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        draw(chart, &root).map_err(|e| draw_err(&svg, e))?;
        root.present().map_err(|e| draw_err(&svg, e))?;
    }
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw(chart, &root).map_err(|e| draw_err(&png, e))?;
        root.present().map_err(|e| draw_err(&png, e))?;
    }
    Ok(vec![svg, png])
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match chart {
        Chart::Line(c) => draw_line(c, root),
        Chart::Bar(c) => draw_bars(c, root),
    }
}

/// An axis tick without trailing zeros, large values with a k/M suffix.
fn axis_number(y: f64) -> String {
    let (v, suffix) = if y.abs() >= 1e6 {
        (y / 1e6, "M")
    } else if y.abs() >= 1e4 {
        (y / 1e3, "k")
    } else {
        (y, "")
    };
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

/// A y range with headroom above the largest value (and never empty).
fn y_top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

fn draw_line<DB: DrawingBackend>(
    c: &LineChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let xs: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0.max(1.0).log2()))
        .collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let (lo, hi) = if lo.is_finite() {
        (lo - 0.5, hi + 0.5)
    } else {
        (0.0, 1.0)
    };
    let top = y_top(
        c.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(c.ceilings.iter().map(|c| c.1)),
    );
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT, 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(lo..hi, 0.0..top)
        .map_err(|e| s(&e))?;
    chart
        .configure_mesh()
        .x_desc(c.x_desc.as_str())
        .y_desc(c.y_desc.as_str())
        .y_label_formatter(&|y| axis_number(*y))
        .x_labels(((hi - lo).ceil() as usize).max(2))
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| s(&e))?;
    for (label, y) in &c.ceilings {
        let style = ShapeStyle::from(&RED).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(vec![(lo, *y), (hi, *y)], 8, 6, style))
            .map_err(|e| s(&e))?
            .label(format!("{label}: {y:.0}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    for series in &c.series {
        let col = color(series.color);
        let pts: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|&(x, y)| (x.max(1.0).log2(), y))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
            .map_err(|e| s(&e))?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, col.filled())))
            .map_err(|e| s(&e))?;
        let labelled = pts.iter().zip(&series.point_labels);
        chart
            .draw_series(labelled.filter_map(|(&p, l)| {
                l.as_ref().map(|text| {
                    EmptyElement::at(p)
                        + Text::new(text.clone(), (6, -18), (FONT, 12).into_font().color(&col))
                })
            }))
            .map_err(|e| s(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| s(&e))?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    c: &BarChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let (plot, foot) = root.split_vertically(SIZE.1 - 28);
    let n = c.categories.len().max(1) as f64;
    let top = y_top(
        c.series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied()),
    );
    let mut chart = ChartBuilder::on(&plot)
        .caption(&c.title, (FONT, 22))
        .margin(14)
        .x_label_area_size(58)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
        .map_err(|e| s(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .x_desc(c.x_desc.as_str())
        .y_desc(c.y_desc.as_str())
        .y_label_formatter(&|y| axis_number(*y))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| s(&e))?;
    let k = c.series.len().max(1) as f64;
    let width = 0.8 / k;
    for (j, series) in c.series.iter().enumerate() {
        let col = color(series.color);
        let style = if series.reference {
            col.mix(0.35).filled()
        } else {
            col.filled()
        };
        let bars = series.values.iter().enumerate().filter_map(|(i, v)| {
            v.map(|v| {
                let x0 = i as f64 - 0.4 + j as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], style)
            })
        });
        chart
            .draw_series(bars)
            .map_err(|e| s(&e))?
            .label(series.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], style));
    }
    // Category names centred under each group, in pixel space below the axis.
    for (i, name) in c.categories.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, 0.0));
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        plot.draw(&Text::new(name.clone(), (px, py + 8), style))
            .map_err(|e| s(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| s(&e))?;
    if let Some(note) = &c.note {
        foot.draw(&Text::new(note.clone(), (16, 4), (FONT, 13).into_font()))
            .map_err(|e| s(&e))?;
    }
    Ok(())
}

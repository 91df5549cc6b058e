//! Drawing: every figure is a [`Figure`] that draws itself on any plotters backend, and
//! [`render`] draws it twice, as SVG and as PNG. Most figures are grids of [`Panel`]s (x/y
//! charts with lines, min–max bands, markers and reference lines) with one shared legend on
//! the right, so they all look alike.
//!
//! Log axes are drawn as linear axes over log10 of the data with decade tick labels; that keeps
//! one coordinate type for every chart.

pub(crate) mod curves;
pub(crate) mod depth;
pub(crate) mod heatmap;
pub(crate) mod regions;
pub(crate) mod size;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::ReportError;
use super::font::{self, FAMILY};
use crate::document::PlotFiles;

/// A drawing failure, as text (the backends' error types differ).
#[derive(Debug)]
pub(crate) struct PlotError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// Something that can be drawn at a fixed size on any backend.
pub(crate) trait Figure {
    /// Pixel size (also the SVG's user units).
    fn size(&self) -> (u32, u32);
    /// Draws the whole figure, background included.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Draws `fig` to `<dir>/<stem>.svg` and `<dir>/<stem>.png`; `rel` is `dir` relative to the
/// report root, used for the returned links.
pub(crate) fn render<F: Figure>(
    fig: &F,
    dir: &Path,
    rel: &str,
    stem: &str,
) -> Result<PlotFiles, ReportError> {
    font::ensure_registered().map_err(ReportError::Font)?;
    let size = fig.size();
    let svg: PathBuf = dir.join(format!("{stem}.svg"));
    let png: PathBuf = dir.join(format!("{stem}.png"));
    let parent = svg.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let fail = |path: &Path, e: PlotError| ReportError::Plot {
        path: path.to_path_buf(),
        message: e.0,
    };
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        fig.draw(&root).map_err(|e| fail(&svg, e))?;
        root.present().map_err(|e| fail(&svg, e.into()))?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        fig.draw(&root).map_err(|e| fail(&png, e))?;
        root.present().map_err(|e| fail(&png, e.into()))?;
    }
    let join = |name: String| {
        if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        }
    };
    Ok(PlotFiles {
        svg: join(format!("{stem}.svg")),
        png: join(format!("{stem}.png")),
    })
}

// ---------------------------------------------------------------- colours

/// Ten distinguishable colours (the Tableau palette).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A fixed colour per activation, so every plot of every report agrees.
pub(crate) fn activation_color(name: &str) -> RGBColor {
    match name {
        "identity" => PALETTE[7],
        "relu" => PALETTE[0],
        "tanh" => PALETTE[1],
        "sigmoid" => PALETTE[2],
        "leaky_relu" => PALETTE[4],
        "gelu" => PALETTE[3],
        other => {
            let h = other
                .bytes()
                .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            [PALETTE[5], PALETTE[6], PALETTE[8], PALETTE[9]][h % 4]
        }
    }
}

/// The i-th colour of the categorical palette.
pub(crate) fn nth_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Viridis, approximated by linear interpolation between five of its stops; `t` in 0..=1.
pub(crate) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let lerp = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Colours for an ordered list (widths): viridis without its pale yellow end, which would
/// vanish on white.
pub(crate) fn ramp(i: usize, n: usize) -> RGBColor {
    if n <= 1 {
        viridis(0.3)
    } else {
        viridis(0.85 * i as f64 / (n - 1) as f64)
    }
}

// ---------------------------------------------------------------- text

/// Font of a given pixel size in the embedded family.
pub(crate) fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

/// Title size for whole figures.
pub(crate) const TITLE: u32 = 22;
/// Panel captions.
pub(crate) const CAPTION: u32 = 17;
/// Axis descriptions.
pub(crate) const AXIS: u32 = 15;
/// Tick labels and legend entries.
pub(crate) const SMALL: u32 = 13;

/// Approximate rendered width of `s` at `size` px (DejaVu Sans averages ~0.58 em per glyph).
pub(crate) fn text_width(s: &str, size: u32) -> u32 {
    (s.chars().count() as f64 * f64::from(size) * 0.6).ceil() as u32
}

/// A tick value with as few decimals as it needs (`0.25`, `90`, `1.5`).
pub(crate) fn tick_label(v: f64) -> String {
    if v.abs() < 1e-12 {
        return "0".into();
    }
    for d in 0..=8usize {
        let scale = 10f64.powi(d as i32);
        if ((v * scale).round() / scale - v).abs() <= 1e-9 * v.abs().max(1e-12) {
            return format!("{v:.d$}");
        }
    }
    super::metric::fmt_sig(v)
}

/// Tick label for a position on a log10 axis: the value itself, `k`/`M` for thousands and
/// millions (`1k`, `20k`, `1M`).
pub(crate) fn log_tick_label(v: f64) -> String {
    let value = 10f64.powf(v);
    let rounded = |x: f64| {
        let mag = 10f64.powi(x.abs().log10().floor() as i32 - 2);
        (x / mag).round() * mag
    };
    let value = rounded(value);
    if value >= 1e6 {
        format!("{}M", tick_label(value / 1e6))
    } else if value >= 1e3 {
        format!("{}k", tick_label(value / 1e3))
    } else if value < 1e-4 {
        format!("{value:.0e}")
    } else {
        tick_label(value)
    }
}

/// A linear f64 axis whose tick positions we choose ourselves (plotters' own choice cannot
/// put ticks at 1-2-5 positions of a log10 axis).
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Axis {
    /// An axis over `lo..hi` with labelled ticks at `bold` and grid lines at `light`.
    pub fn new(lo: f64, hi: f64, bold: Vec<f64>, light: Vec<f64>) -> Axis {
        Axis {
            lo,
            hi,
            bold,
            light,
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        (f64::from(limit.0) + t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `n` intervals over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Multiples of `step` inside `lo..=hi`.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Bold (labelled) and light tick positions for an axis spanning `lo..hi` in plotted units
/// (log10 units when `log`).
pub(crate) fn ticks(lo: f64, hi: f64, log: bool, integer: bool) -> (Vec<f64>, Vec<f64>) {
    if !log {
        let mut step = nice_step(hi - lo, 6.0);
        if integer {
            // Depths and epochs: every integer while they fit, else a whole-number step.
            step = if hi - lo <= 12.0 {
                1.0
            } else {
                step.max(1.0).round()
            };
        }
        let light = multiples(lo, hi, step / 2.0);
        return (multiples(lo, hi, step), light);
    }
    let span = hi - lo;
    let decades = (lo.floor() as i64)..=(hi.ceil() as i64);
    let at = |mults: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|k| {
                mults
                    .iter()
                    .map(move |m| (m * 10f64.powi(k as i32)).log10())
            })
            .filter(|v| *v >= lo - 1e-9 && *v <= hi + 1e-9)
            .collect()
    };
    let all: Vec<f64> = at(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if span >= 2.5 {
        let every = (span / 7.0).ceil().max(1.0) as i64;
        let bold = multiples(lo, hi, 1.0)
            .into_iter()
            .filter(|v| (v.round() as i64).rem_euclid(every) == 0)
            .collect();
        (bold, all)
    } else if span >= 0.9 {
        (at(&[1.0, 2.0, 5.0]), all)
    } else if span >= 0.3 {
        (all.clone(), all)
    } else {
        // Less than a factor of two: nice steps in value space.
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step(b - a, 5.0);
        let bold = multiples(a, b, step)
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(f64::log10)
            .collect();
        (bold, Vec::new())
    }
}

// ---------------------------------------------------------------- panels

/// How a series' points are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stroke {
    Solid,
    Dashed,
    /// Markers only.
    None,
}

/// One line (or point set) of a panel, with an optional min–max band.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` triples, drawn as a translucent band under the line, or as whiskers.
    pub band: Vec<(f64, f64, f64)>,
    pub stroke: Stroke,
    pub markers: bool,
    /// Open circles instead of filled ones (always so on dashed lines).
    pub hollow: bool,
    /// Draws `band` as one vertical whisker per x: points that are not a continuum (separate
    /// configurations) must not be joined into an area.
    pub whiskers: bool,
    pub width: u32,
}

impl Series {
    /// A solid line with markers and no band.
    pub fn line(color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            color,
            points,
            band: Vec::new(),
            stroke: Stroke::Solid,
            markers: true,
            hollow: false,
            whiskers: false,
            width: 2,
        }
    }

    /// Markers only, no line and no band.
    pub fn scatter(color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            stroke: Stroke::None,
            width: 1,
            ..Series::line(color, points)
        }
    }
}

/// `c` blended toward white by `t` (0 = unchanged, 1 = white): an opaque stand-in for
/// transparency, so overlapping lines do not darken where they cross.
pub(crate) fn fade(c: RGBColor, t: f64) -> RGBColor {
    let f = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * t).round() as u8;
    RGBColor(f(c.0), f(c.1), f(c.2))
}

/// A horizontal or vertical reference line across a panel, with an optional note.
#[derive(Debug, Clone)]
pub(crate) struct RefLine {
    pub value: f64,
    pub color: RGBColor,
    pub note: Option<String>,
}

/// One x/y chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Panel {
    pub caption: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Only integer x ticks get labels (depth axes).
    pub integer_x: bool,
    pub series: Vec<Series>,
    pub hlines: Vec<RefLine>,
    pub vlines: Vec<RefLine>,
    /// Forced y range in data units (shared between panels).
    pub y_range: Option<(f64, f64)>,
}

fn tf(log: bool, v: f64) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// Data extent of the panel along one axis, in plotted (possibly log) units, padded by 5 %.
fn extent(values: impl Iterator<Item = f64>, log: bool, forced: Option<(f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = match forced {
        Some((a, b)) => (tf(log, a).unwrap_or(0.0), tf(log, b).unwrap_or(1.0)),
        None => values
            .filter_map(|v| tf(log, v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            }),
    };
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        let pad = if log { 0.5 } else { (lo.abs() * 0.1).max(0.5) };
        lo -= pad;
        hi += pad;
    } else if forced.is_none() {
        let pad = (hi - lo) * 0.05;
        lo -= pad;
        hi += pad;
    }
    (lo, hi)
}

impl Panel {
    /// Every y value the panel shows, for sharing ranges between panels.
    pub fn y_values(&self) -> Vec<f64> {
        let mut v: Vec<f64> = Vec::new();
        for s in &self.series {
            v.extend(s.points.iter().map(|p| p.1));
            v.extend(s.band.iter().flat_map(|b| [b.1, b.2]));
        }
        v.extend(self.hlines.iter().map(|l| l.value));
        v.into_iter()
            .filter(|x| x.is_finite() && (!self.log_y || *x > 0.0))
            .collect()
    }

    /// Draws the chart into `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let xs = self
            .series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.0)
                    .chain(s.band.iter().map(|b| b.0))
            })
            .chain(self.vlines.iter().map(|l| l.value));
        let (x0, x1) = extent(xs, self.log_x, None);
        let ys = self.y_values();
        let (y0, y1) = extent(ys.into_iter(), self.log_y, self.y_range);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(8)
            .margin_right(18)
            .x_label_area_size(46)
            .y_label_area_size(64);
        if !self.caption.is_empty() {
            builder.caption(&self.caption, text(CAPTION));
        }
        let (xb, xl) = ticks(x0, x1, self.log_x, self.integer_x);
        let (yb, yl) = ticks(y0, y1, self.log_y, false);
        let mut chart =
            builder.build_cartesian_2d(Axis::new(x0, x1, xb, xl), Axis::new(y0, y1, yb, yl))?;
        let (log_x, log_y) = (self.log_x, self.log_y);
        let x_fmt = move |v: &f64| {
            if log_x {
                log_tick_label(*v)
            } else {
                tick_label(*v)
            }
        };
        let y_fmt = move |v: &f64| {
            if log_y {
                log_tick_label(*v)
            } else {
                tick_label(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(text(SMALL))
            .axis_desc_style(text(AXIS))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(212, 212, 212))
            .draw()?;

        for l in &self.hlines {
            if let Some(y) = tf(log_y, l.value) {
                let style = l.color.stroke_width(1);
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x0, y), (x1, y)],
                    6,
                    4,
                    style,
                )))?;
                if let Some(note) = &l.note {
                    let pos = (x0 + (x1 - x0) * 0.02, y + (y1 - y0) * 0.035);
                    chart.draw_series(std::iter::once(Text::new(
                        note.clone(),
                        pos,
                        text(SMALL).color(&l.color),
                    )))?;
                }
            }
        }
        for l in &self.vlines {
            if let Some(x) = tf(log_x, l.value) {
                let style = l.color.stroke_width(2);
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x, y0), (x, y1)],
                    6,
                    4,
                    style,
                )))?;
                if let Some(note) = &l.note {
                    let right_half = x > (x0 + x1) / 2.0;
                    let (dx, h) = if right_half {
                        (-(x1 - x0) * 0.01, plotters::style::text_anchor::HPos::Right)
                    } else {
                        ((x1 - x0) * 0.01, plotters::style::text_anchor::HPos::Left)
                    };
                    let style =
                        text(SMALL)
                            .color(&l.color)
                            .pos(plotters::style::text_anchor::Pos::new(
                                h,
                                plotters::style::text_anchor::VPos::Top,
                            ));
                    let pos = (x + dx, y1 - (y1 - y0) * 0.02);
                    chart.draw_series(std::iter::once(Text::new(note.clone(), pos, style)))?;
                }
            }
        }
        for s in &self.series {
            let band: Vec<(f64, f64, f64)> = s
                .band
                .iter()
                .filter_map(|&(x, lo, hi)| Some((tf(log_x, x)?, tf(log_y, lo)?, tf(log_y, hi)?)))
                .collect();
            if s.whiskers {
                let style = s.color.mix(0.6).stroke_width(1);
                chart.draw_series(
                    band.iter()
                        .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], style)),
                )?;
            } else if band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(band.iter().rev().map(|b| (b.0, b.1)));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    s.color.mix(0.18).filled(),
                )))?;
            } else if let [(x, lo, hi)] = band[..] {
                let style = s.color.mix(0.5).stroke_width(2);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    style,
                )))?;
            }
        }
        for s in &self.series {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|&(x, y)| Some((tf(log_x, x)?, tf(log_y, y)?)))
                .collect();
            let style = s.color.stroke_width(s.width);
            match s.stroke {
                Stroke::Solid => {
                    chart.draw_series(std::iter::once(PathElement::new(pts.clone(), style)))?;
                }
                Stroke::Dashed => {
                    chart.draw_series(std::iter::once(DashedPathElement::new(
                        pts.clone(),
                        7,
                        5,
                        style,
                    )))?;
                }
                Stroke::None => {}
            }
            if s.markers {
                let marker = if s.hollow || s.stroke == Stroke::Dashed {
                    s.color.stroke_width(1)
                } else {
                    s.color.filled()
                };
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, marker)))?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- legend and layout

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    Line,
    Dashed,
    Band,
    Box,
    /// A marker on a vertical min–max whisker.
    Whisker,
    /// An open marker on a faint dashed line (the overlaid study of a comparison).
    Hollow,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct LegendItem {
    pub label: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

impl LegendItem {
    /// Shorthand constructor.
    pub fn new(label: impl Into<String>, color: RGBColor, swatch: Swatch) -> LegendItem {
        LegendItem {
            label: label.into(),
            color,
            swatch,
        }
    }
}

/// Width of the legend strip for `items` (0 when there are none).
pub(crate) fn legend_width(items: &[LegendItem]) -> u32 {
    if items.is_empty() {
        return 0;
    }
    items
        .iter()
        .map(|i| text_width(&i.label, SMALL))
        .max()
        .unwrap_or(0)
        + 64
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
) -> Result<(), PlotError> {
    let row = 22i32;
    let top = 40i32;
    for (i, item) in items.iter().enumerate() {
        let y = top + row * i as i32;
        let c = item.color;
        match item.swatch {
            Swatch::Line => {
                area.draw(&PathElement::new(vec![(10, y), (40, y)], c.stroke_width(3)))?
            }
            Swatch::Dashed => area.draw(&DashedPathElement::new(
                vec![(10, y), (40, y)],
                6,
                4,
                c.stroke_width(2),
            ))?,
            Swatch::Band => {
                area.draw(&Rectangle::new(
                    [(10, y - 6), (40, y + 6)],
                    c.mix(0.25).filled(),
                ))?;
                area.draw(&PathElement::new(vec![(10, y), (40, y)], c.stroke_width(2)))?;
            }
            Swatch::Box => area.draw(&Rectangle::new([(14, y - 7), (36, y + 7)], c.filled()))?,
            Swatch::Whisker => {
                area.draw(&PathElement::new(
                    vec![(10, y), (40, y)],
                    fade(c, 0.6).stroke_width(1),
                ))?;
                area.draw(&PathElement::new(
                    vec![(25, y - 8), (25, y + 8)],
                    c.mix(0.6).stroke_width(1),
                ))?;
                area.draw(&Circle::new((25, y), 4, c.filled()))?;
            }
            Swatch::Hollow => {
                area.draw(&DashedPathElement::new(
                    vec![(10, y), (40, y)],
                    4,
                    3,
                    fade(c, 0.6).stroke_width(1),
                ))?;
                area.draw(&Circle::new((25, y), 4, c.stroke_width(1)))?;
            }
        }
        let style = text(SMALL).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(item.label.clone(), (48, y), style))?;
    }
    Ok(())
}

/// Height of the title band.
pub(crate) const TITLE_H: u32 = 44;

/// Size of a figure with `rows` × `cols` panels of `panel` pixels plus title and legend.
pub(crate) fn grid_size(
    rows: usize,
    cols: usize,
    panel: (u32, u32),
    legend: &[LegendItem],
) -> (u32, u32) {
    let min_h = TITLE_H + 50 + 22 * legend.len() as u32;
    (
        cols as u32 * panel.0 + legend_width(legend),
        (TITLE_H + rows as u32 * panel.1).max(min_h),
    )
}

/// Fills the background, draws the title and legend, and returns `rows × cols` panel areas
/// (row-major).
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[LegendItem],
    rows: usize,
    cols: usize,
) -> Result<Vec<DrawingArea<DB, Shift>>, PlotError> {
    root.fill(&WHITE)?;
    let (w, _) = root.dim_in_pixel();
    let (head, body) = root.split_vertically(TITLE_H);
    let style = text(TITLE).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ));
    head.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, TITLE_H as i32 / 2 + 2),
        style,
    ))?;
    let lw = legend_width(legend);
    let (panels, strip) = body.split_horizontally(w.saturating_sub(lw));
    if !legend.is_empty() {
        draw_legend(&strip, legend)?;
    }
    Ok(panels.split_evenly((rows.max(1), cols.max(1))))
}

/// Panel grid shape for `n` panels: up to `max_cols` columns.
pub(crate) fn grid_shape(n: usize, max_cols: usize) -> (usize, usize) {
    let cols = n.clamp(1, max_cols.max(1));
    (n.div_ceil(cols).max(1), cols)
}

/// A figure made of panels sharing one title and legend.
#[derive(Debug, Clone)]
pub(crate) struct PanelFigure {
    pub title: String,
    pub panels: Vec<Panel>,
    pub legend: Vec<LegendItem>,
    pub max_cols: usize,
    pub panel_size: (u32, u32),
}

impl PanelFigure {
    /// Gives every panel the same y range, so panels compare at a glance.
    pub fn share_y(&mut self) {
        let all: Vec<f64> = self.panels.iter().flat_map(Panel::y_values).collect();
        if all.is_empty() {
            return;
        }
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log = self.panels.first().is_some_and(|p| p.log_y);
        let (lo, hi) = if log {
            let (a, b) = (lo.log10(), hi.log10());
            let pad = ((b - a) * 0.05).max(0.05);
            (10f64.powf(a - pad), 10f64.powf(b + pad))
        } else {
            let pad = ((hi - lo) * 0.05).max(0.5);
            (lo - pad, hi + pad)
        };
        for p in &mut self.panels {
            p.y_range = Some((lo, hi));
        }
    }
}

impl Figure for PanelFigure {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = grid_shape(self.panels.len(), self.max_cols);
        grid_size(rows, cols, self.panel_size, &self.legend)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (rows, cols) = grid_shape(self.panels.len(), self.max_cols);
        let areas = frame(root, &self.title, &self.legend, rows, cols)?;
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

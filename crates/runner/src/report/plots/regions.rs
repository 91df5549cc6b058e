//! Plot 6: what the models learned, drawn from the models saved next to the results. For 2-D
//! classification, the decision regions of a grid of models (depth × activation, at one width)
//! with the training points over them; for 1-D regression, the fitted curves of every depth
//! over the training data (a ReLU net's curve is a sum of kinks bending toward the target).
//!
//! Training data is regenerated with `crate::data::load` from the exact spec of each run,
//! rebuilt from the study TOML stored in the study directory; model inputs are mapped through
//! the run's standardiser, so the plot axes are the data's original coordinates.

use std::collections::HashMap;
use std::path::Path;

use depthlab_nn::{Matrix, Targets};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::StudyContext;
use super::super::analysis::Group;
use super::super::page::Plan;
use super::{
    Axis, Figure, LegendItem, Panel, PanelFigure, PlotError, SMALL, Series, Stroke, Swatch, frame,
    grid_size, nth_color, ramp, text,
};
use crate::data::{DataSpec, Dataset};
use crate::document::PlotFiles;
use crate::record::{RunRecord, Task};

/// Data specs of a study's runs, by run id, from the stored study TOML.
pub(crate) struct SpecSource {
    by_id: HashMap<String, DataSpec>,
}

impl SpecSource {
    /// Reads `study.toml` from the study directory; an unreadable one gives an empty source
    /// (specs then fall back to the record's own fields with dataset defaults).
    pub fn load(study_dir: &Path) -> SpecSource {
        let mut by_id = HashMap::new();
        if let Ok(study) = crate::store::StudyDir::new(study_dir).read_study() {
            for p in study.grid() {
                if let Some(ds) = study.datasets.get(p.dataset) {
                    by_id.insert(
                        p.id.clone(),
                        crate::execute::data_spec(ds, p.seed, &p.train),
                    );
                }
            }
        }
        SpecSource { by_id }
    }

    /// The spec of `r`, and whether it is exact (from the study) or a fallback.
    fn spec(&self, r: &RunRecord) -> (DataSpec, bool) {
        match self.by_id.get(&r.id) {
            Some(s) => (s.clone(), true),
            None => (
                DataSpec {
                    label_noise: r.label_noise,
                    train_size: r.train_size,
                    seed: r.seed,
                    ..DataSpec::new(r.dataset.clone())
                },
                false,
            ),
        }
    }
}

/// Datasets loaded so far (a handful per report: one per seed used).
#[derive(Default)]
struct DataCache {
    loaded: Vec<(DataSpec, Dataset)>,
}

impl DataCache {
    fn get(&mut self, spec: &DataSpec) -> Result<&Dataset, String> {
        if let Some(i) = self.loaded.iter().position(|(s, _)| s == spec) {
            return Ok(&self.loaded[i].1);
        }
        let ds = crate::data::load(spec).map_err(|e| format!("cannot regenerate the data: {e}"))?;
        self.loaded.push((spec.clone(), ds));
        let last = self.loaded.len() - 1;
        Ok(&self.loaded[last].1)
    }
}

/// Evaluates `model` at raw (unstandardised) points given row-major.
fn predict_raw(
    model: &depthlab_nn::Mlp,
    ds: &Dataset,
    mut raw: Vec<f32>,
    n_features: usize,
) -> Result<Matrix, String> {
    if let Some(st) = &ds.standardizer {
        st.transform(&mut raw);
    }
    let rows = raw.len() / n_features.max(1);
    let x = Matrix::new(rows, n_features, raw).map_err(|e| e.to_string())?;
    model.predict(&x).map_err(|e| e.to_string())
}

fn argmax(row: &[f32]) -> usize {
    if row.len() == 1 {
        return usize::from(row[0] > 0.0);
    }
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// One decision-region panel: run-length encoded cells and the training points.
struct RegionPanel {
    caption: String,
    x: (f64, f64),
    y: (f64, f64),
    /// `(x0, x1, y0, y1, class)`.
    rects: Vec<(f64, f64, f64, f64, usize)>,
    /// `(x, y, class)`.
    points: Vec<(f64, f64, usize)>,
}

/// Grid of decision-region panels (rows = depths, columns = activations).
struct RegionsFigure {
    title: String,
    rows: usize,
    cols: usize,
    panels: Vec<Option<RegionPanel>>,
    legend: Vec<LegendItem>,
}

const REGION_PANEL: (u32, u32) = (230, 230);

fn pastel(c: RGBColor) -> RGBColor {
    let mix = |v: u8| (f64::from(v) * 0.35 + 255.0 * 0.65).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

fn dark(c: RGBColor) -> RGBColor {
    let mix = |v: u8| (f64::from(v) * 0.8).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

impl RegionsFigure {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &RegionPanel,
    ) -> Result<(), PlotError> {
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .caption(&p.caption, text(SMALL))
            .build_cartesian_2d(
                Axis::new(p.x.0, p.x.1, Vec::new(), Vec::new()),
                Axis::new(p.y.0, p.y.1, Vec::new(), Vec::new()),
            )?;
        chart.draw_series(p.rects.iter().map(|&(x0, x1, y0, y1, c)| {
            Rectangle::new([(x0, y0), (x1, y1)], pastel(nth_color(c)).filled())
        }))?;
        chart.draw_series(
            p.points
                .iter()
                .map(|&(x, y, c)| Circle::new((x, y), 2, dark(nth_color(c)).filled())),
        )?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(p.x.0, p.y.0), (p.x.1, p.y.1)],
            BLACK.stroke_width(1),
        )))?;
        Ok(())
    }
}

impl Figure for RegionsFigure {
    fn size(&self) -> (u32, u32) {
        grid_size(self.rows, self.cols, REGION_PANEL, &self.legend)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let areas = frame(root, &self.title, &self.legend, self.rows, self.cols)?;
        for (p, area) in self.panels.iter().zip(&areas) {
            match p {
                Some(p) => self.draw_panel(area, p)?,
                None => {
                    let style = text(SMALL).color(&RGBColor(120, 120, 120));
                    area.draw(&Text::new("no saved model", (20, 110), style))?;
                }
            }
        }
        Ok(())
    }
}

/// The runs to draw: for each (activation, depth) at `width`, the lowest-seed run with a model.
fn picks<'a>(
    g: &'a Group<'a>,
    width: usize,
    depths: &[usize],
) -> Vec<(String, usize, Option<&'a RunRecord>)> {
    let mut out = Vec::new();
    for &d in depths {
        for act in &g.activations {
            let run = g
                .get(act, d, width)
                .and_then(|c| c.runs.iter().copied().find(|r| r.model_path.is_some()));
            out.push((act.clone(), d, run));
        }
    }
    out
}

/// At most `max` depths, evenly spread, always keeping the first and last.
fn spread(depths: &[usize], max: usize) -> Vec<usize> {
    if depths.len() <= max {
        return depths.to_vec();
    }
    let mut out: Vec<usize> = (0..max)
        .map(|i| depths[(i * (depths.len() - 1) + (max - 1) / 2) / (max - 1)])
        .collect();
    out.dedup();
    out
}

/// Schedules the figure for `g` on `plan`, or says why it cannot be drawn.
pub(crate) fn plan_regions(
    g: &Group<'_>,
    ctx: &StudyContext,
    specs: &SpecSource,
    plan: &mut Plan,
) -> Result<(PlotFiles, String, Vec<String>), String> {
    let kind = match (g.metric.0, g.n_features) {
        (Task::Classification, 2) => Task::Classification,
        (Task::Regression, 1) => Task::Regression,
        (_, n) => {
            return Err(format!(
                "drawn for 2-D classification and 1-D regression only; this dataset has {n} input feature{}",
                if n == 1 { "" } else { "s" }
            ));
        }
    };
    if g.configs
        .iter()
        .all(|c| c.runs.iter().all(|r| r.model_path.is_none()))
    {
        return Err("no saved models in this study (records carry no model_path)".into());
    }
    let width = g.fixed_width(&ctx.settings).ok_or("no width")?;
    let depths = spread(&g.depths, 7);
    let picks = picks(g, width, &depths);
    if picks.iter().all(|p| p.2.is_none()) {
        return Err(format!("no saved models at width {width}"));
    }
    let mut cache = DataCache::default();
    let mut notes = Vec::new();
    let mut fallback = false;
    let mut failures = Vec::new();
    let mut load = |r: &RunRecord| -> Result<(depthlab_nn::Mlp, DataSpec), String> {
        let rel = r.model_path.as_deref().unwrap_or_default();
        let path = ctx.study_dir.join(rel);
        let model =
            depthlab_nn::load_safetensors(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (spec, exact) = specs.spec(r);
        fallback |= !exact;
        Ok((model, spec))
    };
    let slug = g.slug.clone();
    let res = ctx.settings.region_resolution;
    let result = match kind {
        Task::Classification => {
            let mut panels = Vec::new();
            let mut n_classes = g.n_outputs.max(2);
            for (act, d, run) in &picks {
                let Some(r) = run else {
                    panels.push(None);
                    continue;
                };
                let panel = load(r).and_then(|(model, spec)| {
                    let ds = cache.get(&spec)?;
                    if let Targets::Classes { n_classes: k, .. } = &ds.data.y_train {
                        n_classes = n_classes.max(*k);
                    }
                    region_panel(
                        &model,
                        ds,
                        res,
                        format!(
                            "{act} · depth {d} · test {:.0}%",
                            r.test_accuracy.unwrap_or(f64::NAN) * 100.0
                        ),
                    )
                });
                match panel {
                    Ok(p) => panels.push(Some(p)),
                    Err(e) => {
                        failures.push(e);
                        panels.push(None);
                    }
                }
            }
            if panels.iter().all(Option::is_none) {
                return Err(format!("no model could be drawn: {}", failures.join("; ")));
            }
            let mut legend: Vec<LegendItem> = (0..n_classes)
                .map(|c| LegendItem::new(format!("class {c}"), pastel(nth_color(c)), Swatch::Box))
                .collect();
            legend.push(LegendItem::new(
                "training points",
                dark(nth_color(0)),
                Swatch::Box,
            ));
            let fig = RegionsFigure {
                title: format!("{}: decision regions, width {width}", g.title()),
                rows: depths.len(),
                cols: g.activations.len(),
                panels,
                legend,
            };
            (
                plan.add(fig, &format!("{slug}/6-decision-regions")),
                format!(
                    "Plot 6. Decision regions of one model (lowest seed) per depth (rows) and activation (columns) at width {width}, with the training points drawn over them in their class colour. Identity networks can only cut the plane with one straight line per class boundary, at any depth."
                ),
            )
        }
        Task::Regression => {
            let mut panels = Vec::new();
            let mut data_series: Option<Series> = None;
            for act in &g.activations {
                let mut panel = Panel {
                    caption: act.clone(),
                    x_label: "x".into(),
                    y_label: "y".into(),
                    ..Panel::default()
                };
                for (i, (a, d, run)) in picks.iter().enumerate().filter(|(_, p)| &p.0 == act) {
                    let _ = (i, a);
                    let Some(r) = run else { continue };
                    let curve = load(r).and_then(|(model, spec)| {
                        let ds = cache.get(&spec)?;
                        if data_series.is_none() {
                            data_series = Some(data_points(ds));
                        }
                        fitted_curve(&model, ds)
                    });
                    match curve {
                        Ok(points) => {
                            let di = depths.iter().position(|x| x == d).unwrap_or(0);
                            let mut s = Series::line(ramp(di, depths.len()), points);
                            s.markers = false;
                            panel.series.push(s);
                        }
                        Err(e) => failures.push(e),
                    }
                }
                panels.push(panel);
            }
            let Some(data) = data_series else {
                return Err(format!("no model could be drawn: {}", failures.join("; ")));
            };
            for p in &mut panels {
                p.series.insert(0, data.clone());
            }
            let mut legend = vec![LegendItem::new(
                "training data",
                RGBColor(150, 150, 150),
                Swatch::Box,
            )];
            legend.extend(depths.iter().enumerate().map(|(i, d)| {
                LegendItem::new(format!("depth {d}"), ramp(i, depths.len()), Swatch::Line)
            }));
            let mut fig = PanelFigure {
                title: format!("{}: fitted curves, width {width}", g.title()),
                panels,
                legend,
                max_cols: 2,
                panel_size: (520, 380),
            };
            fig.share_y();
            (
                plan.add(fig, &format!("{slug}/6-fitted-curves")),
                format!(
                    "Plot 6. Fitted curves of one model (lowest seed) per depth at width {width}, one panel per activation, over the training data. A ReLU network's curve is piecewise linear: a sum of kinks bending toward the target; identity networks fit a straight line at any depth."
                ),
            )
        }
    };
    if !failures.is_empty() {
        notes.push(format!(
            "plot 6 of {}: {} model(s) not drawn: {}",
            g.title(),
            failures.len(),
            failures.join("; ")
        ));
    }
    if fallback {
        notes.push(format!(
            "plot 6 of {}: no study.toml in {}, so the training data was regenerated with the dataset's default settings",
            g.title(),
            ctx.study_dir.display()
        ));
    }
    Ok((result.0, result.1, notes))
}

/// Bounds of column `c` of the raw training inputs, padded by 8 %.
fn bounds(raw: &Matrix, c: usize) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for i in 0..raw.rows() {
        let v = f64::from(raw.row(i)[c]);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(lo.is_finite() && hi > lo) {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.08;
    (lo - pad, hi + pad)
}

fn region_panel(
    model: &depthlab_nn::Mlp,
    ds: &Dataset,
    res: usize,
    caption: String,
) -> Result<RegionPanel, String> {
    let (x0, x1) = bounds(&ds.raw_x_train, 0);
    let (y0, y1) = bounds(&ds.raw_x_train, 1);
    let (dx, dy) = ((x1 - x0) / res as f64, (y1 - y0) / res as f64);
    let mut raw = Vec::with_capacity(res * res * 2);
    for j in 0..res {
        for i in 0..res {
            raw.push((x0 + (i as f64 + 0.5) * dx) as f32);
            raw.push((y0 + (j as f64 + 0.5) * dy) as f32);
        }
    }
    let out = predict_raw(model, ds, raw, 2)?;
    let mut rects = Vec::new();
    for j in 0..res {
        let mut start = 0;
        let mut class = argmax(out.row(j * res));
        for i in 1..=res {
            let c = if i < res {
                argmax(out.row(j * res + i))
            } else {
                usize::MAX
            };
            if c != class {
                rects.push((
                    x0 + start as f64 * dx,
                    x0 + i as f64 * dx,
                    y0 + j as f64 * dy,
                    y0 + (j + 1) as f64 * dy,
                    class,
                ));
                start = i;
                class = c;
            }
        }
    }
    let labels: &[usize] = match &ds.data.y_train {
        Targets::Classes { labels, .. } => labels,
        Targets::Values(_) => &[],
    };
    let n = ds.raw_x_train.rows().min(labels.len());
    let stride = n.div_ceil(400).max(1);
    let points = (0..n)
        .step_by(stride)
        .map(|i| {
            let row = ds.raw_x_train.row(i);
            (f64::from(row[0]), f64::from(row[1]), labels[i])
        })
        .collect();
    Ok(RegionPanel {
        caption,
        x: (x0, x1),
        y: (y0, y1),
        rects,
        points,
    })
}

fn data_points(ds: &Dataset) -> Series {
    let ys: Vec<f64> = match &ds.data.y_train {
        Targets::Values(m) => (0..m.rows()).map(|i| f64::from(m.row(i)[0])).collect(),
        Targets::Classes { labels, .. } => labels.iter().map(|&l| l as f64).collect(),
    };
    let n = ds.raw_x_train.rows().min(ys.len());
    let stride = n.div_ceil(400).max(1);
    Series {
        color: RGBColor(150, 150, 150),
        points: (0..n)
            .step_by(stride)
            .map(|i| (f64::from(ds.raw_x_train.row(i)[0]), ys[i]))
            .collect(),
        band: Vec::new(),
        stroke: Stroke::None,
        markers: true,
        hollow: false,
        whiskers: false,
        width: 1,
    }
}

fn fitted_curve(model: &depthlab_nn::Mlp, ds: &Dataset) -> Result<Vec<(f64, f64)>, String> {
    let (x0, x1) = bounds(&ds.raw_x_train, 0);
    let n = 240;
    let xs: Vec<f64> = (0..n)
        .map(|i| x0 + (x1 - x0) * i as f64 / (n - 1) as f64)
        .collect();
    let out = predict_raw(model, ds, xs.iter().map(|&x| x as f32).collect(), 1)?;
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, &x)| (x, f64::from(out.row(i)[0])))
        .collect())
}

//! From records to findings: runs grouped by dataset and training variant, seeds aggregated
//! into configurations (mean, min, max), a fit verdict per configuration, the best-of tables
//! and the generated summary sentences. Nothing here draws or writes files.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::metric::{Metric, thousands};
use super::settings::ReportSettings;
use crate::document::slugify;
use crate::record::{RunOutcome, RunRecord};

/// Mean, minimum and maximum of a figure over the seeds of one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stat {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    /// `None` for an empty slice.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for &v in values {
            min = min.min(v);
            max = max.max(v);
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Stat { mean, min, max })
    }
}

/// How well a configuration fits, judged from its seed means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The training metric misses the underfit threshold: the model cannot fit its data.
    Underfit,
    /// Fits the training data and generalises within the thresholds.
    Good,
    /// Large generalisation gap, or test worse than a smaller model while train kept rising.
    Overfit,
    /// Every seed diverged, so there is nothing to judge.
    Diverged,
}

impl Verdict {
    /// The lower-case word used in tables and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Underfit => "underfit",
            Verdict::Good => "good",
            Verdict::Overfit => "overfit",
            Verdict::Diverged => "diverged",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The training settings other than depth, width, activation and seed. Runs that differ here
/// are not comparable point by point, so each variant gets its own section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variant {
    pub label_noise: f64,
    pub train_size: Option<usize>,
    pub optimizer: String,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
}

impl Variant {
    fn of(r: &RunRecord) -> Variant {
        Variant {
            label_noise: r.label_noise,
            train_size: r.train_size,
            optimizer: r.optimizer.clone(),
            learning_rate: r.learning_rate,
            batch_size: r.batch_size,
            epochs: r.epochs,
        }
    }

    /// Ordering key: label noise, then train size, then the optimiser settings.
    fn sort_key(&self) -> (u64, usize, String, u64, usize, usize) {
        (
            self.label_noise.to_bits(),
            self.train_size.unwrap_or(usize::MAX),
            self.optimizer.clone(),
            self.learning_rate.to_bits(),
            self.batch_size,
            self.epochs,
        )
    }

    /// Names only the fields that differ between `all` variants ("label noise 0.2").
    fn describe(&self, all: &[Variant]) -> String {
        let differs = |f: &dyn Fn(&Variant) -> String| all.iter().any(|v| f(v) != f(self));
        let mut parts = Vec::new();
        if differs(&|v| v.label_noise.to_string()) {
            parts.push(format!("label noise {}", self.label_noise));
        }
        if differs(&|v| format!("{:?}", v.train_size)) {
            parts.push(match self.train_size {
                Some(n) => format!("train size {n}"),
                None => "full train set".into(),
            });
        }
        if differs(&|v| v.optimizer.clone()) {
            parts.push(self.optimizer.clone());
        }
        if differs(&|v| v.learning_rate.to_string()) {
            parts.push(format!("lr {}", self.learning_rate));
        }
        if differs(&|v| v.batch_size.to_string()) {
            parts.push(format!("batch {}", self.batch_size));
        }
        if differs(&|v| v.epochs.to_string()) {
            parts.push(format!("{} epochs", self.epochs));
        }
        parts.join(", ")
    }
}

/// One grid point without its seed: the seeds' runs and their aggregates.
#[derive(Debug, Clone)]
pub(crate) struct Config<'a> {
    pub depth: usize,
    pub width: usize,
    pub activation: String,
    pub params: usize,
    /// Runs that finished (`ok`), sorted by seed.
    pub runs: Vec<&'a RunRecord>,
    /// Seeds that diverged.
    pub diverged: usize,
    pub train: Option<Stat>,
    pub test: Option<Stat>,
    pub gap: Option<Stat>,
    pub wall: Option<Stat>,
    pub verdict: Verdict,
    pub reason: String,
}

impl Config<'_> {
    /// `relu d3-w16`, the short name used in tables and sentences.
    pub fn name(&self) -> String {
        format!("{} d{}-w{}", self.activation, self.depth, self.width)
    }

    /// Mean test metric, when any seed finished.
    pub fn test_mean(&self) -> Option<f64> {
        self.test.map(|s| s.mean)
    }

    /// Mean train metric, when any seed finished.
    pub fn train_mean(&self) -> Option<f64> {
        self.train.map(|s| s.mean)
    }
}

/// The configurations of one dataset under one training variant.
#[derive(Debug, Clone)]
pub(crate) struct Group<'a> {
    pub dataset: String,
    /// What distinguishes this variant from the dataset's others ("" when there is one).
    pub variant_label: String,
    pub variant: Variant,
    /// File-name-safe identifier, unique within the report.
    pub slug: String,
    pub metric: Metric,
    pub n_train: usize,
    pub n_outputs: usize,
    pub n_features: usize,
    /// Sorted by activation (in [`activation_order`]), depth, width.
    pub configs: Vec<Config<'a>>,
    pub activations: Vec<String>,
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
}

impl<'a> Group<'a> {
    /// "spirals" or "spirals (label noise 0.2)".
    pub fn title(&self) -> String {
        if self.variant_label.is_empty() {
            self.dataset.clone()
        } else {
            format!("{} ({})", self.dataset, self.variant_label)
        }
    }

    /// The configuration at a grid point, if it was run.
    pub fn get(&self, activation: &str, depth: usize, width: usize) -> Option<&Config<'a>> {
        self.configs
            .iter()
            .find(|c| c.activation == activation && c.depth == depth && c.width == width)
    }

    /// Configurations of one activation.
    pub fn of_activation<'s>(
        &'s self,
        activation: &'s str,
    ) -> impl Iterator<Item = &'s Config<'a>> {
        self.configs
            .iter()
            .filter(move |c| c.activation == activation)
    }

    /// The width used by the fixed-width plots: the setting if it was run, else the median.
    pub fn fixed_width(&self, settings: &ReportSettings) -> Option<usize> {
        match settings.fixed_width {
            Some(w) if self.widths.contains(&w) => Some(w),
            _ => self
                .widths
                .get(self.widths.len().saturating_sub(1) / 2)
                .copied(),
        }
    }

    /// Best configuration by mean test metric among `configs`.
    pub fn best<'s>(&self, configs: impl Iterator<Item = &'s Config<'a>>) -> Option<&'s Config<'a>>
    where
        'a: 's,
    {
        let m = self.metric;
        configs
            .filter(|c| c.test.is_some())
            .fold(None, |best: Option<&Config>, c| match best {
                Some(b)
                    if !m.better(
                        c.test_mean().unwrap_or(f64::NAN),
                        b.test_mean().unwrap_or(f64::NAN),
                    ) =>
                {
                    Some(b)
                }
                _ => Some(c),
            })
    }

    /// The configuration with the fewest parameters whose test metric is near `best`'s.
    pub fn smallest_near<'s>(
        &self,
        configs: impl Iterator<Item = &'s Config<'a>> + Clone,
        settings: &ReportSettings,
    ) -> Option<&'s Config<'a>>
    where
        'a: 's,
    {
        let best = self.best(configs.clone())?.test_mean()?;
        let m = self.metric;
        configs
            .filter(|c| {
                c.test_mean().is_some_and(|t| {
                    m.near(
                        t,
                        best,
                        settings.near_best_points,
                        settings.near_best_mse_ratio,
                    )
                })
            })
            .min_by(|a, b| {
                a.params.cmp(&b.params).then_with(|| {
                    let (ta, tb) = (
                        a.test_mean().unwrap_or(f64::NAN),
                        b.test_mean().unwrap_or(f64::NAN),
                    );
                    if m.better(ta, tb) {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                })
            })
    }

    /// Number of configurations with each verdict.
    pub fn verdict_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.configs {
            *counts.entry(c.verdict.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

/// All groups of one dataset (one per variant).
#[derive(Debug, Clone)]
pub(crate) struct DatasetGroups<'a> {
    pub dataset: String,
    pub slug: String,
    pub groups: Vec<Group<'a>>,
}

/// Conventional activations first, in the order a reader expects; others alphabetically.
pub(crate) fn activation_order(name: &str) -> (usize, String) {
    const KNOWN: [&str; 8] = [
        "identity",
        "relu",
        "leaky_relu",
        "gelu",
        "tanh",
        "sigmoid",
        "softplus",
        "elu",
    ];
    let rank = KNOWN.iter().position(|k| *k == name).unwrap_or(KNOWN.len());
    (rank, name.to_string())
}

/// Groups `records` by dataset and variant and judges every configuration.
pub(crate) fn analyse<'a>(
    records: &'a [RunRecord],
    settings: &ReportSettings,
) -> Vec<DatasetGroups<'a>> {
    let mut by_dataset: BTreeMap<&str, Vec<&'a RunRecord>> = BTreeMap::new();
    for r in records {
        by_dataset.entry(r.dataset.as_str()).or_default().push(r);
    }
    let mut used_slugs: Vec<String> = Vec::new();
    let mut unique = |base: String| {
        let mut slug = base.clone();
        let mut i = 2;
        while used_slugs.contains(&slug) {
            slug = format!("{base}-{i}");
            i += 1;
        }
        used_slugs.push(slug.clone());
        slug
    };
    let mut out = Vec::new();
    for (dataset, runs) in by_dataset {
        let mut variants: Vec<Variant> = Vec::new();
        for r in &runs {
            let v = Variant::of(r);
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        variants.sort_by_key(Variant::sort_key);
        let dataset_slug = unique(slugify(dataset));
        let mut groups = Vec::new();
        for (i, variant) in variants.iter().enumerate() {
            let members: Vec<&RunRecord> = runs
                .iter()
                .copied()
                .filter(|r| Variant::of(r) == *variant)
                .collect();
            let label = variant.describe(&variants);
            let slug = if variants.len() == 1 {
                dataset_slug.clone()
            } else {
                unique(format!(
                    "{dataset_slug}-{}",
                    if label.is_empty() {
                        i.to_string()
                    } else {
                        slugify(&label)
                    }
                ))
            };
            groups.push(build_group(
                dataset,
                variant.clone(),
                label,
                slug,
                &members,
                settings,
            ));
        }
        out.push(DatasetGroups {
            dataset: dataset.to_string(),
            slug: dataset_slug,
            groups,
        });
    }
    out
}

/// Sort key of a grid cell: activation (in reading order), depth, width.
type CellKey = ((usize, String), usize, usize);

fn build_group<'a>(
    dataset: &str,
    variant: Variant,
    variant_label: String,
    slug: String,
    runs: &[&'a RunRecord],
    settings: &ReportSettings,
) -> Group<'a> {
    let first = runs[0];
    let metric = Metric(first.task);
    let mut cells: BTreeMap<CellKey, Vec<&'a RunRecord>> = BTreeMap::new();
    for &r in runs {
        cells
            .entry((activation_order(&r.activation), r.depth, r.width))
            .or_default()
            .push(r);
    }
    let mut configs = Vec::with_capacity(cells.len());
    for (((_, activation), depth, width), mut members) in cells {
        members.sort_by_key(|r| r.seed);
        let params = members.iter().map(|r| r.parameter_count).max().unwrap_or(0);
        let ok: Vec<&RunRecord> = members
            .iter()
            .copied()
            .filter(|r| {
                r.outcome == RunOutcome::Ok && metric.train(r).is_some() && metric.test(r).is_some()
            })
            .collect();
        let diverged = members.len() - ok.len();
        let train_v: Vec<f64> = ok.iter().filter_map(|r| metric.train(r)).collect();
        let test_v: Vec<f64> = ok.iter().filter_map(|r| metric.test(r)).collect();
        let gap_v: Vec<f64> = train_v
            .iter()
            .zip(&test_v)
            .map(|(&a, &b)| metric.gap(a, b))
            .collect();
        let wall_v: Vec<f64> = members
            .iter()
            .map(|r| r.wall_seconds)
            .filter(|w| w.is_finite())
            .collect();
        let train = Stat::of(&train_v);
        let test = Stat::of(&test_v);
        let (verdict, reason) = threshold_verdict(metric, train, test, members.len(), settings);
        configs.push(Config {
            depth,
            width,
            activation,
            params,
            runs: ok,
            diverged,
            train,
            test,
            gap: Stat::of(&gap_v),
            wall: Stat::of(&wall_v),
            verdict,
            reason,
        });
    }
    apply_trend_rule(metric, &mut configs, settings);
    let mut activations: Vec<String> = Vec::new();
    for c in &configs {
        if !activations.contains(&c.activation) {
            activations.push(c.activation.clone());
        }
    }
    let mut depths: Vec<usize> = configs.iter().map(|c| c.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut widths: Vec<usize> = configs.iter().map(|c| c.width).collect();
    widths.sort_unstable();
    widths.dedup();
    Group {
        dataset: dataset.to_string(),
        variant_label,
        variant,
        slug,
        metric,
        n_train: runs.iter().map(|r| r.n_train).max().unwrap_or(0),
        n_outputs: first.n_outputs,
        n_features: first.n_features,
        configs,
        activations,
        depths,
        widths,
    }
}

/// The threshold part of the verdict: underfit first (a model that cannot fit its training
/// data has no meaningful gap), then the gap.
fn threshold_verdict(
    metric: Metric,
    train: Option<Stat>,
    test: Option<Stat>,
    seeds: usize,
    s: &ReportSettings,
) -> (Verdict, String) {
    let (Some(train), Some(test)) = (train, test) else {
        return (Verdict::Diverged, format!("all {seeds} seeds diverged"));
    };
    let (tr, te) = (train.mean, test.mean);
    if metric.higher_is_better() {
        if tr < s.underfit_accuracy {
            return (
                Verdict::Underfit,
                format!("train {tr:.1}% < {}%", s.underfit_accuracy),
            );
        }
        let gap = tr - te;
        if gap > s.overfit_gap {
            return (
                Verdict::Overfit,
                format!("gap {gap:.1} pts > {} pts", s.overfit_gap),
            );
        }
        (Verdict::Good, format!("train {tr:.1}%, gap {gap:.1} pts"))
    } else {
        if tr > s.underfit_mse {
            return (
                Verdict::Underfit,
                format!("train MSE {} > {}", metric.fmt(tr), s.underfit_mse),
            );
        }
        let ratio = te / tr.max(f64::MIN_POSITIVE);
        if ratio > s.overfit_mse_ratio && te - tr > s.overfit_mse_min_gap {
            return (
                Verdict::Overfit,
                format!("test/train MSE {ratio:.1}× > {}×", s.overfit_mse_ratio),
            );
        }
        (
            Verdict::Good,
            format!("train MSE {}, test/train {ratio:.1}×", metric.fmt(tr)),
        )
    }
}

/// "Test falling while train keeps rising with size": a configuration judged good becomes
/// overfit when a smaller model of the same activation, along the width axis (same depth) or
/// the depth axis (same width), tests clearly better while train kept rising from it.
///
/// Train must have kept rising over the whole stretch of the line, not just ended above the
/// smaller model: a model whose train metric fell back from its neighbours' is failing to fit
/// (an optimisation problem), not memorising. So the larger model's train metric must be at
/// least the smaller one's, and at least that of every model between them within the "near
/// best" tolerance (seed noise on a plateau near 100% must not hide a real trend).
fn apply_trend_rule(metric: Metric, configs: &mut [Config<'_>], s: &ReportSettings) {
    let mut changes = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        if c.verdict != Verdict::Good {
            continue;
        }
        let (Some(ctr), Some(cte)) = (c.train_mean(), c.test_mean()) else {
            continue;
        };
        let mut worst: Option<(f64, &Config)> = None;
        for o in configs.iter() {
            let along_width = o.depth == c.depth && o.width < c.width;
            let along_depth = o.width == c.width && o.depth < c.depth;
            if o.activation != c.activation || !(along_width || along_depth) || o.params >= c.params
            {
                continue;
            }
            let (Some(otr), Some(ote)) = (o.train_mean(), o.test_mean()) else {
                continue;
            };
            if metric.better(otr, ctr) {
                continue;
            }
            // `o` and the models between it and `c` on the same line.
            let stretch = configs.iter().filter(|p| {
                p.activation == c.activation
                    && if along_width {
                        p.depth == c.depth && p.width >= o.width && p.width < c.width
                    } else {
                        p.width == c.width && p.depth >= o.depth && p.depth < c.depth
                    }
            });
            let train_kept_rising = stretch
                .filter_map(Config::train_mean)
                .all(|ptr| metric.near(ctr, ptr, s.near_best_points, s.near_best_mse_ratio));
            let (drop, limit) = if metric.higher_is_better() {
                (ote - cte, s.trend_drop)
            } else {
                (cte / ote.max(f64::MIN_POSITIVE) - 1.0, s.trend_rise_mse)
            };
            if train_kept_rising && drop > limit && worst.is_none_or(|(d, _)| drop > d) {
                worst = Some((drop, o));
            }
        }
        if let Some((drop, o)) = worst {
            let otr = o.train_mean().unwrap_or(f64::NAN);
            let what = if metric.higher_is_better() {
                format!("test {drop:.1} pts below smaller {}", o.name())
            } else {
                format!("test MSE {:.0}% above smaller {}", drop * 100.0, o.name())
            };
            changes.push((
                i,
                format!(
                    "{what} while train did not fall along the way ({} → {})",
                    metric.fmt(otr),
                    metric.fmt(ctr)
                ),
            ));
        }
    }
    for (i, reason) in changes {
        configs[i].verdict = Verdict::Overfit;
        configs[i].reason = reason;
    }
}

/// Generated sentences describing what one group shows, computed from its numbers.
pub(crate) fn summarise(g: &Group<'_>, s: &ReportSettings) -> Vec<String> {
    let m = g.metric;
    let mut out = Vec::new();
    let title = g.title();
    let Some(best) = g.best(g.configs.iter()) else {
        out.push(format!("On {title}, every run diverged."));
        return out;
    };
    let bt = best.test_mean().unwrap_or(f64::NAN);
    let word = if m.higher_is_better() {
        "best test accuracy"
    } else {
        "lowest test MSE"
    };
    let mut line = format!(
        "On {title}, the {word} is {} by {} ({} parameters, train {}).",
        m.fmt(bt),
        best.name(),
        thousands(best.params),
        m.fmt(best.train_mean().unwrap_or(f64::NAN))
    );
    if let Some(small) = g.smallest_near(g.configs.iter(), s)
        && small.name() != best.name()
    {
        let tol = if m.higher_is_better() {
            format!(
                "{} point{}",
                s.near_best_points,
                if s.near_best_points == 1.0 { "" } else { "s" }
            )
        } else {
            format!("{:.0}%", s.near_best_mse_ratio * 100.0)
        };
        line.push_str(&format!(
            " The smallest model within {tol} of it is {} ({} parameters, {}).",
            small.name(),
            thousands(small.params),
            m.fmt(small.test_mean().unwrap_or(f64::NAN))
        ));
    }
    out.push(line);

    for act in &g.activations {
        if let Some(sentence) = depth_sentence(g, act, s) {
            out.push(sentence);
        }
    }

    let counts = g.verdict_counts();
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let mut verdicts = format!(
        "Of {} configurations, {} underfit, {} are good and {} overfit",
        g.configs.len(),
        count("underfit"),
        count("good"),
        count("overfit")
    );
    if count("diverged") > 0 {
        verdicts.push_str(&format!(" ({} diverged on every seed)", count("diverged")));
    }
    let median_params = |v: Verdict| {
        let mut p: Vec<usize> = g
            .configs
            .iter()
            .filter(|c| c.verdict == v)
            .map(|c| c.params)
            .collect();
        p.sort_unstable();
        p.get(p.len() / 2).copied().filter(|_| !p.is_empty())
    };
    match (
        median_params(Verdict::Underfit),
        median_params(Verdict::Overfit),
    ) {
        (Some(u), Some(o)) => verdicts.push_str(&format!(
            "; the median underfit model has {} parameters, the median overfit one {}.",
            thousands(u),
            thousands(o)
        )),
        (Some(u), None) => verdicts.push_str(&format!(
            "; the median underfit model has {} parameters.",
            thousands(u)
        )),
        (None, Some(o)) => verdicts.push_str(&format!(
            "; the median overfit model has {} parameters.",
            thousands(o)
        )),
        (None, None) => verdicts.push('.'),
    }
    out.push(verdicts);

    let diverged_runs: usize = g.configs.iter().map(|c| c.diverged).sum();
    if diverged_runs > 0 {
        let mut by_act: Vec<String> = Vec::new();
        for act in &g.activations {
            let n: usize = g.of_activation(act).map(|c| c.diverged).sum();
            if n > 0 {
                by_act.push(format!("{n} {act}"));
            }
        }
        out.push(format!(
            "{diverged_runs} runs diverged ({}).",
            by_act.join(", ")
        ));
    }
    out
}

/// The "near best" tolerance in words: "1 point", "2.5 points", "10% in MSE".
fn tolerance(m: super::metric::Metric, s: &ReportSettings) -> String {
    if m.higher_is_better() {
        let p = s.near_best_points;
        format!("{p} point{}", if p == 1.0 { "" } else { "s" })
    } else {
        format!("{:.0}% in MSE", s.near_best_mse_ratio * 100.0)
    }
}

/// How depth affects one activation, at the width where that activation did best.
fn depth_sentence(g: &Group<'_>, act: &str, s: &ReportSettings) -> Option<String> {
    let m = g.metric;
    let tol = tolerance(m, s);
    if act == "identity" {
        // At the widest width, so a narrow bottleneck (which limits the rank of the linear
        // map) does not blur the point: depth adds nothing to a linear network.
        let w = *g.widths.last()?;
        let tests: Vec<(usize, f64)> = g
            .depths
            .iter()
            .filter_map(|&d| g.get(act, d, w).and_then(|c| c.test_mean().map(|t| (d, t))))
            .collect();
        if tests.len() < 2 {
            return None;
        }
        let lo = tests.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
        let hi = tests.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
        return Some(format!(
            "identity at width {w} stays between {} and {} test {} at every depth from {} to {}: stacked linear layers are one linear map.",
            m.fmt(lo),
            m.fmt(hi),
            m.name(),
            tests[0].0,
            tests[tests.len() - 1].0
        ));
    }
    let best = g.best(g.of_activation(act))?;
    let w = best.width;
    let line: Vec<(usize, f64)> = g
        .depths
        .iter()
        .filter_map(|&d| g.get(act, d, w).and_then(|c| c.test_mean().map(|t| (d, t))))
        .collect();
    if line.len() < 2 {
        return None;
    }
    let top = line
        .iter()
        .map(|&(_, t)| t)
        .fold(None, |b: Option<f64>, t| match b {
            Some(b) if !m.better(t, b) => Some(b),
            _ => Some(t),
        })?;
    let enough = line
        .iter()
        .find(|&&(_, t)| m.near(t, top, s.near_best_points, s.near_best_mse_ratio))?
        .0;
    let deepest = *line.last()?;
    let mut sentence = if enough == line[0].0 && enough == 0 {
        format!(
            "For {act} at width {w}, depth does not help: a linear model ({}) is within tolerance of the best depth.",
            m.fmt(line[0].1)
        )
    } else if enough == deepest.0 {
        format!(
            "For {act} at width {w}, test {} still improves up to the deepest model (depth {}, {}).",
            m.name(),
            deepest.0,
            m.fmt(deepest.1)
        )
    } else {
        format!(
            "For {act} at width {w}, depth beyond {enough} adds less than {tol} (best {} at depth {}).",
            m.fmt(top),
            line.iter().find(|&&(_, t)| t == top).map_or(0, |p| p.0)
        )
    };
    let worse = if m.higher_is_better() {
        top - deepest.1 > s.trend_drop
    } else {
        deepest.1 > top * (1.0 + s.trend_rise_mse)
    };
    if worse && enough != deepest.0 {
        sentence.push_str(&format!(
            " At depth {} it falls back to {}: deeper nets are harder to train.",
            deepest.0,
            m.fmt(deepest.1)
        ));
    }
    Some(sentence)
}

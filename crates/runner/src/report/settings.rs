//! The `[report]` table of a study TOML: the thresholds behind the fit verdicts and the choices
//! behind a few plots. Every value is printed in the report so a reader knows what a verdict
//! means.

use serde::{Deserialize, Serialize};

/// Report thresholds and plot choices; `Default` gives the documented values. Accuracies are
/// in percent (0–100) and gaps in percentage points, so `overfit_gap = 5` means 5 points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Classification: a configuration whose mean train accuracy (%) is below this is `underfit`.
    pub underfit_accuracy: f64,
    /// Classification: a mean train − test accuracy gap (points) above this is `overfit`.
    pub overfit_gap: f64,
    /// Regression: a mean train MSE above this is `underfit` (targets are not standardised).
    pub underfit_mse: f64,
    /// Regression: a mean test MSE above this multiple of the train MSE is `overfit`...
    pub overfit_mse_ratio: f64,
    /// ...provided test − train MSE also exceeds this, so two near-perfect fits are not flagged.
    pub overfit_mse_min_gap: f64,
    /// Classification: a test-accuracy drop (points) versus a smaller model of the same
    /// activation and depth (or width) counts as `overfit` when train accuracy kept rising: the
    /// larger model trains at least as well as the smaller one, and as well as every model
    /// between them within `near_best_points`.
    pub trend_drop: f64,
    /// Regression: the same trend rule as a relative test-MSE rise (0.25 = 25 % worse); train
    /// MSE kept falling (no higher than the smaller model's, nor more than `near_best_mse_ratio`
    /// above any model between them).
    pub trend_rise_mse: f64,
    /// Classification: "near best" tolerance (points) for the smallest-good-model table.
    pub near_best_points: f64,
    /// Regression: "near best" tolerance as a relative MSE excess (0.1 = within 10 %).
    pub near_best_mse_ratio: f64,
    /// Width used by the linear-collapse and decision-region plots; default: the median width.
    pub fixed_width: Option<usize>,
    /// Grid cells per side when drawing decision regions.
    pub region_resolution: usize,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            underfit_accuracy: 90.0,
            overfit_gap: 5.0,
            underfit_mse: 0.05,
            overfit_mse_ratio: 2.0,
            overfit_mse_min_gap: 0.005,
            trend_drop: 2.0,
            trend_rise_mse: 0.25,
            near_best_points: 1.0,
            near_best_mse_ratio: 0.1,
            fixed_width: None,
            region_resolution: 120,
        }
    }
}

/// A `[report]` setting out of its range: the key (so a study file can point at it) and the
/// message naming key and value.
#[derive(Debug, Clone)]
pub(crate) struct InvalidSetting {
    /// The offending key, as written in `[report]`.
    pub key: &'static str,
    /// `[report] key = value ...`.
    pub message: String,
}

impl From<InvalidSetting> for String {
    fn from(e: InvalidSetting) -> String {
        e.message
    }
}

impl ReportSettings {
    /// Checks ranges; the error names the offending key and value.
    pub(crate) fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |key: &'static str, message: String| Err(InvalidSetting { key, message });
        let checks: [(&str, f64, bool); 9] = [
            (
                "underfit_accuracy",
                self.underfit_accuracy,
                (0.0..=100.0).contains(&self.underfit_accuracy),
            ),
            ("overfit_gap", self.overfit_gap, self.overfit_gap >= 0.0),
            ("underfit_mse", self.underfit_mse, self.underfit_mse >= 0.0),
            (
                "overfit_mse_ratio",
                self.overfit_mse_ratio,
                self.overfit_mse_ratio >= 1.0,
            ),
            (
                "overfit_mse_min_gap",
                self.overfit_mse_min_gap,
                self.overfit_mse_min_gap >= 0.0,
            ),
            ("trend_drop", self.trend_drop, self.trend_drop >= 0.0),
            (
                "trend_rise_mse",
                self.trend_rise_mse,
                self.trend_rise_mse >= 0.0,
            ),
            (
                "near_best_points",
                self.near_best_points,
                self.near_best_points >= 0.0,
            ),
            (
                "near_best_mse_ratio",
                self.near_best_mse_ratio,
                self.near_best_mse_ratio >= 0.0,
            ),
        ];
        for (key, value, ok) in checks {
            if !(value.is_finite() && ok) {
                return invalid(key, format!("[report] {key} = {value} is out of range"));
            }
        }
        if self.fixed_width == Some(0) {
            return invalid(
                "fixed_width",
                "[report] fixed_width = 0; expected a width of at least 1".into(),
            );
        }
        if !(8..=1000).contains(&self.region_resolution) {
            return invalid(
                "region_resolution",
                format!(
                    "[report] region_resolution = {} is out of range; expected 8..=1000",
                    self.region_resolution
                ),
            );
        }
        Ok(())
    }
}

//! The headline metric of a task: accuracy (in percent, higher is better) for classification,
//! mean squared error (lower is better) for regression. Everything that compares, formats or
//! plots a result goes through here, so regression studies need no special cases elsewhere.

use crate::record::{RunRecord, Task};

/// The metric reported for one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metric(pub Task);

/// Keeps only finite values: a diverged run may record NaN.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl Metric {
    /// Short name for sentences and table headers.
    pub fn name(self) -> &'static str {
        match self.0 {
            Task::Classification => "accuracy",
            Task::Regression => "MSE",
        }
    }

    /// Axis label for the metric itself.
    pub fn axis(self) -> &'static str {
        match self.0 {
            Task::Classification => "accuracy (%)",
            Task::Regression => "mean squared error",
        }
    }

    /// Axis label for the generalisation gap, oriented so that positive means "test worse".
    pub fn gap_axis(self) -> &'static str {
        match self.0 {
            Task::Classification => "train − test accuracy (points)",
            Task::Regression => "test − train MSE",
        }
    }

    /// Axis label of the error used by the double-descent view.
    pub fn error_axis(self) -> &'static str {
        match self.0 {
            Task::Classification => "test error (%)",
            Task::Regression => "test MSE",
        }
    }

    /// True when a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self.0 == Task::Classification
    }

    /// MSE spans decades, so it is plotted on a log axis.
    pub fn log_axis(self) -> bool {
        self.0 == Task::Regression
    }

    /// Final train metric of a run (accuracy in percent).
    pub fn train(self, r: &RunRecord) -> Option<f64> {
        finite(match self.0 {
            Task::Classification => r.train_accuracy.map(|a| a * 100.0),
            Task::Regression => r.train_mse,
        })
    }

    /// Final test metric of a run (accuracy in percent).
    pub fn test(self, r: &RunRecord) -> Option<f64> {
        finite(match self.0 {
            Task::Classification => r.test_accuracy.map(|a| a * 100.0),
            Task::Regression => r.test_mse,
        })
    }

    /// Generalisation gap, positive when the test figure is worse than the train figure.
    pub fn gap(self, train: f64, test: f64) -> f64 {
        match self.0 {
            Task::Classification => train - test,
            Task::Regression => test - train,
        }
    }

    /// The error plotted by the double-descent view: 100 − accuracy, or the MSE itself.
    pub fn error(self, test: f64) -> f64 {
        match self.0 {
            Task::Classification => 100.0 - test,
            Task::Regression => test,
        }
    }

    /// True when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }

    /// True when `value` is within the "near best" tolerance of `best`.
    pub fn near(self, value: f64, best: f64, points: f64, mse_ratio: f64) -> bool {
        match self.0 {
            Task::Classification => value >= best - points,
            Task::Regression => value <= best * (1.0 + mse_ratio) + f64::EPSILON,
        }
    }

    /// Formats a metric value for tables and sentences.
    pub fn fmt(self, v: f64) -> String {
        match self.0 {
            Task::Classification => format!("{v:.1}%"),
            Task::Regression => fmt_sig(v),
        }
    }

    /// Formats a gap value.
    pub fn fmt_gap(self, v: f64) -> String {
        match self.0 {
            Task::Classification => format!("{v:+.1} pts"),
            Task::Regression => {
                let s = fmt_sig(v.abs());
                if v < 0.0 {
                    format!("−{s}")
                } else {
                    format!("+{s}")
                }
            }
        }
    }
}

/// Three significant digits without exponent noise for ordinary magnitudes.
pub(crate) fn fmt_sig(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-4..1e5).contains(&a) {
        format!("{v:.2e}")
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    }
}

/// `12345` → `12,345`, for parameter counts.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

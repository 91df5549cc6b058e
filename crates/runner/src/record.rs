//! One finished run, as stored in `runs/<study>/results.jsonl` (one JSON object per line) and
//! read back by reports, `merge` and `compare`. This is the contract between the sweep and
//! everything downstream of it: add fields with `#[serde(default)]`, never rename.
//!
//! Floats that are not finite (a diverged run's losses) are written as the strings `"NaN"`,
//! `"inf"` and `"-inf"`, spelled as Rust and Python print and parse them, since JSON has no
//! such numbers; `null`, which older versions wrote for them, reads back as NaN (or `None` for
//! optional metrics). Every record written reads back equal to what was written.

use serde::{Deserialize, Serialize};

/// What kind of target a dataset has, which decides the metrics recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Integer class labels; metrics are accuracy (fraction in 0..=1) and cross-entropy loss.
    Classification,
    /// Real-valued targets; metrics are mean squared error.
    Regression,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Trained for all epochs, or stopped early by patience.
    Ok,
    /// The loss became non-finite; `diverged_epoch` says when.
    Diverged,
}

/// Train and test figures after one epoch. Accuracy fields are set for classification, MSE
/// fields for regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's data (evaluated after the epoch).
    #[serde(with = "float")]
    pub train_loss: f64,
    /// Mean test loss.
    #[serde(with = "float")]
    pub test_loss: f64,
    /// Training accuracy in 0..=1 (classification).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_float")]
    pub train_accuracy: Option<f64>,
    /// Test accuracy in 0..=1 (classification).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_float")]
    pub test_accuracy: Option<f64>,
    /// Training mean squared error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_float")]
    pub train_mse: Option<f64>,
    /// Test mean squared error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_float")]
    pub test_mse: Option<f64>,
}

/// One finished grid point: its configuration, its curves and its final figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Stable grid-point id, e.g. `spirals-d3-w16-relu-s0`; unique within a study.
    pub id: String,
    /// Position of the grid point in the study's expanded grid (used by `--shard`).
    pub index: usize,
    /// Study name.
    pub study: String,
    /// Dataset name (built-in name, or the CSV path as given).
    pub dataset: String,
    /// Classification or regression.
    pub task: Task,
    /// Number of hidden layers (0 = linear model).
    pub depth: usize,
    /// Width of every hidden layer.
    pub width: usize,
    /// Activation name as in configs (`"relu"`, `"identity"`, ...).
    pub activation: String,
    /// Seed for data split, init and shuffling.
    pub seed: u64,
    /// Optimizer name (`"sgd"`, `"adam"`, ...).
    pub optimizer: String,
    /// Learning rate.
    #[serde(with = "float")]
    pub learning_rate: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epochs asked for.
    pub epochs: usize,
    /// Fraction of training labels replaced by a different class.
    #[serde(with = "float")]
    pub label_noise: f64,
    /// Training-set size asked for (`None` = the whole training split).
    pub train_size: Option<usize>,
    /// Samples actually trained on.
    pub n_train: usize,
    /// Samples tested on.
    pub n_test: usize,
    /// Input features.
    pub n_features: usize,
    /// Network outputs (classes for classification, 1 for regression).
    pub n_outputs: usize,
    /// Exact number of trainable parameters.
    pub parameter_count: usize,
    /// Per-epoch figures, one entry per epoch run.
    pub curve: Vec<EpochPoint>,
    /// Final training loss.
    #[serde(with = "float")]
    pub train_loss: f64,
    /// Final test loss.
    #[serde(with = "float")]
    pub test_loss: f64,
    /// Final training accuracy (classification).
    #[serde(default, with = "opt_float")]
    pub train_accuracy: Option<f64>,
    /// Final test accuracy (classification).
    #[serde(default, with = "opt_float")]
    pub test_accuracy: Option<f64>,
    /// Final training MSE (regression).
    #[serde(default, with = "opt_float")]
    pub train_mse: Option<f64>,
    /// Final test MSE (regression).
    #[serde(default, with = "opt_float")]
    pub test_mse: Option<f64>,
    /// Epochs actually run (fewer than `epochs` after early stopping or divergence).
    pub epochs_run: usize,
    /// Wall-clock seconds the run took.
    #[serde(with = "float")]
    pub wall_seconds: f64,
    /// `ok` or `diverged`.
    pub outcome: RunOutcome,
    /// Epoch at which the loss became non-finite.
    #[serde(default)]
    pub diverged_epoch: Option<usize>,
    /// Path of the saved model relative to the study directory, when saved.
    #[serde(default)]
    pub model_path: Option<String>,
}

/// Serde for an `f64` that may be NaN or infinite (the format is in the module docs).
mod float {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// A finite value as a JSON number, any other as its `Display` string.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            // Display spells NaN and infinities the way `FromStr` and Python's `float` read them.
            s.collect_str(v)
        }
    }

    /// A number, a non-finite spelling, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(FloatVisitor)
    }

    /// Accepts what [`serialize`] writes, and `null` as NaN.
    pub struct FloatVisitor;

    impl Visitor<'_> for FloatVisitor {
        type Value = f64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a number, "NaN", "inf" or "-inf""#)
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            // A finite number in quotes was not written by us: refuse it rather than guess.
            match v.parse::<f64>() {
                Ok(x) if !x.is_finite() => Ok(x),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Ok(f64::NAN)
        }
    }
}

/// Serde for an `Option<f64>` whose value may be NaN or infinite; `null` is `None`.
mod opt_float {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use super::float;

    /// `None` as `null`, a value as [`float::serialize`] writes it.
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => float::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    /// `null` as `None`, anything else as [`float::deserialize`] reads it.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_option(OptFloatVisitor)
    }

    struct OptFloatVisitor;

    impl<'de> Visitor<'de> for OptFloatVisitor {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"null, a number, "NaN", "inf" or "-inf""#)
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<f64>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
            float::deserialize(d).map(Some)
        }
    }
}

//! One finished run, as stored in `runs/<study>/results.jsonl` (one JSON object per line) and
//! read back by reports, `merge` and `compare`. This is the contract between the sweep and
//! everything downstream of it: add fields with `#[serde(default)]`, never rename.

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
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Training accuracy in 0..=1 (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Test accuracy in 0..=1 (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Training mean squared error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_mse: Option<f64>,
    /// Test mean squared error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    pub learning_rate: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epochs asked for.
    pub epochs: usize,
    /// Fraction of training labels replaced by a different class.
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
    pub train_loss: f64,
    /// Final test loss.
    pub test_loss: f64,
    /// Final training accuracy (classification).
    #[serde(default)]
    pub train_accuracy: Option<f64>,
    /// Final test accuracy (classification).
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// Final training MSE (regression).
    #[serde(default)]
    pub train_mse: Option<f64>,
    /// Final test MSE (regression).
    #[serde(default)]
    pub test_mse: Option<f64>,
    /// Epochs actually run (fewer than `epochs` after early stopping or divergence).
    pub epochs_run: usize,
    /// Wall-clock seconds the run took.
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

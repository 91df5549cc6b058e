//! Training one grid point into a [`RunRecord`]: load its data, build the network, train,
//! optionally save the model, and record the curves and final figures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use depthlab_nn::{Activation, Loss, MlpConfig, OptimizerConfig, Schedule, TrainConfig};

use crate::data::{self, DataError, DataSpec, Dataset};
use crate::record::{EpochPoint, RunOutcome, RunRecord, Task};
use crate::study::{DatasetConfig, GridPoint, OptimizerKind, TrainSettings};

/// A run that could not be carried out (divergence is not an error: it is recorded).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The data could not be loaded or prepared.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The network could not be built, trained or saved.
    #[error("{id}: {source}")]
    Nn {
        /// The grid point.
        id: String,
        /// What depthlab-nn reported (boxed: it is large and errors are rare).
        source: Box<depthlab_nn::NnError>,
    },
    /// The saved model could not be moved into place.
    #[error("{}: {source}", path.display())]
    Io {
        /// The model file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The canonical name of an activation (as `depthlab_nn::Activation` prints it), or a message
/// naming the bad value and the valid ones.
///
/// # Errors
/// The message, when `name` is not an activation.
pub fn parse_activation(name: &str) -> Result<String, String> {
    name.parse::<Activation>()
        .map(|a| a.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a built-in dataset name against the catalog.
///
/// # Errors
/// A message naming the value and listing the built-in datasets.
pub fn check_dataset_name(name: &str) -> Result<(), String> {
    let catalog = data::catalog();
    if catalog.iter().any(|d| d.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = catalog.iter().map(|d| d.name).collect();
    Err(format!(
        "unknown dataset `{name}`; built-in datasets are {}, or give a path ending in .csv",
        names.join(", ")
    ))
}

/// The data module's description of the data one run trains on.
pub fn data_spec(ds: &DatasetConfig, seed: u64, train: &TrainSettings) -> DataSpec {
    DataSpec {
        name: ds.name.clone(),
        target: ds.target.clone(),
        n_samples: ds.n_samples,
        noise: ds.noise,
        test_fraction: ds.test_fraction,
        label_noise: train.label_noise,
        train_size: train.train_size,
        standardize: ds.standardize,
        seed,
        params: ds.params.clone(),
    }
}

/// The optimizer configuration for a run's settings.
pub fn optimizer_config(t: &TrainSettings) -> OptimizerConfig {
    match t.optimizer {
        OptimizerKind::Sgd => OptimizerConfig::Sgd {
            lr: t.learning_rate,
            momentum: t.momentum,
            nesterov: false,
            weight_decay: t.weight_decay,
        },
        OptimizerKind::Adam => OptimizerConfig::Adam {
            lr: t.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: t.weight_decay,
        },
        OptimizerKind::AdamW => OptimizerConfig::AdamW {
            lr: t.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: t.weight_decay,
        },
    }
}

/// Decides, once the data is loaded, whether and where to save a run's model.
pub type SaveModel<'a> = &'a dyn Fn(&Dataset) -> Option<ModelOut>;

/// Where to save a run's trained model.
#[derive(Debug, Clone)]
pub struct ModelOut {
    /// Absolute (or working-directory relative) file to write.
    pub path: PathBuf,
    /// What to store in the record's `model_path` (relative to the study directory).
    pub record_as: String,
}

/// Trains one grid point of study `study` on dataset `ds`. `save` gives where to write the
/// model (the caller decides by [`crate::study::SaveModels`]); it is written to a temporary
/// name and renamed, so a kill leaves no half-written model under the final name.
/// `on_epoch` sees each epoch's figures as they come.
///
/// # Errors
/// [`ExecError`] when the data cannot be loaded or the network cannot be built or trained.
pub fn execute(
    study: &str,
    point: &GridPoint,
    ds: &DatasetConfig,
    save: Option<SaveModel<'_>>,
    on_epoch: &mut dyn FnMut(&EpochPoint),
) -> Result<RunRecord, ExecError> {
    let start = Instant::now();
    let spec = data_spec(ds, point.seed, &point.train);
    let dataset = data::load(&spec)?;
    let nn_err = |source: depthlab_nn::NnError| ExecError::Nn {
        id: point.id.clone(),
        source: Box::new(source),
    };

    let activation: Activation = point.activation.parse().map_err(nn_err)?;
    let config = MlpConfig {
        input: dataset.n_features,
        hidden: vec![point.width; point.depth],
        output: dataset.n_outputs,
        activation,
        ..MlpConfig::default()
    };
    let mut model = config.build(point.seed).map_err(nn_err)?;
    let t = &point.train;
    let train_config = TrainConfig {
        epochs: t.epochs,
        batch_size: t.batch_size,
        loss: match dataset.task {
            Task::Classification => Loss::SoftmaxCrossEntropy,
            Task::Regression => Loss::Mse,
        },
        optimizer: optimizer_config(t),
        schedule: Schedule::Constant,
        seed: point.seed,
        patience: t.patience,
        shuffle: true,
    };
    // Grown as epochs come: patience or divergence may stop long before `epochs`.
    let mut curve = Vec::new();
    let report = depthlab_nn::train(&mut model, &dataset.data, &train_config, &mut |s| {
        let p = EpochPoint {
            epoch: s.epoch,
            train_loss: s.train_loss,
            test_loss: s.test_loss,
            train_accuracy: s.train_accuracy,
            test_accuracy: s.test_accuracy,
            train_mse: s.train_mse,
            test_mse: s.test_mse,
        };
        on_epoch(&p);
        curve.push(p);
    })
    .map_err(nn_err)?;

    let (outcome, diverged_epoch) = match report.outcome {
        depthlab_nn::Outcome::Diverged { epoch } => (RunOutcome::Diverged, Some(epoch)),
        _ => (RunOutcome::Ok, None),
    };
    let model_path = match save.and_then(|f| f(&dataset)) {
        Some(out) => {
            save_model(&model, &out.path).map_err(|e| match e {
                SaveError::Nn(source) => nn_err(source),
                SaveError::Io(source) => ExecError::Io {
                    path: out.path.clone(),
                    source,
                },
            })?;
            Some(out.record_as)
        }
        None => None,
    };
    let last = curve.last().cloned();
    let n_train = dataset.n_train();
    let n_test = dataset.n_test();
    Ok(RunRecord {
        id: point.id.clone(),
        index: point.index,
        study: study.to_string(),
        dataset: ds.name.clone(),
        task: dataset.task,
        depth: point.depth,
        width: point.width,
        activation: point.activation.clone(),
        seed: point.seed,
        optimizer: t.optimizer.name().to_string(),
        learning_rate: t.learning_rate,
        batch_size: t.batch_size,
        epochs: t.epochs,
        label_noise: t.label_noise,
        train_size: t.train_size,
        n_train,
        n_test,
        n_features: dataset.n_features,
        n_outputs: dataset.n_outputs,
        parameter_count: model.parameter_count(),
        train_loss: last.as_ref().map_or(f64::NAN, |p| p.train_loss),
        test_loss: last.as_ref().map_or(f64::NAN, |p| p.test_loss),
        train_accuracy: last.as_ref().and_then(|p| p.train_accuracy),
        test_accuracy: last.as_ref().and_then(|p| p.test_accuracy),
        train_mse: last.as_ref().and_then(|p| p.train_mse),
        test_mse: last.as_ref().and_then(|p| p.test_mse),
        epochs_run: report.epochs_run,
        wall_seconds: start.elapsed().as_secs_f64(),
        outcome,
        diverged_epoch,
        model_path,
        curve,
    })
}

enum SaveError {
    Nn(depthlab_nn::NnError),
    Io(std::io::Error),
}

fn save_model(model: &depthlab_nn::Mlp, path: &Path) -> Result<(), SaveError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(SaveError::Io)?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    depthlab_nn::save_safetensors(model, &tmp).map_err(SaveError::Nn)?;
    std::fs::rename(&tmp, path).map_err(SaveError::Io)
}

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

/// Decides, once the data is loaded, whether and where to save the model of a grid point.
pub type SaveModel<'a> = &'a dyn Fn(&Dataset, &GridPoint) -> Option<ModelOut>;

/// Whether two grid points train the very same network the very same way, so that one run's
/// result is the other's, bit for bit: a depth-0 model is one linear layer, which has
/// neither a width nor an activation, and everything else (data, seed, settings) is equal.
pub fn same_run(a: &GridPoint, b: &GridPoint) -> bool {
    a.depth == 0 && b.depth == 0 && a.dataset == b.dataset && a.seed == b.seed && a.train == b.train
}

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
    execute_shared(study, point, &[], ds, save, on_epoch).map(|(record, _)| record)
}

/// As [`execute`], and also records each of `twins` (grid points that are the [`same_run`]
/// as `point`) with the result of that one training: a twin's record differs only in its
/// grid position, id, width and activation, and its saved model (if any) in the architecture
/// its metadata names.
///
/// # Errors
/// As [`execute`]; a twin whose model cannot be saved fails the whole call.
pub fn execute_shared(
    study: &str,
    point: &GridPoint,
    twins: &[GridPoint],
    ds: &DatasetConfig,
    save: Option<SaveModel<'_>>,
    on_epoch: &mut dyn FnMut(&EpochPoint),
) -> Result<(RunRecord, Vec<RunRecord>), ExecError> {
    debug_assert!(twins.iter().all(|t| same_run(point, t)));
    let start = Instant::now();
    let spec = data_spec(ds, point.seed, &point.train);
    let dataset = data::load(&spec)?;
    let nn_err = |p: &GridPoint| {
        let id = p.id.clone();
        move |source: depthlab_nn::NnError| ExecError::Nn {
            id,
            source: Box::new(source),
        }
    };

    let activation: Activation = point.activation.parse().map_err(nn_err(point))?;
    let config = MlpConfig {
        input: dataset.n_features,
        hidden: vec![point.width; point.depth],
        output: dataset.n_outputs,
        activation,
        ..MlpConfig::default()
    };
    let mut model = config.build(point.seed).map_err(nn_err(point))?;
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
    .map_err(nn_err(point))?;

    let (outcome, diverged_epoch) = match report.outcome {
        depthlab_nn::Outcome::Diverged { epoch } => (RunOutcome::Diverged, Some(epoch)),
        _ => (RunOutcome::Ok, None),
    };
    let last = curve.last().cloned();
    // The record of one grid point holding this training's result, with `model` saved for it.
    let record = |p: &GridPoint, model: &depthlab_nn::Mlp| -> Result<RunRecord, ExecError> {
        let model_path = match save.and_then(|f| f(&dataset, p)) {
            Some(out) => {
                save_model(model, &out.path).map_err(|e| match e {
                    SaveError::Nn(source) => nn_err(p)(source),
                    SaveError::Io(source) => ExecError::Io {
                        path: out.path.clone(),
                        source,
                    },
                })?;
                Some(out.record_as)
            }
            None => None,
        };
        Ok(RunRecord {
            id: p.id.clone(),
            index: p.index,
            study: study.to_string(),
            dataset: ds.name.clone(),
            task: dataset.task,
            depth: p.depth,
            width: p.width,
            activation: p.activation.clone(),
            seed: p.seed,
            optimizer: t.optimizer.name().to_string(),
            learning_rate: t.learning_rate,
            batch_size: t.batch_size,
            epochs: t.epochs,
            label_noise: t.label_noise,
            train_size: t.train_size,
            n_train: dataset.n_train(),
            n_test: dataset.n_test(),
            n_features: dataset.n_features,
            n_outputs: dataset.n_outputs,
            parameter_count: model.parameter_count(),
            train_loss: last.as_ref().map_or(f64::NAN, |e| e.train_loss),
            test_loss: last.as_ref().map_or(f64::NAN, |e| e.test_loss),
            train_accuracy: last.as_ref().and_then(|e| e.train_accuracy),
            test_accuracy: last.as_ref().and_then(|e| e.test_accuracy),
            train_mse: last.as_ref().and_then(|e| e.train_mse),
            test_mse: last.as_ref().and_then(|e| e.test_mse),
            epochs_run: report.epochs_run,
            wall_seconds: start.elapsed().as_secs_f64(),
            outcome,
            diverged_epoch,
            model_path,
            curve: curve.clone(),
        })
    };
    let first = record(point, &model)?;
    let mut shared = Vec::with_capacity(twins.len());
    for twin in twins {
        // Same layers; only the architecture the saved file describes changes.
        let activation: Activation = twin.activation.parse().map_err(nn_err(twin))?;
        let config = MlpConfig {
            hidden: vec![twin.width; twin.depth],
            activation,
            ..model.config().clone()
        };
        let twin_model =
            depthlab_nn::Mlp::from_layers(config, model.layers().to_vec()).map_err(nn_err(twin))?;
        let mut r = record(twin, &twin_model)?;
        // The time it took to reach this result, not the microseconds of copying it.
        r.wall_seconds = first.wall_seconds;
        shared.push(r);
    }
    Ok((first, shared))
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

//! The training loop: seeded shuffling, mini-batches, per-epoch metrics, learning-rate
//! schedule, early stopping and divergence detection.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{NnError, shape2};
use crate::float::Float;
use crate::loss::{BatchTargets, Loss};
use crate::matrix::Matrix;
use crate::mlp::Mlp;
use crate::optim::{OptimizerConfig, Schedule};
use crate::trainer::Trainer;

/// What the network should output for each row.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets<T = f32> {
    /// One class index in `0..n_classes` per row.
    Classes {
        /// The label of each row.
        labels: Vec<usize>,
        /// Number of classes.
        n_classes: usize,
    },
    /// One row of target values per row (regression), `rows × outputs`.
    Values(Matrix<T>),
}

impl<T: Float> Targets<T> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(m) => m.rows(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `start..start + rows`, borrowed.
    ///
    /// # Panics
    /// When the range goes past the end.
    pub fn batch(&self, start: usize, rows: usize) -> BatchTargets<'_, T> {
        match self {
            Targets::Classes { labels, .. } => BatchTargets::Classes(&labels[start..start + rows]),
            Targets::Values(m) => {
                BatchTargets::Values(&m.as_slice()[start * m.cols()..(start + rows) * m.cols()])
            }
        }
    }

    /// Checks these targets suit `rows` inputs, a model with `outputs` outputs and `loss`.
    fn check(&self, set: &str, rows: usize, outputs: usize, loss: Loss) -> Result<(), NnError> {
        if self.len() != rows {
            return Err(NnError::Shape {
                what: format!("{set} rows vs x rows"),
                expected: rows.to_string(),
                found: self.len().to_string(),
            });
        }
        match self {
            Targets::Classes { labels, n_classes } => {
                loss.check_classes(outputs, *n_classes)?;
                check_labels(set, labels, *n_classes)?;
            }
            Targets::Values(m) => {
                if m.cols() != outputs {
                    return Err(NnError::Shape {
                        what: format!("{set} columns vs model outputs"),
                        expected: shape2(m.rows(), outputs),
                        found: shape2(m.rows(), m.cols()),
                    });
                }
                check_finite(set, m.as_slice(), m.cols())?;
            }
        }
        Ok(())
    }
}

/// The first label of `set` that is not below `n_classes`, as [`NnError::LabelOutOfRange`].
fn check_labels(set: &str, labels: &[usize], n_classes: usize) -> Result<(), NnError> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(row) => Err(NnError::LabelOutOfRange {
            set: set.to_string(),
            row,
            label: labels[row],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// The first non-finite value of row-major `values` (`cols` per row) as
/// [`NnError::InvalidValue`] naming `set`, the row and the column.
///
/// A NaN target would otherwise reach the loss and end the run as [`Outcome::Diverged`],
/// blaming the optimisation for what is bad data.
pub(crate) fn check_finite<T: Float>(set: &str, values: &[T], cols: usize) -> Result<(), NnError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(NnError::InvalidValue {
            // A value exists, so `cols` is at least 1.
            field: format!("{set} target at row {}, column {}", k / cols, k % cols),
            value: values[k].to_string(),
            reason: "targets must be finite numbers".into(),
        }),
        None => Ok(()),
    }
}

/// A train/test split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainData<T = f32> {
    /// Training inputs, samples × features.
    pub x_train: Matrix<T>,
    /// Training targets.
    pub y_train: Targets<T>,
    /// Test inputs (may have zero rows).
    pub x_test: Matrix<T>,
    /// Test targets.
    pub y_test: Targets<T>,
}

impl<T: Float> TrainData<T> {
    /// A split whose parts agree with each other: row counts of inputs and targets, feature
    /// counts of train and test, label ranges, finite target values, and target kinds and
    /// widths.
    ///
    /// # Errors
    /// [`NnError::Shape`] naming both shapes, [`NnError::LabelOutOfRange`], or
    /// [`NnError::InvalidValue`] naming the row and column of a NaN or infinite target value.
    pub fn new(
        x_train: Matrix<T>,
        y_train: Targets<T>,
        x_test: Matrix<T>,
        y_test: Targets<T>,
    ) -> Result<Self, NnError> {
        if x_train.cols() != x_test.cols() {
            return Err(NnError::Shape {
                what: "x_test features vs x_train features".into(),
                expected: shape2(x_test.rows(), x_train.cols()),
                found: shape2(x_test.rows(), x_test.cols()),
            });
        }
        for (set, x, y) in [
            ("y_train", &x_train, &y_train),
            ("y_test", &x_test, &y_test),
        ] {
            if y.len() != x.rows() {
                return Err(NnError::Shape {
                    what: format!("{set} rows vs x rows"),
                    expected: x.rows().to_string(),
                    found: y.len().to_string(),
                });
            }
            match y {
                Targets::Classes { labels, n_classes } => check_labels(set, labels, *n_classes)?,
                Targets::Values(m) => check_finite(set, m.as_slice(), m.cols())?,
            }
        }
        check_same_kind(&y_train, &y_test)?;
        Ok(Self {
            x_train,
            y_train,
            x_test,
            y_test,
        })
    }

    /// Checks the split against a model and loss, naming both shapes on a mismatch, and
    /// everything [`TrainData::new`] checks.
    ///
    /// # Errors
    /// [`NnError::Shape`], [`NnError::LabelOutOfRange`], [`NnError::IncompatibleTargets`],
    /// [`NnError::InvalidValue`] (a non-finite target value) or [`NnError::Empty`] (no training
    /// rows).
    pub fn validate(&self, model: &Mlp<T>, loss: Loss) -> Result<(), NnError> {
        let (input, output) = (model.input_dim(), model.output_dim());
        for (name, x) in [("x_train", &self.x_train), ("x_test", &self.x_test)] {
            if x.cols() != input {
                return Err(NnError::Shape {
                    what: format!("{name} vs model input ({input} features)"),
                    expected: shape2(x.rows(), input),
                    found: shape2(x.rows(), x.cols()),
                });
            }
        }
        if self.x_train.rows() == 0 {
            return Err(NnError::Empty {
                what: "x_train".into(),
            });
        }
        // The fields are public, so a split built without `new` reaches here unchecked; test
        // values scored against class labels (or the reverse) would give meaningless metrics.
        // Checked before the per-set checks so a mismatch gets the error `new` gives.
        check_same_kind(&self.y_train, &self.y_test)?;
        self.y_train
            .check("y_train", self.x_train.rows(), output, loss)?;
        self.y_test
            .check("y_test", self.x_test.rows(), output, loss)
    }
}

/// Test targets of the same kind and width as the training targets.
fn check_same_kind<T: Float>(y_train: &Targets<T>, y_test: &Targets<T>) -> Result<(), NnError> {
    match (y_train, y_test) {
        (Targets::Classes { n_classes: a, .. }, Targets::Classes { n_classes: b, .. })
            if a != b =>
        {
            Err(NnError::Shape {
                what: "y_test classes vs y_train classes".into(),
                expected: a.to_string(),
                found: b.to_string(),
            })
        }
        (Targets::Values(a), Targets::Values(b)) if a.cols() != b.cols() => Err(NnError::Shape {
            what: "y_test columns vs y_train columns".into(),
            expected: shape2(b.rows(), a.cols()),
            found: shape2(b.rows(), b.cols()),
        }),
        (Targets::Classes { .. }, Targets::Values(_))
        | (Targets::Values(_), Targets::Classes { .. }) => Err(NnError::Shape {
            what: "y_test kind vs y_train kind".into(),
            expected: kind(y_train).into(),
            found: kind(y_test).into(),
        }),
        _ => Ok(()),
    }
}

fn kind<T>(t: &Targets<T>) -> &'static str {
    match t {
        Targets::Classes { .. } => "class labels",
        Targets::Values(_) => "values",
    }
}

/// How to train.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Rows per mini-batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Loss to minimise.
    pub loss: Loss,
    /// Optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over epochs.
    pub schedule: Schedule,
    /// Seed of the shuffling RNG.
    pub seed: u64,
    /// Stop after this many epochs without a new best test loss. Needs a non-empty test set
    /// ([`train`] refuses early stopping without one).
    pub patience: Option<usize>,
    /// Shuffle the training rows every epoch (otherwise batches keep the data's order).
    pub shuffle: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            loss: Loss::SoftmaxCrossEntropy,
            optimizer: OptimizerConfig::sgd(0.1),
            schedule: Schedule::Constant,
            seed: 0,
            patience: None,
            shuffle: true,
        }
    }
}

impl TrainConfig {
    /// Checks batch size, patience, optimizer and schedule, and that the schedule's learning
    /// rate stays finite for every epoch.
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] naming the field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.batch_size == 0 {
            return Err(NnError::InvalidValue {
                field: "batch_size".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        if self.patience == Some(0) {
            return Err(NnError::InvalidValue {
                field: "patience".into(),
                value: "0".into(),
                reason: "must be at least 1 epoch (or none)".into(),
            });
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        // A step schedule with γ > 1 grows the rate every `every` epochs; the last epoch has
        // the largest, and once it overflows the trainer would refuse it mid-run.
        let base = self.optimizer.lr();
        let last = self.schedule.lr_at(base, self.epochs.saturating_sub(1));
        if !last.is_finite() {
            return Err(NnError::InvalidValue {
                field: "step schedule gamma".into(),
                value: match self.schedule {
                    Schedule::Step { gamma, .. } => gamma.to_string(),
                    _ => format!("{:?}", self.schedule),
                },
                reason: format!(
                    "the learning rate {base} grows to {last} by epoch {}",
                    self.epochs
                ),
            });
        }
        Ok(())
    }
}

/// Metrics after one epoch, evaluated on the whole train and test sets with the weights as
/// they are at the end of the epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean test loss (NaN when the test set is empty).
    pub test_loss: f64,
    /// Training accuracy (class targets).
    pub train_accuracy: Option<f64>,
    /// Test accuracy (class targets).
    pub test_accuracy: Option<f64>,
    /// Training MSE over every output (value targets).
    pub train_mse: Option<f64>,
    /// Test MSE (value targets).
    pub test_mse: Option<f64>,
    /// Learning rate used during this epoch.
    pub lr: f64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// All epochs ran.
    Completed,
    /// The test loss had not improved for `patience` epochs after `epoch`.
    EarlyStopped {
        /// The last epoch run.
        epoch: usize,
    },
    /// A loss or a parameter became NaN or infinite during `epoch`. The parameters are those
    /// before the step whose loss was not finite (the epoch's last ones when only the
    /// evaluation after it overflowed); when an update itself overflowed (its loss, taken
    /// before it, was finite), those at the start of `epoch`. Either way no parameter is NaN
    /// or infinite unless one was when training began.
    Diverged {
        /// The epoch in which it happened.
        epoch: usize,
    },
}

/// Everything a run produced besides the trained model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainReport {
    /// One entry per epoch run (a diverged epoch included).
    pub history: Vec<EpochStats>,
    /// How the run ended.
    pub outcome: Outcome,
    /// Epochs run (counting a diverged one).
    pub epochs_run: usize,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// Trains `model` in place on `data`, calling `on_epoch` after each epoch.
///
/// Every epoch shuffles the row order with `ChaCha8Rng::seed_from_u64(cfg.seed)` (one stream
/// for the whole run), walks it in batches of `batch_size` (the last one smaller), and then
/// evaluates the whole train and test sets. Results depend only on the seeds, not on the
/// thread count.
///
/// # Errors
/// Invalid settings or shapes that disagree ([`TrainData::validate`]);
/// [`NnError::InvalidValue`] for `patience` with an empty test set; never for a diverging
/// run, which is [`Outcome::Diverged`].
pub fn train<T: Float>(
    model: &mut Mlp<T>,
    data: &TrainData<T>,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainReport, NnError> {
    cfg.validate()?;
    data.validate(model, cfg.loss)?;
    // Without test rows the test loss is NaN, never an improvement, so early stopping would
    // end every run after exactly `patience` epochs whatever the model does.
    if let Some(p) = cfg.patience
        && data.x_test.rows() == 0
    {
        return Err(NnError::InvalidValue {
            field: "patience".into(),
            value: p.to_string(),
            reason: "early stopping monitors the test loss and needs a non-empty test set \
                     (x_test has 0 rows); set patience to none or supply test data"
                .into(),
        });
    }
    let n = data.x_train.rows();
    let batch = cfg.batch_size.min(n);
    let (input, output) = (model.input_dim(), model.output_dim());
    let mut trainer = Trainer::new(model, batch, cfg.loss, cfg.optimizer)?;
    let mut xb = Matrix::<T>::with_row_capacity(batch, input);
    let mut labels_b: Vec<usize> = Vec::with_capacity(batch);
    let value_cols = match &data.y_train {
        Targets::Values(_) => output,
        Targets::Classes { .. } => 0,
    };
    let mut values_b = Matrix::<T>::with_row_capacity(batch, value_cols);
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut history = Vec::with_capacity(cfg.epochs.min(1024)); // patience may stop far sooner
    let mut best = f64::INFINITY;
    let mut since_best = 0usize;
    let base_lr = cfg.optimizer.lr();
    // The parameters as they were when the current epoch began, to fall back on when an
    // update overflows (allocated once; refilled in place every epoch).
    let mut start_params: Vec<T> = Vec::with_capacity(model.parameter_count());

    for epoch in 1..=cfg.epochs {
        let lr = cfg.schedule.lr_at(base_lr, epoch - 1);
        trainer.set_lr(lr)?;
        start_params.clear();
        for layer in model.layers() {
            start_params.extend_from_slice(layer.weight().as_slice());
            start_params.extend_from_slice(layer.bias().unwrap_or_default());
        }
        if cfg.shuffle {
            shuffle(&mut order, &mut rng);
        }
        let mut diverged_loss = None;
        for idx in order.chunks(batch) {
            xb.set_rows(idx.len());
            for (dst, &i) in xb.as_mut_slice().chunks_exact_mut(input).zip(idx) {
                dst.copy_from_slice(data.x_train.row(i));
            }
            let targets = match &data.y_train {
                Targets::Classes { labels, .. } => {
                    labels_b.clear();
                    labels_b.extend(idx.iter().map(|&i| labels[i]));
                    BatchTargets::Classes(&labels_b)
                }
                Targets::Values(m) => {
                    values_b.set_rows(idx.len());
                    for (dst, &i) in values_b.as_mut_slice().chunks_exact_mut(output).zip(idx) {
                        dst.copy_from_slice(m.row(i));
                    }
                    BatchTargets::Values(values_b.as_slice())
                }
            };
            let loss = trainer.step(model, &xb, targets)?;
            if !loss.is_finite() {
                diverged_loss = Some(loss);
                break;
            }
        }
        // A step checks the loss of the parameters it starts from, so an update that itself
        // overflows (a huge rate times a huge gradient) passes with a finite loss and leaves
        // NaN or infinite parameters behind. The epoch then diverged, and the model goes back
        // to its start rather than ending the run unusable.
        if !parameters_finite(model) {
            restore_parameters(model, &start_params);
            diverged_loss.get_or_insert(f64::NAN);
        }
        let tr = trainer.evaluate(model, &data.x_train, &data.y_train)?;
        let te = if data.x_test.rows() > 0 {
            trainer.evaluate(model, &data.x_test, &data.y_test)?
        } else {
            crate::trainer::Metrics {
                loss: f64::NAN,
                accuracy: None,
                mse: None,
            }
        };
        let stats = EpochStats {
            epoch,
            train_loss: diverged_loss.unwrap_or(tr.loss),
            test_loss: te.loss,
            train_accuracy: tr.accuracy,
            test_accuracy: te.accuracy,
            train_mse: tr.mse,
            test_mse: te.mse,
            lr,
        };
        on_epoch(&stats);
        let train_loss = stats.train_loss;
        history.push(stats);
        if !train_loss.is_finite() {
            return Ok(report(history, Outcome::Diverged { epoch }, &trainer));
        }
        if let Some(patience) = cfg.patience {
            if te.loss < best {
                best = te.loss;
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= patience {
                    return Ok(report(history, Outcome::EarlyStopped { epoch }, &trainer));
                }
            }
        }
    }
    Ok(report(history, Outcome::Completed, &trainer))
}

/// Whether every weight and bias of `model` is finite.
fn parameters_finite<T: Float>(model: &Mlp<T>) -> bool {
    model.layers().iter().all(|l| {
        let bias = l.bias().unwrap_or_default();
        l.weight()
            .as_slice()
            .iter()
            .chain(bias)
            .all(|v| v.is_finite())
    })
}

/// Copies `params` (every layer's weight then bias, in order) back into `model`.
fn restore_parameters<T: Float>(model: &mut Mlp<T>, params: &[T]) {
    let mut rest = params;
    for (weight, bias) in model.parameters_mut() {
        let (w, tail) = rest.split_at(weight.len());
        weight.copy_from_slice(w);
        rest = tail;
        if let Some(bias) = bias {
            let (b, tail) = rest.split_at(bias.len());
            bias.copy_from_slice(b);
            rest = tail;
        }
    }
}

fn report<T: Float>(
    history: Vec<EpochStats>,
    outcome: Outcome,
    trainer: &Trainer<T>,
) -> TrainReport {
    TrainReport {
        epochs_run: history.len(),
        history,
        outcome,
        steps: trainer.steps(),
    }
}

/// Fisher–Yates, drawing each swap partner from the seeded stream.
fn shuffle(order: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

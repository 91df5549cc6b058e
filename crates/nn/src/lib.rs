//! # depthlab-nn
//!
//! Fully connected networks on depthlab-gemm: [`Linear`] layers (`Y = X·Wᵀ + b`),
//! element-wise [`Activation`]s, the [`Mlp`] builder, [`Loss`]es on logits, optimizers
//! ([`OptimizerConfig`]: SGD with momentum/Nesterov, Adam, AdamW) with learning-rate
//! [`Schedule`]s, a [`Trainer`] whose steady-state step allocates nothing, the [`train`] loop,
//! and safetensors I/O with PyTorch `state_dict` names.
//!
//! Everything is generic over the element type ([`Float`]: `f32` or `f64`) through one code
//! path; `f32` is the default type parameter.
//!
//! ```
//! use depthlab_nn::{Activation, Matrix, MlpConfig, Targets, TrainConfig, TrainData, train};
//! // XOR: four points, two classes.
//! let x = Matrix::new(4, 2, vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
//! let y = Targets::Classes { labels: vec![0, 1, 1, 0], n_classes: 2 };
//! let data = TrainData { x_train: x.clone(), y_train: y.clone(), x_test: x, y_test: y };
//! let cfg = MlpConfig { activation: Activation::Tanh, ..MlpConfig::new(2, vec![8], 2) };
//! let mut model = cfg.build(7)?;
//! let train_cfg = TrainConfig { epochs: 300, batch_size: 4, ..TrainConfig::default() };
//! let report = train(&mut model, &data, &train_cfg, &mut |_| {})?;
//! assert_eq!(report.history.last().unwrap().train_accuracy, Some(1.0));
//! # Ok::<(), depthlab_nn::NnError>(())
//! ```

mod activation;
mod aligned;
mod error;
mod fastmath;
mod float;
mod init;
mod io;
mod linear;
mod loss;
mod matrix;
mod mlp;
mod optim;
mod parallel;
mod train;
mod trainer;

pub use activation::{Activation, ELU_DEFAULT_ALPHA, LEAKY_RELU_DEFAULT_ALPHA};
pub use error::NnError;
pub use float::Float;
pub use init::Init;
pub use io::{
    CONFIG_KEY, MODULES_KEY, load_matrix, load_safetensors, load_safetensors_as,
    load_safetensors_into, save_matrices, save_safetensors,
};
pub use linear::{Linear, LinearGrads};
pub use loss::{BatchTargets, Loss};
pub use matrix::Matrix;
pub use mlp::{Mlp, MlpConfig};
pub use optim::{OptimizerConfig, Schedule};
pub use train::{EpochStats, Outcome, Targets, TrainConfig, TrainData, TrainReport, train};
pub use trainer::{Metrics, Trainer};

//! The multi-layer perceptron: `Linear → act → Linear → act → … → Linear`.
//!
//! A network of depth `d` has `d` hidden layers and `d + 1` [`Linear`] layers; the activation
//! follows every hidden layer and the last layer's output is left raw (logits or regression
//! values), exactly like PyTorch's
//! `nn.Sequential(nn.Linear(i, h1), act, nn.Linear(h1, h2), act, …, nn.Linear(hd, o))`.
//! Depth 0 is the linear model `y = x·Wᵀ + b`.

use std::iter;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::activation::Activation;
use crate::error::{NnError, shape2};
use crate::float::Float;
use crate::init::Init;
use crate::linear::{Linear, affine, bias_activation};
use crate::matrix::{Matrix, fits_in_memory, try_filled};
use crate::parallel::par_for;

/// Bytes per element of the widest [`Float`] (`f64`), in which [`MlpConfig::build_as`] also
/// draws every initial value: a configuration must fit in memory at that width.
const WIDEST_FLOAT_BYTES: usize = 8;

/// Architecture of an [`Mlp`]: widths, activation, initialisation, bias.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpConfig {
    /// Input features.
    pub input: usize,
    /// Hidden layer widths, first to last; `hidden.len()` is the depth.
    pub hidden: Vec<usize>,
    /// Output units (classes for softmax cross-entropy).
    pub output: usize,
    /// Activation after every hidden layer.
    pub activation: Activation,
    /// How parameters are first drawn.
    pub init: Init,
    /// Whether every Linear layer has a bias.
    pub bias: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            input: 1,
            hidden: Vec::new(),
            output: 1,
            activation: Activation::Relu,
            init: Init::PyTorch,
            bias: true,
        }
    }
}

impl MlpConfig {
    /// A ReLU network with PyTorch initialisation and biases.
    pub fn new(input: usize, hidden: Vec<usize>, output: usize) -> Self {
        Self {
            input,
            hidden,
            output,
            ..Self::default()
        }
    }

    /// Number of hidden layers.
    pub fn depth(&self) -> usize {
        self.hidden.len()
    }

    /// `(in_features, out_features)` of each Linear layer, first to last.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        self.dims().collect()
    }

    /// [`MlpConfig::layer_dims`] without allocating.
    pub(crate) fn dims(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let widths = || {
            iter::once(self.input)
                .chain(self.hidden.iter().copied())
                .chain(iter::once(self.output))
        };
        widths().zip(widths().skip(1))
    }

    /// Exact number of trainable scalars: `Σ (in·out + out)` (no `out` term without bias).
    ///
    /// A configuration whose count does not fit in `usize` cannot be built
    /// ([`MlpConfig::validate`] rejects it); for one, this saturates at `usize::MAX`.
    pub fn parameter_count(&self) -> usize {
        self.dims()
            .map(|(i, o)| {
                i.saturating_mul(o)
                    .saturating_add(if self.bias { o } else { 0 })
            })
            .fold(0, usize::saturating_add)
    }

    /// Checks every width is positive, every layer fits in memory as `f64`, the parameter
    /// count fits in `usize`, and the activation's parameter is finite.
    ///
    /// # Errors
    /// [`NnError::ZeroWidth`] naming the layer, or [`NnError::InvalidValue`] naming the layer
    /// too large to allocate, the parameter count, or the activation.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.input == 0 {
            return Err(NnError::ZeroWidth {
                layer: "input".into(),
            });
        }
        if let Some(i) = self.hidden.iter().position(|&w| w == 0) {
            return Err(NnError::ZeroWidth {
                layer: format!("hidden layer {} (of {})", i + 1, self.hidden.len()),
            });
        }
        if self.output == 0 {
            return Err(NnError::ZeroWidth {
                layer: "output".into(),
            });
        }
        let mut total = 0usize;
        for (l, (i, o)) in self.dims().enumerate() {
            // A weight within isize::MAX bytes keeps `in·out + out` within usize as well.
            let size = i
                .checked_mul(o)
                .filter(|&n| fits_in_memory(n, WIDEST_FLOAT_BYTES));
            let Some(size) = size else {
                return Err(NnError::InvalidValue {
                    field: format!("Linear layer {l} size (out x in)"),
                    value: shape2(o, i),
                    reason: format!(
                        "{} weights of {WIDEST_FLOAT_BYTES} bytes exceed the isize::MAX bytes \
                         one allocation can hold",
                        (i as u128) * (o as u128)
                    ),
                });
            };
            let layer = size + if self.bias { o } else { 0 };
            total = total
                .checked_add(layer)
                .ok_or_else(|| NnError::InvalidValue {
                    field: "parameter count".into(),
                    value: format!("more than {} at Linear layer {l}", usize::MAX),
                    reason: "must fit in usize".into(),
                })?;
        }
        self.activation.validate()
    }

    /// Builds an `f32` network with parameters drawn from `seed` (see [`Init`]).
    ///
    /// # Errors
    /// As [`MlpConfig::build_as`].
    pub fn build(&self, seed: u64) -> Result<Mlp<f32>, NnError> {
        self.build_as(seed)
    }

    /// Builds a network of any float type; an `f64` and an `f32` network from one seed hold
    /// the same draws, rounded.
    ///
    /// # Errors
    /// As [`MlpConfig::validate`], and [`NnError::InvalidValue`] naming a layer whose
    /// parameters cannot be allocated.
    pub fn build_as<T: Float>(&self, seed: u64) -> Result<Mlp<T>, NnError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = self
            .dims()
            .enumerate()
            .map(|(l, (i, o))| {
                // Valid sizes can still be more than the machine has; that is an error, not
                // an abort.
                let mut w = try_filled(i * o, 0.0f64).ok_or_else(|| NnError::InvalidValue {
                    field: format!("Linear layer {l} size (out x in)"),
                    value: shape2(o, i),
                    reason: format!("cannot allocate {} weights", i * o),
                })?;
                let mut b = self.bias.then(|| vec![0.0f64; o]);
                self.init.fill(&mut rng, i, o, &mut w, b.as_deref_mut());
                let weight = Matrix::new(o, i, w.into_iter().map(T::from_f64).collect())?;
                Linear::new(weight, b.map(|b| b.into_iter().map(T::from_f64).collect()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mlp {
            config: self.clone(),
            layers,
        })
    }
}

/// A trained or freshly initialised multi-layer perceptron.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp<T = f32> {
    config: MlpConfig,
    layers: Vec<Linear<T>>,
}

impl<T: Float> Mlp<T> {
    /// Assembles a network from explicit layers, checking they match `config`.
    ///
    /// # Errors
    /// [`NnError::Shape`] naming the first layer whose weight or bias disagrees.
    pub fn from_layers(config: MlpConfig, layers: Vec<Linear<T>>) -> Result<Self, NnError> {
        config.validate()?;
        check_layers(&config, &layers)?;
        Ok(Self { config, layers })
    }

    /// The architecture.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// The Linear layers, first to last.
    pub fn layers(&self) -> &[Linear<T>] {
        &self.layers
    }

    /// The Linear layers, mutable, for the crate's own in-place updates. Not public: a layer
    /// replaced whole could change shape and break the model's agreement with its config.
    pub(crate) fn layers_mut(&mut self) -> &mut [Linear<T>] {
        &mut self.layers
    }

    /// Each layer's weight values (out × in, row-major) and bias, mutable in place: the
    /// shapes stay those of [`Mlp::config`].
    pub fn parameters_mut(&mut self) -> impl Iterator<Item = (&mut [T], Option<&mut [T]>)> {
        self.layers.iter_mut().map(Linear::parameters_mut)
    }

    /// Number of hidden layers.
    pub fn depth(&self) -> usize {
        self.config.depth()
    }

    /// Input features.
    pub fn input_dim(&self) -> usize {
        self.config.input
    }

    /// Output units.
    pub fn output_dim(&self) -> usize {
        self.config.output
    }

    /// Exact number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(Linear::parameter_count).sum()
    }

    /// The same network in another float type.
    pub fn cast<U: Float>(&self) -> Mlp<U> {
        Mlp {
            config: self.config.clone(),
            layers: self.layers.iter().map(Linear::cast).collect(),
        }
    }

    /// Raw outputs (logits for classification) for every row of `x`. Allocates its result;
    /// use [`crate::Trainer::evaluate`] for allocation-free evaluation.
    ///
    /// # Errors
    /// [`NnError::Shape`] when `x` does not have [`Mlp::input_dim`] columns;
    /// [`NnError::InvalidValue`] when a layer's output for this many rows cannot be allocated.
    pub fn predict(&self, x: &Matrix<T>) -> Result<Matrix<T>, NnError> {
        self.check_input("predict input columns vs model input", x)?;
        let last = self.layers.len() - 1;
        let mut cur: Option<Matrix<T>> = None;
        for (l, layer) in self.layers.iter().enumerate() {
            let input = cur.as_ref().unwrap_or(x);
            let mut out = Matrix::try_with_row_capacity(x.rows(), layer.out_features())
                .ok_or_else(|| NnError::InvalidValue {
                    field: "predict input rows".into(),
                    value: x.rows().to_string(),
                    reason: format!(
                        "layer {l}'s {} output cannot be allocated",
                        shape2(x.rows(), layer.out_features())
                    ),
                })?;
            let par = par_for(x.rows(), layer.in_features(), layer.out_features());
            affine(par, input.view(), layer.weight(), out.view_mut())?;
            let act = if l == last {
                Activation::Identity
            } else {
                self.config.activation
            };
            bias_activation(
                act,
                layer.bias(),
                out.as_mut_slice(),
                None,
                layer.out_features(),
            );
            cur = Some(out);
        }
        Ok(cur.unwrap_or_else(|| x.clone()))
    }

    /// Predicted class per row: argmax of the outputs, or `output > threshold` for a single
    /// output (use 0 for logits, 0.5 for regression onto 0/1).
    ///
    /// # Errors
    /// As [`Mlp::predict`].
    pub fn predict_classes(&self, x: &Matrix<T>, threshold: T) -> Result<Vec<usize>, NnError> {
        let out = self.predict(x)?;
        Ok((0..out.rows())
            .map(|i| crate::loss::predicted_class(out.row(i), threshold))
            .collect())
    }

    pub(crate) fn check_input(&self, what: &str, x: &Matrix<T>) -> Result<(), NnError> {
        if x.cols() != self.config.input {
            return Err(NnError::Shape {
                what: what.to_string(),
                expected: format!("{}x{}", x.rows(), self.config.input),
                found: shape2(x.rows(), x.cols()),
            });
        }
        Ok(())
    }
}

/// The first layer whose weight shape or bias presence disagrees with `config`, as
/// [`NnError::Shape`]. Allocates nothing unless it fails.
fn check_layers<T: Float>(config: &MlpConfig, layers: &[Linear<T>]) -> Result<(), NnError> {
    let n = config.hidden.len() + 1;
    if layers.len() != n {
        return Err(NnError::Shape {
            what: "number of Linear layers (depth + 1)".into(),
            expected: n.to_string(),
            found: layers.len().to_string(),
        });
    }
    for (l, ((i, o), layer)) in config.dims().zip(layers).enumerate() {
        if layer.weight().shape() != (o, i) {
            return Err(NnError::Shape {
                what: format!("layer {l} weight (out x in)"),
                expected: shape2(o, i),
                found: shape2(layer.out_features(), layer.in_features()),
            });
        }
        if layer.bias().is_some() != config.bias {
            return Err(NnError::Shape {
                what: format!("layer {l} bias"),
                expected: if config.bias { "present" } else { "absent" }.into(),
                found: if layer.bias().is_some() {
                    "present"
                } else {
                    "absent"
                }
                .into(),
            });
        }
    }
    Ok(())
}

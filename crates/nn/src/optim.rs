//! Optimizers (SGD with momentum/Nesterov, Adam, AdamW) and learning-rate schedules.
//!
//! The update rules are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`, with `dampening = 0`),
//! applied to every parameter including biases. With `g = ∇θ`, step `t` (from 1), rate `η`:
//! - SGD: `g ← g + λθ`; with momentum `μ > 0`: `v ← μv + g` (`v₁ = g`), then `g ← g + μv`
//!   (Nesterov) or `g ← v`; finally `θ ← θ - ηg`.
//! - Adam: `g ← g + λθ`; `m ← β₁m + (1-β₁)g`; `v ← β₂v + (1-β₂)g²`;
//!   `θ ← θ - (η/(1-β₁ᵗ))·m/(√v/√(1-β₂ᵗ) + ε)`.
//! - AdamW: `θ ← θ(1 - ηλ)` first (decoupled decay), then Adam without the `λθ` term.

use std::fmt;

use depthlab_gemm::{VectorTask, with_vector_isa};

use crate::error::NnError;
use crate::float::Float;

/// Which optimizer, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent.
    Sgd {
        /// Learning rate η.
        lr: f64,
        /// Momentum μ (0 disables it).
        momentum: f64,
        /// Nesterov momentum (needs `momentum > 0`).
        nesterov: bool,
        /// L2 penalty λ added to the gradient.
        weight_decay: f64,
    },
    /// Adam with L2 penalty added to the gradient.
    Adam {
        /// Learning rate η.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Denominator guard ε.
        eps: f64,
        /// L2 penalty λ added to the gradient.
        weight_decay: f64,
    },
    /// Adam with decoupled weight decay.
    AdamW {
        /// Learning rate η.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Denominator guard ε.
        eps: f64,
        /// Decoupled decay λ: `θ ← θ(1 - ηλ)` each step.
        weight_decay: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::sgd(0.1)
    }
}

impl OptimizerConfig {
    /// Plain SGD.
    pub fn sgd(lr: f64) -> Self {
        OptimizerConfig::Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// SGD with (heavy-ball) momentum.
    pub fn sgd_momentum(lr: f64, momentum: f64) -> Self {
        OptimizerConfig::Sgd {
            lr,
            momentum,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// Adam with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8, no decay).
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// AdamW with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8, λ = 0.01).
    pub fn adamw(lr: f64) -> Self {
        OptimizerConfig::AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }

    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::AdamW { lr, .. } => lr,
        }
    }

    /// The name (`"sgd"`, `"adam"`, `"adamw"`).
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adam { .. } => "adam",
            OptimizerConfig::AdamW { .. } => "adamw",
        }
    }

    /// How many state buffers per parameter (momentum: 1, Adam: 2).
    pub(crate) fn state_buffers(&self) -> usize {
        match *self {
            OptimizerConfig::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => 2,
        }
    }

    /// Checks every hyper-parameter is in range.
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] naming the field.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |field: &str, value: f64, reason: &str| {
            Err(NnError::InvalidValue {
                field: format!("{} {field}", self.name()),
                value: value.to_string(),
                reason: reason.into(),
            })
        };
        let lr = self.lr();
        if !(lr.is_finite() && lr >= 0.0) {
            return bad("lr", lr, "must be finite and >= 0");
        }
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", momentum, "must be in [0, 1)");
                }
                if nesterov && momentum == 0.0 {
                    return bad("momentum", momentum, "Nesterov needs momentum > 0");
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return bad("weight_decay", weight_decay, "must be finite and >= 0");
                }
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            }
            | OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                if !(0.0..1.0).contains(&beta1) {
                    return bad("beta1", beta1, "must be in [0, 1)");
                }
                if !(0.0..1.0).contains(&beta2) {
                    return bad("beta2", beta2, "must be in [0, 1)");
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return bad("eps", eps, "must be finite and > 0");
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return bad("weight_decay", weight_decay, "must be finite and >= 0");
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => write!(
                f,
                "sgd(lr={lr}, momentum={momentum}, nesterov={nesterov}, weight_decay={weight_decay})"
            ),
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | OptimizerConfig::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => write!(
                f,
                "{}(lr={lr}, betas=({beta1}, {beta2}), eps={eps}, weight_decay={weight_decay})",
                self.name()
            ),
        }
    }
}

/// How the learning rate changes from epoch to epoch (epochs counted from 0 here).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// `η_e = η`.
    #[default]
    Constant,
    /// `η_e = η·γ^⌊e/every⌋` (PyTorch `StepLR`).
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
    /// `η_e = η_min + (η - η_min)(1 + cos(π·min(e, T)/T))/2` (PyTorch `CosineAnnealingLR`
    /// without restarts, stepped per epoch).
    Cosine {
        /// `T`: epochs to reach `min_lr`.
        total_epochs: usize,
        /// `η_min`.
        min_lr: f64,
    },
}

impl Schedule {
    /// The learning rate for 0-based `epoch` given the base rate.
    pub fn lr_at(&self, base: f64, epoch: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => {
                let k = epoch.checked_div(every).unwrap_or(0);
                base * gamma.powi(i32::try_from(k).unwrap_or(i32::MAX))
            }
            Schedule::Cosine {
                total_epochs,
                min_lr,
            } => {
                if total_epochs == 0 {
                    return min_lr;
                }
                let p = epoch.min(total_epochs) as f64 / total_epochs as f64;
                min_lr + (base - min_lr) * (1.0 + (std::f64::consts::PI * p).cos()) / 2.0
            }
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] naming the field.
    pub fn validate(&self) -> Result<(), NnError> {
        match *self {
            Schedule::Step { every: 0, .. } => Err(NnError::InvalidValue {
                field: "step schedule every".into(),
                value: "0".into(),
                reason: "must be at least 1 epoch".into(),
            }),
            Schedule::Step { gamma, .. } if !(gamma.is_finite() && gamma >= 0.0) => {
                Err(NnError::InvalidValue {
                    field: "step schedule gamma".into(),
                    value: gamma.to_string(),
                    reason: "must be finite and >= 0".into(),
                })
            }
            Schedule::Cosine {
                total_epochs: 0, ..
            } => Err(NnError::InvalidValue {
                field: "cosine schedule total_epochs".into(),
                value: "0".into(),
                reason: "must be at least 1 epoch (the annealing period divides the epoch)".into(),
            }),
            Schedule::Cosine { min_lr, .. } if !(min_lr.is_finite() && min_lr >= 0.0) => {
                Err(NnError::InvalidValue {
                    field: "cosine schedule min_lr".into(),
                    value: min_lr.to_string(),
                    reason: "must be finite and >= 0".into(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Per-step scalars, computed once in f64 and rounded to `T`.
#[derive(Clone, Copy)]
pub(crate) enum Update<T> {
    Sgd {
        lr: T,
        momentum: T,
        nesterov: bool,
        decay: T,
    },
    Adam {
        /// `η/(1-β₁ᵗ)`.
        step: T,
        beta1: T,
        beta2: T,
        /// `1/√(1-β₂ᵗ)`.
        inv_sqrt_bc2: T,
        eps: T,
        /// L2 term added to the gradient (Adam) — 0 for AdamW.
        l2: T,
        /// Multiplier applied to θ first (AdamW: `1 - ηλ`; Adam: 1).
        shrink: T,
    },
}

impl<T: Float> Update<T> {
    /// Scalars for step `t` (1-based) at rate `lr`.
    pub(crate) fn new(cfg: &OptimizerConfig, lr: f64, t: u64) -> Self {
        match *cfg {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => Update::Sgd {
                lr: T::from_f64(lr),
                momentum: T::from_f64(momentum),
                nesterov,
                decay: T::from_f64(weight_decay),
            },
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            }
            | OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let decoupled = matches!(cfg, OptimizerConfig::AdamW { .. });
                let ti = i32::try_from(t).unwrap_or(i32::MAX);
                let bc1 = 1.0 - beta1.powi(ti);
                let bc2 = 1.0 - beta2.powi(ti);
                Update::Adam {
                    step: T::from_f64(lr / bc1),
                    beta1: T::from_f64(beta1),
                    beta2: T::from_f64(beta2),
                    inv_sqrt_bc2: T::from_f64(1.0 / bc2.sqrt()),
                    eps: T::from_f64(eps),
                    l2: T::from_f64(if decoupled { 0.0 } else { weight_decay }),
                    shrink: T::from_f64(if decoupled {
                        1.0 - lr * weight_decay
                    } else {
                        1.0
                    }),
                }
            }
        }
    }

    /// Applies the update to one parameter tensor `p` with gradient `g` and its state
    /// buffers (`s1`: momentum or first moment; `s2`: second moment; empty when unused).
    pub(crate) fn apply(&self, p: &mut [T], g: &[T], s1: &mut [T], s2: &mut [T]) {
        with_vector_isa(ApplyUpdate {
            update: self,
            p,
            g,
            s1,
            s2,
        });
    }
}

/// [`Update::apply`]'s pass as a [`VectorTask`], so it is compiled for the GEMM's ISA.
struct ApplyUpdate<'a, T> {
    update: &'a Update<T>,
    p: &'a mut [T],
    g: &'a [T],
    s1: &'a mut [T],
    s2: &'a mut [T],
}

impl<T: Float> VectorTask for ApplyUpdate<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            update,
            p,
            g,
            s1,
            s2,
        } = self;
        match *update {
            Update::Sgd {
                lr,
                momentum,
                nesterov,
                decay,
            } => {
                if s1.is_empty() {
                    if decay == T::ZERO {
                        for (p, &g) in p.iter_mut().zip(g) {
                            *p -= lr * g;
                        }
                    } else {
                        for (p, &g) in p.iter_mut().zip(g) {
                            *p -= lr * (g + decay * *p);
                        }
                    }
                } else {
                    for ((p, &g), v) in p.iter_mut().zip(g).zip(s1.iter_mut()) {
                        let g = g + decay * *p;
                        *v = momentum * *v + g;
                        let d = if nesterov { g + momentum * *v } else { *v };
                        *p -= lr * d;
                    }
                }
            }
            Update::Adam {
                step,
                beta1,
                beta2,
                inv_sqrt_bc2,
                eps,
                l2,
                shrink,
            } => {
                let (one_b1, one_b2) = (T::ONE - beta1, T::ONE - beta2);
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(s1.iter_mut()).zip(s2.iter_mut()) {
                    *p *= shrink;
                    let g = g + l2 * *p;
                    *m = beta1 * *m + one_b1 * g;
                    *v = beta2 * *v + one_b2 * g * g;
                    *p -= step * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                }
            }
        }
    }
}

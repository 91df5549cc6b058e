//! Losses on the network's raw outputs, each returning the mean loss and, fused in the same
//! pass, its gradient with respect to those outputs.
//!
//! With `B` rows and `n` outputs `z` (logits), targets `t`:
//! - `Mse`: `L = 1/(B·n) Σ (z - t)²`, `dL/dz = 2(z - t)/(B·n)` (`nn.MSELoss()`).
//! - `SoftmaxCrossEntropy`: `L = 1/B Σ_rows (lse(z) - z_y)` with `lse(z) = m + ln Σ e^{z_j - m}`,
//!   `m = max z`; `dL/dz = (softmax(z) - onehot(y))/B` (`nn.CrossEntropyLoss()`). Soft targets
//!   (rows of probabilities) give `L = 1/B Σ Σ_j t_j (lse - z_j)`.
//! - `BinaryCrossEntropy`: on logits, `L = 1/(B·n) Σ max(z,0) - z·t + ln(1 + e^{-|z|})`,
//!   `dL/dz = (σ(z) - t)/(B·n)` (`nn.BCEWithLogitsLoss()`).

use std::fmt;
use std::str::FromStr;

use depthlab_gemm::{VectorTask, with_vector_isa};

use crate::activation::sigmoid;
use crate::error::NnError;
use crate::float::Float;

/// Which loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loss {
    /// Mean squared error over every output.
    Mse,
    /// Softmax then cross-entropy, on logits, averaged over the batch.
    #[default]
    SoftmaxCrossEntropy,
    /// Sigmoid then binary cross-entropy, on logits, averaged over every output.
    BinaryCrossEntropy,
}

/// The targets of one batch, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum BatchTargets<'a, T = f32> {
    /// One class index per row.
    Classes(&'a [usize]),
    /// Row-major `rows × outputs` target values (regression, soft or multi-label targets).
    Values(&'a [T]),
}

impl<T> BatchTargets<'_, T> {
    /// Rows covered by these targets, given the output width.
    pub fn rows(&self, outputs: usize) -> usize {
        match self {
            BatchTargets::Classes(l) => l.len(),
            BatchTargets::Values(v) => v.len().checked_div(outputs).unwrap_or(0),
        }
    }
}

impl Loss {
    /// Every name accepted by [`FromStr`].
    pub const ALL_NAMES: [&'static str; 3] =
        ["mse", "softmax_cross_entropy", "binary_cross_entropy"];

    /// The output threshold above which a single-output model predicts class 1 (0 for logits,
    /// 0.5 for a regression onto 0/1).
    pub fn decision_threshold(&self) -> f64 {
        match self {
            Loss::Mse => 0.5,
            Loss::SoftmaxCrossEntropy | Loss::BinaryCrossEntropy => 0.0,
        }
    }

    /// Checks that class targets with `n_classes` classes suit a model with `outputs` outputs.
    ///
    /// # Errors
    /// [`NnError::IncompatibleTargets`] saying which combination is needed.
    pub fn check_classes(&self, outputs: usize, n_classes: usize) -> Result<(), NnError> {
        let ok = match self {
            Loss::SoftmaxCrossEntropy => n_classes == outputs,
            Loss::BinaryCrossEntropy => n_classes == outputs || (outputs == 1 && n_classes <= 2),
            Loss::Mse => n_classes == outputs || outputs == 1,
        };
        if ok {
            return Ok(());
        }
        let need = match self {
            Loss::SoftmaxCrossEntropy => "one output per class",
            Loss::BinaryCrossEntropy => "one output per class, or one output for 2 classes",
            Loss::Mse => "one output per class (one-hot), or one output (label as value)",
        };
        Err(NnError::IncompatibleTargets {
            loss: self.to_string(),
            reason: format!("{n_classes} classes but the model has {outputs} outputs; need {need}"),
        })
    }

    /// Mean loss of `outputs` (row-major, `n` columns) against `targets`; when `grad` is given
    /// (same length as `outputs`) it receives `dL/doutputs`, computed in the same pass.
    ///
    /// # Errors
    /// [`NnError::Shape`] when lengths disagree, [`NnError::LabelOutOfRange`] for a label the
    /// outputs cannot represent, [`NnError::InvalidValue`] for a NaN or infinite target value.
    pub fn evaluate<T: Float>(
        &self,
        outputs: &[T],
        n: usize,
        targets: BatchTargets<'_, T>,
        grad: Option<&mut [T]>,
    ) -> Result<f64, NnError> {
        let rows = outputs.len().checked_div(n).unwrap_or(0);
        let target_rows = targets.rows(n);
        let values_len_ok = match targets {
            BatchTargets::Values(v) => v.len() == outputs.len(),
            BatchTargets::Classes(_) => true,
        };
        if n == 0 || rows * n != outputs.len() || target_rows != rows || !values_len_ok {
            return Err(NnError::Shape {
                what: "targets vs model outputs".into(),
                expected: format!("{rows} rows of {n} outputs"),
                found: match targets {
                    BatchTargets::Classes(l) => format!("{} labels", l.len()),
                    BatchTargets::Values(v) => format!("{} values", v.len()),
                },
            });
        }
        if let Some(g) = &grad
            && g.len() != outputs.len()
        {
            return Err(NnError::Shape {
                what: "loss gradient buffer".into(),
                expected: outputs.len().to_string(),
                found: g.len().to_string(),
            });
        }
        if rows == 0 {
            return Ok(0.0);
        }
        if let BatchTargets::Values(v) = targets {
            crate::train::check_finite("batch", v, n)?;
        }
        if let BatchTargets::Classes(labels) = targets {
            let limit = match self {
                Loss::Mse if n == 1 => usize::MAX,
                Loss::BinaryCrossEntropy if n == 1 => 2,
                _ => n,
            };
            if let Some(row) = labels.iter().position(|&l| l >= limit) {
                return Err(NnError::LabelOutOfRange {
                    set: "batch".into(),
                    row,
                    label: labels[row],
                    n_classes: limit,
                });
            }
        }
        Ok(match self {
            Loss::SoftmaxCrossEntropy => softmax_ce(outputs, n, targets, grad),
            Loss::BinaryCrossEntropy => elementwise(outputs, n, targets, grad, bce_term),
            Loss::Mse => elementwise(outputs, n, targets, grad, mse_term),
        })
    }
}

/// The target of output `j` in a row: a one-hot of the label, or the label itself when the
/// model has a single output.
#[inline(always)]
fn class_target<T: Float>(label: usize, j: usize, n: usize) -> T {
    if n == 1 {
        T::from_f64(label as f64)
    } else if j == label {
        T::ONE
    } else {
        T::ZERO
    }
}

/// `(loss term, d term/dz)` of BCE on a logit.
#[inline(always)]
fn bce_term<T: Float>(z: T, t: T) -> (T, T) {
    // `max(z, 0) - z·t` written per side with no subtraction of large values: for a large |z|
    // and a soft target near 1 (z > 0) or near 0 (z < 0), `z - z·t` would cancel to a few ulps
    // of z. Hard 0/1 targets give the same bits as the subtraction.
    let linear = if z > T::ZERO {
        z * (T::ONE - t)
    } else {
        -z * t
    };
    let loss = linear + (-z.abs()).exp().ln_1p();
    (loss, sigmoid(z) - t)
}

/// `(loss term, d term/dz)` of the squared error.
#[inline(always)]
fn mse_term<T: Float>(z: T, t: T) -> (T, T) {
    let e = z - t;
    (e * e, (e + e))
}

fn elementwise<T: Float>(
    out: &[T],
    n: usize,
    targets: BatchTargets<'_, T>,
    grad: Option<&mut [T]>,
    term: impl Fn(T, T) -> (T, T),
) -> f64 {
    let count = out.len();
    let scale = T::from_f64(1.0 / count as f64);
    let mut total = 0.0f64;
    match (targets, grad) {
        (BatchTargets::Values(t), Some(g)) => {
            for ((gr, zr), tr) in g
                .chunks_exact_mut(n)
                .zip(out.chunks_exact(n))
                .zip(t.chunks_exact(n))
            {
                let mut row = T::ZERO;
                for ((g, &z), &t) in gr.iter_mut().zip(zr).zip(tr) {
                    let (l, d) = term(z, t);
                    row += l;
                    *g = d * scale;
                }
                total += row.to_f64();
            }
        }
        (BatchTargets::Values(t), None) => {
            for (zr, tr) in out.chunks_exact(n).zip(t.chunks_exact(n)) {
                let row: T = zr.iter().zip(tr).map(|(&z, &t)| term(z, t).0).sum();
                total += row.to_f64();
            }
        }
        (BatchTargets::Classes(labels), mut grad) => {
            for (i, (zr, &label)) in out.chunks_exact(n).zip(labels).enumerate() {
                let mut row = T::ZERO;
                for (j, &z) in zr.iter().enumerate() {
                    let (l, d) = term(z, class_target(label, j, n));
                    row += l;
                    if let Some(g) = grad.as_deref_mut() {
                        g[i * n + j] = d * scale;
                    }
                }
                total += row.to_f64();
            }
        }
    }
    total / count as f64
}

fn softmax_ce<T: Float>(
    out: &[T],
    n: usize,
    targets: BatchTargets<'_, T>,
    grad: Option<&mut [T]>,
) -> f64 {
    match grad {
        Some(grad) => with_vector_isa(SoftmaxCeGrad {
            out,
            n,
            targets,
            grad,
        }),
        None => {
            let mut total = 0.0f64;
            for (i, zr) in out.chunks_exact(n).enumerate() {
                let m = row_max(zr);
                let sum: T = zr.iter().map(|&z| (z - m).exp_fast()).sum();
                total += ce_row(zr, i, m, sum.ln(), targets).to_f64();
            }
            total / (out.len() / n) as f64
        }
    }
}

/// The largest logit of a row (NaN only if the first is NaN, as `T::max` ignores NaN operands).
#[inline(always)]
fn row_max<T: Float>(zr: &[T]) -> T {
    zr.iter().copied().fold(zr[0], T::max)
}

/// Cross-entropy of row `i` given its maximum `m` and `ln_s = ln Σ e^{z_j - m}`.
///
/// Each term is `(m - z_j) + ln_s`, never `(m + ln_s) - z_j`: for large logits `m + ln_s`
/// rounds `ln_s` away (all logits 1e8 would give a loss of 0 instead of ln n), while `m - z_j`
/// is exact whenever the two are close, which is when `ln_s` matters.
#[inline(always)]
fn ce_row<T: Float>(zr: &[T], i: usize, m: T, ln_s: T, targets: BatchTargets<'_, T>) -> T {
    match targets {
        BatchTargets::Classes(labels) => (m - zr[labels[i]]) + ln_s,
        BatchTargets::Values(t) => t[i * zr.len()..(i + 1) * zr.len()]
            .iter()
            .zip(zr)
            .map(|(&tj, &z)| tj * ((m - z) + ln_s))
            .sum(),
    }
}

/// Softmax cross-entropy with its gradient, as a [`VectorTask`] compiled for the GEMM's ISA.
///
/// A row has only a handful of logits (10 for digits), so the exponentials are not taken row
/// by row: the shifted logits `z - max` of the whole batch are written into the gradient, one
/// flat pass turns them into exponentials (full-width vectors), and a last pass per row sums,
/// normalises and subtracts the target. Each row's sum still runs in column order, so the
/// result is bit for bit that of the row-by-row loop.
struct SoftmaxCeGrad<'a, T> {
    out: &'a [T],
    n: usize,
    targets: BatchTargets<'a, T>,
    grad: &'a mut [T],
}

impl<T: Float> VectorTask for SoftmaxCeGrad<'_, T> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        let Self {
            out,
            n,
            targets,
            grad,
        } = self;
        let rows = out.len() / n;
        for (zr, gr) in out.chunks_exact(n).zip(grad.chunks_exact_mut(n)) {
            let m = row_max(zr);
            for (g, &z) in gr.iter_mut().zip(zr) {
                *g = z - m;
            }
        }
        for g in grad.iter_mut() {
            *g = g.exp_fast();
        }
        let inv_b = T::from_f64(1.0 / rows as f64);
        let mut total = 0.0f64;
        for (i, (zr, g)) in out
            .chunks_exact(n)
            .zip(grad.chunks_exact_mut(n))
            .enumerate()
        {
            let s: T = g.iter().fold(T::ZERO, |acc, &e| acc + e);
            let k = inv_b / s;
            match targets {
                BatchTargets::Classes(labels) => {
                    g.iter_mut().for_each(|v| *v *= k);
                    g[labels[i]] -= inv_b;
                }
                BatchTargets::Values(t) => {
                    let tr = &t[i * n..(i + 1) * n];
                    let mass: T = tr.iter().copied().sum();
                    for (v, &tj) in g.iter_mut().zip(tr) {
                        *v = *v * k * mass - tj * inv_b;
                    }
                }
            }
            // The max is read again rather than kept: it is n compares, and a buffer of row
            // maxima would be the one allocation of the step.
            total += ce_row(zr, i, row_max(zr), s.ln(), targets).to_f64();
        }
        total / rows as f64
    }
}

/// Index of the predicted class: argmax, or `out > threshold` for one output. The first
/// maximum wins ties, like `torch.argmax`; NaN never wins.
pub(crate) fn predicted_class<T: Float>(row: &[T], threshold: T) -> usize {
    if row.len() == 1 {
        return usize::from(row[0] > threshold);
    }
    let mut best = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = j;
        }
    }
    best
}

impl FromStr for Loss {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mse" => Ok(Loss::Mse),
            "softmax_cross_entropy" | "cross_entropy" | "ce" => Ok(Loss::SoftmaxCrossEntropy),
            "binary_cross_entropy" | "bce" => Ok(Loss::BinaryCrossEntropy),
            _ => Err(NnError::UnknownName {
                kind: "loss",
                name: s.to_string(),
                valid: Loss::ALL_NAMES.join(", "),
            }),
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::Mse => "mse",
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
        })
    }
}

impl serde::Serialize for Loss {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Loss {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

//! Element-wise activations, each with its value and its derivative in one `match`.
//!
//! | name | `f(z)` | `f'(z)` |
//! |---|---|---|
//! | `identity` (`linear`) | `z` | `1` |
//! | `sigmoid` | `σ(z) = 1/(1+e^{-z})` | `σ(z)(1-σ(z))` |
//! | `tanh` | `tanh z` | `1 - tanh² z` |
//! | `relu` | `max(z, 0)` | `1` if `z > 0` else `0` |
//! | `leaky_relu(α)` | `z` if `z > 0` else `αz` | `1` if `z > 0` else `α` |
//! | `elu(α)` | `z` if `z > 0` else `α(e^z - 1)` | `1` if `z > 0` else `αe^z` |
//! | `gelu` | `z·Φ(z)` (exact, erf) | `Φ(z) + z·φ(z)` |
//! | `softplus` | `ln(1 + e^z)` | `σ(z)` |
//! | `silu` | `z·σ(z)` | `σ(z)(1 + z(1-σ(z)))` |
//!
//! Matches PyTorch's modules with default arguments (`nn.GELU()` is the exact erf form,
//! `nn.LeakyReLU()` has α = 0.01, `nn.ELU()` α = 1). Derivatives at the kink follow PyTorch:
//! relu'(0) = 0, leaky_relu'(0) = α, elu'(0) = α. One difference: PyTorch's `Softplus`
//! returns `z` exactly above `z = 20`; here the stable form `max(z,0) + ln(1+e^{-|z|})` is used
//! everywhere (they differ by less than 2e-9).
//!
//! A NaN input gives a NaN value for every activation, as in PyTorch, so NaN data surfaces as
//! a non-finite loss (and a diverged run) instead of being zeroed. Derivatives at NaN are not
//! specified (relu's is 0, as PyTorch's); the loss is already NaN by then.

use std::fmt;
use std::str::FromStr;

use crate::error::NnError;
use crate::float::Float;

/// An element-wise nonlinearity applied after each hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `f(z) = z`: no nonlinearity, so stacked layers collapse into one linear map.
    Identity,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear unit.
    #[default]
    Relu,
    /// Leaky ReLU with negative slope α.
    LeakyRelu(f64),
    /// Exponential linear unit with scale α.
    Elu(f64),
    /// Gaussian error linear unit, exact (erf) form.
    Gelu,
    /// Smooth ReLU `ln(1 + e^z)`.
    Softplus,
    /// Sigmoid-weighted linear unit (swish), `z·σ(z)`.
    Silu,
}

/// Default negative slope of `leaky_relu`, as PyTorch.
pub const LEAKY_RELU_DEFAULT_ALPHA: f64 = 0.01;
/// Default α of `elu`, as PyTorch.
pub const ELU_DEFAULT_ALPHA: f64 = 1.0;

const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// `1/√(2π)`, the peak of the standard normal density.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// Every base name accepted by [`FromStr`] (`leaky_relu` and `elu` also take `(α)`).
    pub const ALL_NAMES: [&'static str; 9] = [
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "gelu",
        "softplus",
        "silu",
    ];

    /// One instance of each activation, with default parameters.
    pub const ALL: [Activation; 9] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu(LEAKY_RELU_DEFAULT_ALPHA),
        Activation::Elu(ELU_DEFAULT_ALPHA),
        Activation::Gelu,
        Activation::Softplus,
        Activation::Silu,
    ];

    /// The base name without parameter (`"leaky_relu"` for `LeakyRelu(0.2)`).
    pub fn base_name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Elu(_) => "elu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Silu => "silu",
        }
    }

    /// The PyTorch module that computes the same function (`"ReLU"`, `"LeakyReLU(0.2)"`), for
    /// documentation and model metadata.
    pub fn torch_module(&self) -> String {
        match self {
            Activation::Identity => "Identity()".into(),
            Activation::Sigmoid => "Sigmoid()".into(),
            Activation::Tanh => "Tanh()".into(),
            Activation::Relu => "ReLU()".into(),
            Activation::LeakyRelu(a) => format!("LeakyReLU({a})"),
            Activation::Elu(a) => format!("ELU({a})"),
            Activation::Gelu => "GELU()".into(),
            Activation::Softplus => "Softplus()".into(),
            Activation::Silu => "SiLU()".into(),
        }
    }

    /// True when `f'` can be computed from the output `f(z)` alone, so the pre-activation
    /// need not be kept for the backward pass.
    pub(crate) fn derivative_from_output(&self) -> bool {
        matches!(
            self,
            Activation::Identity | Activation::Sigmoid | Activation::Tanh | Activation::Relu
        )
    }

    /// `f(z)`.
    #[inline(always)]
    pub fn value<T: Float>(&self, z: T) -> T {
        match *self {
            Activation::Identity => z,
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh_fast(),
            Activation::Relu => relu(z),
            Activation::LeakyRelu(a) => leaky_relu(z, T::from_f64(a)),
            Activation::Elu(a) => elu(z, T::from_f64(a)),
            Activation::Gelu => gelu(z),
            Activation::Softplus => softplus(z),
            Activation::Silu => silu(z),
        }
    }

    /// `f'(z)`, given both `z` and `a = f(z)` (each variant uses whichever is cheaper).
    #[inline(always)]
    pub fn derivative<T: Float>(&self, z: T, a: T) -> T {
        match *self {
            // d/dz z = 1
            Activation::Identity => T::ONE,
            // σ' = σ(1-σ)
            Activation::Sigmoid => a * (T::ONE - a),
            // tanh' = 1 - tanh²
            Activation::Tanh => T::ONE - a * a,
            // step function, 0 at the kink as PyTorch
            Activation::Relu => {
                if a > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            // slope 1 or α
            Activation::LeakyRelu(al) => {
                if z > T::ZERO {
                    T::ONE
                } else {
                    T::from_f64(al)
                }
            }
            Activation::Elu(al) => elu_derivative(z, T::from_f64(al)),
            Activation::Gelu => gelu_derivative(z),
            // d/dz ln(1+e^z) = σ(z)
            Activation::Softplus => sigmoid(z),
            Activation::Silu => silu_derivative(z),
        }
    }

    /// `out ← f(z)` over a whole slice: one `match` per call, then a branch-free loop that
    /// LLVM vectorises (the per-element [`Activation::value`] in a loop is far slower).
    ///
    /// # Errors
    /// [`NnError::Shape`] when the lengths differ.
    pub fn forward_slice<T: Float>(&self, z: &[T], out: &mut [T]) -> Result<(), NnError> {
        same_len("activation output vs input", z.len(), out.len())?;
        per_activation!(*self, T, |f| for (o, &zi) in out.iter_mut().zip(z) {
            *o = f(zi);
        });
        Ok(())
    }

    /// `delta ← delta ⊙ f'(z)` over a whole slice, given `z` and `a = f(z)` (`delta` holds
    /// `dL/da` on entry and `dL/dz` on return): the backward pass of the layers, vectorised
    /// like [`Activation::forward_slice`].
    ///
    /// # Errors
    /// [`NnError::Shape`] when the lengths differ.
    pub fn backward_slice<T: Float>(
        &self,
        z: &[T],
        a: &[T],
        delta: &mut [T],
    ) -> Result<(), NnError> {
        same_len("activation input vs gradient", z.len(), delta.len())?;
        same_len("activation output vs gradient", a.len(), delta.len())?;
        crate::linear::activation_backward(*self, z, a, delta, None, delta.len(), false);
        Ok(())
    }

    /// Checks the parameter of `leaky_relu`/`elu` is finite.
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] for a NaN or infinite α.
    pub fn validate(&self) -> Result<(), NnError> {
        match *self {
            Activation::LeakyRelu(a) | Activation::Elu(a) if !a.is_finite() => {
                Err(NnError::InvalidValue {
                    field: format!("{} alpha", self.base_name()),
                    value: a.to_string(),
                    reason: "must be a finite number".into(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Runs `$body` with `$f` bound to the activation's value as a closure: one `match` per
/// call, so the loop inside `$body` is specialised per activation and has no per-element
/// branch on the variant.
macro_rules! per_activation {
    ($act:expr, $t:ty, |$f:ident| $body:expr) => {
        match $act {
            Activation::Identity => {
                let $f = |z: $t| z;
                $body
            }
            Activation::Relu => {
                let $f = |z: $t| relu(z);
                $body
            }
            Activation::Sigmoid => {
                let $f = |z: $t| sigmoid(z);
                $body
            }
            Activation::Tanh => {
                let $f = |z: $t| z.tanh_fast();
                $body
            }
            Activation::LeakyRelu(a) => {
                let a = <$t>::from_f64(a);
                let $f = move |z: $t| leaky_relu(z, a);
                $body
            }
            Activation::Elu(a) => {
                let a = <$t>::from_f64(a);
                let $f = move |z: $t| elu(z, a);
                $body
            }
            Activation::Gelu => {
                let $f = |z: $t| gelu(z);
                $body
            }
            Activation::Softplus => {
                let $f = |z: $t| softplus(z);
                $body
            }
            Activation::Silu => {
                let $f = |z: $t| silu(z);
                $body
            }
        }
    };
}

pub(crate) use per_activation;

// The per-activation formulas, each branch-free (selects, not jumps) and built on
// `exp_fast`/`tanh_fast`, so a loop over a slice that calls one of them vectorises. The slice
// passes in `linear.rs` call these directly, matching once per slice instead of per element.

/// `z` above 0, `0` below. Not `z.max(0)`: `max` ignores a NaN operand and would turn a NaN
/// input into 0, hiding bad data from the divergence check; with the comparison written this
/// way round a NaN fails it and passes through. Still one select, so loops vectorise, and
/// `-0.0` gives `+0.0` as `max` did.
#[inline(always)]
pub(crate) fn relu<T: Float>(z: T) -> T {
    if z <= T::ZERO { T::ZERO } else { z }
}

/// Stable logistic sigmoid: `e^{-|z|}` never overflows; `σ(z) = 1/(1+e)` for `z ≥ 0` and
/// `e/(1+e)` below, so small values keep their relative precision.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(z: T) -> T {
    let e = (-z.abs()).exp_fast();
    let num = if z >= T::ZERO { T::ONE } else { e };
    num / (T::ONE + e)
}

/// `z` above 0, `αz` below.
#[inline(always)]
pub(crate) fn leaky_relu<T: Float>(z: T, alpha: T) -> T {
    if z > T::ZERO { z } else { alpha * z }
}

/// `z` above 0, `α(e^z - 1)` below.
#[inline(always)]
pub(crate) fn elu<T: Float>(z: T, alpha: T) -> T {
    // `min` ignores NaN, so `neg` is finite for a NaN `z`; the test is written so that a NaN
    // fails it and `z` itself (NaN) is returned.
    let neg = alpha * exp_m1(z.min(T::ZERO));
    if z <= T::ZERO { neg } else { z }
}

/// d/dz α(e^z - 1) = αe^z below 0, 1 above (α at the kink, as PyTorch).
#[inline(always)]
pub(crate) fn elu_derivative<T: Float>(z: T, alpha: T) -> T {
    let neg = alpha * z.min(T::ZERO).exp_fast();
    if z > T::ZERO { T::ONE } else { neg }
}

/// Where a factor of a product has reached its limit of 0 (`Φ(z)` below [`GELU_ZERO_CDF`],
/// `φ(z)` beyond `±TAIL`, `σ(z)` below `-TAIL`), `z` is clamped in that product, so an
/// infinite `z` gives the limit (`0`) rather than `∞·0 = NaN`. Within `±TAIL` no bit
/// changes. Beyond it `f64` is unchanged too (the factor is exactly 0), while `f32`, whose
/// fast `exp` saturates at the smallest normal instead of reaching 0, moves from `z·1e-38`
/// to `±TAIL·1e-38`: both are 0 to any precision a loss can see. A NaN `z` still comes out
/// NaN through the other factor.
const TAIL: f64 = 800.0;

/// Below this, `1 + erf(z/√2)` is exactly 0 in `f32` and `f64` alike (`erfc(10/√2)` ≈ 1.5e-23).
const GELU_ZERO_CDF: f64 = -10.0;

/// `zΦ(z)`, exact (erf) form.
#[inline(always)]
pub(crate) fn gelu<T: Float>(z: T) -> T {
    let half = T::from_f64(0.5);
    half * z.max(T::from_f64(GELU_ZERO_CDF)) * (T::ONE + (z / T::from_f64(SQRT_2)).erf())
}

/// d/dz zΦ(z) = Φ(z) + zφ(z).
#[inline(always)]
pub(crate) fn gelu_derivative<T: Float>(z: T) -> T {
    let half = T::from_f64(0.5);
    let cdf = half * (T::ONE + (z / T::from_f64(SQRT_2)).erf());
    let pdf = T::from_f64(INV_SQRT_2PI) * (-half * z * z).exp_fast();
    cdf + clamp_tail(z) * pdf
}

/// `ln(1+e^z)` as `max(z,0) + ln(1+e^{-|z|})`, which never overflows.
#[inline(always)]
pub(crate) fn softplus<T: Float>(z: T) -> T {
    z.max(T::ZERO) + (-z.abs()).exp_fast().ln_1p()
}

/// d/dz zσ(z) = σ + zσ(1-σ).
#[inline(always)]
pub(crate) fn silu_derivative<T: Float>(z: T) -> T {
    let s = sigmoid(z);
    s * (T::ONE + clamp_tail(z) * (T::ONE - s))
}

/// `zσ(z)`; `σ(z)` is exactly 0 below `-TAIL` (see [`TAIL`]).
#[inline(always)]
pub(crate) fn silu<T: Float>(z: T) -> T {
    z.max(T::from_f64(-TAIL)) * sigmoid(z)
}

/// `z` within `±TAIL`; a NaN comes out as `-TAIL` (`max` ignores it), so callers rely on
/// another factor to carry the NaN.
#[inline(always)]
fn clamp_tail<T: Float>(z: T) -> T {
    z.max(T::from_f64(-TAIL)).min(T::from_f64(TAIL))
}

/// `e^z - 1` for `z ≤ 0`, within a few ulp everywhere: Taylor's series on `|z| < 0.35`,
/// `e^z - 1` beyond, where the difference keeps at least 0.3 of `e^z`'s magnitude so at most
/// about 2 ulp of `e^z` carry over. Near 0 the difference cancels (at `z = -0.01` it loses
/// 6–7 bits), which is why the series runs that far out: to degree 7 for `f32` and 13 for
/// `f64`, where the first term left out, `0.35ⁿ⁺¹/(n+1)!`, falls below half an ulp of the
/// result. (An earlier cut at 10⁻² with four terms left f64 ELU 10⁻¹³ off PyTorch's `expm1`.)
/// Both branches are computed and one selected, so the loop has no branch and vectorises.
#[inline(always)]
fn exp_m1<T: Float>(z: T) -> T {
    let degree = if T::BYTES == 4 { 7 } else { 13 };
    // z + z²/2! + … + zⁿ/n! = z(1 + z/2(1 + z/3(… (1 + z/n)))), innermost first.
    let mut nested = T::ONE;
    for i in (2..=degree).rev() {
        nested = T::ONE + z * T::from_f64(1.0 / f64::from(i)) * nested;
    }
    let series = z * nested;
    let direct = z.exp_fast() - T::ONE;
    if z.abs() < T::from_f64(EXP_M1_SERIES_BOUND) {
        series
    } else {
        direct
    }
}

/// Below this `|z|`, [`exp_m1`] sums its series instead of subtracting 1 from `e^z`.
const EXP_M1_SERIES_BOUND: f64 = 0.35;

fn same_len(what: &str, expected: usize, found: usize) -> Result<(), NnError> {
    if expected == found {
        return Ok(());
    }
    Err(NnError::Shape {
        what: what.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    })
}

fn valid_names() -> String {
    "identity (or linear), sigmoid, tanh, relu, leaky_relu, leaky_relu(ALPHA), elu, elu(ALPHA), \
     gelu, softplus, silu"
        .to_string()
}

impl FromStr for Activation {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        let unknown = || NnError::UnknownActivation {
            name: s.to_string(),
            valid: valid_names(),
        };
        let (base, param) = match name.split_once('(') {
            Some((base, rest)) => {
                // Only these two take a parameter; "gelu(x)" or "swish(0.5)" is a name to
                // correct (with the valid ones listed), not a bad alpha of an activation that has
                // none.
                if !matches!(base.trim(), "leaky_relu" | "elu") {
                    return Err(unknown());
                }
                let inner = rest.strip_suffix(')').ok_or_else(unknown)?;
                let alpha: f64 = inner.trim().parse().map_err(|_| NnError::InvalidValue {
                    field: format!("{} alpha", base.trim()),
                    value: inner.trim().to_string(),
                    reason: "must be a number, as in leaky_relu(0.2)".into(),
                })?;
                (base.trim().to_string(), Some(alpha))
            }
            None => (name.clone(), None),
        };
        let act = match (base.as_str(), param) {
            ("identity" | "linear", None) => Activation::Identity,
            ("sigmoid", None) => Activation::Sigmoid,
            ("tanh", None) => Activation::Tanh,
            ("relu", None) => Activation::Relu,
            ("leaky_relu", a) => Activation::LeakyRelu(a.unwrap_or(LEAKY_RELU_DEFAULT_ALPHA)),
            ("elu", a) => Activation::Elu(a.unwrap_or(ELU_DEFAULT_ALPHA)),
            ("gelu", None) => Activation::Gelu,
            ("softplus", None) => Activation::Softplus,
            ("silu", None) => Activation::Silu,
            _ => return Err(unknown()),
        };
        act.validate()?;
        Ok(act)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Activation::LeakyRelu(a) if a != LEAKY_RELU_DEFAULT_ALPHA => {
                write!(f, "leaky_relu({a:?})")
            }
            Activation::Elu(a) if a != ELU_DEFAULT_ALPHA => write!(f, "elu({a:?})"),
            _ => f.write_str(self.base_name()),
        }
    }
}

impl serde::Serialize for Activation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Activation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::{bias_activation, bias_activation_features};

    /// Every way a value reaches an activation: the scalar `value`, `forward_slice`, and the
    /// layer passes of `linear.rs` (in place, to a second buffer, feature-major), with and
    /// without a bias. The bias is `-0.0`, so `z + b` is `z` bit for bit.
    fn all_paths<T: Float>(act: Activation, z: &[T]) -> Vec<(&'static str, Vec<T>)> {
        let n = z.len();
        let bias = vec![T::from_f64(-0.0); n];
        let mut out = vec![(
            "value",
            z.iter()
                .map(|&v| act.value(std::hint::black_box(v)))
                .collect(),
        )];
        let mut a = vec![T::ZERO; n];
        act.forward_slice(z, &mut a).unwrap();
        out.push(("forward_slice", a));
        for (name, b) in [("no bias", None), ("bias", Some(&bias[..]))] {
            let mut pre = z.to_vec();
            bias_activation(act, b, &mut pre, None, n);
            out.push((name, pre));
            let (mut pre, mut post) = (z.to_vec(), vec![T::ZERO; n]);
            bias_activation(act, b, &mut pre, Some(&mut post), n);
            out.push((name, post));
            let (mut pre, mut post) = (z.to_vec(), vec![T::ZERO; n]);
            bias_activation_features(act, b.map(|b| &b[..1]), &mut pre, &mut post, n);
            out.push((name, post));
        }
        out
    }

    fn check_nan<T: Float>() {
        // 37 values: a NaN in every lane position of the vector body and in the scalar tail.
        let z: Vec<T> = (0..37)
            .map(|i| match i % 3 {
                0 => T::from_f64(f64::NAN),
                1 => T::from_f64(-0.0),
                _ => T::from_f64(i as f64 - 20.0),
            })
            .collect();
        let alphas = [Activation::LeakyRelu(0.2), Activation::Elu(2.5)];
        for act in Activation::ALL.into_iter().chain(alphas) {
            for (path, a) in all_paths(act, &z) {
                for (i, (&zi, &ai)) in z.iter().zip(&a).enumerate() {
                    if zi.to_f64().is_nan() {
                        assert!(ai.to_f64().is_nan(), "{act} {path} [{i}]: NaN -> {ai}");
                    } else {
                        let want = act.value(zi).to_f64().to_bits();
                        assert_eq!(ai.to_f64().to_bits(), want, "{act} {path} [{i}] z={zi}");
                    }
                }
            }
        }
    }

    /// Largest error of `α(e^z - 1)` over `z ∈ [-20, 0]` in ulps of the exact value, for a
    /// grid that crowds toward 0 (where `e^z - 1` cancels) plus a few tiny and boundary values.
    fn elu_max_ulps<T: Float>(eps: f64) -> f64 {
        let grid = (0..=200_000).map(|i| -20.0 * (f64::from(i) / 200_000.0).powi(3));
        let extra = [
            -1e-30, -1e-8, -0.0099, -0.01, -0.0101, -0.3499, -0.35, -0.3501,
        ];
        let mut worst = 0.0_f64;
        for z in grid.chain(extra) {
            let z = T::from_f64(z);
            // std's expm1 in f64 is within 1 ulp of f64, far inside an f32 ulp.
            let want = 1.5 * z.to_f64().exp_m1();
            let got = Activation::Elu(1.5).value(z).to_f64();
            if want != 0.0 {
                worst = worst.max((got - want).abs() / (want.abs() * eps));
            }
        }
        worst
    }

    #[test]
    fn elu_stays_within_a_few_ulp_of_expm1_near_zero_and_beyond() {
        // PyTorch computes ELU with expm1; a plain e^z - 1 near 0 loses up to 7 bits, and a
        // short series cut at 10⁻² left f64 about 10⁻¹³ off (the interop check found it).
        let f32_ulps = elu_max_ulps::<f32>(f64::from(f32::EPSILON));
        let f64_ulps = elu_max_ulps::<f64>(f64::EPSILON);
        assert!(f32_ulps <= 2.0, "f32 ELU {f32_ulps} ulp off expm1");
        assert!(f64_ulps <= 2.0, "f64 ELU {f64_ulps} ulp off expm1");
    }

    #[test]
    fn nan_gives_nan_on_every_forward_path() {
        check_nan::<f32>();
        check_nan::<f64>();
    }

    #[test]
    fn relu_keeps_its_values_at_signed_zero_infinities_and_subnormals() {
        let z = [
            -0.0f32,
            0.0,
            1e-45,
            -1e-45,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -3.0,
            3.0,
        ];
        let want = [0.0f32, 0.0, 1e-45, 0.0, f32::INFINITY, 0.0, 0.0, 3.0];
        for (path, a) in all_paths(Activation::Relu, &z) {
            let bits: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, want, "{path}");
        }
    }

    /// `(f(+∞), f(−∞), f'(+∞), f'(−∞))`: the limits, for the `ALL` activations with
    /// leaky_relu(0.2) and elu(2.5) appended.
    fn limits(act: Activation) -> [f64; 4] {
        let inf = f64::INFINITY;
        match act {
            Activation::Identity => [inf, -inf, 1.0, 1.0],
            Activation::Sigmoid => [1.0, 0.0, 0.0, 0.0],
            Activation::Tanh => [1.0, -1.0, 0.0, 0.0],
            Activation::Relu => [inf, 0.0, 1.0, 0.0],
            Activation::LeakyRelu(a) => [inf, -inf, 1.0, a],
            Activation::Elu(a) => [inf, -a, 1.0, 0.0],
            Activation::Gelu | Activation::Softplus | Activation::Silu => [inf, 0.0, 1.0, 0.0],
        }
    }

    fn check_infinities<T: Float>() {
        let z = [T::from_f64(f64::INFINITY), T::from_f64(f64::NEG_INFINITY)];
        let alphas = [Activation::LeakyRelu(0.2), Activation::Elu(2.5)];
        for act in Activation::ALL.into_iter().chain(alphas) {
            let [hi, lo, dhi, dlo] = limits(act);
            let near =
                |got: T, want: f64| (got.to_f64() - want).abs() <= 1e-6 || got.to_f64() == want;
            for (path, a) in all_paths(act, &z) {
                assert!(
                    near(a[0], hi) && near(a[1], lo),
                    "{act} {path}: f(±inf) = {}, {}",
                    a[0],
                    a[1]
                );
            }
            let a: Vec<T> = z.iter().map(|&v| act.value(v)).collect();
            let d: Vec<T> = z
                .iter()
                .zip(&a)
                .map(|(&v, &av)| act.derivative(v, av))
                .collect();
            let mut delta = vec![T::ONE; 2];
            act.backward_slice(&z, &a, &mut delta).unwrap();
            for (path, d) in [("derivative", d), ("backward_slice", delta)] {
                assert!(
                    near(d[0], dhi) && near(d[1], dlo),
                    "{act} {path}: f'(±inf) = {}, {}",
                    d[0],
                    d[1]
                );
            }
        }
    }

    #[test]
    fn infinities_give_the_limits_not_nan() {
        check_infinities::<f32>();
        check_infinities::<f64>();
    }

    /// The tail clamps change no value within `±TAIL` (the unclamped formulas, bit for bit)
    /// and beyond it only values below 1e-30, on a grid that runs far past the points where
    /// `Φ`, `φ` and `σ` reach their limit.
    fn check_tails_unchanged<T: Float>() {
        let half = T::from_f64(0.5);
        for i in -4000..=4000 {
            let z = T::from_f64(f64::from(i) * 0.37);
            let s = sigmoid(z);
            let cdf = half * (T::ONE + (z / T::from_f64(SQRT_2)).erf());
            let pdf = T::from_f64(INV_SQRT_2PI) * (-half * z * z).exp_fast();
            let pairs = [
                (
                    "gelu",
                    gelu(z),
                    half * z * (T::ONE + (z / T::from_f64(SQRT_2)).erf()),
                ),
                ("gelu'", gelu_derivative(z), cdf + z * pdf),
                ("silu", silu(z), z * s),
                ("silu'", silu_derivative(z), s * (T::ONE + z * (T::ONE - s))),
            ];
            for (name, got, want) in pairs {
                let (got, want) = (got.to_f64(), want.to_f64());
                if z.to_f64().abs() <= TAIL {
                    assert_eq!(got.to_bits(), want.to_bits(), "{name}({z})");
                } else {
                    assert!((got - want).abs() < 1e-30, "{name}({z}): {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn tail_clamps_leave_finite_values_bit_identical() {
        check_tails_unchanged::<f32>();
        check_tails_unchanged::<f64>();
    }
}

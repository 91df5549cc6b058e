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
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(T::ZERO),
            Activation::LeakyRelu(a) => {
                if z > T::ZERO {
                    z
                } else {
                    T::from_f64(a) * z
                }
            }
            Activation::Elu(a) => {
                if z > T::ZERO {
                    z
                } else {
                    T::from_f64(a) * exp_m1(z)
                }
            }
            Activation::Gelu => {
                let half = T::from_f64(0.5);
                half * z * (T::ONE + (z / T::from_f64(SQRT_2)).erf())
            }
            Activation::Softplus => z.max(T::ZERO) + (-z.abs()).exp().ln_1p(),
            Activation::Silu => z * sigmoid(z),
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
            // d/dz α(e^z - 1) = αe^z
            Activation::Elu(al) => {
                if z > T::ZERO {
                    T::ONE
                } else {
                    T::from_f64(al) * z.exp()
                }
            }
            // d/dz zΦ(z) = Φ(z) + zφ(z)
            Activation::Gelu => {
                let half = T::from_f64(0.5);
                let cdf = half * (T::ONE + (z / T::from_f64(SQRT_2)).erf());
                let pdf = T::from_f64(INV_SQRT_2PI) * (-half * z * z).exp();
                cdf + z * pdf
            }
            // d/dz ln(1+e^z) = σ(z)
            Activation::Softplus => sigmoid(z),
            // d/dz zσ(z) = σ + zσ(1-σ)
            Activation::Silu => {
                let s = sigmoid(z);
                s * (T::ONE + z * (T::ONE - s))
            }
        }
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

/// Stable logistic sigmoid: never evaluates `e^x` for large positive `x`.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(z: T) -> T {
    if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    }
}

/// `e^z - 1` for `z ≤ 0`, accurate near zero (via `2·tanh(z/2)/(1 - tanh(z/2))`, avoiding a
/// dedicated expm1 in the trait).
#[inline(always)]
fn exp_m1<T: Float>(z: T) -> T {
    if z.abs() < T::from_f64(1e-2) {
        // Taylor to z⁴ is exact to rounding in this range for both widths.
        let z2 = z * z;
        z + z2 * T::from_f64(0.5)
            + z2 * z * T::from_f64(1.0 / 6.0)
            + z2 * z2 * T::from_f64(1.0 / 24.0)
    } else {
        z.exp() - T::ONE
    }
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

//! Weight initialisation schemes, drawn from a seeded portable RNG.
//!
//! Values are drawn in `f64` from `ChaCha8Rng::seed_from_u64(seed)` in a fixed order (layer by
//! layer; each layer's weight row-major, then its bias) and rounded to the model's float type,
//! so the same seed gives the same weights on every machine and thread count, and an `f32` and
//! an `f64` model from one seed agree to `f32` rounding.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::NnError;

/// How a [`crate::Linear`] layer's parameters are first drawn (`fan_in` = in, `fan_out` = out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weight and bias from `U(-1/√fan_in, 1/√fan_in)`.
    #[default]
    PyTorch,
    /// Glorot/Xavier uniform: weight from `U(-a, a)`, `a = √(6/(fan_in + fan_out))`; bias 0.
    XavierUniform,
    /// He/Kaiming normal (fan_in mode, ReLU gain): weight from `N(0, 2/fan_in)`; bias 0.
    KaimingNormal,
}

impl Init {
    /// Every name accepted by [`FromStr`].
    pub const ALL_NAMES: [&'static str; 3] = ["pytorch", "xavier_uniform", "kaiming_normal"];

    /// Fills `weight` (out × in, row-major) and `bias` from `rng`.
    pub(crate) fn fill<R: Rng>(
        &self,
        rng: &mut R,
        fan_in: usize,
        fan_out: usize,
        weight: &mut [f64],
        bias: Option<&mut [f64]>,
    ) {
        // Uniform draws use an explicit formula rather than `random_range` so the mapping
        // from RNG output to weights is fixed by this code, not by a rand version.
        let uniform = |rng: &mut R, bound: f64| bound * (2.0 * rng.random::<f64>() - 1.0);
        match self {
            Init::PyTorch => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                weight.iter_mut().for_each(|w| *w = uniform(rng, bound));
                if let Some(b) = bias {
                    b.iter_mut().for_each(|v| *v = uniform(rng, bound));
                }
            }
            Init::XavierUniform => {
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                weight.iter_mut().for_each(|w| *w = uniform(rng, bound));
                if let Some(b) = bias {
                    b.fill(0.0);
                }
            }
            Init::KaimingNormal => {
                let std = (2.0 / fan_in as f64).sqrt();
                weight
                    .iter_mut()
                    .for_each(|w| *w = std * rng.sample::<f64, _>(StandardNormal));
                if let Some(b) = bias {
                    b.fill(0.0);
                }
            }
        }
    }
}

impl FromStr for Init {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pytorch" | "default" => Ok(Init::PyTorch),
            "xavier_uniform" | "xavier" | "glorot" => Ok(Init::XavierUniform),
            "kaiming_normal" | "kaiming" | "he" => Ok(Init::KaimingNormal),
            _ => Err(NnError::UnknownName {
                kind: "init",
                name: s.to_string(),
                valid: Init::ALL_NAMES.join(", "),
            }),
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Init::PyTorch => "pytorch",
            Init::XavierUniform => "xavier_uniform",
            Init::KaimingNormal => "kaiming_normal",
        })
    }
}

impl serde::Serialize for Init {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Init {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

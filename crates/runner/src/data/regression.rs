//! One-dimensional regression generators: x uniform in [-1, 1], y = f(x) + N(0, noise²).
//! The target functions are fixed (they do not depend on the seed), so runs with different
//! seeds fit the same curve from different samples.

use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::transform::{Labels, Table};
use super::{DataError, Knobs};

/// Draws `n` points of `f` on [-1, 1] with Gaussian output noise.
fn sample(k: &Knobs, rng: &mut ChaCha8Rng, f: impl Fn(f64) -> f64) -> Table {
    let mut x = Vec::with_capacity(k.n);
    let mut y = Vec::with_capacity(k.n);
    for _ in 0..k.n {
        let xi: f64 = rng.random_range(-1.0..=1.0);
        let z: f64 = StandardNormal.sample(rng);
        x.push(xi as f32);
        y.push((f(xi) + f64::from(k.noise) * z) as f32);
    }
    Table {
        x,
        n_features: 1,
        labels: Labels::Values(y),
    }
}

/// y = sin(π · periods · x): `periods` full periods over [-1, 1].
pub(crate) fn sin(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let periods = k.real("periods", 0.0, 100.0)?;
    Ok(sample(k, rng, |x| (PI * periods * x).sin()))
}

/// y = |x|: one kink at 0.
pub(crate) fn abs(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    Ok(sample(k, rng, f64::abs))
}

/// A staircase from 0 to 1 with `steps` equal jumps (one jump, at x = 0, by default).
pub(crate) fn step(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let steps = k.int("steps", 1, 100)? as f64;
    Ok(sample(k, rng, |x| {
        (((x + 1.0) / 2.0 * (steps + 1.0)).floor()).min(steps) / steps
    }))
}

/// A zigzag made of `kinks` ReLU kinks evenly spaced inside (-1, 1):
/// y = Σⱼ aⱼ · relu(x − bⱼ) with a₀ = 2 and aⱼ = ±4 alternating, so the slope alternates
/// between +2 and −2. A ReLU network with `kinks` hidden units can represent it exactly.
pub(crate) fn relu_kinks(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let kinks = k.int("kinks", 1, 100)?;
    let terms: Vec<(f64, f64)> = (0..kinks)
        .map(|j| {
            let b = -1.0 + 2.0 * (j + 1) as f64 / (kinks + 1) as f64;
            let a = match j {
                0 => 2.0,
                _ if j % 2 == 1 => -4.0,
                _ => 4.0,
            };
            (a, b)
        })
        .collect();
    Ok(sample(k, rng, |x| {
        terms.iter().map(|&(a, b)| a * (x - b).max(0.0)).sum()
    }))
}

/// The Chebyshev polynomial T_degree(x): bounded in [-1, 1] with `degree` − 1 turning points,
/// so the degree controls difficulty without changing scale.
pub(crate) fn poly(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let degree = k.int("degree", 1, 30)?;
    Ok(sample(k, rng, |x| {
        // T0 = 1, T1 = x, T(n+1) = 2x·T(n) − T(n−1).
        let (mut prev, mut cur) = (1.0, x);
        for _ in 1..degree {
            (prev, cur) = (cur, 2.0 * x * cur - prev);
        }
        cur
    }))
}

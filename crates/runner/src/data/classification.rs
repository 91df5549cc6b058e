//! Two-dimensional classification generators. Each draws row `i` from class `i % classes`, so
//! classes are balanced to within one sample before the (stratified) split.
//!
//! `noise` is the standard deviation of isotropic Gaussian noise added to each point; for `xor`
//! and `blobs` it is the cluster spread itself.

use std::f32::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::transform::{Labels, Table};
use super::{DataError, Knobs};

/// Standard-normal draw, scaled.
fn gauss(rng: &mut ChaCha8Rng, sd: f32) -> f32 {
    let z: f32 = StandardNormal.sample(rng);
    z * sd
}

/// Collects `n` labelled 2-D points, row `i` drawn by `point(class, rng)` for class `i % c`.
fn balanced(
    n: usize,
    n_classes: usize,
    rng: &mut ChaCha8Rng,
    mut point: impl FnMut(usize, &mut ChaCha8Rng) -> [f32; 2],
) -> Table {
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % n_classes;
        x.extend_from_slice(&point(c, rng));
        y.push(c);
    }
    Table {
        x,
        n_features: 2,
        labels: Labels::Classes { y, n_classes },
    }
}

/// Four Gaussian clusters at (±1, ±1); opposite corners share a class ("triangles vs squares").
/// Class 0 sits at (1, 1) and (-1, -1), class 1 at (1, -1) and (-1, 1); each cluster gets a
/// quarter of the samples.
pub(crate) fn xor(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    const CORNERS: [[f32; 2]; 4] = [[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]];
    let mut cluster = 0usize;
    Ok(balanced(k.n, 2, rng, |_, rng| {
        // Cluster i % 4 has class (i % 4) % 2 == i % 2, matching `balanced`'s class.
        let [cx, cy] = CORNERS[cluster % 4];
        cluster += 1;
        [cx + gauss(rng, k.noise), cy + gauss(rng, k.noise)]
    }))
}

/// A k×k checkerboard on [-1, 1]²; cell (a, b) has class (a + b) mod 2. Each point picks a
/// uniform column, then a uniform row among the cells of its class, then a uniform position in
/// the cell, plus optional Gaussian jitter.
pub(crate) fn checkerboard(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let cells = k.int("k", 2, 64)?;
    let side = 2.0 / cells as f32;
    Ok(balanced(k.n, 2, rng, |c, rng| {
        let a = rng.random_range(0..cells);
        // Rows b with (a + b) % 2 == c are parity, parity + 2, ... below `cells`.
        let parity = (c + a) % 2;
        let choices = (cells - parity).div_ceil(2);
        let b = parity + 2 * rng.random_range(0..choices);
        let u: f32 = rng.random();
        let v: f32 = rng.random();
        [
            -1.0 + (a as f32 + u) * side + gauss(rng, k.noise),
            -1.0 + (b as f32 + v) * side + gauss(rng, k.noise),
        ]
    }))
}

/// Two interleaved Archimedean spiral arms of radius up to 1, the second rotated by π; `turns`
/// full turns each.
pub(crate) fn spirals(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let turns = k.real("turns", 0.1, 10.0)? as f32;
    Ok(balanced(k.n, 2, rng, |c, rng| {
        let t: f32 = rng.random();
        let angle = 2.0 * PI * turns * t + c as f32 * PI;
        [
            t * angle.cos() + gauss(rng, k.noise),
            t * angle.sin() + gauss(rng, k.noise),
        ]
    }))
}

/// Two concentric circles: class 0 on radius 1, class 1 on radius `factor`.
pub(crate) fn circles(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let factor = k.real("factor", 0.01, 0.99)? as f32;
    Ok(balanced(k.n, 2, rng, |c, rng| {
        let r = if c == 0 { 1.0 } else { factor };
        let angle = 2.0 * PI * rng.random::<f32>();
        [
            r * angle.cos() + gauss(rng, k.noise),
            r * angle.sin() + gauss(rng, k.noise),
        ]
    }))
}

/// Two interleaving half circles, laid out as scikit-learn's `make_moons`: class 0 is
/// (cos t, sin t), class 1 is (1 − cos t, 0.5 − sin t), t uniform in [0, π].
pub(crate) fn moons(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    Ok(balanced(k.n, 2, rng, |c, rng| {
        let t = PI * rng.random::<f32>();
        let (px, py) = if c == 0 {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        [px + gauss(rng, k.noise), py + gauss(rng, k.noise)]
    }))
}

/// `classes` Gaussian blobs with centres evenly spaced on a circle of radius `radius`, spread
/// `noise`.
pub(crate) fn blobs(k: &Knobs, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    let classes = k.int("classes", 2, 100)?;
    let radius = k.real("radius", 0.0, 1e3)? as f32;
    Ok(balanced(k.n, classes, rng, |c, rng| {
        let angle = 2.0 * PI * c as f32 / classes as f32;
        [
            radius * angle.cos() + gauss(rng, k.noise),
            radius * angle.sin() + gauss(rng, k.noise),
        ]
    }))
}

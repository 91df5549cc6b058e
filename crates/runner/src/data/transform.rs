//! Steps applied to a loaded table: stratified picking (used for the train/test split, for
//! `n_samples` on fixed datasets and for the training-set-size axis), label noise and feature
//! standardisation. Everything works on row-major `Vec<f32>` so the generators and parsers stay
//! independent of the network crate's types.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Targets of a table before conversion to the network crate's types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Labels {
    /// Class indices in `0..n_classes`.
    Classes {
        /// One index per row.
        y: Vec<usize>,
        /// Number of classes (every index is below it).
        n_classes: usize,
    },
    /// One real-valued target per row.
    Values(Vec<f32>),
}

/// A row-major feature table with its targets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// `len() * n_features` features, row after row.
    pub x: Vec<f32>,
    /// Columns per row.
    pub n_features: usize,
    /// One target per row.
    pub labels: Labels,
}

impl Table {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.labels {
            Labels::Classes { y, .. } => y.len(),
            Labels::Values(v) => v.len(),
        }
    }

    /// A new table holding the given rows, in the given order.
    pub fn select(&self, rows: &[usize]) -> Table {
        let f = self.n_features;
        let mut x = Vec::with_capacity(rows.len() * f);
        for &r in rows {
            x.extend_from_slice(&self.x[r * f..(r + 1) * f]);
        }
        let labels = match &self.labels {
            Labels::Classes { y, n_classes } => Labels::Classes {
                y: rows.iter().map(|&r| y[r]).collect(),
                n_classes: *n_classes,
            },
            Labels::Values(v) => Labels::Values(rows.iter().map(|&r| v[r]).collect()),
        };
        Table {
            x,
            n_features: f,
            labels,
        }
    }
}

/// Picks `m` of the `n` rows at random, keeping class proportions when `classes` is given
/// (largest-remainder quotas, so the total is exactly `m`). Returns `(picked, rest)`, each in a
/// random order. Requires `m <= n`.
pub(crate) fn stratified_pick(
    n: usize,
    classes: Option<(&[usize], usize)>,
    m: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    debug_assert!(m <= n);
    let (mut picked, mut rest) = match classes {
        None => {
            let mut all: Vec<usize> = (0..n).collect();
            all.shuffle(rng);
            let rest = all.split_off(m);
            (all, rest)
        }
        Some((y, n_classes)) => {
            let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
            for (i, &c) in y.iter().enumerate() {
                groups[c].push(i);
            }
            let quotas = largest_remainder_quotas(&groups, n, m);
            let mut picked = Vec::with_capacity(m);
            let mut rest = Vec::with_capacity(n - m);
            for (group, quota) in groups.iter_mut().zip(quotas) {
                group.shuffle(rng);
                picked.extend_from_slice(&group[..quota]);
                rest.extend_from_slice(&group[quota..]);
            }
            (picked, rest)
        }
    };
    // Groups were concatenated class by class; shuffle so no consumer ever sees sorted classes.
    picked.shuffle(rng);
    rest.shuffle(rng);
    (picked, rest)
}

/// Per-group counts proportional to group sizes that sum to exactly `m` (Hamilton's method;
/// ties go to the lower class index so the result is deterministic).
fn largest_remainder_quotas(groups: &[Vec<usize>], n: usize, m: usize) -> Vec<usize> {
    if n == 0 {
        return vec![0; groups.len()];
    }
    let mut quotas: Vec<usize> = groups.iter().map(|g| g.len() * m / n).collect();
    let mut order: Vec<(usize, usize)> = groups
        .iter()
        .enumerate()
        .map(|(c, g)| (g.len() * m % n, c))
        .collect();
    // Largest remainder first; for equal remainders, lower class first.
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let short = m - quotas.iter().sum::<usize>();
    for &(_, c) in order.iter().take(short) {
        quotas[c] += 1;
    }
    quotas
}

/// Replaces exactly `round(p * n)` labels, chosen at random, by a uniformly random *different*
/// class. Returns the number of labels changed. Needs `n_classes >= 2` and `0 <= p <= 1`.
pub(crate) fn flip_labels(
    y: &mut [usize],
    n_classes: usize,
    p: f64,
    rng: &mut ChaCha8Rng,
) -> usize {
    let k = (p * y.len() as f64).round() as usize;
    let k = k.min(y.len());
    if k == 0 || n_classes < 2 {
        return 0;
    }
    for i in rand::seq::index::sample(rng, y.len(), k) {
        let old = y[i];
        // Draw from the n_classes - 1 other classes by skipping over the old one.
        let r = rng.random_range(0..n_classes - 1);
        y[i] = if r >= old { r + 1 } else { r };
    }
    k
}

/// Per-feature affine map fitted on the training inputs: `z = (x - mean) / std`.
///
/// Plots use it to map a grid given in original coordinates into the space the model was
/// trained in (`transform_point`), or model-space points back (`inverse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature over the training split.
    pub mean: Vec<f32>,
    /// Divisor used for each feature: the population standard deviation over the training
    /// split, or 1 where that is zero (constant features, e.g. digit border pixels) so they
    /// map to 0 instead of NaN.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits mean and standard deviation of each column of a row-major `rows × n_features`
    /// slice. Accumulates in f64 so large tables do not lose precision.
    pub fn fit(x: &[f32], n_features: usize) -> Self {
        let rows = x.len().checked_div(n_features).unwrap_or(0);
        let mut mean = vec![0.0f64; n_features];
        let mut var = vec![0.0f64; n_features];
        if rows > 0 {
            for row in x.chunks_exact(n_features) {
                for (m, &v) in mean.iter_mut().zip(row) {
                    *m += f64::from(v);
                }
            }
            for m in &mut mean {
                *m /= rows as f64;
            }
            for row in x.chunks_exact(n_features) {
                for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
                    let d = f64::from(v) - m;
                    *s += d * d;
                }
            }
        }
        let std = var
            .iter()
            .map(|&s| {
                let sd = if rows > 0 {
                    (s / rows as f64).sqrt()
                } else {
                    0.0
                };
                if sd > 1e-12 { sd as f32 } else { 1.0 }
            })
            .collect();
        Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// Number of features the standardizer was fitted on.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises a row-major slice of rows in place (its length must be a multiple of the
    /// feature count; a trailing partial row is left untouched).
    pub fn transform(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(self.n_features().max(1)) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Maps standardised rows back to original coordinates in place.
    pub fn inverse(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(self.n_features().max(1)) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
    }

    /// Standardises one point given in original coordinates.
    pub fn transform_point(&self, point: &[f32]) -> Vec<f32> {
        let mut p = point.to_vec();
        self.transform(&mut p);
        p
    }
}

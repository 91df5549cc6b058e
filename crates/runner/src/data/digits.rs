//! The 8×8 handwritten digits (UCI optdigits test set, 1,797 samples, CC BY 4.0; see
//! `crates/runner/data/NOTICE`), embedded in the binary so it works offline from any directory.
//!
//! Pixels are integers 0..=16 (on-pixel counts of 4×4 blocks); we divide by 16 so raw features
//! lie in [0, 1] before any standardisation.

use super::DataError;
use super::transform::{Labels, Table};

/// The committed file: `#` comment lines, then `<digit> <64 base-17 pixel characters>` per line.
const DIGITS_TXT: &str = include_str!("../../data/digits.txt");

/// Samples in the file.
pub(crate) const N_SAMPLES: usize = 1797;
/// Pixels per image.
pub(crate) const N_FEATURES: usize = 64;
/// Digits 0..=9.
pub(crate) const N_CLASSES: usize = 10;

/// Parses the embedded file into a table with pixels scaled to [0, 1].
pub(crate) fn load() -> Result<Table, DataError> {
    let corrupt = |line: usize, reason: &str| DataError::CorruptEmbedded {
        line,
        reason: reason.to_string(),
    };
    let mut x = Vec::with_capacity(N_SAMPLES * N_FEATURES);
    let mut y = Vec::with_capacity(N_SAMPLES);
    for (i, line) in DIGITS_TXT.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (label, pixels) = line
            .split_once(' ')
            .ok_or_else(|| corrupt(i + 1, "no space after the label"))?;
        let label = label
            .parse::<usize>()
            .ok()
            .filter(|&d| d < N_CLASSES)
            .ok_or_else(|| corrupt(i + 1, "label is not a digit"))?;
        if pixels.len() != N_FEATURES {
            return Err(corrupt(i + 1, "expected 64 pixel characters"));
        }
        for ch in pixels.chars() {
            let v = ch
                .to_digit(17)
                .ok_or_else(|| corrupt(i + 1, "pixel is not in 0123456789abcdefg"))?;
            x.push(v as f32 / 16.0);
        }
        y.push(label);
    }
    if y.len() != N_SAMPLES {
        return Err(corrupt(0, "wrong number of samples"));
    }
    Ok(Table {
        x,
        n_features: N_FEATURES,
        labels: Labels::Classes {
            y,
            n_classes: N_CLASSES,
        },
    })
}

//! `row_sums`: the promised summation order, bit for bit, on every ISA and layout.

mod common;

use common::{Real, rng};
use depthlab_gemm::{GemmError, MatRef, Operand, available_isas, row_sums, row_sums_on};
use rand::Rng;

/// The documented order, written the plain way: 16 lanes over every 16th element, folded in
/// halves, then the tail.
fn documented<T: Real>(row: &[T]) -> T {
    let mut lanes = [T::ZERO; 16];
    let chunks = row.len() / 16;
    for c in 0..chunks {
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane = *lane + row[16 * c + l];
        }
    }
    for width in [8, 4, 2, 1] {
        for l in 0..width {
            lanes[l] = lanes[l] + lanes[l + width];
        }
    }
    row[16 * chunks..].iter().fold(lanes[0], |s, &v| s + v)
}

/// Values of mixed sign and magnitude, so that a different order almost surely rounds
/// differently.
fn values<T: Real>(len: usize, seed: u64) -> Vec<T> {
    let mut r = rng(seed);
    (0..len)
        .map(|_| T::from_f64((r.random::<f64>() - 0.5) * 10f64.powi(r.random_range(-3..4))))
        .collect()
}

fn every_isa_matches_the_documented_order<T: Real>() {
    for isa in available_isas() {
        for cols in (0..=40).chain([47, 64, 100, 257]) {
            for rows in [0, 1, 7] {
                let x: Vec<T> = values(rows * cols, (rows * 1000 + cols) as u64);
                let view = MatRef::row_major(&x, rows, cols).expect("fits");
                let mut got = vec![T::from_f64(f64::NAN); rows];
                row_sums_on(isa, view, &mut got).expect("supported, shapes agree");
                for (i, g) in got.iter().enumerate() {
                    let want = documented(&x[i * cols..(i + 1) * cols]);
                    assert_eq!(
                        g.bits(),
                        want.bits(),
                        "{isa:?} {} row {i} of {rows}x{cols}: {g} vs {want}",
                        T::NAME
                    );
                }
            }
        }
    }
}

#[test]
fn row_sums_follow_the_documented_order_bit_for_bit_on_every_isa() {
    every_isa_matches_the_documented_order::<f32>();
    every_isa_matches_the_documented_order::<f64>();
}

#[test]
fn strided_views_sum_like_dense_ones() {
    let (rows, cols) = (5, 53);
    let dense: Vec<f32> = values(rows * cols, 7);
    let mut want = vec![0.0f32; rows];
    row_sums(MatRef::row_major(&dense, rows, cols).unwrap(), &mut want).unwrap();
    // The same matrix stored column-major, and row-major with padded rows.
    let col_major: Vec<f32> = (0..rows * cols)
        .map(|k| dense[(k % rows) * cols + k / rows])
        .collect();
    let pad = 3;
    let mut padded = vec![f32::NAN; rows * (cols + pad)];
    for i in 0..rows {
        padded[i * (cols + pad)..][..cols].copy_from_slice(&dense[i * cols..][..cols]);
    }
    let views = [
        MatRef::col_major(&col_major, rows, cols).unwrap(),
        MatRef::new(&padded, rows, cols, (cols + pad) as isize, 1).unwrap(),
        MatRef::row_major(&col_major, cols, rows).unwrap().t(),
    ];
    for (v, view) in views.into_iter().enumerate() {
        let mut got = vec![0.0f32; rows];
        row_sums(view, &mut got).unwrap();
        let bits = |s: &[f32]| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "view {v}");
    }
}

#[test]
fn a_sums_slice_of_the_wrong_length_is_a_shape_error_naming_c() {
    let x = [1.0f32; 12];
    let view = MatRef::row_major(&x, 3, 4).unwrap();
    let mut short = [0.0f32; 2];
    let err = row_sums(view, &mut short).unwrap_err();
    assert_eq!(
        err,
        GemmError::ShapeMismatch {
            operand: Operand::C,
            a: (3, 4),
            b: (4, 1),
            c: (2, 1)
        }
    );
    assert_eq!(short, [0.0; 2], "nothing written on error");
}

//! Strides: padded, negative and zero strides on the inputs, C as a window of a larger buffer
//! with its surroundings checked untouched, non-unit strides on both axes of C.

mod common;

use common::{Layout, Operand, Real, SCALARS, Spec, assert_ok, check_at, placed, rng, tile};
use depthlab_gemm::{Isa, available_isas};

macro_rules! every_isa_and_type {
    ($f:ident) => {
        for isa in available_isas() {
            $f::<f32>(isa);
            $f::<f64>(isa);
        }
    };
}

/// Shapes straddling the register tile of `isa`, plus one that crosses KC nowhere but is big.
fn shapes<T: Real>(isa: Isa) -> Vec<(usize, usize, usize)> {
    let (mr, nr) = tile(isa, std::mem::size_of::<T>());
    vec![
        (1, 1, 1),
        (3, 4, 5),
        (mr + 1, 17, nr - 1),
        (nr + 1, 33, mr + 2),
        (70, 50, 45),
    ]
}

fn negative<T: Real>(isa: Isa) {
    let mut rng = rng(0x57_01);
    for (m, k, n) in shapes::<T>(isa) {
        for (neg_rows, neg_cols) in [(true, false), (false, true), (true, true)] {
            for row_major in [true, false] {
                let rev = Layout::reversed(row_major, neg_rows, neg_cols);
                let fwd = Layout::padded(!row_major);
                // Reverse each operand alone, then all three together.
                for (a, b, c) in [
                    (rev, fwd, fwd),
                    (fwd, rev, fwd),
                    (fwd, fwd, rev),
                    (rev, rev, rev),
                ] {
                    for beta in [0.0, -2.5] {
                        let spec = Spec {
                            beta,
                            alpha: -2.5,
                            a: Operand::plain(a),
                            b: Operand::transposed(b),
                            c,
                            ..Spec::dense(m, k, n)
                        };
                        assert_ok::<T>(isa, &spec, &mut rng);
                    }
                }
            }
        }
    }
}

#[test]
fn negative_strides_on_each_operand() {
    every_isa_and_type!(negative);
}

fn padded<T: Real>(isa: Isa) {
    let mut rng = rng(0x57_02);
    for (m, k, n) in shapes::<T>(isa) {
        for pad in [1, 7, 1000] {
            for row_major in [true, false] {
                let l = Layout {
                    pad,
                    margin: 9,
                    ..Layout::padded(row_major)
                };
                let spec = Spec {
                    beta: SCALARS[pad % 3],
                    a: Operand::plain(l),
                    b: Operand::plain(Layout {
                        row_major: !row_major,
                        ..l
                    }),
                    c: l,
                    ..Spec::dense(m, k, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn padded_leading_dimensions_leave_padding_untouched() {
    every_isa_and_type!(padded);
}

fn window<T: Real>(isa: Isa) {
    let mut rng = rng(0x57_03);
    // C is an m×n window at (10, 7) of a 120×90 matrix (row- or column-major); the rest of the
    // big buffer holds the sentinel and must come back bit-for-bit.
    for (m, k, n) in shapes::<T>(isa) {
        for row_major in [true, false] {
            for beta in SCALARS {
                let (rs, cs) = if row_major { (90, 1) } else { (1, 120) };
                let offset = 10 * rs as usize + 7 * cs as usize;
                let pc = common::Placement {
                    len: 120 * 90,
                    ..placed(offset, m, n, rs, cs, 0)
                };
                let pa = placed(0, m, k, k as isize, 1, 0);
                let pb = placed(0, k, n, 1, k as isize, 0);
                let spec = Spec {
                    beta,
                    ..Spec::dense(m, k, n)
                };
                check_at::<T>(isa, &spec, pa, pb, pc, &mut rng).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn c_as_a_window_of_a_larger_matrix() {
    every_isa_and_type!(window);
}

fn zero<T: Real>(isa: Isa) {
    let mut rng = rng(0x57_04);
    for (m, k, n) in shapes::<T>(isa) {
        // A with row stride 0: every row of A is the same k values (a broadcast row).
        let pa_rows = placed(0, m, k, 0, 1, 0);
        // B with column stride 0: every column the same.
        let pb_cols = placed(0, k, n, 1, 0, 0);
        // A with column stride 0 and B with row stride 0: rank-one in k.
        let pa_cols = placed(0, m, k, 1, 0, 0);
        let pb_rows = placed(0, k, n, 0, 1, 0);
        let dense_a = placed(0, m, k, k as isize, 1, 0);
        let dense_b = placed(0, k, n, n as isize, 1, 0);
        for (pa, pb) in [
            (pa_rows, dense_b),
            (dense_a, pb_cols),
            (pa_cols, pb_rows),
            (pa_rows, pb_cols),
        ] {
            for row_major_c in [true, false] {
                let pc = if row_major_c {
                    placed(2, m, n, n as isize, 1, 2)
                } else {
                    placed(2, m, n, 1, m as isize, 2)
                };
                let spec = Spec {
                    beta: -2.5,
                    ..Spec::dense(m, k, n)
                };
                check_at::<T>(isa, &spec, pa, pb, pc, &mut rng).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn zero_strides_on_inputs_broadcast() {
    every_isa_and_type!(zero);
}

fn odd<T: Real>(isa: Isa) {
    let mut rng = rng(0x57_05);
    for (m, k, n) in shapes::<T>(isa) {
        // Neither stride of any operand is 1: every element is a gather or a scatter.
        let pa = placed(1, m, k, 3, 3 * m as isize + 2, 1);
        let pb = placed(
            k * (n.max(1) - 1) * 5 + 1,
            k,
            n,
            2,
            -(2 * k as isize + 1),
            3,
        );
        let pc = placed(4, m, n, 2 * n as isize + 3, 2, 4);
        let pc_neg = placed(
            (m.max(1) - 1) * 2 + (n.max(1) - 1) * (2 * m + 5) + 3,
            m,
            n,
            -2,
            -(2 * m as isize + 5),
            3,
        );
        for c in [pc, pc_neg] {
            for beta in [0.0, 1.0] {
                let spec = Spec {
                    beta,
                    alpha: -2.5,
                    ..Spec::dense(m, k, n)
                };
                check_at::<T>(isa, &spec, pa, pb, c, &mut rng).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn non_unit_strides_on_both_axes_of_every_operand() {
    every_isa_and_type!(odd);
}

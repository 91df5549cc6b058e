//! The oracle itself: hand-computed values, every layout family agreeing with a dense one, and
//! the judge catching what it must catch. If these fail, no other test in tests/ means anything.

mod common;

use common::{Buffer, Layout, Operand, Spec, buffers, judge, reference, rng};

#[test]
fn oracle_matches_hand_computed_product() {
    // [[1, 2, 3], [4, 5, 6]] · [[7, 8], [9, 10], [11, 12]] = [[58, 64], [139, 154]]
    let spec = Spec {
        beta: -2.5,
        alpha: 2.0,
        ..Spec::dense(2, 3, 2)
    };
    let a = Buffer::<f64> {
        data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        at: Layout::ROW.place(2, 3),
    };
    let b = Buffer::<f64> {
        data: vec![7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
        at: Layout::ROW.place(3, 2),
    };
    let c = Buffer::<f64> {
        data: vec![1.0, -1.0, 0.5, 2.0],
        at: Layout::ROW.place(2, 2),
    };
    let (want, tol) = reference(&spec, &a, &b, &c);
    assert_eq!(want, vec![113.5, 130.5, 276.75, 303.0]);
    assert!(tol.iter().all(|&t| t > 0.0 && t < 1e-10), "{tol:?}");
}

#[test]
fn layouts_place_the_same_matrix_at_distinct_in_bounds_slots() {
    for layout in Layout::all() {
        for trans in [false, true] {
            let op = Operand { layout, trans };
            let at = op.place(5, 3);
            assert_eq!((at.rows, at.cols), (5, 3));
            let mut seen = vec![false; at.len];
            for i in 0..5 {
                for j in 0..3 {
                    let idx = at.index(i, j);
                    assert!(!seen[idx], "{op:?} maps two elements to {idx}");
                    seen[idx] = true;
                }
            }
            if layout.margin > 0 {
                assert!(!seen[0] && !seen[at.len - 1], "{op:?} has no guard");
            }
        }
    }
}

#[test]
fn judge_rejects_wrong_values_nan_and_padding_writes() {
    let spec = Spec {
        c: Layout::padded(true),
        ..Spec::dense(3, 4, 2)
    };
    let (a, b, c) = buffers::<f32>(&spec, &mut rng(1));
    let (want, tol) = reference(&spec, &a, &b, &c);
    let before = c.data.clone();
    let mut good = Buffer::<f32> {
        data: before.clone(),
        at: c.at,
    };
    for i in 0..3 {
        for j in 0..2 {
            let idx = good.at.index(i, j);
            good.data[idx] = want[i * 2 + j] as f32;
        }
    }
    assert!(judge("ok", &spec, &good, &before, &want, &tol).is_ok());

    let mut off = Buffer::<f32> {
        data: good.data.clone(),
        at: c.at,
    };
    let idx = off.at.index(2, 1);
    off.data[idx] += 1e-3;
    assert!(judge("off", &spec, &off, &before, &want, &tol).is_err());

    let mut nan = Buffer::<f32> {
        data: good.data.clone(),
        at: c.at,
    };
    nan.data[idx] = f32::NAN;
    assert!(judge("nan", &spec, &nan, &before, &want, &tol).is_err());

    let mut stray = Buffer::<f32> {
        data: good.data.clone(),
        at: c.at,
    };
    stray.data[0] = 0.0;
    assert!(judge("stray", &spec, &stray, &before, &want, &tol).is_err());
}

#[test]
fn judge_demands_nan_and_infinity_where_the_oracle_has_them() {
    let spec = Spec::dense(1, 2, 2);
    let (mut a, b, c) = buffers::<f64>(&spec, &mut rng(2));
    a.set(0, 0, f64::INFINITY);
    let (want, tol) = reference(&spec, &a, &b, &c);
    assert!(want.iter().all(|w| w.is_infinite()), "{want:?}");
    let before = c.data.clone();
    let mut got = Buffer::<f64> {
        data: before.clone(),
        at: c.at,
    };
    for (j, &w) in want.iter().enumerate() {
        got.set(0, j, w);
    }
    assert!(judge("inf", &spec, &got, &before, &want, &tol).is_ok());
    got.set(0, 1, -want[1]);
    assert!(judge("wrong sign", &spec, &got, &before, &want, &tol).is_err());
    got.set(0, 1, 1e300);
    assert!(judge("finite", &spec, &got, &before, &want, &tol).is_err());
    got.set(0, 1, f64::NAN);
    assert!(judge("nan for inf", &spec, &got, &before, &want, &tol).is_err());
}

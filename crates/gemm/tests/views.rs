//! The view types themselves: element addressing, transposes of inputs and of the output,
//! reborrowing an output across calls, and reading an output back.

use depthlab_gemm::{MatMut, MatRef, gemm};

#[test]
fn get_addresses_elements_through_offset_and_strides() {
    let data: Vec<f64> = (0..20).map(f64::from).collect();
    // 3x2 starting at 17, rows walking back by 5, columns forward by 1.
    let v = MatRef::from_parts(&data, 17, 3, 2, -5, 1).unwrap();
    assert_eq!(v.get(0, 0), Some(17.0));
    assert_eq!(v.get(2, 1), Some(8.0));
    assert_eq!(v.get(3, 0), None);
    assert_eq!(v.get(0, 2), None);
    let t = v.t();
    assert_eq!(
        (t.rows(), t.cols(), t.row_stride(), t.col_stride()),
        (2, 3, 1, -5)
    );
    assert_eq!(t.get(1, 2), Some(8.0));
}

#[test]
fn a_transposed_output_view_receives_the_product() {
    // C (2x3) seen through the transpose of a 3x2 row-major buffer: that buffer ends up
    // holding Cᵀ, i.e. C in column-major order.
    let a = [1.0f32, 2.0, 3.0, 4.0]; // 2x2
    let b = [1.0f32, 0.0, 2.0, 0.0, 1.0, 3.0]; // 2x3
    let mut ct = [f32::NAN; 6];
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 2).unwrap(),
        MatRef::row_major(&b, 2, 3).unwrap(),
        0.0,
        MatMut::row_major(&mut ct, 3, 2).unwrap().t(),
    )
    .unwrap();
    // C = [[1, 2, 8], [3, 4, 18]], stored transposed.
    assert_eq!(ct, [1.0, 3.0, 2.0, 4.0, 8.0, 18.0]);
}

#[test]
fn a_reborrowed_output_accumulates_across_calls() {
    let x = [1.0f64, 2.0, 3.0]; // 1x3
    let w = [1.0f64, 1.0, 1.0]; // 3x1
    let mut c = [10.0f64];
    let mut out = MatMut::row_major(&mut c, 1, 1).unwrap();
    for _ in 0..3 {
        gemm(
            1.0,
            MatRef::row_major(&x, 1, 3).unwrap(),
            MatRef::row_major(&w, 3, 1).unwrap(),
            1.0,
            out.rb_mut(),
        )
        .unwrap();
    }
    assert_eq!(out.as_ref().get(0, 0), Some(28.0));
    assert_eq!((out.rows(), out.cols()), (1, 1));
    assert_eq!(c, [28.0]);
}

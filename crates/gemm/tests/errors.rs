//! The safe API's errors: bad shapes, views reaching outside their slice, aliasing outputs and
//! unknown ISAs come back as typed errors naming the offending values, never as a panic.

mod common;

use depthlab_gemm::{
    GemmError, Isa, MatMut, MatRef, Operand, Parallelism, available_isas, gemm, gemm_on,
};
use rand::Rng;

#[test]
fn shape_mismatch_names_the_operand_and_all_three_shapes_and_leaves_c_alone() {
    let a = [1.0f32; 6];
    let b = [1.0f32; 20];
    let mut c = [7.0f32; 10];
    // Inner dimensions disagree: A 2x3, B 4x5.
    let err = gemm(
        1.0,
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 4, 5).unwrap(),
        0.0,
        MatMut::row_major(&mut c, 2, 5).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        GemmError::ShapeMismatch {
            operand: Operand::B,
            a: (2, 3),
            b: (4, 5),
            c: (2, 5)
        }
    );
    let msg = err.to_string();
    for shape in ["2x3", "4x5", "2x5", "B has 4 rows but A has 3 columns"] {
        assert!(msg.contains(shape), "{msg:?} does not name {shape}");
    }
    assert_eq!(c, [7.0; 10], "C written despite the error");

    // Output shape disagrees: A·B is 2x5 but C is 5x2.
    let b = [1.0f32; 15];
    let err = gemm(
        1.0,
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 3, 5).unwrap(),
        0.0,
        MatMut::row_major(&mut c, 5, 2).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            GemmError::ShapeMismatch {
                operand: Operand::C,
                c: (5, 2),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("C is 5x2 but A·B is 2x5"), "{err}");
    assert_eq!(c, [7.0; 10]);
}

#[test]
fn shape_mismatch_on_every_isa_too() {
    let a = [0.0f64; 4];
    let mut c = [0.0f64; 4];
    for isa in available_isas() {
        let err = gemm_on(
            isa,
            Parallelism::Sequential,
            1.0,
            MatRef::row_major(&a, 2, 2).unwrap(),
            MatRef::row_major(&a, 4, 1).unwrap(),
            1.0,
            MatMut::row_major(&mut c, 2, 2).unwrap(),
        )
        .unwrap_err();
        assert!(matches!(err, GemmError::ShapeMismatch { .. }), "{err:?}");
    }
}

#[test]
fn out_of_bounds_views_are_errors_naming_the_reach() {
    let data = [0.0f32; 8];
    // Needs 9 elements.
    let err = MatRef::row_major(&data, 3, 3).unwrap_err();
    match &err {
        GemmError::OutOfBounds {
            rows: 3,
            cols: 3,
            highest: 8,
            len: 8,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains('8'), "{err}");
    // Negative stride from offset 0 reaches below the slice.
    let err = MatRef::new(&data, 2, 2, -2, 1).unwrap_err();
    assert!(
        matches!(err, GemmError::OutOfBounds { lowest: -2, .. }),
        "{err:?}"
    );
    // The same layout is fine from an offset that makes room.
    assert!(MatRef::from_parts(&data, 2, 2, 2, -2, 1).is_ok());
    // Offset past the end.
    assert!(matches!(
        MatRef::from_parts(&data, 8, 1, 1, 1, 1),
        Err(GemmError::OutOfBounds { .. })
    ));
    let mut out = [0.0f32; 8];
    assert!(matches!(
        MatMut::col_major(&mut out, 3, 3),
        Err(GemmError::OutOfBounds { .. })
    ));
    assert!(matches!(
        MatMut::from_parts(&mut out, 0, 2, 4, 1, -2),
        Err(GemmError::OutOfBounds { .. })
    ));
    // Empty views need no storage at all.
    assert!(MatRef::<f32>::new(&[], 0, 5, 5, 1).is_ok());
    assert!(MatRef::<f32>::new(&[], 5, 0, 1, 1).is_ok());
}

#[test]
fn aliasing_outputs_are_rejected_and_named() {
    let mut c = [0.0f64; 16];
    // Row stride 0 on a 2-row output: both rows are the same memory.
    let err = MatMut::new(&mut c, 2, 3, 0, 1).unwrap_err();
    assert_eq!(
        err,
        GemmError::AliasingOutput {
            what: "matrix view".into(),
            rows: 2,
            cols: 3,
            row_stride: 0,
            col_stride: 1
        }
    );
    assert!(err.to_string().contains("(0, 1)"), "{err}");
    // Interleaved: (0, 2) and (1, 0) share slot 2.
    assert!(matches!(
        MatMut::new(&mut c, 2, 3, 2, 1),
        Err(GemmError::AliasingOutput { .. })
    ));
    // Equal strides on a 2x2.
    assert!(matches!(
        MatMut::new(&mut c, 2, 2, 3, 3),
        Err(GemmError::AliasingOutput { .. })
    ));
    // Column stride 0 on a single row.
    assert!(matches!(
        MatMut::new(&mut c, 1, 4, 1, 0),
        Err(GemmError::AliasingOutput { .. })
    ));
    // While zero strides are fine on inputs, and exact tilings are fine on outputs.
    assert!(MatRef::new(&c, 2, 3, 0, 1).is_ok());
    assert!(MatMut::new(&mut c, 2, 3, 1, 2).is_ok());
    assert!(MatMut::new(&mut c, 2, 2, -1, 2).is_err()); // reaches below 0
    assert!(MatMut::from_parts(&mut c, 1, 2, 2, -1, 2).is_ok());
}

#[test]
fn empty_outputs_are_valid_views() {
    // An m×0 or 0×n output has no elements, so nothing can alias: the dense constructors must
    // accept it (shapes like 5×0 come straight out of 0..=20 loops and empty batches).
    let mut none: [f32; 0] = [];
    let rows_only = MatMut::row_major(&mut none, 5, 0);
    assert!(rows_only.is_ok(), "row_major 5x0: {rows_only:?}");
    let cols_only = MatMut::col_major(&mut none, 0, 5);
    assert!(cols_only.is_ok(), "col_major 0x5: {cols_only:?}");
    // And a product into it succeeds and does nothing.
    let a = [1.0f32; 10];
    let no_b: [f32; 0] = [];
    let r = gemm(
        1.0,
        MatRef::row_major(&a, 5, 2).unwrap(),
        MatRef::row_major(&no_b, 2, 0).unwrap(),
        0.0,
        MatMut::new(&mut none, 5, 0, 1, 1).unwrap(),
    );
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn unknown_isa_names_are_errors_naming_the_value() {
    for bad in ["neon9", "AVX-512", "sse"] {
        let err = bad.parse::<Isa>().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, GemmError::UnsupportedIsa { .. }), "{err:?}");
        assert!(msg.contains(bad), "{msg:?} does not name {bad:?}");
        assert!(
            msg.contains("scalar"),
            "{msg:?} does not list the valid values"
        );
        // A name parsed from anywhere (a CLI flag, a config) was not set in the environment.
        assert!(
            !msg.contains("DEPTHLAB_GEMM_ISA"),
            "{msg:?} blames the variable"
        );
    }
    assert_eq!("avx512".parse::<Isa>().unwrap(), Isa::Avx512);
    assert_eq!("Scalar".parse::<Isa>().unwrap(), Isa::Scalar);
}

#[test]
fn forcing_an_isa_this_cpu_lacks_is_an_error_not_a_crash() {
    let a = [1.0f32; 4];
    let mut c = [f32::NAN; 4];
    let missing: Vec<Isa> = [Isa::Avx512, Isa::Avx2]
        .into_iter()
        .filter(|i| !i.is_supported())
        .collect();
    for isa in &missing {
        let err = gemm_on(
            *isa,
            Parallelism::Auto,
            1.0,
            MatRef::row_major(&a, 2, 2).unwrap(),
            MatRef::row_major(&a, 2, 2).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 2).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(isa.name()), "{err}");
        assert!(err.to_string().contains("gemm_on"), "{err}");
        assert!(!err.to_string().contains("DEPTHLAB_GEMM_ISA"), "{err}");
    }
    // Whatever the CPU, the reported list matches the per-ISA answer and always has scalar.
    for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
        assert_eq!(available_isas().contains(&isa), isa.is_supported());
    }
    assert!(available_isas().contains(&Isa::Scalar));
}

/// Builds views from arbitrary (often absurd) numbers; returns whether each constructor
/// answered without panicking.
fn try_views(len: usize, offset: usize, rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    let data = vec![0.0f32; len];
    let mut out = vec![0.0f32; len];
    let built = std::panic::catch_unwind(move || {
        let _ = MatRef::from_parts(&data, offset, rows, cols, rs, cs);
        let _ = MatMut::from_parts(&mut out, offset, rows, cols, rs, cs);
    });
    built.is_ok()
}

#[test]
fn extreme_shapes_and_strides_never_panic() {
    // One case per corner of the arithmetic: the sum of two maximal reaches overflows i128.
    let extremes = [
        usize::MAX,
        usize::MAX / 2,
        isize::MAX as usize,
        1 << 40,
        3,
        1,
        0,
    ];
    let strides = [
        isize::MIN,
        isize::MIN + 1,
        isize::MAX,
        -(1 << 40),
        -1,
        0,
        1,
        1 << 40,
    ];
    let mut panics = Vec::new();
    for &rows in &extremes {
        for &cols in &extremes {
            for &rs in &strides {
                for &cs in &strides {
                    for offset in [0, 3, usize::MAX] {
                        // A few witnesses are enough (each panic prints a message).
                        if panics.len() < 3 && !try_views(4, offset, rows, cols, rs, cs) {
                            panics.push((offset, rows, cols, rs, cs));
                        }
                    }
                }
            }
        }
    }
    let mut rng = common::rng(0xe770);
    for _ in 0..20_000 {
        let rows = extremes[rng.random_range(0..extremes.len())];
        let cols = extremes[rng.random_range(0..extremes.len())];
        let (rs, cs) = (rng.random::<i64>() as isize, rng.random::<i64>() as isize);
        if panics.len() < 3 && !try_views(4, rng.random_range(0..6), rows, cols, rs, cs) {
            panics.push((0, rows, cols, rs, cs));
        }
    }
    assert!(
        panics.is_empty(),
        "view constructions panicked at (offset, rows, cols, rs, cs) = {panics:?}"
    );
}

#[test]
fn any_stride_along_a_dimension_of_one_multiplies_without_panicking() {
    // A length-1 dimension never uses its stride, so views accept any value there; the
    // product must not do arithmetic on it either (these tests run with overflow checks on).
    let wild = [isize::MAX, isize::MIN, isize::MAX / 3, -(1 << 60), 0];
    let a = [2.0f32, 3.0, 5.0, 7.0];
    let b = [11.0f32, 13.0, 17.0, 19.0];
    for isa in available_isas() {
        for &s in &wild {
            // k = 1: A's column stride and B's row stride are free.
            let mut c = [f32::NAN; 16];
            gemm_on(
                isa,
                Parallelism::Auto,
                1.0,
                MatRef::new(&a, 4, 1, 1, s).unwrap(),
                MatRef::new(&b, 1, 4, s, 1).unwrap(),
                0.0,
                MatMut::new(&mut c, 4, 4, 4, 1).unwrap(),
            )
            .unwrap();
            for i in 0..4 {
                for j in 0..4 {
                    assert_eq!(c[i * 4 + j], a[i] * b[j], "{isa:?} k = 1, stride {s}");
                }
            }
            // m = 1 and n = 1: A's and C's row strides, B's and C's column strides are free.
            let mut c = [f32::NAN; 1];
            gemm_on(
                isa,
                Parallelism::Auto,
                1.0,
                MatRef::new(&a, 1, 4, s, 1).unwrap(),
                MatRef::new(&b, 4, 1, 1, s).unwrap(),
                0.0,
                MatMut::new(&mut c, 1, 1, s, s).unwrap(),
            )
            .unwrap();
            assert_eq!(
                c[0],
                2.0 * 11.0 + 3.0 * 13.0 + 5.0 * 17.0 + 7.0 * 19.0,
                "{isa:?} {s}"
            );
            // A row vector times a matrix, into a row vector with a wild row stride.
            let mut c = [f32::NAN; 2];
            gemm_on(
                isa,
                Parallelism::Auto,
                -2.5,
                MatRef::new(&a, 1, 2, s, 1).unwrap(),
                MatRef::new(&b, 2, 2, 2, 1).unwrap(),
                0.0,
                MatMut::new(&mut c, 1, 2, s, 1).unwrap(),
            )
            .unwrap();
            assert_eq!(
                c,
                [
                    -2.5 * (2.0 * 11.0 + 3.0 * 17.0),
                    -2.5 * (2.0 * 13.0 + 3.0 * 19.0)
                ]
            );
        }
    }
}

#[test]
fn a_wild_stride_along_k_of_one_is_harmless_in_a_packed_product_too() {
    // Large enough that the side with unit stride down its rows is packed, and copied by the
    // first column of tiles, where the kernel works out its steps' alignment: with k = 1 the k
    // stride is free and must not be multiplied into an overflow (overflow checks are on in
    // tests).
    let long: Vec<f32> = (0..2100).map(|i| (i % 7) as f32 - 3.0).collect();
    let short: Vec<f32> = (0..40).map(|j| (j % 5) as f32 * 0.5).collect();
    for isa in available_isas() {
        for s in [isize::MAX, isize::MIN, -(1 << 60)] {
            // Column-major C keeps the product as it is: A, the long side, is copied.
            outer_product_with_free_k_stride(isa, &long, &short, s, false);
            // Row-major C is multiplied as Cᵀ = Bᵀ·Aᵀ: B, the long side here, is copied.
            outer_product_with_free_k_stride(isa, &short, &long, s, true);
        }
    }
}

/// `C = x·yᵀ` as a product with k = 1 whose k strides are `s`, C row- or column-major,
/// checked element by element.
fn outer_product_with_free_k_stride(isa: Isa, x: &[f32], y: &[f32], s: isize, row_major_c: bool) {
    let (m, n) = (x.len(), y.len());
    let mut c = vec![f32::NAN; m * n];
    let (rsc, csc) = if row_major_c { (n, 1) } else { (1, m) };
    gemm_on(
        isa,
        Parallelism::Sequential,
        1.0,
        MatRef::new(x, m, 1, 1, s).unwrap(),
        MatRef::new(y, 1, n, s, 1).unwrap(),
        0.0,
        MatMut::new(&mut c, m, n, rsc as isize, csc as isize).unwrap(),
    )
    .unwrap();
    for i in 0..m {
        for j in 0..n {
            assert_eq!(
                c[i * rsc + j * csc],
                x[i] * y[j],
                "{isa:?} stride {s}, row-major C {row_major_c}, at ({i}, {j})"
            );
        }
    }
}

#[test]
fn block_sizes_answer_for_any_input() {
    // Public (for tests on block edges), so absurd tile shapes must not panic either.
    for mr in [0, 1, 64, 4096, 4097, usize::MAX] {
        for nr in [0, 1, 6, 1 << 16, (1 << 16) + 1, usize::MAX] {
            for elem in [0, 4, 8, usize::MAX] {
                let got = std::panic::catch_unwind(|| depthlab_gemm::block_sizes(mr, nr, elem));
                let (kc, mc, nc) =
                    got.unwrap_or_else(|_| panic!("block_sizes({mr}, {nr}, {elem})"));
                assert!(
                    kc > 0 && mc > 0 && nc > 0,
                    "({mr}, {nr}, {elem}): {kc} {mc} {nc}"
                );
            }
        }
    }
    // The kernels' own shapes are unchanged by the guard.
    let (kc, mc, nc) = depthlab_gemm::block_sizes(64, 6, 4);
    assert!(kc % 8 == 0 && mc % 64 == 0 && nc % 6 == 0, "{kc} {mc} {nc}");
}

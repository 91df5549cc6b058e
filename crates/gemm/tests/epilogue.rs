//! The epilogue (`gemm_epilogue_on`): C must hold, bit for bit, what `gemm_on` followed by the
//! same steps element by element gives (bias, then ReLU, then a ReLU's backward mask), on every
//! ISA, kernel edge, k block, dot-path shape and layout; nothing outside C may change; the
//! thread count must not change a bit; and a bias or mask that does not fit C is an error that
//! names it.

mod common;

use common::{Buffer, Layout, Operand, Real, SCALARS, Spec, buffers, rng, view, view_mut};
use depthlab_gemm::{
    BiasAlong, Epilogue, GemmError, Isa, MatMut, MatRef, Parallelism, available_isas, block_sizes,
    gemm_epilogue, gemm_epilogue_on, gemm_on, last_isa_used,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::ThreadPoolBuilder;

/// One epilogue to check, with its operands as plain data.
#[derive(Debug, Clone, Copy)]
struct Steps {
    bias: Option<BiasAlong>,
    relu: bool,
    mask: Option<Layout>,
}

/// Every combination of the three steps, the mask stored like C (the kernel then applies it
/// in registers on full tiles) or unlike it (transposed major order, padded, walked
/// backwards: applied after the store).
fn all_steps(c: Layout) -> Vec<Steps> {
    let masks = [
        None,
        Some(c),
        Some(Layout::reversed(!c.row_major, true, false)),
    ];
    let mut out = Vec::new();
    for bias in [None, Some(BiasAlong::Rows), Some(BiasAlong::Columns)] {
        for relu in [false, true] {
            for mask in masks {
                out.push(Steps { bias, relu, mask });
            }
        }
    }
    out
}

/// The bias and mask values: the mask holds exact zeros, negative zeros, negatives and NaN as
/// well as positives, so every branch of "keep where above zero" is taken.
fn operands<T: Real>(
    spec: &Spec,
    steps: &Steps,
    rng: &mut ChaCha8Rng,
) -> (Vec<T>, Option<Buffer<T>>) {
    let len = match steps.bias {
        Some(BiasAlong::Rows) => spec.m,
        Some(BiasAlong::Columns) => spec.n,
        None => 0,
    };
    let bias = (0..len)
        .map(|_| T::from_f64(rng.random::<f64>() * 2.0 - 1.0))
        .collect();
    let mask = steps.mask.map(|layout| {
        let mut buf = Buffer::random(layout.place(spec.m, spec.n), f64::NAN, rng);
        for i in 0..spec.m {
            for j in 0..spec.n {
                let x = match rng.random_range(0..8) {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::NAN,
                    3 | 4 => -rng.random::<f64>(),
                    _ => rng.random::<f64>(),
                };
                buf.set(i, j, x);
            }
        }
        buf
    });
    (bias, mask)
}

/// The steps one element at a time, written out as the documentation states them.
fn by_hand<T: Real>(x: T, bias: Option<T>, relu: bool, mask: Option<T>) -> T {
    let mut x = x;
    if let Some(b) = bias {
        x = x + b;
    }
    if relu && x <= T::ZERO {
        x = T::ZERO;
    }
    // Kept only where the mask is above zero: NaN, zero and below all clear it.
    if let Some(a) = mask
        && a.partial_cmp(&T::ZERO) != Some(std::cmp::Ordering::Greater)
    {
        x = T::ZERO;
    }
    x
}

/// Runs `spec` with `steps` both ways on `isa` and compares every bit of C's buffer.
fn check<T: Real>(
    isa: Isa,
    par: Parallelism,
    spec: &Spec,
    steps: &Steps,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let (a, b, c0) = buffers::<T>(spec, rng);
    let (bias, mask) = operands::<T>(spec, steps, rng);
    let (alpha, beta) = (T::from_f64(spec.alpha), T::from_f64(spec.beta));

    // Unfused: the product, then the steps element by element.
    let mut want = Buffer {
        data: c0.data.clone(),
        at: c0.at,
    };
    gemm_on(
        isa,
        par,
        alpha,
        view(&a, spec.a),
        view(&b, spec.b),
        beta,
        view_mut(&mut want),
    )
    .map_err(|e| format!("plain product failed: {e}"))?;
    for i in 0..spec.m {
        for j in 0..spec.n {
            let idx = want.at.index(i, j);
            let bias = steps.bias.map(|along| match along {
                BiasAlong::Rows => bias[i],
                BiasAlong::Columns => bias[j],
            });
            let mask = mask.as_ref().map(|m| m.data[m.at.index(i, j)]);
            want.data[idx] = by_hand(want.data[idx], bias, steps.relu, mask);
        }
    }

    // Fused.
    let mut got = Buffer {
        data: c0.data.clone(),
        at: c0.at,
    };
    let mut epi = Epilogue::new();
    if let Some(along) = steps.bias {
        epi = epi.bias(&bias, along);
    }
    if steps.relu {
        epi = epi.relu();
    }
    if let Some(m) = &mask {
        epi = epi.relu_mask(
            MatRef::from_parts(&m.data, m.at.offset, m.at.rows, m.at.cols, m.at.rs, m.at.cs)
                .map_err(|e| format!("test bug: mask view rejected: {e}"))?,
        );
    }
    gemm_epilogue_on(
        isa,
        par,
        alpha,
        view(&a, spec.a),
        view(&b, spec.b),
        beta,
        view_mut(&mut got),
        &epi,
    )
    .map_err(|e| format!("fused product failed: {e}"))?;
    if spec.m * spec.n * spec.k > 0 && last_isa_used() != Some(isa) {
        return Err(format!("{isa:?} was forced but {:?} ran", last_isa_used()));
    }
    for (idx, (x, y)) in got.data.iter().zip(&want.data).enumerate() {
        if x.bits() != y.bits() {
            return Err(format!(
                "{} on {isa:?}: buffer index {idx} holds {x}, the product then the steps give \
                 {y}; {steps:?}, {spec:?}",
                T::NAME
            ));
        }
    }
    Ok(())
}

/// Shapes that reach every way a tile is stored: empty and k = 0 products, one element, the
/// edges of every tile height and width (ragged panels and ragged last columns), a k deeper
/// than one KC block (the steps must wait for the last block), and the dot path's thin
/// `X·Wᵀ` (both operands along k).
fn shapes<T: Real>() -> Vec<Spec> {
    let kc = block_sizes(64, 6, std::mem::size_of::<T>()).0;
    let mut out = Vec::new();
    for (m, k, n) in [
        (0, 3, 4),
        (3, 0, 4),
        (4, 3, 0),
        (1, 1, 1),
        (5, 7, 3),
        (17, 9, 13),
        (31, 20, 25),
        (63, 33, 7),
        (65, 16, 11),
        (130, 40, 19),
        (48, 24, 9),
        (70, kc + 3, 8),
    ] {
        out.push(Spec::dense(m, k, n));
    }
    // X·Wᵀ with a thin output: the dot path.
    out.push(Spec {
        b: Operand::transposed(Layout::ROW),
        ..Spec::dense(40, 70, 10)
    });
    out
}

fn every_step_matches_the_product_then_the_steps<T: Real>() {
    let mut rng = rng(0xE91_0001);
    for isa in available_isas() {
        for base in shapes::<T>() {
            for c in Layout::all() {
                let spec = Spec {
                    c,
                    alpha: SCALARS[rng.random_range(0..3)],
                    beta: SCALARS[rng.random_range(0..3)],
                    a: Operand {
                        trans: rng.random(),
                        ..base.a
                    },
                    ..base
                };
                for steps in all_steps(c) {
                    if let Err(e) =
                        check::<T>(isa, Parallelism::Sequential, &spec, &steps, &mut rng)
                    {
                        panic!("{e}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_step_matches_the_product_then_the_steps_f32() {
    every_step_matches_the_product_then_the_steps::<f32>();
}

#[test]
fn every_step_matches_the_product_then_the_steps_f64() {
    every_step_matches_the_product_then_the_steps::<f64>();
}

#[test]
fn a_nan_in_the_product_passes_the_relu() {
    // A NaN in A poisons its row of C; the ReLU must keep it (a divergence stays visible) and
    // a mask above zero must keep it too.
    let mut a = vec![0.5f32; 64 * 8];
    a[3 * 8] = f32::NAN;
    let b = vec![0.25f32; 8 * 12];
    let mask = vec![1.0f32; 64 * 12];
    let mut c = vec![0.0f32; 64 * 12];
    let epi = Epilogue::new()
        .relu()
        .relu_mask(MatRef::row_major(&mask, 64, 12).expect("mask view"));
    gemm_epilogue(
        Parallelism::Sequential,
        1.0,
        MatRef::row_major(&a, 64, 8).expect("A view"),
        MatRef::row_major(&b, 8, 12).expect("B view"),
        0.0,
        MatMut::row_major(&mut c, 64, 12).expect("C view"),
        &epi,
    )
    .expect("product");
    for (idx, x) in c.iter().enumerate() {
        assert_eq!(x.is_nan(), idx / 12 == 3, "C[{idx}] = {x}");
    }
}

#[test]
fn the_thread_count_changes_no_bit() {
    // Big enough to be split over two threads, with every step on.
    let mut rng = rng(0xE91_0002);
    let (m, k, n) = (300, 200, 250);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random::<f32>() - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.random::<f32>() - 0.5).collect();
    let bias: Vec<f32> = (0..n).map(|_| rng.random::<f32>() - 0.5).collect();
    let mask: Vec<f32> = (0..m * n).map(|_| rng.random::<f32>() - 0.3).collect();
    let run = |threads: usize| {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let mut c = vec![0.0f32; m * n];
        pool.install(|| {
            let epi = Epilogue::new()
                .bias(&bias, BiasAlong::Columns)
                .relu()
                .relu_mask(MatRef::row_major(&mask, m, n).expect("mask view"));
            gemm_epilogue(
                Parallelism::Auto,
                1.0,
                MatRef::row_major(&a, m, k).expect("A view"),
                MatRef::row_major(&b, k, n).expect("B view"),
                0.0,
                MatMut::row_major(&mut c, m, n).expect("C view"),
                &epi,
            )
            .expect("product");
        });
        c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn a_bias_or_mask_that_does_not_fit_is_an_error_naming_it() {
    let a = [1.0f32; 6];
    let b = [1.0f32; 12];
    let mut c = [0.0f32; 8];
    let short = [0.0f32; 3];
    let mask = [1.0f32; 6];
    let run = |epi: &Epilogue<'_, f32>, c: &mut [f32]| {
        gemm_epilogue(
            Parallelism::Sequential,
            1.0,
            MatRef::row_major(&a, 2, 3).expect("A view"),
            MatRef::row_major(&b, 3, 4).expect("B view"),
            0.0,
            MatMut::row_major(c, 2, 4).expect("C view"),
            epi,
        )
    };
    // C is 2×4: a bias per row needs 2 values, per column 4; the mask must be 2×4.
    let cases = [
        (
            Epilogue::new().bias(&short, BiasAlong::Rows),
            "bias",
            "2 values",
        ),
        (
            Epilogue::new().bias(&short, BiasAlong::Columns),
            "bias",
            "4 values",
        ),
        (
            Epilogue::new().relu_mask(MatRef::row_major(&mask, 2, 3).expect("mask view")),
            "relu mask",
            "2x4",
        ),
    ];
    for (epi, what, need) in cases {
        let before = c;
        match run(&epi, &mut c) {
            Err(e @ GemmError::EpilogueMismatch { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(what) && msg.contains(need), "{msg}");
            }
            other => panic!("expected an epilogue mismatch for {what}, got {other:?}"),
        }
        assert_eq!(c, before, "C changed although the call was refused");
    }
}

//! The dot-product path: products whose A rows and B columns are both contiguous in k (a
//! forward pass `X·Wᵀ`) with one thin side. Checked against the oracle on every ISA across the
//! thin widths around the four-column groups and the row groups, k around the register width
//! (the masked tail), padded and backward-walking rows, every C layout, and α, β.

mod common;

use common::{Layout, Operand, Real, SCALARS, Spec, assert_ok, rng};
use depthlab_gemm::{Isa, available_isas};

/// k values around one and a few registers of `T`, and one long enough to matter.
fn depths<T: Real>() -> Vec<usize> {
    let lanes = 64 / std::mem::size_of::<T>();
    vec![lanes, lanes + 1, 2 * lanes - 1, 3 * lanes + 5, 1000]
}

/// A stored row-major with padding (rows contiguous in k, possibly walked backwards), B stored
/// as the transpose of a row-major matrix (columns contiguous in k).
fn spec(m: usize, k: usize, n: usize, neg: bool, c: Layout, alpha: f64, beta: f64) -> Spec {
    Spec {
        alpha,
        beta,
        a: Operand::plain(Layout::reversed(true, neg, false)),
        b: Operand::transposed(Layout::reversed(true, neg, false)),
        c,
        ..Spec::dense(m, k, n)
    }
}

fn thin_products<T: Real>(isa: Isa) {
    let mut rng = rng(0xD07);
    let thin = [1, 2, 3, 4, 5, 8, 9, 16, 17, 31, 64, 65];
    let wide = [1, 3, 4, 5, 9, 33];
    for k in depths::<T>() {
        for &t in &thin {
            for (w_i, &w) in wide.iter().enumerate() {
                // Thin side as n and as m: the path turns the product so the thin side is across.
                for (m, n) in [(w, t), (t, w)] {
                    let c = Layout::all()[(t + w_i + k) % Layout::all().len()];
                    let beta = SCALARS[(t + w) % 3];
                    let alpha = SCALARS[(t + k) % 3].max(0.5);
                    let neg = (t + w + k) % 2 == 1;
                    assert_ok::<T>(isa, &spec(m, k, n, neg, c, alpha, beta), &mut rng);
                }
            }
        }
    }
}

#[test]
fn thin_products_match_the_oracle_on_every_isa() {
    for isa in available_isas() {
        thin_products::<f32>(isa);
        thin_products::<f64>(isa);
    }
}

/// The MLP output layers the path exists for, at their real sizes.
#[test]
fn mlp_output_layers_match_the_oracle() {
    let mut rng = rng(0xD08);
    for isa in available_isas() {
        for (m, k, n) in [(128, 512, 10), (32, 64, 2), (64, 256, 10), (32, 64, 64)] {
            for beta in SCALARS {
                let s = spec(m, k, n, false, Layout::ROW, 1.0, beta);
                assert_ok::<f32>(isa, &s, &mut rng);
                assert_ok::<f64>(isa, &s, &mut rng);
            }
        }
    }
}

/// Weight updates `W -= η·dZᵀ·A` of layers with few outputs and a short k (the batch): thin
/// products that AVX-512 hands to the blocked tiles instead of the dot path, and the other ISAs
/// keep; both sides of that rule's k, thin and thick bounds, every C layout.
#[test]
fn short_weight_updates_match_the_oracle() {
    let mut rng = rng(0xD09);
    let shapes = [
        (10, 64, 256),
        (10, 65, 256),
        (4, 32, 256),
        (4, 33, 100),
        (5, 17, 100),
        (6, 50, 256),
        (3, 16, 256),
        (12, 64, 31),
        (12, 64, 32),
        (10, 16, 15),
    ];
    for isa in available_isas() {
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            for c in Layout::all() {
                let s = spec(m, k, n, i % 2 == 1, c, -0.1, 1.0);
                assert_ok::<f32>(isa, &s, &mut rng);
                assert_ok::<f64>(isa, &s, &mut rng);
            }
        }
    }
}

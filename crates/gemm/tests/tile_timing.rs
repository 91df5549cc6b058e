//! The `tile-timing` totals account for every multiply-add of a tiled product exactly once,
//! under the kind of tile that computed it.
#![cfg(feature = "tile-timing")]

use depthlab_gemm::tile_timing::{self, TileKind};
use depthlab_gemm::{MatMut, MatRef, Parallelism, gemm, with_parallelism};

/// Totals are process-wide, so the tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn product(m: usize, k: usize, n: usize) -> tile_timing::TileTotals {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0.0f32; m * n];
    with_parallelism(Parallelism::Sequential, || {
        tile_timing::reset();
        gemm(
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatMut::row_major(&mut c, m, n).unwrap(),
        )
        .unwrap();
        tile_timing::totals()
    })
}

#[test]
fn every_multiply_add_of_a_tiled_product_is_counted_once() {
    let _turn = ONE_AT_A_TIME.lock().unwrap();
    // Odd sizes: ragged last panels and columns, several k and n blocks on some.
    for &(m, k, n) in &[
        (256, 256, 256),
        (300, 700, 200),
        (97, 1500, 131),
        (640, 64, 2500),
    ] {
        let t = product(m, k, n);
        assert_eq!(t.all().macs, (m * k * n) as u64, "{m}x{k}x{n}: {t:?}");
        assert!(t.all().ticks > 0 && t.all().tiles > 0, "{m}x{k}x{n}: {t:?}");
    }
}

#[test]
fn a_large_row_major_product_shows_each_kind_of_tile() {
    let _turn = ONE_AT_A_TIME.lock().unwrap();
    // Row-major C is oriented to Cᵀ = Bᵀ·Aᵀ: B (unit stride along n) becomes an A copied by the
    // first column of tiles; n = 512 rows give several panels, m = 301 leaves a ragged column.
    let t = product(301, 512, 512);
    for kind in TileKind::ALL {
        assert!(t.of(kind).tiles > 0, "{kind:?} missing: {t:?}");
    }
    // Reset clears every kind.
    tile_timing::reset();
    assert_eq!(tile_timing::totals().all(), Default::default());
}

//! Shapes: every m, n, k in 0..=20, the register-tile and cache-block edges of each ISA, B
//! packed by transposition, thin row-major C kept unoriented, thin products and k = 0, for f32
//! and f64 on every ISA path this CPU has.

mod common;

use common::{
    Buffer, Layout, Operand, Real, SCALARS, Spec, around, assert_ok, blocks, blocks_for,
    check_with, rng, tile, tiles,
};
use depthlab_gemm::{Isa, Parallelism, available_isas};
use rand::Rng;

/// Runs `f` for f32 and f64 on every available ISA.
macro_rules! every_isa_and_type {
    ($f:ident) => {
        for isa in available_isas() {
            $f::<f32>(isa);
            $f::<f64>(isa);
        }
    };
}

fn all_small_shapes<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a11);
    // Two full sweeps: row-major with β = 0 over a NaN-filled C, and column-major with β ≠ 0.
    let sweeps = [(Layout::ROW, -2.5, 0.0), (Layout::COL, 1.0, -2.5)];
    for (layout, alpha, beta) in sweeps {
        for m in 0..=20 {
            for k in 0..=20 {
                for n in 0..=20 {
                    let spec = Spec {
                        alpha,
                        beta,
                        a: Operand::plain(layout),
                        b: Operand::plain(layout),
                        c: layout,
                        ..Spec::dense(m, k, n)
                    };
                    assert_ok::<T>(isa, &spec, &mut rng);
                }
            }
        }
    }
}

#[test]
fn every_shape_up_to_20_on_every_axis() {
    every_isa_and_type!(all_small_shapes);
}

fn sampled_small_shapes<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a12);
    for _ in 0..600 {
        let (m, k, n) = (
            rng.random_range(0..=20),
            rng.random_range(0..=20),
            rng.random_range(0..=20),
        );
        let spec = Spec::random_layouts(m, k, n, &mut rng);
        assert_ok::<T>(isa, &spec, &mut rng);
    }
}

#[test]
fn small_shapes_with_random_layouts_and_scalars() {
    every_isa_and_type!(sampled_small_shapes);
}

fn layout_grid<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a13);
    let (mr, nr) = tile(isa, std::mem::size_of::<T>());
    let storages = [Layout::ROW, Layout::padded(false)];
    let mut operands = Vec::new();
    for s in storages {
        operands.push(Operand::plain(s));
        operands.push(Operand::transposed(s));
    }
    for (m, k, n) in [(7, 13, 5), (mr + 1, 9, nr + 1), (nr + 2, 21, mr - 1)] {
        for &a in &operands {
            for &b in &operands {
                for c in Layout::all() {
                    for alpha in SCALARS {
                        for beta in SCALARS {
                            let spec = Spec {
                                m,
                                k,
                                n,
                                alpha,
                                beta,
                                a,
                                b,
                                c,
                            };
                            assert_ok::<T>(isa, &spec, &mut rng);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn all_transposes_layouts_and_scalars() {
    every_isa_and_type!(layout_grid);
}

fn register_tile_edges<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a14);
    // C's orientation decides which of m and n the kernel vectorises, so both axes get both,
    // for every kernel of the ISA (the narrow one runs when the oriented m fits a register).
    let mut sizes: Vec<usize> = tiles(isa, std::mem::size_of::<T>())
        .iter()
        .flat_map(|&(mr, nr)| [mr, nr, 2 * mr, 2 * nr])
        .flat_map(around)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    for &m in &sizes {
        for &n in &sizes {
            for k in [1, 5, 32] {
                for c in [Layout::ROW, Layout::COL, Layout::padded(false)] {
                    let spec = Spec {
                        c,
                        beta: SCALARS[(m + n) % 3],
                        b: Operand::plain(Layout::COL),
                        ..Spec::dense(m, k, n)
                    };
                    assert_ok::<T>(isa, &spec, &mut rng);
                }
            }
        }
    }
}

#[test]
fn register_tile_edges_mr_nr_plus_minus_one() {
    every_isa_and_type!(register_tile_edges);
}

/// One microkernel of an ISA as the edge tests see it.
struct Kernel {
    /// (MR, NR).
    tile: (usize, usize),
    /// (KC, MC, NC).
    blocks: (usize, usize, usize),
    /// An oriented m that makes the driver pick this kernel.
    m: usize,
}

/// Every kernel of `isa` for `T`.
fn kernels<T: Real>(isa: Isa) -> Vec<Kernel> {
    let elem = std::mem::size_of::<T>();
    // The driver takes the shortest tile whose MR holds the oriented m, so MR - 1 rows pick
    // each kernel (and leave the wide one's only panel ragged by a single row).
    tiles(isa, elem)
        .into_iter()
        .map(|(mr, nr)| Kernel {
            tile: (mr, nr),
            blocks: blocks_for(mr, nr, elem),
            m: (mr - 1).max(1),
        })
        .collect()
}

fn kc_edges<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a15);
    for Kernel {
        tile: (_, nr),
        blocks: (kc, _, _),
        m,
    } in kernels::<T>(isa)
    {
        let mut ks = around(kc);
        ks.extend([2 * kc + 1, 3 * kc - 1]);
        for k in ks {
            for beta in SCALARS {
                // Column-major C keeps m as the kernel's M; row-major swaps m and n.
                for (m, n, c) in [(m, nr + 1, Layout::COL), (nr + 1, m, Layout::ROW)] {
                    // β ≠ 1 catches a kernel applying β again on the second k block.
                    let spec = Spec {
                        beta,
                        alpha: -2.5,
                        c,
                        a: Operand::transposed(Layout::ROW),
                        ..Spec::dense(m, k, n)
                    };
                    assert_ok::<T>(isa, &spec, &mut rng);
                }
            }
        }
    }
}

#[test]
fn cache_block_edges_kc_plus_minus_one() {
    every_isa_and_type!(kc_edges);
}

fn mc_edges<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a16);
    // Only the wide kernel ever sees an m past one register, so only it has MC edges.
    let (_, nr) = tile(isa, std::mem::size_of::<T>());
    let (kc, mc, _) = blocks(isa, std::mem::size_of::<T>());
    for big in around(mc).into_iter().chain([2 * mc + 1]) {
        // Column-major C: m is the kernel's M. Row-major C: the driver swaps, so n is.
        for (m, n, c) in [(big, nr + 1, Layout::COL), (nr + 1, big, Layout::ROW)] {
            for k in [19, kc + 1] {
                let spec = Spec {
                    beta: 1.0,
                    c,
                    ..Spec::dense(m, k, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn cache_block_edges_mc_plus_minus_one() {
    every_isa_and_type!(mc_edges);
}

fn nc_edges<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a17);
    for Kernel {
        blocks: (_, _, nc),
        m,
        ..
    } in kernels::<T>(isa)
    {
        for big in around(nc) {
            for (m, n, c) in [(m, big, Layout::COL), (big, m, Layout::ROW)] {
                let spec = Spec {
                    beta: -2.5,
                    c,
                    ..Spec::dense(m, 5, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn cache_block_edges_nc_plus_minus_one() {
    every_isa_and_type!(nc_edges);
}

fn k_contiguous_b<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1c);
    // B contiguous along k under an oriented m of several MR panels: B is read in place, each
    // column a separate stream, by every panel (ragged last columns, register-wide steps of k
    // and the tail). 5 MR - 3 rows and 8 MR + 3 rows run the wide tile (NR columns), the
    // second with a one-register ragged panel; five mid-tile panels, which pad least in the
    // mid tile, run it with its own, wider slivers. Small m keeps the dot path out.
    let elem = std::mem::size_of::<T>();
    let (mr, nr) = tile(isa, elem);
    let mid_mr = tiles(isa, elem).get(2).map_or(mr, |t| t.0);
    for (big, thin) in [5 * mr - 3, 8 * mr + 3, 5 * mid_mr]
        .into_iter()
        .flat_map(|big| [1, nr - 1, nr, nr + 1, 2 * nr + 1].map(|t| (big, t)))
    {
        for k in [15, 16, 17, 33, 64] {
            // Column-major C: B (k × thin) stored transposed. Row-major C: the driver swaps,
            // and A (thin × k, row-major) becomes the k-contiguous operand.
            for (m, n, c, a, b) in [
                (
                    big,
                    thin,
                    Layout::COL,
                    Layout::COL,
                    Operand::transposed(Layout::ROW),
                ),
                (
                    thin,
                    big,
                    Layout::ROW,
                    Layout::ROW,
                    Operand::plain(Layout::ROW),
                ),
            ] {
                let spec = Spec {
                    beta: -2.5,
                    alpha: 1.5,
                    c,
                    a: Operand::plain(a),
                    b,
                    ..Spec::dense(m, k, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn k_contiguous_b_across_panels_columns_and_steps() {
    every_isa_and_type!(k_contiguous_b);
}

fn thin_row_major_c<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1e);
    // A row-major C with fewer columns than the narrowest tile has rows and at least a wide
    // tile's height is kept unoriented when A runs down m (or C has at most a quarter of those
    // columns): full-height tiles, strided stores. Every such width, ragged and whole panels,
    // k across a block edge, reversed and padded C, each scalar (β = 0 over NaN in C).
    let elem = std::mem::size_of::<T>();
    let tile_set = tiles(isa, elem);
    let (wide_mr, _) = tile_set[0];
    let narrow_mr = tile_set.last().map_or(wide_mr, |t| t.0);
    let (kc, _, _) = blocks(isa, elem);
    for n in 1..narrow_mr {
        for m in [wide_mr, wide_mr + 1, 3 * wide_mr - 5] {
            for k in [1, 17, kc + 1] {
                for (i, a) in [Layout::COL, Layout::ROW].into_iter().enumerate() {
                    let c = if (n + i) % 2 == 0 {
                        Layout::padded(true)
                    } else {
                        Layout::reversed(true, true, false)
                    };
                    let spec = Spec {
                        beta: SCALARS[(m + n + k) % 3],
                        alpha: 1.5,
                        c,
                        a: Operand::plain(a),
                        b: Operand::plain(Layout::COL),
                        ..Spec::dense(m, k, n)
                    };
                    assert_ok::<T>(isa, &spec, &mut rng);
                }
            }
        }
    }
}

#[test]
fn thin_row_major_c_runs_full_height_tiles() {
    every_isa_and_type!(thin_row_major_c);
}

fn rows_contiguous_b_in_place<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1f);
    // B with its rows contiguous, fed to one to four MR panels: read in place (and prefetched)
    // while its rows are less than a page apart, packed from a page on; k past a block edge so
    // the sliver spans far more than L1. Ragged and whole panels, ragged last columns.
    let elem = std::mem::size_of::<T>();
    let (mr, nr) = tile(isa, elem);
    let (kc, _, _) = blocks(isa, elem);
    let page = 4096 / elem;
    for n in [3 * nr + 1, page / 2 + 5, page + nr - 1] {
        for m in [mr + 1, 2 * mr, 4 * mr - 3, 4 * mr] {
            for k in [33, kc + 3] {
                let spec = Spec {
                    beta: SCALARS[(m + k) % 3],
                    alpha: -1.25,
                    c: Layout::COL,
                    a: Operand::plain(Layout::COL),
                    b: Operand::plain(Layout::ROW),
                    ..Spec::dense(m, k, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn rows_contiguous_b_across_one_to_four_panels() {
    every_isa_and_type!(rows_contiguous_b_in_place);
}

/// Moves A within a larger buffer so its first element starts on a cache line.
fn align_a<T: Real>(a: &mut Buffer<T>) {
    let mut data = vec![T::from_f64(f64::NAN); a.data.len() + 16];
    let shift = (0..16)
        .find(|&s| (data.as_ptr().wrapping_add(s + a.at.offset) as usize).is_multiple_of(64))
        .expect("an element-aligned buffer reaches a line within 16 elements");
    data[shift..shift + a.data.len()].copy_from_slice(&a.data);
    a.at.offset += shift;
    a.at.len += shift;
    a.data = data;
}

fn a_already_a_panel<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1e);
    // A column-major with exactly MR rows, starting on a cache line: its steps of k lie where
    // a packed panel would put them, so the kernel reads it in place whatever n is. Each tile
    // height the ISA has, n far past the panel limit of ordinary in-place A, k past a block.
    let elem = std::mem::size_of::<T>();
    let (kc, _, _) = blocks(isa, elem);
    for (mr, nr) in tiles(isa, elem) {
        for n in [17 * nr + 1, 40 * nr] {
            for k in [33, kc + 3] {
                let spec = Spec {
                    beta: SCALARS[(n + k) % 3],
                    alpha: -1.25,
                    c: Layout::COL,
                    a: Operand::plain(Layout::COL),
                    b: Operand::random(&mut rng),
                    ..Spec::dense(mr, k, n)
                };
                let got = check_with::<T>(isa, Parallelism::Auto, &spec, &mut rng, |a, _, _| {
                    align_a(a)
                });
                if let Err(e) = got {
                    panic!("{e}");
                }
            }
        }
    }
}

#[test]
fn an_aligned_a_with_the_panel_layout_is_read_in_place() {
    every_isa_and_type!(a_already_a_panel);
}

fn a_copied_by_the_first_column<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1f);
    // A with a unit stride down m but too many columns of tiles to be read in place (more than
    // 16 NR panels): the first column of tiles reads each full panel where it lies and stores
    // it into the packed panel that every later column reads; a ragged last panel is packed
    // beforehand. One, three (less a row) and three (plus a ragged few) panels of each tile
    // height, n ragged, k past a block edge; column-major C keeps A as it is, row-major C
    // makes B's transpose the A that is copied.
    let elem = std::mem::size_of::<T>();
    let (kc, _, _) = blocks(isa, elem);
    for (mr, nr) in tiles(isa, elem) {
        for m in [mr, 3 * mr - 1, 3 * mr + 5] {
            for (n, k) in [(17 * nr + 1, 33), (20 * nr + 3, kc + 3)] {
                for (mm, nn, c, a, b) in [
                    (m, n, Layout::COL, Layout::COL, Layout::ROW),
                    (n, m, Layout::ROW, Layout::COL, Layout::ROW),
                ] {
                    let spec = Spec {
                        beta: SCALARS[(m + n + k) % 3],
                        alpha: -1.25,
                        c,
                        a: Operand::plain(a),
                        b: Operand::plain(b),
                        ..Spec::dense(mm, k, nn)
                    };
                    assert_ok::<T>(isa, &spec, &mut rng);
                }
            }
        }
    }
}

#[test]
fn a_packed_by_the_first_column_of_tiles() {
    every_isa_and_type!(a_copied_by_the_first_column);
}

fn thin<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a18);
    let (kc, _, _) = blocks(isa, std::mem::size_of::<T>());
    let long = [1, 2, 17, 100, 301, kc + 1];
    for &x in &long {
        for &y in &[1, 7, 64, 250] {
            for (m, k, n) in [(1, x, y), (y, x, 1), (x, 1, y), (1, x, 1)] {
                let mut spec = Spec::random_layouts(m, k, n, &mut rng);
                spec.alpha = 1.0;
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn thin_shapes_vectors_and_outer_products() {
    every_isa_and_type!(thin);
}

fn k_zero<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a19);
    for (m, n) in [(1, 1), (5, 3), (40, 33)] {
        for c in Layout::all() {
            for beta in SCALARS {
                let spec = Spec {
                    beta,
                    c,
                    ..Spec::dense(m, 0, n)
                };
                assert_ok::<T>(isa, &spec, &mut rng);
            }
        }
    }
}

#[test]
fn k_zero_scales_c_by_beta_and_zeroes_nan_when_beta_is_zero() {
    every_isa_and_type!(k_zero);
}

fn dense_sweeps<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1a);
    // Every m and n up to 70 (whatever MR and NR become, their edges are in here) ...
    for m in 1..=70 {
        for n in 1..=70 {
            let c = if (m + n) % 2 == 0 {
                Layout::ROW
            } else {
                Layout::COL
            };
            let spec = Spec {
                c,
                beta: -2.5,
                ..Spec::dense(m, 3, n)
            };
            assert_ok::<T>(isa, &spec, &mut rng);
        }
    }
    // ... and every oriented m up to 800 (MC, for any plausible cache rule).
    for big in 1..=800 {
        for (m, n, c) in [(big, 5, Layout::COL), (5, big, Layout::ROW)] {
            assert_ok::<T>(
                isa,
                &Spec {
                    c,
                    ..Spec::dense(m, 2, n)
                },
                &mut rng,
            );
        }
    }
}

#[test]
fn dense_sweeps_cover_any_tile_and_mc() {
    every_isa_and_type!(dense_sweeps);
}

fn k_sweep<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1b);
    // Every k up to 1100 (KC, whatever the cache rule makes it, and its multiples), on a
    // wide-kernel product with ragged edges.
    for k in 1..=1100 {
        let c = if k % 2 == 0 { Layout::ROW } else { Layout::COL };
        let spec = Spec {
            c,
            beta: 1.0,
            ..Spec::dense(33, k, 13)
        };
        assert_ok::<T>(isa, &spec, &mut rng);
    }
}

#[test]
fn every_k_up_to_1100_on_the_default_isa() {
    let isa = available_isas()[0];
    k_sweep::<f32>(isa);
    k_sweep::<f64>(isa);
}

fn non_finite<T: Real>(isa: Isa) {
    let mut rng = rng(0x5a1c);
    let (mr, nr) = tile(isa, std::mem::size_of::<T>());
    for (m, k, n) in [(1, 1, 1), (3, 5, 2), (mr + 1, 17, nr + 1), (40, 300, 29)] {
        for _ in 0..6 {
            let mut spec = Spec::random_layouts(m, k, n, &mut rng);
            // α = 0 is checked against matrixmultiply in dropin.rs (0·NaN is NaN there too).
            spec.alpha = [1.0, -2.5][rng.random_range(0..2)];
            let (i0, p0) = (rng.random_range(0..m), rng.random_range(0..k));
            let (p1, j1) = (rng.random_range(0..k), rng.random_range(0..n));
            let planted = |a: &mut Buffer<T>, b: &mut Buffer<T>, _: &mut Buffer<T>| {
                a.set(i0, p0, f64::NAN);
                b.set(p1, j1, f64::INFINITY);
            };
            check_with::<T>(isa, Parallelism::Auto, &spec, &mut rng, planted)
                .unwrap_or_else(|e| panic!("NaN at A({i0},{p0}), inf at B({p1},{j1}): {e}"));
        }
    }
}

#[test]
fn nan_and_infinity_in_inputs_propagate_like_ieee() {
    every_isa_and_type!(non_finite);
}

//! The dot-product path: products where every row of `A` and every column of `B` is
//! contiguous in k (a forward pass `X·Wᵀ` with row-major `X` and `W`) and one side is thin
//! (an output layer of 10 classes, say).
//!
//! The blocked path would transpose both operands into panels on every call, and with a thin
//! side that copy costs more than the arithmetic. Here the SIMD lanes run along k instead:
//! each element of C is a dot product of two contiguous vectors, summed in registers and
//! reduced once at the end, and nothing is packed. The thin operand stays in cache while
//! groups of rows of the other stream past it once.
//!
//! Every element of C is summed in the same order whatever the thread count: threads split
//! the row groups, never k.

use crate::driver::Problem;
use crate::kernel::{DotKernel, DotTile, Isa};

/// The thin side the dot path always takes (given k fills a register): past it, and with a
/// short k, packing is amortised over enough columns that the blocked path's outer products
/// win, since each dot product ends in a horizontal reduction that costs several vectors' work.
///
/// Measured on a Sapphire Rapids class core (f32, 1 thread, GFLOP/s dot vs blocked):
/// 128×64×10 41 vs 37, 32×64×16 38 vs 43, 32×64×64 64 vs 113, 128×128×32 91 vs 148.
const MAX_THIN: usize = 12;

/// The thin side the dot path takes when k spans at least [`LONG_K_REGISTERS`] registers:
/// the reduction is then amortised, while packing the thick operand still costs the blocked
/// path a pass over it for few columns (128×512×24 98 vs 53, 128×512×32 121 vs 83,
/// 128×256×32 86 vs 104, 128×512×64 83 vs 154).
const MAX_THIN_LONG_K: usize = 32;

/// Registers of k that make a k "long" for [`MAX_THIN_LONG_K`].
const LONG_K_REGISTERS: usize = 32;

/// Bytes of the thin operand the path accepts: it is re-read by every row group, so it must
/// stay in L2.
const MAX_THIN_BYTES: usize = 256 << 10;

/// Whether the dot path should run this product (`lanes`: elements per register of `isa`).
pub(crate) fn suits<T>(p: &Problem<T>, lanes: usize, isa: Isa) -> bool {
    let thin = p.m.min(p.n);
    let max_thin = if p.k >= LONG_K_REGISTERS * lanes {
        MAX_THIN_LONG_K
    } else {
        MAX_THIN
    };
    p.csa == 1
        && p.rsb == 1
        && p.k >= lanes
        && thin <= max_thin
        && thin
            .saturating_mul(p.k)
            .saturating_mul(std::mem::size_of::<T>())
            <= MAX_THIN_BYTES
        && !blocked_beats_short_dots(p, lanes, isa)
}

/// Whether the blocked path beats AVX-512's dot products on a short k: each element of C
/// then ends in a reduction that costs about as much as its few steps of k, while the
/// blocked path's tiles run down C's thick side, storing whole registers when that side is
/// contiguous (a weight update `W -= η·dZᵀ·A` of a layer with few outputs whose deltas are
/// stored one output per row, dZᵀ thin). Where C's thick side is strided (a forward `X·Wᵀ`
/// into a row-major batch of few columns) the blocked stores scatter, and the dot path stays
/// ahead at any k.
///
/// Measured on the Zen 5 host (1 thread, ABBA in one process, 15 rounds; A rows and B columns
/// contiguous in k, C row-major t×n; µs, dot → blocked):
/// - f32, n = 256: t = 4, k 16 0.86 → 0.52, k 32 0.99 → 0.80, k 64 1.35 → 1.51; t = 6, 8, 12,
///   k ≤ 64: 1.13–2.8× faster blocked, k 128 0.70–0.90×; 10×64×256 (ten outputs, a batch of
///   64) 3.51 → 2.38; odd sizes 4×20×256 1.04 → 0.75, 5×17×100 0.60 → 0.35, 6×50×256 2.04 → 1.83;
/// - f64: t = 4, k 16 2.13 → 1.75; t = 10, k 16 5.31 → 2.39, k 32 5.74 → 4.09, k 64 6.51 →
///   7.38; 4×9×100 0.96 → 0.59, 6×30×64 0.94 → 0.79, 10×32×16 0.37 → 0.31;
/// - a thick side under two registers: f32 10×64×16 0.22 → 0.34, 12×64×12 0.18 → 0.49;
/// - t ≤ 3 stays with the dot path: 2×16×256 gained (0.62 → 0.44) but 2×64×256 (0.86 →
///   1.18), 2×16×16 and 2×32×32 lost;
/// - C row-major with the thin side across (256×k×t: the thick side strided): 0.7–2.7× slower
///   blocked at every k;
/// - AVX2 (forced): the dot path won every shape above (blocked 1.3–2.5× slower), so the rule
///   is AVX-512's alone.
fn blocked_beats_short_dots<T>(p: &Problem<T>, lanes: usize, isa: Isa) -> bool {
    let (thin, thick) = (p.m.min(p.n), p.m.max(p.n));
    let max_k_registers = match thin {
        0..=3 => return false,
        4 | 5 => SHORT_K_REGISTERS_FEW,
        _ => SHORT_K_REGISTERS,
    };
    let thick_contiguous = if p.m >= p.n { p.rsc == 1 } else { p.csc == 1 };
    isa == Isa::Avx512 && thick_contiguous && thick >= 2 * lanes && p.k <= max_k_registers * lanes
}

/// Registers of k up to which [`blocked_beats_short_dots`] holds for a thin side of 4 or 5.
const SHORT_K_REGISTERS_FEW: usize = 2;

/// Registers of k up to which [`blocked_beats_short_dots`] holds for a thin side of 6 or more.
const SHORT_K_REGISTERS: usize = 4;

/// Runs the product as dot products with kernel `K` on `threads` threads.
///
/// # Safety
/// As [`crate::driver::run`], [`suits`] holds, and `K::ISA` is supported.
pub(crate) unsafe fn dot_loops<T: Copy + Send + Sync, K: DotKernel<T>>(
    p: &Problem<T>,
    threads: usize,
) {
    debug_assert!(K::ISA.is_supported());
    // The thin side goes across: each group of rows then meets all of it while it is in cache.
    let p = if p.n > p.m { p.transposed() } else { *p };
    let rows = K::ROWS;
    let groups = p.m.div_ceil(rows);
    let parts = threads.min(groups).max(1);
    let run_part = |part: usize| {
        // Borrow the whole problem (it is Sync), not its raw-pointer fields one by one.
        let p = &p;
        for g in groups * part / parts..groups * (part + 1) / parts {
            let i0 = g * rows;
            for j0 in (0..p.n).step_by(4) {
                let t = DotTile {
                    k: p.k,
                    alpha: p.alpha,
                    beta: p.beta,
                    a: p.a.wrapping_offset(i0 as isize * p.rsa),
                    rsa: p.rsa,
                    rows: rows.min(p.m - i0),
                    b: p.b.wrapping_offset(j0 as isize * p.csb),
                    csb: p.csb,
                    c: p.c
                        .wrapping_offset(i0 as isize * p.rsc + j0 as isize * p.csc),
                    rsc: p.rsc,
                    csc: p.csc,
                };
                // SAFETY: rows i0.. and columns j0.. of the group are inside the problem (the
                // caller's contract), this part alone writes them, and K's ISA was checked.
                unsafe {
                    match (p.n - j0).min(4) {
                        1 => K::tile::<1>(&t),
                        2 => K::tile::<2>(&t),
                        3 => K::tile::<3>(&t),
                        _ => K::tile::<4>(&t),
                    }
                }
            }
        }
    };
    if parts > 1 {
        crate::parallel::for_each_task(parts, run_part);
    } else {
        run_part(0);
    }
}

#[cfg(test)]
mod tests {
    use super::suits;
    use crate::driver::Problem;
    use crate::kernel::Isa;

    /// A thin product laid out as a feature-major trainer lays it out: A's rows and B's columns
    /// contiguous in k, C row-major (only shapes and strides are read).
    fn product(m: usize, k: usize, n: usize) -> Problem<f32> {
        Problem {
            m,
            k,
            n,
            alpha: 1.0,
            a: std::ptr::null(),
            rsa: k as isize,
            csa: 1,
            b: std::ptr::null(),
            rsb: 1,
            csb: k as isize,
            beta: 0.0,
            c: std::ptr::null_mut(),
            rsc: n as isize,
            csc: 1,
            epi: None,
        }
    }

    #[test]
    fn short_dots_along_a_contiguous_thick_side_go_to_the_tiles_on_avx512_only() {
        // Ten outputs over a batch of 64: thin m, C contiguous along n.
        assert!(!suits(&product(10, 64, 256), 16, Isa::Avx512));
        assert!(suits(&product(10, 64, 256), 8, Isa::Avx2));
        // A thin side of 4 or 5 up to two registers of k, 6 and more up to four.
        assert!(!suits(&product(4, 32, 256), 16, Isa::Avx512));
        assert!(suits(&product(4, 33, 256), 16, Isa::Avx512));
        assert!(suits(&product(10, 65, 256), 16, Isa::Avx512));
        // A thin side of 3, a thick side under two registers, or a strided thick side.
        assert!(suits(&product(3, 16, 256), 16, Isa::Avx512));
        assert!(suits(&product(10, 64, 31), 16, Isa::Avx512));
        assert!(!suits(&product(10, 64, 32), 16, Isa::Avx512));
        assert!(suits(&product(256, 64, 10), 16, Isa::Avx512));
    }
}

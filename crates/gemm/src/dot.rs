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
use crate::kernel::{DotKernel, DotTile};

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

/// Whether the dot path should run this product (`lanes`: elements per register of the ISA).
pub(crate) fn suits<T>(p: &Problem<T>, lanes: usize) -> bool {
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
}

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

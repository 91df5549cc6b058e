//! Which path and which tile a product takes on each ISA: the dot-product path for thin
//! products, else the loop nest with the tile that fits the oriented m, and the dispatch from
//! an [`Isa`] to its kernels.

use crate::Element;
use crate::driver::{Problem, gemm_loops};
use crate::kernel::{DotKernel, Isa, MicroKernel};

/// The microkernel vectorises down C's columns; when C is row-major, multiply the transposes
/// instead (Cᵀ = Bᵀ·Aᵀ) so its stores stay contiguous. A stride swap, no copy.
///
/// Except when C has fewer columns than the narrowest tile has rows (`min_rows`) and at least
/// `tall_rows` rows: transposed, most of every vector would be padding (a batch's 10 logits
/// fill 10 of 16 lanes), while kept as it is the tiles run full height and only their stores
/// are strided. That pays when A already runs down m (nothing to transpose into the panels),
/// or when C is so thin (at most a quarter of `min_rows` columns) that three quarters of the
/// transposed tile would be padding. With A along k and 5 to 15 columns, the transposing copy
/// of A costs about what the padding did (interleaved, 1 thread: the feature-major logits
/// 64×256×10 2.4× faster; row-major A 512×64×12 0.84×, 256×256×15 0.92×).
fn orient<T: Copy>(p: &Problem<T>, min_rows: usize, tall_rows: usize) -> Problem<T> {
    let row_major = p.csc == 1 && p.rsc != 1;
    let few_columns = p.n < min_rows && p.m >= tall_rows && (p.rsa == 1 || 4 * p.n <= min_rows);
    if row_major && !few_columns {
        p.transposed()
    } else {
        *p
    }
}

/// Picks one ISA's path for a product: dot products when both operands run along k and one
/// side is thin (see [`crate::dot`]), else the blocked loops with the shortest tile whose
/// height holds the oriented m (narrow, mid, three registers), else the wide one (ISAs with
/// fewer tiles pass one several times). The choice depends on the shape and strides alone, so
/// it never changes results across thread counts.
///
/// # Safety
/// As [`run`](crate::driver::run), C in any orientation, and the ISA of every kernel supported.
unsafe fn pick<
    T: Element,
    Wide: MicroKernel<T>,
    Three: MicroKernel<T>,
    Mid: MicroKernel<T>,
    Narrow: MicroKernel<T>,
    Dot: DotKernel<T>,
>(
    p: &Problem<T>,
    threads: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        if crate::dot::suits(p, Dot::LANES, Dot::ISA) {
            crate::dot::dot_loops::<T, Dot>(p, threads);
            // Thin products only come here; one pass over C after the dot products.
            if let Some(e) = &p.epi {
                Wide::finish(p.c, p.rsc, p.csc, p.m, p.n, e);
            }
            return;
        }
        let p = &orient(p, Narrow::MR, Wide::MR);
        if p.m <= Narrow::MR {
            gemm_loops::<T, Narrow>(p, threads)
        } else if p.m <= Mid::MR {
            gemm_loops::<T, Mid>(p, threads)
        } else if p.m <= Three::MR {
            gemm_loops::<T, Three>(p, threads)
        } else if p.m < LEAST_PADDING_MAX_ROWS {
            // Ties go to the taller tile, which loads less per FMA.
            let pad = |mr: usize| padding(p.m, mr);
            let (wide, three, mid) = (pad(Wide::MR), pad(Three::MR), pad(Mid::MR));
            if wide <= three.min(mid) {
                gemm_loops::<T, Wide>(p, threads)
            } else if three <= mid {
                gemm_loops::<T, Three>(p, threads)
            } else {
                gemm_loops::<T, Mid>(p, threads)
            }
        } else if mid_pays::<Mid, Wide, T>(p) {
            gemm_loops::<T, Mid>(p, threads)
        } else {
            gemm_loops::<T, Wide>(p, threads)
        }
    }
}

/// Below this many oriented rows the driver takes whichever of the wide, three-register and
/// mid tiles leaves the shortest ragged last panel: with only a few panels that panel is a
/// large share of the work, and its short body loads more per FMA than a full one. Against
/// the rule before it (the mid tile when the wide one was clearly ragged, else the wide one),
/// 1 thread, interleaved in one process: f32 squares 80, 96 and 136 1.03–1.23×, f64 136–240
/// 1.05–1.14×, the rest 0.97–1.03×.
const LEAST_PADDING_MAX_ROWS: usize = 256;

/// Whether the mid tile beats the wide one on an m of at least [`LEAST_PADDING_MAX_ROWS`]
/// whose last wide panel is clearly ragged (the wide tile would pad more than about 3% of m:
/// 784 rows, 6.1% against 2.0%).
///
/// The wide tile runs its ragged last panel with a body only as tall as the rows need, so it
/// multiplies no padding; what it loses there is the short body's higher ratio of loads to
/// FMAs. The mid tile (half as tall, twice as wide) still pays when B is packed: its twelve
/// broadcasts come from one contiguous sliver (`wgrad`, 512×784×128, ran 0.97–0.98× on the
/// wide tile). When B is read in place with its columns contiguous (the oriented `Aᵀ` of any
/// row-major product) they come from twelve column streams instead of six, and the wide tile
/// was faster (1 thread, interleaved in one process: f32 squares 544, 800, 912 and 928
/// 1.02–1.19×, f64 272–464 1.03–1.06×).
fn mid_pays<Mid: MicroKernel<T>, Wide: MicroKernel<T>, T>(p: &Problem<T>) -> bool {
    // Compare padding rows in units of m/32 (about 3%), in integers.
    let ragged = (padding(p.m, Wide::MR) - padding(p.m, Mid::MR)) * 32 > p.m;
    ragged && p.rsb.unsigned_abs() != 1
}

/// Rows a tile `mr` tall would add to `m` to fill its last panel.
fn padding(m: usize, mr: usize) -> usize {
    m.div_ceil(mr) * mr - m
}

macro_rules! dispatch {
    ($t:ty, $wide:ident, $half:ident, $one:ident) => {
        impl crate::kernel::Sealed for $t {
            fn row_sums_on(isa: Isa, x: crate::MatRef<'_, $t>, sums: &mut [$t]) {
                #[cfg(not(target_arch = "x86_64"))]
                use crate::arch::scalar::{$one as $wide, $one as $half};
                #[cfg(target_arch = "x86_64")]
                use crate::arch::x86_64::{avx2::$half, avx512::$wide};
                crate::reduce::row_sums_with::<$t, $wide, $half, crate::arch::scalar::$one>(
                    isa, x, sums,
                );
            }

            unsafe fn run_on(isa: Isa, p: &Problem<$t>, threads: usize) {
                use crate::arch::scalar::{ScalarDot, ScalarKernel};
                match isa {
                    Isa::Scalar => {
                        // SAFETY: forwarded contract; the scalar path runs everywhere.
                        unsafe {
                            pick::<
                                $t,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarDot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => {
                        // SAFETY: forwarded contract; the caller checked AVX2+FMA is supported.
                        unsafe {
                            use crate::arch::x86_64::avx2::{Avx2Dot, Avx2Kernel, Avx2Narrow};
                            pick::<
                                $t,
                                Avx2Kernel<$t>,
                                Avx2Kernel<$t>,
                                Avx2Kernel<$t>,
                                Avx2Narrow<$t>,
                                Avx2Dot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => {
                        // SAFETY: forwarded contract; the caller checked AVX-512F is supported.
                        unsafe {
                            use crate::arch::x86_64::avx512::{
                                Avx512Dot, Avx512Kernel, Avx512Mid, Avx512Narrow, Avx512Three,
                            };
                            pick::<
                                $t,
                                Avx512Kernel<$t>,
                                Avx512Three<$t>,
                                Avx512Mid<$t>,
                                Avx512Narrow<$t>,
                                Avx512Dot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    _ => unreachable!("non-x86 ISAs are never reported as supported"),
                }
            }
        }
    };
}
dispatch!(f32, F32x16, F32x8, F32x1);
dispatch!(f64, F64x8, F64x4, F64x1);

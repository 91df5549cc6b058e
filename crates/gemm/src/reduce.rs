//! Row sums in one fixed order, vectorised: the bias gradient of a feature-major layer is the
//! row sums of its `dL/dz`, and the order of those sums must not depend on the ISA, the thread
//! count or the compiler's choices. Written here, with intrinsics, because the same loop in
//! safe Rust compiles to two-lane adds (a 256×64 sum took 5.5 µs instead of about 1).

use crate::Element;
use crate::MatRef;
use crate::kernel::{Isa, Simd};

/// The sums run as if over this many lanes, whatever the register width: lane `l` adds the
/// row's elements `l, l + 16, l + 32, ...` in turn, then the lanes fold in halves.
const SUM_LANES: usize = 16;

/// The row sums of a `rows × cols` matrix whose element `(i, j)` is at `x + i·rs + j·cs`.
///
/// # Safety
/// Inlined into a function compiled for the ISA of `S`; every element readable, `cs == 1`
/// unless `S` has one lane (registers load contiguous runs), and `sums` writable for `rows`.
// Index loops over the accumulator registers: constant trip counts keep them in registers.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn row_sums_body<S: Simd>(
    x: *const S::E,
    (rows, cols): (usize, usize),
    (rs, cs): (isize, isize),
    sums: *mut S::E,
) {
    let regs = SUM_LANES / S::LANES;
    let chunks = cols / SUM_LANES;
    // SAFETY: (whole body) every element read is (i, j) with i < rows and j < cols
    // (`c·16 + r·LANES + LANES ≤ 16·chunks ≤ cols`, tail indices below cols), which the caller
    // vouches for; a register's LANES elements are contiguous because cs == 1 when LANES > 1.
    unsafe {
        for i in 0..rows {
            let at = |j: usize| x.offset(i as isize * rs + j as isize * cs);
            let mut acc = [S::zero(); SUM_LANES];
            for c in 0..chunks {
                for r in 0..regs {
                    acc[r] = S::add(acc[r], S::load(at(c * SUM_LANES + r * S::LANES)));
                }
            }
            // Registers hold consecutive runs of the 16 lanes: halving across registers first
            // is the same fold as halving the lanes.
            let mut width = regs;
            while width > 1 {
                width /= 2;
                for r in 0..width {
                    acc[r] = S::add(acc[r], acc[r + width]);
                }
            }
            let mut sum = S::fold_halves(acc[0]);
            for j in chunks * SUM_LANES..cols {
                sum = sum + *at(j);
            }
            *sums.add(i) = sum;
        }
    }
}

/// [`row_sums_body`] compiled for AVX-512F.
///
/// # Safety
/// The CPU supports AVX-512F; as [`row_sums_body`] otherwise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn row_sums_avx512<S: Simd>(
    x: *const S::E,
    shape: (usize, usize),
    strides: (isize, isize),
    sums: *mut S::E,
) {
    // SAFETY: forwarded contract, compiled for the ISA.
    unsafe { row_sums_body::<S>(x, shape, strides, sums) }
}

/// [`row_sums_body`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA; as [`row_sums_body`] otherwise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_sums_avx2<S: Simd>(
    x: *const S::E,
    shape: (usize, usize),
    strides: (isize, isize),
    sums: *mut S::E,
) {
    // SAFETY: forwarded contract, compiled for the ISA.
    unsafe { row_sums_body::<S>(x, shape, strides, sums) }
}

/// The row sums of `x` into `sums` (one per row) on `isa`, with `Wide` the ISA's register type,
/// `Half` the AVX2 one and `One` the scalar one for this element type. Rows that are not
/// contiguous go through the scalar body: same order, same bits.
pub(crate) fn row_sums_with<T, Wide, Half, One>(isa: Isa, x: MatRef<'_, T>, sums: &mut [T])
where
    T: Element,
    Wide: Simd<E = T>,
    Half: Simd<E = T>,
    One: Simd<E = T>,
{
    let shape = (x.rows(), x.cols());
    assert_eq!(sums.len(), shape.0, "row_sums_with: one sum per row");
    let strides = (x.row_stride(), x.col_stride());
    let contiguous = strides.1 == 1;
    let (x, out) = (x.origin(), sums.as_mut_ptr());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked the CPU runs `isa`; the view's elements are all inside
        // its slice, rows are contiguous, and sums holds one slot per row.
        Isa::Avx512 if contiguous => unsafe { row_sums_avx512::<Wide>(x, shape, strides, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 if contiguous => unsafe { row_sums_avx2::<Half>(x, shape, strides, out) },
        // SAFETY: scalar code runs everywhere and takes any strides; bounds as above.
        _ => unsafe { row_sums_body::<One>(x, shape, strides, out) },
    }
}

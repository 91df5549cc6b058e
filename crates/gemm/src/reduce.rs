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

/// The row sums of `rows` rows of `n` elements, row `i` starting at `x + i·n`.
///
/// # Safety
/// Inlined into a function compiled for the ISA of `S`; `x` readable for `rows · n` elements
/// and `sums` writable for `rows`.
// Index loops over the accumulator registers: constant trip counts keep them in registers.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn row_sums_body<S: Simd>(x: *const S::E, rows: usize, n: usize, sums: *mut S::E) {
    let regs = SUM_LANES / S::LANES;
    let chunks = n / SUM_LANES;
    // SAFETY: (whole body) every offset stays inside row i (`c·16 + r·LANES + LANES ≤ 16·chunks
    // ≤ n`, tail indices below n) and i < rows.
    unsafe {
        for i in 0..rows {
            let row = x.add(i * n);
            let mut acc = [S::zero(); SUM_LANES];
            for c in 0..chunks {
                for r in 0..regs {
                    acc[r] = S::add(acc[r], S::load(row.add(c * SUM_LANES + r * S::LANES)));
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
            for j in chunks * SUM_LANES..n {
                sum = sum + *row.add(j);
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
unsafe fn row_sums_avx512<S: Simd>(x: *const S::E, rows: usize, n: usize, sums: *mut S::E) {
    // SAFETY: forwarded contract, compiled for the ISA.
    unsafe { row_sums_body::<S>(x, rows, n, sums) }
}

/// [`row_sums_body`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA; as [`row_sums_body`] otherwise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_sums_avx2<S: Simd>(x: *const S::E, rows: usize, n: usize, sums: *mut S::E) {
    // SAFETY: forwarded contract, compiled for the ISA.
    unsafe { row_sums_body::<S>(x, rows, n, sums) }
}

/// Runs the row sums of `x` (`sums.len()` rows of `n`) on `isa`, with `Wide` the ISA's register
/// type, `Half` the AVX2 one and `One` the scalar one for this element type.
pub(crate) fn row_sums_with<T, Wide, Half, One>(isa: Isa, x: &[T], n: usize, sums: &mut [T])
where
    Wide: Simd<E = T>,
    Half: Simd<E = T>,
    One: Simd<E = T>,
{
    let rows = sums.len();
    assert!(
        x.len() == rows * n,
        "row_sums_with: caller passed {} for {rows} × {n}",
        x.len()
    );
    let (x, out) = (x.as_ptr(), sums.as_mut_ptr());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked the CPU runs `isa`; x holds rows·n elements, sums rows.
        Isa::Avx512 => unsafe { row_sums_avx512::<Wide>(x, rows, n, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { row_sums_avx2::<Half>(x, rows, n, out) },
        // SAFETY: scalar code runs everywhere; the bounds as above.
        _ => unsafe { row_sums_body::<One>(x, rows, n, out) },
    }
}

/// The row sums of a view with any strides, element by element in the same order as
/// [`row_sums_body`].
pub(crate) fn row_sums_strided<T: Element>(x: MatRef<'_, T>, sums: &mut [T]) {
    let cols = x.cols();
    let chunks = cols / SUM_LANES;
    let at = |i: usize, j: usize| x.get(i, j).unwrap_or(T::ZERO);
    for (i, out) in sums.iter_mut().enumerate() {
        let mut lanes = [T::ZERO; SUM_LANES];
        for c in 0..chunks {
            for (l, lane) in lanes.iter_mut().enumerate() {
                *lane = *lane + at(i, c * SUM_LANES + l);
            }
        }
        let mut width = SUM_LANES;
        while width > 1 {
            width /= 2;
            for l in 0..width {
                lanes[l] = lanes[l] + lanes[l + width];
            }
        }
        let mut sum = lanes[0];
        for j in chunks * SUM_LANES..cols {
            sum = sum + at(i, j);
        }
        *out = sum;
    }
}

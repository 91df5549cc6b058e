//! AVX-512F: 32 zmm registers hold a 64×6 f32 (32×6 f64) tile of 24 accumulators, four
//! registers of A and a broadcast of B, leaving room for the loads to run ahead; narrower
//! tiles for short products, the dot kernel, and register transposes for packing.

use std::arch::x86_64::*;

use crate::kernel::Isa;

/// 16 × f32 in a zmm register.
pub(crate) struct F32x16;
/// 8 × f64 in a zmm register.
pub(crate) struct F64x8;

super::x86_simd!(
    F32x16,
    f32,
    __m512,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps,
    load_partial_ps,
    store_partial_ps,
    fold = fold_halves_ps,
    relu = relu_ps,
    keep = keep_where_positive_ps,
    hsum4 = hsum4_ps,
    transpose = transpose16_ps
);
super::x86_simd!(
    F64x8,
    f64,
    __m512d,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd,
    load_partial_pd,
    store_partial_pd,
    fold = fold_halves_pd,
    relu = relu_pd,
    keep = keep_where_positive_pd
);

/// Lane `i` plus lane `i + 8`, then `i + 4`, `i + 2`, `i + 1`: the fold order of
/// [`crate::row_sums`]. The first halving here, the rest as on AVX2.
#[inline(always)]
unsafe fn fold_halves_ps(v: __m512) -> f32 {
    // SAFETY: register-only AVX-512F operations, then the AVX2 fold (AVX-512F implies AVX2).
    unsafe {
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        super::avx2::fold_halves_ps(_mm256_add_ps(_mm512_castps512_ps256(v), high))
    }
}

/// Lane `i` plus lane `i + 4`, then `i + 2`, `i + 1`: the first halving here, the rest as on
/// AVX2.
#[inline(always)]
unsafe fn fold_halves_pd(v: __m512d) -> f64 {
    // SAFETY: register-only AVX-512F operations, then the AVX2 fold (AVX-512F implies AVX2).
    unsafe {
        let high = _mm512_extractf64x4_pd::<1>(v);
        super::avx2::fold_halves_pd(_mm256_add_pd(_mm512_castpd512_pd256(v), high))
    }
}

/// Four registers' lane sums through one shuffle tree: pairs are interleaved and added so each
/// step works on all four at once (13 operations instead of 4 × 8).
#[inline(always)]
unsafe fn hsum4_ps(v: [__m512; 4]) -> [f32; 4] {
    // SAFETY: register-only AVX-512F operations, and a 4-lane store into a 4-element array.
    unsafe {
        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3], and the same for c, d.
        let ab = _mm512_add_ps(
            _mm512_unpacklo_ps(v[0], v[1]),
            _mm512_unpackhi_ps(v[0], v[1]),
        );
        let cd = _mm512_add_ps(
            _mm512_unpacklo_ps(v[2], v[3]),
            _mm512_unpackhi_ps(v[2], v[3]),
        );
        // Per 128-bit lane: [a, b, c, d], each summed over that lane's four elements.
        let abcd = _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(ab, cd),
            _mm512_shuffle_ps::<0b11_10_11_10>(ab, cd),
        );
        // Fold the four 128-bit lanes: (0+2, 1+3), then (0+1).
        let half = _mm512_add_ps(abcd, _mm512_shuffle_f32x4::<0b01_00_11_10>(abcd, abcd));
        let all = _mm512_add_ps(half, _mm512_shuffle_f32x4::<0b10_11_00_01>(half, half));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), _mm512_castps512_ps128(all));
        out
    }
}

/// Transposes a `rows × 16` block (`rows ≤ 16`) in registers (64 shuffles): source line `i`
/// at `src + i·s_row` becomes destination column `i`, destination rows `w` apart; lines past
/// `rows` re-read the last one and their columns are never stored.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn transpose16_ps(src: *const f32, s_row: isize, rows: usize, dst: *mut f32, w: usize) {
    // SAFETY: the caller vouches for `rows` lines of 16 readable elements at `src` and 16 rows
    // of `rows` writable elements at `dst`; everything else is register-only.
    unsafe {
        // Plain loops, not closures: a closure would not inherit the caller's target features
        // and every intrinsic in it would become a call.
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, row) in r.iter_mut().enumerate() {
            *row = _mm512_loadu_ps(src.offset(i.min(rows - 1) as isize * s_row));
        }
        // In each 128-bit lane L (k = 4L..4L+3), interleave row pairs.
        let mut lo = [_mm512_setzero_ps(); 8];
        let mut hi = [_mm512_setzero_ps(); 8];
        for j in 0..8 {
            lo[j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
            hi[j] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
        }
        // q[g][e], lane L: rows 4g..4g+3 at k = 4L + e.
        let mut q = [[_mm512_setzero_ps(); 4]; 4];
        for g in 0..4 {
            let (l0, l1, h0, h1) = (lo[2 * g], lo[2 * g + 1], hi[2 * g], hi[2 * g + 1]);
            q[g] = [
                _mm512_shuffle_ps::<0x44>(l0, l1),
                _mm512_shuffle_ps::<0xEE>(l0, l1),
                _mm512_shuffle_ps::<0x44>(h0, h1),
                _mm512_shuffle_ps::<0xEE>(h0, h1),
            ];
        }
        // For each e, a 4 × 4 transpose of 128-bit lanes gives the rows k = 4L + e.
        for e in 0..4 {
            let m01 = _mm512_shuffle_f32x4::<0x44>(q[0][e], q[1][e]);
            let n01 = _mm512_shuffle_f32x4::<0xEE>(q[0][e], q[1][e]);
            let m23 = _mm512_shuffle_f32x4::<0x44>(q[2][e], q[3][e]);
            let n23 = _mm512_shuffle_f32x4::<0xEE>(q[2][e], q[3][e]);
            let out = [
                _mm512_shuffle_f32x4::<0x88>(m01, m23),
                _mm512_shuffle_f32x4::<0xDD>(m01, m23),
                _mm512_shuffle_f32x4::<0x88>(n01, n23),
                _mm512_shuffle_f32x4::<0xDD>(n01, n23),
            ];
            for (l, v) in out.into_iter().enumerate() {
                let to = dst.add((4 * l + e) * w);
                if rows == 16 {
                    _mm512_storeu_ps(to, v);
                } else {
                    store_partial_ps(to, v, rows);
                }
            }
        }
    }
}

/// The first `n` of `lanes` lanes (`n < lanes`).
#[inline(always)]
fn lane_mask(n: usize) -> u32 {
    (1u32 << n) - 1
}

#[inline(always)]
unsafe fn load_partial_ps(p: *const f32, n: usize) -> __m512 {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm512_maskz_loadu_ps(lane_mask(n) as __mmask16, p) }
}

#[inline(always)]
unsafe fn store_partial_ps(p: *mut f32, v: __m512, n: usize) {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm512_mask_storeu_ps(p, lane_mask(n) as __mmask16, v) }
}

#[inline(always)]
unsafe fn load_partial_pd(p: *const f64, n: usize) -> __m512d {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm512_maskz_loadu_pd(lane_mask(n) as __mmask8, p) }
}

#[inline(always)]
unsafe fn store_partial_pd(p: *mut f64, v: __m512d, n: usize) {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm512_mask_storeu_pd(p, lane_mask(n) as __mmask8, v) }
}

// Four registers tall by six broadcasts: per step of k, 4 loads and 6 broadcasts feed 24 FMAs
// (the 2 × 12 tile needs 14), which measured a few percent faster on large products here.
super::super::isa_kernels!(Avx512Kernel, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 4 x 6 [1, 2, 3]; f64 => F64x8, 4 x 6 [1, 2, 3]);
// Two registers tall by twelve: for products whose m fits in it, and for an m whose ragged
// last panel it shortens (see the driver's `pick`).
super::super::isa_kernels!(Avx512Mid, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 2 x 12 [1]; f64 => F64x8, 2 x 12 [1]);
// Three registers tall by eight: for products whose m fits in it (a 48-wide layer), where the
// wide tile's three-register ragged body would keep only 18 accumulators busy.
super::super::isa_kernels!(Avx512Three, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 3 x 8 [1, 2]; f64 => F64x8, 3 x 8 [1, 2]);
// One register tall: for products whose m fits in it (an MLP's output layer, tiny squares).
super::super::isa_kernels!(Avx512Narrow, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 1 x 24 []; f64 => F64x8, 1 x 24 []);
// Four rows against up to four columns: 16 accumulators, 8 loads in flight.
super::super::isa_dot_kernels!(Avx512Dot, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 4; f64 => F64x8, 4);

/// Lanes at or below zero (ordered: a NaN is not) become `+0`; the rest pass.
#[inline(always)]
unsafe fn relu_ps(x: __m512) -> __m512 {
    // SAFETY: register-only AVX-512F operations.
    unsafe {
        let zero = _mm512_setzero_ps();
        _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask::<_CMP_LE_OQ>(x, zero), zero)
    }
}

/// Lanes of `x` where `a` is above zero (ordered: not where it is NaN) pass; the rest are `+0`.
#[inline(always)]
unsafe fn keep_where_positive_ps(x: __m512, a: __m512) -> __m512 {
    // SAFETY: register-only AVX-512F operations.
    unsafe { _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, _mm512_setzero_ps()), x) }
}

/// Lanes at or below zero (ordered: a NaN is not) become `+0`; the rest pass.
#[inline(always)]
unsafe fn relu_pd(x: __m512d) -> __m512d {
    // SAFETY: register-only AVX-512F operations.
    unsafe {
        let zero = _mm512_setzero_pd();
        _mm512_mask_mov_pd(x, _mm512_cmp_pd_mask::<_CMP_LE_OQ>(x, zero), zero)
    }
}

/// Lanes of `x` where `a` is above zero (ordered: not where it is NaN) pass; the rest are `+0`.
#[inline(always)]
unsafe fn keep_where_positive_pd(x: __m512d, a: __m512d) -> __m512d {
    // SAFETY: register-only AVX-512F operations.
    unsafe { _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(a, _mm512_setzero_pd()), x) }
}

//! AVX2 + FMA: 16 ymm registers hold a 16×6 f32 (8×6 f64) tile of 12 accumulators, two
//! registers of A and one broadcast of B.

use std::arch::x86_64::*;

use crate::kernel::Isa;

/// 8 × f32 in a ymm register.
pub(crate) struct F32x8;
/// 4 × f64 in a ymm register.
pub(crate) struct F64x4;

super::x86_simd!(
    F32x8,
    f32,
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    load_partial_ps,
    store_partial_ps,
    fold = fold_halves_ps,
    relu = relu_ps,
    keep = keep_where_positive_ps,
    hsum4 = hsum4_ps
);
super::x86_simd!(
    F64x4,
    f64,
    __m256d,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd,
    load_partial_pd,
    store_partial_pd,
    fold = fold_halves_pd,
    relu = relu_pd,
    keep = keep_where_positive_pd
);

/// Lane `i` plus lane `i + 4`, then `i + 2`, `i + 1`: the fold order of
/// [`crate::row_sums`], through register halves.
#[inline(always)]
pub(super) unsafe fn fold_halves_ps(v: __m256) -> f32 {
    // SAFETY: register-only AVX and SSE operations.
    unsafe {
        let h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps::<1>(h2, h2)))
    }
}

/// Lane `i` plus lane `i + 2`, then `i + 1`, through register halves.
#[inline(always)]
pub(super) unsafe fn fold_halves_pd(v: __m256d) -> f64 {
    // SAFETY: register-only AVX and SSE2 operations.
    unsafe {
        let h2 = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)))
    }
}

/// Four registers' lane sums through one shuffle tree (interleave pairs, add, fold halves).
#[inline(always)]
unsafe fn hsum4_ps(v: [__m256; 4]) -> [f32; 4] {
    // SAFETY: register-only AVX operations, and a 4-lane store into a 4-element array.
    unsafe {
        // Per 128-bit half: [a0+a2, b0+b2, a1+a3, b1+b3], and the same for c, d.
        let ab = _mm256_add_ps(
            _mm256_unpacklo_ps(v[0], v[1]),
            _mm256_unpackhi_ps(v[0], v[1]),
        );
        let cd = _mm256_add_ps(
            _mm256_unpacklo_ps(v[2], v[3]),
            _mm256_unpackhi_ps(v[2], v[3]),
        );
        // Per half: [a, b, c, d] over that half's four elements; then add the halves.
        let abcd = _mm256_add_ps(
            _mm256_shuffle_ps::<0b01_00_01_00>(ab, cd),
            _mm256_shuffle_ps::<0b11_10_11_10>(ab, cd),
        );
        let all = _mm_add_ps(
            _mm256_castps256_ps128(abcd),
            _mm256_extractf128_ps::<1>(abcd),
        );
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), all);
        out
    }
}

/// All-ones in the first `n` 32-bit lanes, the form `vmaskmovps` reads.
#[inline(always)]
unsafe fn mask_ps(n: usize) -> __m256i {
    // SAFETY: only reached from functions compiled with AVX2.
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// All-ones in the first `n` 64-bit lanes, the form `vmaskmovpd` reads.
#[inline(always)]
unsafe fn mask_pd(n: usize) -> __m256i {
    // SAFETY: only reached from functions compiled with AVX2.
    unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
}

#[inline(always)]
unsafe fn load_partial_ps(p: *const f32, n: usize) -> __m256 {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm256_maskload_ps(p, mask_ps(n)) }
}

#[inline(always)]
unsafe fn store_partial_ps(p: *mut f32, v: __m256, n: usize) {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm256_maskstore_ps(p, mask_ps(n), v) }
}

#[inline(always)]
unsafe fn load_partial_pd(p: *const f64, n: usize) -> __m256d {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm256_maskload_pd(p, mask_pd(n)) }
}

#[inline(always)]
unsafe fn store_partial_pd(p: *mut f64, v: __m256d, n: usize) {
    // SAFETY: masked lanes are not accessed; the caller vouches for the first `n`.
    unsafe { _mm256_maskstore_pd(p, mask_pd(n), v) }
}

super::super::isa_kernels!(Avx2Kernel, Isa::Avx2, #[target_feature(enable = "avx2,fma")], f32 => F32x8, 2 x 6 [1]; f64 => F64x4, 2 x 6 [1]);
// One register tall, for products whose m fits in it.
super::super::isa_kernels!(Avx2Narrow, Isa::Avx2, #[target_feature(enable = "avx2,fma")], f32 => F32x8, 1 x 12 []; f64 => F64x4, 1 x 12 []);
// Two rows against up to four columns: 8 accumulators leave room for the 6 loads in 16 registers.
super::super::isa_dot_kernels!(Avx2Dot, Isa::Avx2, #[target_feature(enable = "avx2,fma")], f32 => F32x8, 2; f64 => F64x4, 2);

/// Lanes at or below zero (ordered: a NaN is not) become `+0`; the rest pass.
#[inline(always)]
pub(super) unsafe fn relu_ps(x: __m256) -> __m256 {
    // SAFETY: register-only AVX operations.
    unsafe { _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(x, _mm256_setzero_ps()), x) }
}

/// Lanes of `x` where `a` is above zero (ordered: not where it is NaN) pass; the rest are `+0`.
#[inline(always)]
pub(super) unsafe fn keep_where_positive_ps(x: __m256, a: __m256) -> __m256 {
    // SAFETY: register-only AVX operations.
    unsafe { _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a, _mm256_setzero_ps()), x) }
}

/// Lanes at or below zero (ordered: a NaN is not) become `+0`; the rest pass.
#[inline(always)]
pub(super) unsafe fn relu_pd(x: __m256d) -> __m256d {
    // SAFETY: register-only AVX operations.
    unsafe { _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(x, _mm256_setzero_pd()), x) }
}

/// Lanes of `x` where `a` is above zero (ordered: not where it is NaN) pass; the rest are `+0`.
#[inline(always)]
pub(super) unsafe fn keep_where_positive_pd(x: __m256d, a: __m256d) -> __m256d {
    // SAFETY: register-only AVX operations.
    unsafe { _mm256_and_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(a, _mm256_setzero_pd()), x) }
}

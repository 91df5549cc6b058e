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
    _mm256_mul_ps
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
    _mm256_mul_pd
);

super::super::isa_kernels!(Avx2Kernel, Isa::Avx2, #[target_feature(enable = "avx2,fma")], f32 => F32x8, 2 x 6; f64 => F64x4, 2 x 6);

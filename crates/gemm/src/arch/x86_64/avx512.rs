//! AVX-512F: 32 zmm registers hold a 32×12 f32 (16×12 f64) tile of 24 accumulators, two
//! registers of A and a broadcast of B, leaving room for the loads to run ahead.

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
    _mm512_mul_ps
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
    _mm512_mul_pd
);

super::super::isa_kernels!(Avx512Kernel, Isa::Avx512, #[target_feature(enable = "avx512f,fma")], f32 => F32x16, 2 x 12; f64 => F64x8, 2 x 12);

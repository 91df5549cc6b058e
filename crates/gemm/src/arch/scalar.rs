//! The portable fallback: "vectors" of one element, so the shared tile body becomes plain
//! scalar code that every target compiles (and may auto-vectorise).

use crate::kernel::{Isa, Simd};

/// One-lane f32 "vector".
pub(crate) struct F32x1;
/// One-lane f64 "vector".
pub(crate) struct F64x1;

macro_rules! scalar_simd {
    ($name:ident, $t:ty) => {
        impl Simd for $name {
            type E = $t;
            type V = $t;
            const LANES: usize = 1;
            #[inline(always)]
            unsafe fn zero() -> $t {
                0.0
            }
            #[inline(always)]
            unsafe fn splat(x: $t) -> $t {
                x
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> $t {
                // SAFETY: the tile contract makes `p` valid for one read.
                unsafe { *p }
            }
            #[inline(always)]
            unsafe fn store(p: *mut $t, v: $t) {
                // SAFETY: the tile contract makes `p` valid for one write.
                unsafe { *p = v }
            }
            #[inline(always)]
            unsafe fn load_partial(p: *const $t, n: usize) -> $t {
                // SAFETY: with one lane, `n` is 0 (nothing read) or 1 (the caller vouches).
                if n == 0 { 0.0 } else { unsafe { *p } }
            }
            #[inline(always)]
            unsafe fn store_partial(p: *mut $t, v: $t, n: usize) {
                if n > 0 {
                    // SAFETY: the caller vouches for one writable element.
                    unsafe { *p = v }
                }
            }
            #[inline(always)]
            unsafe fn fma(a: $t, b: $t, c: $t) -> $t {
                // Unfused on purpose: without hardware FMA `mul_add` is a slow libm call.
                a * b + c
            }
            #[inline(always)]
            unsafe fn mul(a: $t, b: $t) -> $t {
                a * b
            }
            #[inline(always)]
            unsafe fn add(a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            unsafe fn relu(x: $t) -> $t {
                if x <= 0.0 { 0.0 } else { x }
            }
            #[inline(always)]
            unsafe fn keep_where_positive(x: $t, a: $t) -> $t {
                if a > 0.0 { x } else { 0.0 }
            }
            #[inline(always)]
            unsafe fn fold_halves(v: $t) -> $t {
                v
            }
            #[inline(always)]
            fn fma_scalar(a: $t, b: $t, c: $t) -> $t {
                a * b + c
            }
        }
    };
}
scalar_simd!(F32x1, f32);
scalar_simd!(F64x1, f64);

super::isa_kernels!(ScalarKernel, Isa::Scalar, #[inline], f32 => F32x1, 4 x 4 [1, 2, 3]; f64 => F64x1, 4 x 4 [1, 2, 3]);
super::isa_dot_kernels!(ScalarDot, Isa::Scalar, #[inline], f32 => F32x1, 4; f64 => F64x1, 4);

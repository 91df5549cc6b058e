//! x86-64 SIMD paths: AVX2+FMA and AVX-512F. Both fill the same [`Simd`](crate::kernel::Simd) trait from their
//! own intrinsics through one macro.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod vector_isa;

/// The time-stamp counter.
#[cfg(feature = "tile-timing")]
#[inline(always)]
pub(crate) fn timestamp() -> u64 {
    // SAFETY: RDTSC is part of every x86-64 CPU and reads a counter; it touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Implements [`Simd`](crate::kernel::Simd) for one register type from its intrinsics.
macro_rules! x86_simd {
    ($name:ident, $t:ty, $v:ty, $lanes:literal, $zero:ident, $set1:ident, $load:ident, $store:ident, $fma:ident, $mul:ident, $add:ident, $loadp:ident, $storep:ident, fold = $fold:ident, relu = $relu:ident, keep = $keep:ident $(, hsum4 = $hsum4:ident)? $(, transpose = $transpose:ident)?) => {
        impl $crate::kernel::Simd for $name {
            type E = $t;
            type V = $v;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn splat(x: $t) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $set1(x) }
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> $v {
                // SAFETY: the tile contract makes LANES elements at `p` readable.
                unsafe { $load(p) }
            }
            #[inline(always)]
            unsafe fn store(p: *mut $t, v: $v) {
                // SAFETY: the tile contract makes LANES elements at `p` writable.
                unsafe { $store(p, v) }
            }
            #[inline(always)]
            unsafe fn load_partial(p: *const $t, n: usize) -> $v {
                // SAFETY: the tile contract makes `n` elements at `p` readable; lanes past `n`
                // are masked off and never touched.
                unsafe { $loadp(p, n) }
            }
            #[inline(always)]
            unsafe fn store_partial(p: *mut $t, v: $v, n: usize) {
                // SAFETY: the tile contract makes `n` elements at `p` writable; lanes past `n`
                // are masked off and never touched.
                unsafe { $storep(p, v, n) }
            }
            #[inline(always)]
            unsafe fn prefetch(p: *const $t) {
                // SAFETY: a prefetch never faults, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
            }
            #[inline(always)]
            unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $fma(a, b, c) }
            }
            #[inline(always)]
            unsafe fn mul(a: $v, b: $v) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $mul(a, b) }
            }
            #[inline(always)]
            unsafe fn add(a: $v, b: $v) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            unsafe fn relu(x: $v) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $relu(x) }
            }
            #[inline(always)]
            unsafe fn keep_where_positive(x: $v, a: $v) -> $v {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $keep(x, a) }
            }
            #[inline(always)]
            unsafe fn fold_halves(v: $v) -> $t {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $fold(v) }
            }
            #[inline(always)]
            fn fma_scalar(a: $t, b: $t, c: $t) -> $t {
                a.mul_add(b, c)
            }
            $(
            #[inline(always)]
            unsafe fn hsum4(v: [$v; 4]) -> [$t; 4] {
                // SAFETY: only reached from functions compiled with this ISA's features.
                unsafe { $hsum4(v) }
            }
            )?
            $(
            #[inline(always)]
            unsafe fn transpose_block(
                src: *const $t,
                s_row: isize,
                rows: usize,
                dst: *mut $t,
                w: usize,
            ) {
                // SAFETY: the caller vouches for the source lines and destination rows.
                unsafe { $transpose(src, s_row, rows, dst, w) }
            }
            )?
        }
    };
}

pub(crate) use x86_simd;

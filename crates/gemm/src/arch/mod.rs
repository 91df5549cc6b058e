//! One module per instruction set. Each contributes only a [`Simd`](crate::kernel::Simd)
//! implementation per element type and a line in [`isa_kernels!`]; the tile body, packing and
//! blocking are shared. A new ISA is one module, one dispatch line and one test line.

pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// A tick count that only grows: the time-stamp counter on x86-64 (constant rate on every core
/// of this kind), nanoseconds since the first call elsewhere.
#[cfg(feature = "tile-timing")]
#[inline(always)]
pub(crate) fn timestamp() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::timestamp()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

/// Declares the microkernel type of one ISA for `f32` and `f64`: a target-feature wrapper
/// around the shared [`tile_body`](crate::kernel::tile_body), and the FMA peak loop the
/// probe times.
macro_rules! isa_kernels {
    ($kernel:ident, $isa:expr, #[$attr:meta], $( $t:ty => $simd:ty, $mv:literal x $nr:literal [$($short:literal),*] );+ $(;)?) => {
        /// Microkernels of this ISA, one per element type.
        pub(crate) struct $kernel<T>(::core::marker::PhantomData<T>);
        $(
        impl $crate::kernel::MicroKernel<$t> for $kernel<$t> {
            const MR: usize = $mv * <$simd as $crate::kernel::Simd>::LANES;
            const NR: usize = $nr;
            const ISA: $crate::kernel::Isa = $isa;
            #[inline]
            unsafe fn tile<const PACKED_B: bool>(t: &$crate::kernel::Tile<$t>) {
                #[$attr]
                unsafe fn tile_isa<const P: bool>(t: &$crate::kernel::Tile<$t>) {
                    // The ragged last panel of m runs a body only as many registers tall as
                    // its rows need (`$short`, shortest first): a full-height body would spend
                    // the padding rows' share of FMAs on zeros. Each element still sums the
                    // same products in the same order, so the bits do not change.
                    $(
                    if t.m_eff <= $short * <$simd as $crate::kernel::Simd>::LANES {
                        // SAFETY: compiled for the ISA, which the caller checked; the body
                        // reads the first `$short · LANES ≥ m_eff` rows of each step of the A
                        // panel, which the full-height contract already makes readable.
                        return unsafe { $crate::kernel::tile_body::<$simd, $short, $nr, P>(t) };
                    }
                    )*
                    // SAFETY: this function is compiled for the ISA, which the caller checked;
                    // the tile contract is forwarded unchanged.
                    unsafe { $crate::kernel::tile_body::<$simd, $mv, $nr, P>(t) }
                }
                // SAFETY: `MicroKernel::tile`'s contract requires the CPU to support the ISA.
                unsafe { tile_isa::<PACKED_B>(t) }
            }
            #[inline]
            unsafe fn tile_edge(t: &$crate::kernel::Tile<$t>, packed_b: bool) {
                #[$attr]
                unsafe fn edge_isa<const W: usize>(t: &$crate::kernel::Tile<$t>) {
                    // SAFETY: compiled for the ISA, which the caller checked; B is read through
                    // the tile's own strides, valid for the `n_eff ≤ W` columns it reads.
                    unsafe { $crate::kernel::tile_body::<$simd, $mv, W, false>(t) }
                }
                // SAFETY: `MicroKernel::tile_edge`'s contract requires the CPU to support the
                // ISA and `n_eff < NR`, so each narrower body sees at most its width of columns.
                unsafe {
                    if t.n_eff <= 2 && 2 < $nr {
                        edge_isa::<2>(t)
                    } else if t.n_eff <= 4 && 4 < $nr {
                        edge_isa::<4>(t)
                    } else if t.n_eff <= 8 && 8 < $nr {
                        edge_isa::<8>(t)
                    } else if packed_b {
                        <Self as $crate::kernel::MicroKernel<$t>>::tile::<true>(t)
                    } else {
                        <Self as $crate::kernel::MicroKernel<$t>>::tile::<false>(t)
                    }
                }
            }
            #[inline]
            unsafe fn finish(
                c: *mut $t,
                rsc: isize,
                csc: isize,
                m: usize,
                n: usize,
                e: &$crate::epilogue::RawEpilogue<$t>,
            ) {
                #[$attr]
                unsafe fn finish_isa(
                    c: *mut $t,
                    rsc: isize,
                    csc: isize,
                    m: usize,
                    n: usize,
                    e: &$crate::epilogue::RawEpilogue<$t>,
                ) {
                    // SAFETY: compiled for the ISA, which the caller checked; the block's
                    // contract is forwarded unchanged.
                    unsafe { $crate::epilogue::finish_block::<$t>(c, rsc, csc, m, n, e) }
                }
                // SAFETY: `MicroKernel::finish`'s contract requires the CPU to support the ISA.
                unsafe { finish_isa(c, rsc, csc, m, n, e) }
            }
            #[inline]
            unsafe fn pack(
                outer: usize,
                kc: usize,
                w: usize,
                src: *const $t,
                s_outer: isize,
                s_k: isize,
                dst: *mut $t,
            ) {
                #[$attr]
                unsafe fn pack_isa(
                    outer: usize,
                    kc: usize,
                    w: usize,
                    src: *const $t,
                    s_outer: isize,
                    s_k: isize,
                    dst: *mut $t,
                ) {
                    // SAFETY: compiled for the ISA, which the caller checked; the packing
                    // contract is forwarded unchanged.
                    unsafe {
                        $crate::pack::pack_panels::<$t, $simd>(outer, kc, w, src, s_outer, s_k, dst)
                    }
                }
                // SAFETY: `MicroKernel::pack`'s contract requires the CPU to support the ISA.
                unsafe { pack_isa(outer, kc, w, src, s_outer, s_k, dst) }
            }
        }

        impl $crate::probe::PeakLoop<$t> for $kernel<$t> {
            fn run(iters: u64) -> $t {
                #[$attr]
                unsafe fn peak_isa(iters: u64) -> $t {
                    // SAFETY: compiled for the ISA, which `run` checked below.
                    unsafe { $crate::probe::peak_body::<$simd>(iters, 1.0, 0.5) }
                }
                assert!($isa.is_supported(), "peak loop for an ISA this CPU lacks");
                // SAFETY: the ISA is supported (asserted above).
                unsafe { peak_isa(iters) }
            }
            fn lanes() -> usize {
                <$simd as $crate::kernel::Simd>::LANES
            }
        }
        )+
    };
}
pub(crate) use isa_kernels;

/// Declares the dot-product kernel type of one ISA for `f32` and `f64`: a target-feature
/// wrapper around the shared [`dot_body`](crate::kernel::dot_body) with `ROWS` rows per group.
macro_rules! isa_dot_kernels {
    ($kernel:ident, $isa:expr, #[$attr:meta], $( $t:ty => $simd:ty, $rows:literal );+ $(;)?) => {
        /// Dot-product kernels of this ISA, one per element type.
        pub(crate) struct $kernel<T>(::core::marker::PhantomData<T>);
        $(
        impl $crate::kernel::DotKernel<$t> for $kernel<$t> {
            const ROWS: usize = $rows;
            const LANES: usize = <$simd as $crate::kernel::Simd>::LANES;
            const ISA: $crate::kernel::Isa = $isa;
            #[inline]
            unsafe fn tile<const C: usize>(t: &$crate::kernel::DotTile<$t>) {
                #[$attr]
                unsafe fn tile_isa<const C: usize>(t: &$crate::kernel::DotTile<$t>) {
                    // SAFETY: this function is compiled for the ISA, which the caller checked;
                    // the tile contract is forwarded unchanged.
                    unsafe { $crate::kernel::dot_body::<$simd, $rows, C>(t) }
                }
                // SAFETY: `DotKernel::tile`'s contract requires the CPU to support the ISA.
                unsafe { tile_isa::<C>(t) }
            }
        }
        )+
    };
}
pub(crate) use isa_dot_kernels;

/// Whether the CPU has AVX2 and FMA.
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX-512F, and the AVX2 and FMA the AVX-512 paths also compile with
/// (every AVX-512 CPU has them; checked so the claim never rests on that).
pub(crate) fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

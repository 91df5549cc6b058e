//! Trampolines that run a caller's [`VectorTask`] inside a function compiled for one x86-64
//! vector ISA, so the element-wise loops the task inlines are vectorised for that ISA while
//! their crate is built for baseline x86-64 (SSE2) and stays free of `unsafe`.

use crate::kernel::VectorTask;

/// Runs `task` in code compiled for AVX-512F (with AVX2 and FMA).
///
/// # Safety
/// The CPU supports AVX-512F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
pub(crate) unsafe fn run_avx512<W: VectorTask>(task: W) -> W::Output {
    task.run()
}

/// Runs `task` in code compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn run_avx2<W: VectorTask>(task: W) -> W::Output {
    task.run()
}

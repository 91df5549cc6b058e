//! The peak probe: how many FLOP/s this machine's FMA units deliver, so every GEMM rate can be
//! read as a fraction of the physical limit. A register-only loop of independent FMAs, one per
//! ISA and element type, run on 1..=N threads at once and timed.

use std::time::{Duration, Instant};

use crate::error::GemmError;
use crate::kernel::{Isa, Simd};

/// A timed FMA loop for one ISA and element type.
pub(crate) trait PeakLoop<T> {
    /// Runs `iters` rounds of independent FMAs; returns a value so the work is not optimised out.
    fn run(iters: u64) -> T;
    /// Elements per register.
    fn lanes() -> usize;
}

/// Independent accumulators: enough to cover FMA latency (4) × FMA ports (2) on current x86
/// cores, yet with the two operands within AVX2's 16 registers (more would spill).
pub(crate) const CHAINS: usize = 12;

/// `iters` rounds of `CHAINS` independent FMAs `acc ← acc·x + y`.
///
/// # Safety
/// Must be inlined into a function compiled for `S`'s ISA.
#[inline(always)]
pub(crate) unsafe fn peak_body<S: Simd>(iters: u64, x: S::E, y: S::E) -> S::E {
    // SAFETY: the caller runs this inside a function compiled for S's ISA.
    unsafe {
        let xv = S::splat(std::hint::black_box(x));
        let yv = S::splat(std::hint::black_box(y));
        let mut acc = [S::zero(); CHAINS];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = S::fma(*a, xv, yv);
            }
        }
        let mut sum = S::zero();
        for a in acc {
            sum = S::fma(sum, xv, a);
        }
        *((&sum) as *const S::V as *const S::E)
    }
}

/// Element type of a probe run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        })
    }
}

/// One measurement of the probe.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakResult {
    /// ISA path measured.
    pub isa: Isa,
    /// Element type.
    pub dtype: Dtype,
    /// Threads running the loop at once.
    pub threads: usize,
    /// Median GFLOP/s over the repetitions (an FMA counts as 2 FLOPs per lane).
    pub gflops: f64,
}

fn run_loop(isa: Isa, dtype: Dtype, iters: u64) -> (f64, usize) {
    use crate::arch::scalar::ScalarKernel;
    macro_rules! go {
        ($k:ty, $t:ty) => {{
            let v = <$k as PeakLoop<$t>>::run(iters);
            (v as f64, <$k as PeakLoop<$t>>::lanes())
        }};
    }
    match (isa, dtype) {
        (Isa::Scalar, Dtype::F32) => go!(ScalarKernel<f32>, f32),
        (Isa::Scalar, Dtype::F64) => go!(ScalarKernel<f64>, f64),
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2, Dtype::F32) => go!(crate::arch::x86_64::avx2::Avx2Kernel<f32>, f32),
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2, Dtype::F64) => go!(crate::arch::x86_64::avx2::Avx2Kernel<f64>, f64),
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, Dtype::F32) => go!(crate::arch::x86_64::avx512::Avx512Kernel<f32>, f32),
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, Dtype::F64) => go!(crate::arch::x86_64::avx512::Avx512Kernel<f64>, f64),
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("non-x86 ISAs are never reported as supported"),
    }
}

/// Measures the FMA peak of one ISA and element type with `threads` threads looping at once,
/// taking the median of `reps` timed rounds of about `round` each.
///
/// # Errors
/// [`GemmError::UnsupportedIsa`] when the CPU cannot run `isa`.
pub fn measure_peak(
    isa: Isa,
    dtype: Dtype,
    threads: usize,
    round: Duration,
    reps: usize,
) -> Result<PeakResult, GemmError> {
    if !isa.is_supported() {
        return Err(GemmError::UnsupportedIsa {
            value: isa.name().to_string(),
            origin: "measure_peak",
            reason: "this CPU does not support it".to_string(),
        });
    }
    let threads = threads.max(1);
    // Calibrate the iteration count so one round lasts about `round`.
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        std::hint::black_box(run_loop(isa, dtype, iters));
        if t.elapsed() >= round / 4 || iters >= 1 << 40 {
            let scale = round.as_secs_f64() / t.elapsed().as_secs_f64().max(1e-9);
            iters = ((iters as f64) * scale).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let mut rates = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let lanes = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| std::hint::black_box(run_loop(isa, dtype, iters)).1))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(1))
                .max()
                .unwrap_or(1)
        });
        let secs = start.elapsed().as_secs_f64();
        let flops = 2.0 * (CHAINS as f64) * (lanes as f64) * (iters as f64) * threads as f64;
        rates.push(flops / secs / 1e9);
    }
    rates.sort_by(f64::total_cmp);
    Ok(PeakResult {
        isa,
        dtype,
        threads,
        gflops: rates[rates.len() / 2],
    })
}

/// The CPU's model name (from `/proc/cpuinfo`, so Linux only), to label a probe's figures.
pub fn cpu_model() -> Option<String> {
    cpu_model_in(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// The model name in the text of a `/proc/cpuinfo`.
pub fn cpu_model_in(cpuinfo: &str) -> Option<String> {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    // x86 names the model; aarch64 kernels give "Model" or only the part number.
    field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("CPU part"))
}

//! Support code shared by the criterion benches: thread setup, problem shapes, deterministic
//! inputs and the naive reference GEMM.
//!
//! Thread counts: every bench runs its "1t" groups on the calling thread and its "2t" groups
//! through rayon's global pool, sized to exactly [`MAX_THREADS`] by [`init_thread_pool`]. The
//! products are called from the main thread, never from inside `ThreadPool::install`: the
//! depthlab GEMM deliberately stays sequential inside a rayon worker (it assumes the caller is
//! already the parallel loop), so an `install`ed call would silently measure one thread.
//!
//! Criterion's own setup (quick mode) is in `harness.rs` beside this file, which each bench
//! includes as a module: this library cannot name criterion, a dev-dependency of the package.

pub mod peers;

use depthlab_gemm::Element;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The largest thread count the benches measure (the machine they target has two cores).
pub const MAX_THREADS: usize = 2;

/// Thread counts every threaded group is measured at.
pub const THREADS: [usize; 2] = [1, MAX_THREADS];

/// Builds rayon's global pool with [`MAX_THREADS`] workers; later calls are no-ops.
pub fn init_thread_pool() {
    // Already built (by an earlier call, or by a library that touched rayon first): that pool
    // stays, and `rayon::current_num_threads()` tells the truth either way.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(MAX_THREADS)
        .build_global();
}

/// The group name for a family of benchmarks at a thread count, e.g. `sgemm_2t`.
pub fn group_name(family: &str, threads: usize) -> String {
    format!("{family}_{threads}t")
}

/// One matrix product `C[m×n] ← A[m×k]·B[k×n]` with its operand layouts (strides in elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `A`, rows of `B`.
    pub k: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// Row stride of `A`.
    pub rsa: usize,
    /// Column stride of `A`.
    pub csa: usize,
    /// Row stride of `B`.
    pub rsb: usize,
    /// Column stride of `B`.
    pub csb: usize,
    /// The shape label used in benchmark ids (`512x512x512`, `fwd_128x784x512`).
    label: ShapeLabel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShapeLabel {
    Square,
    Forward {
        batch: usize,
        inputs: usize,
        outputs: usize,
    },
    WeightGrad {
        batch: usize,
        inputs: usize,
        outputs: usize,
    },
}

impl Problem {
    /// Square row-major `n×n·n×n`.
    pub fn square(n: usize) -> Self {
        Self {
            m: n,
            k: n,
            n,
            rsa: n,
            csa: 1,
            rsb: n,
            csb: 1,
            label: ShapeLabel::Square,
        }
    }

    /// A Linear layer's forward product `X[B×in]·Wᵀ` with `W[out×in]` row-major: the `B`
    /// operand is `W` read transposed through its strides (m = B, k = in, n = out).
    pub fn forward(batch: usize, inputs: usize, outputs: usize) -> Self {
        Self {
            m: batch,
            k: inputs,
            n: outputs,
            rsa: inputs,
            csa: 1,
            rsb: 1,
            csb: inputs,
            label: ShapeLabel::Forward {
                batch,
                inputs,
                outputs,
            },
        }
    }

    /// A Linear layer's weight gradient `dYᵀ·X` with `dY[B×out]`, `X[B×in]` row-major: the `A`
    /// operand is `dY` read transposed (m = out, k = B, n = in).
    pub fn weight_grad(batch: usize, inputs: usize, outputs: usize) -> Self {
        Self {
            m: outputs,
            k: batch,
            n: inputs,
            rsa: 1,
            csa: outputs,
            rsb: inputs,
            csb: 1,
            label: ShapeLabel::WeightGrad {
                batch,
                inputs,
                outputs,
            },
        }
    }

    /// Floating-point operations of one product, counting a multiply-add as two.
    pub fn flops(&self) -> u64 {
        2 * (self.m as u64) * (self.n as u64) * (self.k as u64)
    }

    /// Elements the `A` buffer holds.
    pub fn a_len(&self) -> usize {
        self.m * self.k
    }

    /// Elements the `B` buffer holds.
    pub fn b_len(&self) -> usize {
        self.k * self.n
    }

    /// Elements the row-major `C` buffer holds.
    pub fn c_len(&self) -> usize {
        self.m * self.n
    }

    /// The shape part of a benchmark id: `MxKxN` for squares, `fwd_BxINxOUT` and
    /// `wgrad_BxINxOUT` for layer products (the layer's own dimensions, as ANCHORS.md lists them).
    pub fn label(&self) -> String {
        match self.label {
            ShapeLabel::Square => format!("{}x{}x{}", self.m, self.k, self.n),
            ShapeLabel::Forward {
                batch,
                inputs,
                outputs,
            } => format!("fwd_{batch}x{inputs}x{outputs}"),
            ShapeLabel::WeightGrad {
                batch,
                inputs,
                outputs,
            } => format!("wgrad_{batch}x{inputs}x{outputs}"),
        }
    }
}

/// Values in [-1, 1) from a fixed seed, so every run multiplies the same matrices.
pub fn random_vec<T: Element + From<f32>>(len: usize, seed: u64) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| T::from(rng.random_range(-1.0f32..1.0)))
        .collect()
}

/// The textbook i-k-j loop, `C ← A·B` (C row-major), through the problem's strides: the
/// reference every optimised kernel is measured against.
///
/// # Panics
/// When a buffer is shorter than the problem needs (bench inputs are built to fit).
pub fn naive_gemm<T: Element>(p: &Problem, a: &[T], b: &[T], c: &mut [T]) {
    let c = &mut c[..p.c_len()];
    c.fill(T::ZERO);
    for i in 0..p.m {
        let row = &mut c[i * p.n..(i + 1) * p.n];
        for l in 0..p.k {
            let ail = a[i * p.rsa + l * p.csa];
            for (j, cij) in row.iter_mut().enumerate() {
                *cij = *cij + ail * b[l * p.rsb + j * p.csb];
            }
        }
    }
}

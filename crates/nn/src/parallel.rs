//! How the layers and the training step use rayon's pool: which products may split, and the
//! warm pool a step runs on.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use depthlab_gemm::{
    MIN_PARALLEL_MACS, MIN_WARM_PARALLEL_MACS, Parallelism, parallelism_override, with_parallelism,
};

/// The threading policy for a product of `m·k·n` multiply-adds: products from depthlab-gemm's
/// [`MIN_PARALLEL_MACS`] up let depthlab-gemm decide ([`Parallelism::Auto`]); inside
/// [`on_warm_pool`], those from [`MIN_WARM_PARALLEL_MACS`] up use the pool too
/// ([`Parallelism::Warm`]); the rest never leave the calling thread (depthlab-gemm then skips
/// even its thread-count bookkeeping). GEMM splits only over `m`/`n`, so the choice never
/// changes the result's bits.
pub(crate) fn par_for(m: usize, k: usize, n: usize) -> Parallelism {
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs >= MIN_PARALLEL_MACS {
        Parallelism::Auto
    } else if macs >= MIN_WARM_PARALLEL_MACS && WARM_POOL.with(Cell::get) {
        Parallelism::Warm
    } else {
        Parallelism::Sequential
    }
}

thread_local! {
    /// Set while this thread runs inside [`on_warm_pool`].
    static WARM_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on a rayon worker while a second worker stays awake beside it, picking up the
/// halves of `f`'s split products and joined stages as soon as they appear; [`par_for`] then
/// splits products from [`MIN_WARM_PARALLEL_MACS`] up.
///
/// A rayon worker that finds no work for a few µs goes to sleep, and waking it costs tens of
/// µs on a virtual machine whose idle vCPUs halt. A training step runs parallel regions
/// back to back with short sequential passes between them (the activation, the loss), long
/// enough for the other worker to fall asleep before each one: measured on the 2-core KVM
/// guest (2026-12-02), a `join` of two 50 µs halves took 90–120 µs after a 20–100 µs gap
/// and 51 µs back to back. Kept awake, W3's step on 2 threads ran 1.07–1.12× faster than
/// with a plain hop onto the pool (four interleaved pairs). The helper executes whatever job
/// it finds in the pool, so beside unrelated parallel work it may run some of that before
/// the step returns. A [`with_parallelism`] policy of the calling thread goes along with `f`.
pub(crate) fn on_warm_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    /// Sets the flag when `f` ends, also by unwinding, so the helper never spins forever.
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    /// Restores the thread's [`WARM_POOL`] flag, also by unwinding.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            WARM_POOL.with(|w| w.set(self.0));
        }
    }
    let done = AtomicBool::new(false);
    let policy = parallelism_override();
    let (result, ()) = rayon::join(
        || {
            let _done = Done(&done);
            let _restore = Restore(WARM_POOL.with(|w| w.replace(true)));
            match policy {
                Some(par) => with_parallelism(par, f),
                None => f(),
            }
        },
        || {
            while !done.load(Ordering::Acquire) {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::hint::spin_loop();
                }
            }
        },
    );
    result
}

/// Whether this thread's products may use a second thread at all: not under a
/// [`with_parallelism`]`(Sequential, ..)` of the caller's (a parallel sweep's run, say).
pub(crate) fn may_split() -> bool {
    parallelism_override() != Some(Parallelism::Sequential)
}

#[cfg(test)]
mod tests {
    use depthlab_gemm::{Parallelism, parallelism_override, with_parallelism};

    use super::{may_split, on_warm_pool, par_for};

    #[test]
    fn warm_products_split_only_on_the_warm_pool() {
        // 2²² multiply-adds: W2's hidden layer.
        assert_eq!(par_for(64, 256, 256), Parallelism::Sequential);
        assert_eq!(par_for(128, 384, 384), Parallelism::Auto);
        on_warm_pool(|| {
            assert_eq!(par_for(64, 256, 256), Parallelism::Warm);
            assert_eq!(par_for(128, 384, 384), Parallelism::Auto);
            assert_eq!(par_for(32, 64, 64), Parallelism::Sequential);
        });
        // The flag ends with the pass.
        assert_eq!(par_for(64, 256, 256), Parallelism::Sequential);
    }

    #[test]
    fn the_callers_policy_travels_with_the_pass() {
        assert!(may_split());
        with_parallelism(Parallelism::Sequential, || {
            assert!(!may_split());
            let inside = on_warm_pool(parallelism_override);
            assert_eq!(inside, Some(Parallelism::Sequential));
        });
        with_parallelism(Parallelism::Auto, || assert!(may_split()));
        assert_eq!(on_warm_pool(parallelism_override), None);
    }
}

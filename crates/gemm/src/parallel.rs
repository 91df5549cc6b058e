//! How many threads a product may use, and how its tasks reach rayon's pool.
//!
//! Threads only ever split the loops over m and n (see [`crate::driver`]), never k, so the
//! policy here changes speed, not results.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Parallelism;

/// Under [`Parallelism::Auto`], products with fewer multiply-adds than this (about 203³) stay
/// on the calling thread: below it, handing half to a second thread costs more than the half
/// takes, unless the other worker is still awake. The exception: deep into a run of calls
/// that follow each other within a few µs, products from [`MIN_WARM_PARALLEL_MACS`] up split
/// too when called from outside the pool (see `Run`).
///
/// A hand-off is a wake-up and a join, tens of µs on a virtual machine whose idle vCPUs halt.
/// Measured on the 2-core Intel KVM guest (2026-12-02, 1 thread vs 2 inside a 2-thread pool,
/// medians of 15 interleaved rounds): 128³ 0.80×, 160³ 0.63×, 192³ 0.95×, 224³ 1.04×, 256³
/// 1.21–1.32×; W2's feature-major 256×256×64 0.71×, 512×512×128 1.67×. Splitting a product
/// too small loses up to 2.5× (128³ called from outside the pool: 0.40×), while keeping one
/// just above this on one thread forgoes a few percent, so the bar sits where splitting
/// starts to pay, not below. An earlier, 96³ bar made W2's training step on 2 threads 0.65×
/// its 1-thread rate.
pub const MIN_PARALLEL_MACS: usize = 1 << 23;

/// Under [`Parallelism::Warm`], products from this many multiply-adds (about 102³) use the
/// pool: with the other worker already awake a hand-off costs a few µs, and a product this size
/// takes about 9 µs on one core of the Zen 5 host (2²⁰ is where W2's smallest products start).
///
/// Measured there (2026-12-03, session 16) on W2's training step at 2 threads, called from
/// the main thread, whose largest products have 2²² multiply-adds and so stayed on one thread
/// under `Auto`. Split on the warm pool from 2²² up: 1.24–1.36× the samples/s; from 2²¹:
/// 1.25–1.26×; from 2²⁰: 1.31–1.42× (`step_timing 2`, two alternations each with the old
/// rule); this rule as landed, 1.30–1.36× (four alternations).
pub const MIN_WARM_PARALLEL_MACS: usize = 1 << 20;

// `thread_count` returns early under the warm bar, which must then be the lower one.
const _: () = assert!(MIN_WARM_PARALLEL_MACS <= MIN_PARALLEL_MACS);

thread_local! {
    /// A policy that overrides `Parallelism::Auto` and `Warm` on this thread (see
    /// [`with_parallelism`]).
    static AUTO_OVERRIDE: std::cell::Cell<Option<Parallelism>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every `Parallelism::Auto` or `Warm` product on this thread treated as `par`.
///
/// A sweep that trains many models at once on rayon's pool wraps each model in
/// `with_parallelism(Parallelism::Sequential, ..)`: the runs are the parallel loop, and their
/// products should not fan out again. Nests, and restores the previous policy on exit (also
/// on panic).
pub fn with_parallelism<R>(par: Parallelism, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Parallelism>);
    impl Drop for Restore {
        fn drop(&mut self) {
            AUTO_OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(AUTO_OVERRIDE.with(|o| o.replace(Some(par))));
    f()
}

/// The policy [`with_parallelism`] set on this thread, if any, so that code which moves work
/// onto another thread can carry it along.
pub fn parallelism_override() -> Option<Parallelism> {
    AUTO_OVERRIDE.with(|o| o.get())
}

/// `par` after this thread's [`with_parallelism`] policy, if any.
fn resolved(par: Parallelism) -> Parallelism {
    match par {
        Parallelism::Auto | Parallelism::Warm => parallelism_override().unwrap_or(par),
        Parallelism::Sequential => Parallelism::Sequential,
    }
}

/// How many threads a product of this size may use under `par`.
pub(crate) fn thread_count(par: Parallelism, macs: usize) -> usize {
    if macs < MIN_WARM_PARALLEL_MACS {
        // Under every policy's bar: not even the pool's size is asked for (a tiny product
        // takes well under a µs).
        return 1;
    }
    // rayon's current pool: the global one, or the one a caller `install`ed.
    let pool = rayon::current_num_threads().max(1);
    match resolved(par) {
        Parallelism::Sequential => 1,
        Parallelism::Auto if macs >= MIN_PARALLEL_MACS => pool,
        Parallelism::Auto if runs_count() => {
            let run = RUN.with(|r| {
                let run = r.get().at(Instant::now());
                r.set(run);
                run
            });
            if run.warm() { pool } else { 1 }
        }
        Parallelism::Auto => 1,
        Parallelism::Warm => pool,
    }
}

/// Records the end of a product that [`thread_count`] gave `threads` (see [`Run`]).
pub(crate) fn product_ended(par: Parallelism, macs: usize, threads: usize) {
    if macs >= MIN_WARM_PARALLEL_MACS && resolved(par) != Parallelism::Sequential && runs_count() {
        RUN.with(|r| r.set(r.get().ended(Instant::now(), threads > 1)));
    }
}

/// Whether this thread's [`Run`] is kept: only outside a pool of several threads. A run says
/// the pool is idle but for this caller's own splits only when the caller is outside it: a
/// worker's neighbours may be busy with jobs of their own.
fn runs_count() -> bool {
    rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1
}

/// Products from [`MIN_WARM_PARALLEL_MACS`] up that start within this long of the previous
/// one's end continue a run of back-to-back calls.
const BACK_TO_BACK_GAP: Duration = Duration::from_micros(10);

/// From this many products into a run, `Auto` splits products under [`MIN_PARALLEL_MACS`]
/// as well (from [`MIN_WARM_PARALLEL_MACS`] up).
const BACK_TO_BACK_RUN: u32 = 16;

/// A thread's run of products called back to back.
///
/// A product under [`MIN_PARALLEL_MACS`] loses when its half waits for a sleeping worker to
/// wake, and gains when the worker is still awake from the previous split: rayon's workers
/// spin for some µs after their last job. Measured on the Zen 5 host (session 16, 2 threads,
/// 128³ split against kept whole, with the caller busy between calls): 5 µs apart 1.63×
/// (192³ 1.82×), 20 µs 1.23× (1.55×), 50 µs 0.73× (1.25×), 300 µs asleep 0.55× (0.77×). So
/// `Auto` splits such a product only deep into a run of calls that follow each other closely:
/// the first split of a run pays one cold wake-up (about one product's time at 128³), later
/// ones gain, and short bursts never split at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Run {
    /// When this thread's last product from [`MIN_WARM_PARALLEL_MACS`] up ended.
    last_end: Option<Instant>,
    /// How many products in a row began within [`BACK_TO_BACK_GAP`] of the one before.
    len: u32,
}

impl Run {
    /// The run as seen by a product beginning at `now`: one longer, or broken.
    fn at(self, now: Instant) -> Run {
        let close = self
            .last_end
            .is_some_and(|end| now.saturating_duration_since(end) < BACK_TO_BACK_GAP);
        Run {
            last_end: self.last_end,
            len: if close { self.len.saturating_add(1) } else { 0 },
        }
    }

    /// Whether the pool's workers can be expected awake.
    fn warm(self) -> bool {
        self.len >= BACK_TO_BACK_RUN
    }

    /// The run after a product ending at `now`; one that used the pool leaves it warm.
    fn ended(self, now: Instant, split: bool) -> Run {
        Run {
            last_end: Some(now),
            len: if split {
                self.len.max(BACK_TO_BACK_RUN)
            } else {
                self.len
            },
        }
    }
}

thread_local! {
    /// This thread's [`Run`].
    static RUN: std::cell::Cell<Run> = const {
        std::cell::Cell::new(Run { last_end: None, len: 0 })
    };
}

/// How long a caller outside the pool keeps yielding for its tasks before it sleeps on rayon's
/// latch (see [`for_each_task`]). Past this, the wake-up is small against the wait.
const CALLER_WAIT: Duration = Duration::from_micros(200);

/// Wakes one of the global pool's workers ahead of a parallel loop whose caller, outside the
/// pool, must first do serial work (packing B): a sleeping vCPU takes tens of µs to wake, and
/// this way the wake-up overlaps the packing instead of following it. The job is empty; the
/// woken worker spins for a while looking for more and finds the loop's shares. 2 threads,
/// called from the main thread, ABBA in one process (21 rounds of 150 ms each side, three
/// runs): `wgrad_128×784×512` 1.12×, 1.14×, 1.14× (quartiles 1.04–1.29); products whose B is
/// read in place never call it. One small heap allocation, like every share handed over from
/// outside the pool.
pub(crate) fn wake_a_worker() {
    rayon::spawn(|| {});
}

/// Runs `task(0)`, …, `task(n - 1)` on rayon's current pool, each once.
///
/// On a pool worker this is a parallel iterator. A thread outside the pool (a library user's
/// main thread) takes task 0 itself and hands the rest to the pool (`in_place_scope`): a
/// parallel iterator would inject the whole loop and put the caller to sleep, so the work
/// would wait for two wake-ups (a worker, then the worker's helper) while the caller's core
/// idled. Interleaved on 2 threads, called from the main thread (2026-12-02, two alternations
/// of 21 rounds): fwd_128×784×512 1.13–1.26× → 1.61–1.68× the 1-thread rate, fwd_128×512×512
/// 1.00× → 1.66–1.69×, 512³ 1.43–1.70× → 1.78–1.79×, 2048³ 1.90–1.93× → 1.97–1.98×; 256³ and
/// `wgrad` within the noise. In a steady loop of identical calls (criterion) both read the
/// same: the gain is in calls that find the pool idle. Each share handed over from outside
/// is one small heap allocation (rayon boxes spawned jobs); from a worker nothing is
/// allocated. An earlier host (session 7) measured the caller's share 8–15% slower on warm
/// 256³–1024³; on the present host it gains.
pub(crate) fn for_each_task(n: usize, task: impl Fn(usize) + Sync + Send) {
    if rayon::current_thread_index().is_some() {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(task);
    } else {
        let task = &task;
        let pending = AtomicUsize::new(n.saturating_sub(1));
        let pending = &pending;
        rayon::in_place_scope(|s| {
            for t in 1..n {
                s.spawn(move |_| {
                    task(t);
                    pending.fetch_sub(1, Ordering::Release);
                });
            }
            if n > 0 {
                task(0);
            }
            // Left to itself, the scope would put this thread to sleep until the pool's tasks
            // end, and a sleeping vCPU takes tens of µs to wake. Yielding in a loop for a
            // while instead keeps the caller ready to go on the moment they finish, and gives
            // its core away if a pool worker waits for one. (A task that panics never counts
            // down; the wait then ends at its bound and the scope re-raises the panic.)
            let start = Instant::now();
            while pending.load(Ordering::Acquire) > 0 && start.elapsed() < CALLER_WAIT {
                std::thread::yield_now();
            }
        });
    }
}

/// A pointer handed to the tasks of one parallel loop: B to read, the packed buffer to write.
#[derive(Clone, Copy)]
pub(crate) struct Shared<P>(pub(crate) P);
// SAFETY: the tasks only read through the source pointer and write disjoint panel ranges
// through the destination; both outlive the parallel loop.
unsafe impl<P> Sync for Shared<P> {}
// SAFETY: as above.
unsafe impl<P> Send for Shared<P> {}

impl<P: Copy> Shared<P> {
    /// The pointer (a method, so closures capture the wrapper and not the bare field).
    pub(crate) fn get(self) -> P {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{
        BACK_TO_BACK_GAP, BACK_TO_BACK_RUN, MIN_PARALLEL_MACS, MIN_WARM_PARALLEL_MACS, Run,
        product_ended, thread_count, with_parallelism,
    };
    use crate::Parallelism;

    #[test]
    fn a_run_grows_with_close_calls_and_breaks_at_a_gap() {
        let t0 = Instant::now();
        let close = BACK_TO_BACK_GAP / 2;
        let mut run = Run::default();
        let mut now = t0;
        // Products ending and starting `close` apart: warm from the BACK_TO_BACK_RUN-th on.
        for i in 0..=BACK_TO_BACK_RUN {
            run = run.at(now);
            assert_eq!(run.len, i, "product {i}");
            assert_eq!(run.warm(), i >= BACK_TO_BACK_RUN, "product {i}");
            now += Duration::from_micros(20);
            run = run.ended(now, false);
            now += close;
        }
        // A gap as long as the bound breaks the run, split or not.
        let broken = run.at(now + BACK_TO_BACK_GAP);
        assert_eq!(broken.len, 0);
        assert!(!broken.warm());
        // A product that used the pool leaves it warm for the next close one.
        let after_split = Run::default().at(t0).ended(t0, true).at(t0 + close);
        assert!(after_split.warm());
        // A clock read before the recorded end (another core's clock) counts as close.
        assert_eq!(Run::default().ended(now, false).at(t0).len, 1);
    }

    #[test]
    fn auto_splits_small_products_only_deep_into_a_run_outside_the_pool() {
        let macs = MIN_WARM_PARALLEL_MACS;
        // Called back to back from outside any pool (the global pool's size is the machine's),
        // the run reaches the bar, and never sooner. A preempted thread may break a run, hence
        // the generous bound. With one thread there is nothing to split.
        let split_at = (0..100_000u32).find(|_| {
            let threads = thread_count(Parallelism::Auto, macs);
            product_ended(Parallelism::Auto, macs, threads);
            threads > 1
        });
        if rayon::current_num_threads() > 1 {
            assert!(
                split_at.is_some_and(|i| i >= BACK_TO_BACK_RUN),
                "first split at {split_at:?}"
            );
        } else {
            assert_eq!(split_at, None);
        }
        // Below the warm bar nothing splits, however close the calls.
        assert_eq!(thread_count(Parallelism::Auto, macs - 1), 1);
        // Under a Sequential policy the run does not count.
        with_parallelism(Parallelism::Sequential, || {
            assert_eq!(thread_count(Parallelism::Auto, macs), 1);
        });
        // On a pool's worker it never does: its neighbours may have work of their own.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            for _ in 0..4 * BACK_TO_BACK_RUN {
                let threads = thread_count(Parallelism::Auto, macs);
                product_ended(Parallelism::Auto, macs, threads);
                assert_eq!(threads, 1);
            }
        });
    }

    #[test]
    fn each_policy_splits_from_its_own_bar_and_sequential_overrides_both() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            for (par, bar) in [
                (Parallelism::Auto, MIN_PARALLEL_MACS),
                (Parallelism::Warm, MIN_WARM_PARALLEL_MACS),
            ] {
                assert_eq!(thread_count(par, bar - 1), 1, "{par:?}");
                assert_eq!(thread_count(par, bar), 2, "{par:?}");
                with_parallelism(Parallelism::Sequential, || {
                    assert_eq!(thread_count(par, usize::MAX), 1, "{par:?} overridden");
                });
            }
            assert_eq!(thread_count(Parallelism::Sequential, usize::MAX), 1);
            // The warm bar sits below the plain one, or `Warm` would split less than `Auto`.
            assert!(thread_count(Parallelism::Warm, MIN_PARALLEL_MACS / 2) == 2);
        });
    }
}

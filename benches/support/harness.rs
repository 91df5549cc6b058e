//! Criterion set up the same way by every bench, included as a module (`#[path]`) because the
//! support library cannot depend on criterion.
//!
//! Quick mode (`cargo bench -- --quick`) has no warm-up: it doubles the iteration count until
//! the spread of the last two batches is small or the measurement time has passed, and on a
//! shared machine usually the latter. So under `--quick` the measurement time is what each
//! benchmark costs (up to twice that: the last doubling can overshoot), and the benches give
//! it a much shorter one to keep the whole suite within its budget.

use std::time::Duration;

use criterion::Criterion;

/// Bootstrap resamples per estimate under `--quick`. Criterion's default 100,000 is sized for
/// a full sample; a quick run keeps two samples (four distinct resamples), and plotting
/// 100,000-point bootstrap distributions cost about 3 s per benchmark, most of the quick
/// suite's time.
pub const QUICK_RESAMPLES: usize = 10_000;

/// Whether criterion was asked for its quick mode, read from the arguments because criterion
/// keeps its parsed configuration private.
pub fn quick_mode() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// `full` normally, `quick` under `--quick`.
pub fn measurement_time(full: Duration, quick: Duration) -> Duration {
    if quick_mode() { quick } else { full }
}

/// Criterion configured from the command line, with [`QUICK_RESAMPLES`] under `--quick`; an
/// explicit `--nresamples` still wins, as the arguments are read last.
pub fn criterion() -> Criterion {
    let c = Criterion::default();
    let c = if quick_mode() {
        c.nresamples(QUICK_RESAMPLES)
    } else {
        c
    };
    c.configure_from_args()
}

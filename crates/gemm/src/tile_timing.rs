//! Where a product's time goes, tile by tile (the `tile-timing` feature). The driver reads a
//! tick counter (the time-stamp counter on x86-64) around every microkernel call and adds the
//! ticks and the tile's multiply-adds to totals per kind of tile, for hosts whose hardware
//! counters a guest cannot read. Totals are process-wide (tiles run on rayon's workers too);
//! read them around products on one thread to know whose they are.
//!
//! Session 17 found with it that on its Zen 5 guest a 1024³ product loses to memory, not to the
//! tile: the first panel under each sliver of B, and the column that copies A, run slower than
//! the rest (see `crates/gemm/README.md`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The kinds of tile the totals are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Full-width tiles of a block's first column when that column copies A (each full panel
    /// stored into the packed block as the tile reads it).
    Copying,
    /// Other full-width tiles on the first A panel of a block: the first to read each sliver
    /// of B, which may come from beyond L2.
    FirstPanel,
    /// Full-width tiles on the later panels, reading a sliver of B the first panel read.
    LaterPanel,
    /// The last, ragged column of tiles (fewer columns than the tile is wide).
    RaggedColumn,
}

impl TileKind {
    /// Every kind, in the order [`TileTotals`] keeps them.
    pub const ALL: [TileKind; 4] = [
        TileKind::Copying,
        TileKind::FirstPanel,
        TileKind::LaterPanel,
        TileKind::RaggedColumn,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Running sums for one kind of tile.
struct Sums {
    ticks: AtomicU64,
    macs: AtomicU64,
    tiles: AtomicU64,
}

static SUMS: [Sums; 4] = [const {
    Sums {
        ticks: AtomicU64::new(0),
        macs: AtomicU64::new(0),
        tiles: AtomicU64::new(0),
    }
}; 4];

/// What the tiles of one kind took since the last [`reset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindTotals {
    /// Ticks spent inside the tiles (see [`ticks_per_second`]).
    pub ticks: u64,
    /// Multiply-adds of C's elements the tiles computed (padding rows and columns excluded).
    pub macs: u64,
    /// Microkernel calls.
    pub tiles: u64,
}

/// The totals of every kind, indexed like [`TileKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TileTotals(pub [KindTotals; 4]);

impl TileTotals {
    /// The totals of one kind.
    pub fn of(&self, kind: TileKind) -> KindTotals {
        self.0[kind.index()]
    }

    /// Ticks and multiply-adds summed over every kind.
    pub fn all(&self) -> KindTotals {
        self.0
            .iter()
            .fold(KindTotals::default(), |a, k| KindTotals {
                ticks: a.ticks + k.ticks,
                macs: a.macs + k.macs,
                tiles: a.tiles + k.tiles,
            })
    }
}

/// Sets every total to zero.
pub fn reset() {
    for s in &SUMS {
        s.ticks.store(0, Relaxed);
        s.macs.store(0, Relaxed);
        s.tiles.store(0, Relaxed);
    }
}

/// The totals since the last [`reset`].
pub fn totals() -> TileTotals {
    let mut t = TileTotals::default();
    for (out, s) in t.0.iter_mut().zip(&SUMS) {
        *out = KindTotals {
            ticks: s.ticks.load(Relaxed),
            macs: s.macs.load(Relaxed),
            tiles: s.tiles.load(Relaxed),
        };
    }
    t
}

/// The tick counter's rate, measured against the wall clock over `window`.
pub fn ticks_per_second(window: Duration) -> f64 {
    let (t0, k0) = (Instant::now(), now());
    while t0.elapsed() < window {
        std::hint::spin_loop();
    }
    let (dt, dk) = (t0.elapsed(), now() - k0);
    dk as f64 / dt.as_secs_f64()
}

/// The tick counter now.
#[inline(always)]
pub(crate) fn now() -> u64 {
    crate::arch::timestamp()
}

/// Adds one tile's ticks and multiply-adds to its kind.
#[inline(always)]
pub(crate) fn record(kind: TileKind, ticks: u64, macs: u64) {
    let s = &SUMS[kind.index()];
    s.ticks.fetch_add(ticks, Relaxed);
    s.macs.fetch_add(macs, Relaxed);
    s.tiles.fetch_add(1, Relaxed);
}

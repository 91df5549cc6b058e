//! Where a product's time goes, tile by tile, on one thread: the rate of each kind of tile
//! (the column copying A, the first panel under each sliver of B, the later panels, the ragged
//! last column) against the FMA probe. For hosts whose hardware counters a guest cannot read.
//!
//! ```sh
//! flock /tmp/bench.lock taskset -c 0 cargo run --release -p depthlab-gemm \
//!     --features tile-timing --example tile_costs -- 512 1024 2048 d1024 128x784x512
//! ```
//! A shape is `N` (N³) or `MxKxN`, all row-major; `fwd_BxINxOUT` is a Linear layer's forward
//! product X·Wᵀ (X is B×IN, W is OUT×IN) and `wgrad_BxINxOUT` its weight gradient dYᵀ·X (dY is
//! B×OUT), as in the GEMM benchmark. A leading `d` asks for f64. `SECONDS` in the environment
//! sets the time per shape (default 1).

use std::time::{Duration, Instant};

use depthlab_gemm::probe::{Dtype, measure_peak};
use depthlab_gemm::tile_timing::{self, TileKind};
use depthlab_gemm::{Element, MatMut, MatRef, Parallelism, active_isa, gemm, with_parallelism};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shapes: Vec<String> = std::env::args().skip(1).collect();
    if shapes.is_empty() {
        return Err(
            "usage: tile_costs SHAPE... (N, MxKxN, fwd_BxINxOUT, wgrad_BxINxOUT; a leading d \
             for f64)"
                .into(),
        );
    }
    let seconds: f64 = match std::env::var("SECONDS") {
        Ok(s) => s
            .parse()
            .ok()
            .filter(|v: &f64| *v > 0.0 && v.is_finite())
            .ok_or_else(|| format!("SECONDS must be a positive number, got {s:?}"))?,
        Err(_) => 1.0,
    };
    let isa = active_isa()?;
    let tps = tile_timing::ticks_per_second(Duration::from_millis(200));
    println!(
        "ISA {isa}, tick counter {:.1} MHz, {seconds} s per shape, 1 thread",
        tps / 1e6
    );
    for shape in &shapes {
        let (f64_, rest) = match shape.strip_prefix('d') {
            Some(rest) => (true, rest),
            None => (false, shape.as_str()),
        };
        let (layout, dims) = if let Some(d) = rest.strip_prefix("fwd_") {
            (Layout::Forward, d)
        } else if let Some(d) = rest.strip_prefix("wgrad_") {
            (Layout::WeightGrad, d)
        } else {
            (Layout::Plain, rest)
        };
        let parts: Vec<usize> = dims
            .split('x')
            .map(|p| p.parse().map_err(|_| format!("bad shape {shape:?}")))
            .collect::<Result<_, _>>()?;
        let dims = match (layout, &parts[..]) {
            (Layout::Plain, &[s]) => [s, s, s],
            (_, &[x, y, z]) => [x, y, z],
            _ => return Err(format!("bad shape {shape:?}: see the usage").into()),
        };
        let dtype = if f64_ { Dtype::F64 } else { Dtype::F32 };
        let probe = measure_peak(isa, dtype, 1, Duration::from_millis(100), 3)?.gflops;
        let (wall, totals, calls) = if f64_ {
            run::<f64>(layout, dims, seconds)?
        } else {
            run::<f32>(layout, dims, seconds)?
        };
        let all = totals.all();
        let rate = |macs: u64, ticks: u64| 2.0 * macs as f64 / (ticks as f64 / tps) / 1e9;
        let [x, y, z] = dims;
        let overall = 2.0 * (x * y * z) as f64 * calls as f64 / wall.as_secs_f64() / 1e9;
        println!(
            "\n{shape} ({dtype}): {overall:.1} GFLOP/s overall, {:.0}% of the probe's {probe:.1}; \
             tiles hold {:.1}% of the time",
            100.0 * overall / probe,
            100.0 * all.ticks as f64 / (wall.as_secs_f64() * tps),
        );
        if all.tiles == 0 {
            println!("(no tiles: a path without the blocked loops, the dot path say)");
            continue;
        }
        println!("| kind | tiles | share of tile time | GFLOP/s | % of probe |");
        println!("| --- | --- | --- | --- | --- |");
        for kind in TileKind::ALL {
            let t = totals.of(kind);
            if t.tiles == 0 {
                continue;
            }
            let r = rate(t.macs, t.ticks);
            println!(
                "| {kind:?} | {} | {:.1}% | {r:.1} | {:.0}% |",
                t.tiles,
                100.0 * t.ticks as f64 / all.ticks as f64,
                100.0 * r / probe
            );
        }
    }
    Ok(())
}

/// How the operands of a shape are laid out.
#[derive(Clone, Copy)]
enum Layout {
    /// `MxKxN`: A (M×K) times B (K×N), both row-major.
    Plain,
    /// `BxINxOUT`: X (B×IN) times Wᵀ, W (OUT×IN) row-major.
    Forward,
    /// `BxINxOUT`: dYᵀ (dY is B×OUT) times X (B×IN), both row-major.
    WeightGrad,
}

/// Runs the product for about `seconds` after a warm-up; returns the wall time and the totals.
fn run<T: Element + From<f32>>(
    layout: Layout,
    [x, y, z]: [usize; 3],
    seconds: f64,
) -> Result<(Duration, tile_timing::TileTotals, u64), Box<dyn std::error::Error>> {
    let fill = |len: usize, seed: usize| -> Vec<T> {
        (0..len)
            .map(|i| T::from(((i * seed) % 1000) as f32 / 1000.0 - 0.5))
            .collect()
    };
    // The operands' (rows, cols) as stored, row-major, and C's shape.
    let ((ar, ac), (br, bc), (m, n)) = match layout {
        Layout::Plain => ((x, y), (y, z), (x, z)),
        Layout::Forward => ((x, y), (z, y), (x, z)),
        Layout::WeightGrad => ((x, z), (x, y), (z, y)),
    };
    let (a, b, mut c) = (fill(ar * ac, 7919), fill(br * bc, 104_729), fill(m * n, 1));
    let mut once = || {
        let (a, b) = (
            MatRef::row_major(&a, ar, ac)?,
            MatRef::row_major(&b, br, bc)?,
        );
        let (a, b) = match layout {
            Layout::Plain => (a, b),
            Layout::Forward => (a, b.t()),
            Layout::WeightGrad => (a.t(), b),
        };
        gemm(T::ONE, a, b, T::ZERO, MatMut::row_major(&mut c, m, n)?)
    };
    with_parallelism(Parallelism::Sequential, || {
        for _ in 0..3 {
            once()?;
        }
        tile_timing::reset();
        let (start, mut calls) = (Instant::now(), 0);
        while start.elapsed().as_secs_f64() < seconds {
            once()?;
            calls += 1;
        }
        Ok((start.elapsed(), tile_timing::totals(), calls))
    })
}

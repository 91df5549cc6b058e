//! Where a product's time goes, tile by tile, on one thread: the rate of each kind of tile
//! (the column copying A, the first panel under each sliver of B, the later panels, the ragged
//! last column) against the FMA probe. For hosts whose hardware counters a guest cannot read.
//!
//! ```sh
//! flock /tmp/bench.lock taskset -c 0 cargo run --release -p depthlab-gemm \
//!     --features tile-timing --example tile_costs -- 512 1024 2048 d1024 128x784x512
//! ```
//! A shape is `N` (N³) or `MxKxN`, row-major; a leading `d` asks for f64. `SECONDS` in the
//! environment sets the time per shape (default 1).

use std::time::{Duration, Instant};

use depthlab_gemm::probe::{Dtype, measure_peak};
use depthlab_gemm::tile_timing::{self, TileKind};
use depthlab_gemm::{Element, MatMut, MatRef, Parallelism, active_isa, gemm, with_parallelism};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shapes: Vec<String> = std::env::args().skip(1).collect();
    if shapes.is_empty() {
        return Err("usage: tile_costs SHAPE... (N, MxKxN, a leading d for f64)".into());
    }
    let seconds: f64 = match std::env::var("SECONDS") {
        Ok(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, got {s:?}"))?,
        Err(_) => 1.0,
    };
    let isa = active_isa()?;
    let tps = tile_timing::ticks_per_second(Duration::from_millis(200));
    println!(
        "ISA {isa}, tick counter {:.1} MHz, {seconds} s per shape, 1 thread",
        tps / 1e6
    );
    for shape in &shapes {
        let (f64_, dims) = match shape.strip_prefix('d') {
            Some(rest) => (true, rest),
            None => (false, shape.as_str()),
        };
        let parts: Vec<usize> = dims
            .split('x')
            .map(|p| p.parse().map_err(|_| format!("bad shape {shape:?}")))
            .collect::<Result<_, _>>()?;
        let (m, k, n) = match parts[..] {
            [s] => (s, s, s),
            [m, k, n] => (m, k, n),
            _ => return Err(format!("bad shape {shape:?}: N or MxKxN").into()),
        };
        let dtype = if f64_ { Dtype::F64 } else { Dtype::F32 };
        let probe = measure_peak(isa, dtype, 1, Duration::from_millis(100), 3)?.gflops;
        let (wall, totals) = if f64_ {
            run::<f64>(m, k, n, seconds)?
        } else {
            run::<f32>(m, k, n, seconds)?
        };
        let all = totals.all();
        let rate = |macs: u64, ticks: u64| 2.0 * macs as f64 / (ticks as f64 / tps) / 1e9;
        println!(
            "\n{shape} ({dtype}): {:.1} GFLOP/s overall, {:.0}% of the probe's {probe:.1}; \
             tiles hold {:.1}% of the time",
            rate(all.macs, (wall.as_secs_f64() * tps) as u64),
            100.0 * rate(all.macs, (wall.as_secs_f64() * tps) as u64) / probe,
            100.0 * all.ticks as f64 / (wall.as_secs_f64() * tps),
        );
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

/// Runs the product for about `seconds` after a warm-up; returns the wall time and the totals.
fn run<T: Element + From<f32>>(
    m: usize,
    k: usize,
    n: usize,
    seconds: f64,
) -> Result<(Duration, tile_timing::TileTotals), Box<dyn std::error::Error>> {
    let fill = |len: usize, seed: usize| -> Vec<T> {
        (0..len)
            .map(|i| T::from(((i * seed) % 1000) as f32 / 1000.0 - 0.5))
            .collect()
    };
    let (a, b, mut c) = (fill(m * k, 7919), fill(k * n, 104_729), fill(m * n, 1));
    let mut once = || {
        gemm(
            T::ONE,
            MatRef::row_major(&a, m, k)?,
            MatRef::row_major(&b, k, n)?,
            T::ZERO,
            MatMut::row_major(&mut c, m, n)?,
        )
    };
    with_parallelism(Parallelism::Sequential, || {
        for _ in 0..3 {
            once()?;
        }
        tile_timing::reset();
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            once()?;
        }
        Ok((start.elapsed(), tile_timing::totals()))
    })
}

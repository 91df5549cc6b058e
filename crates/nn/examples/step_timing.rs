//! Quick samples/s of `Trainer::step` on the workloads (W1, W2, W3), for checking
//! changes by hand; the criterion benches in `benches/train.rs` are the reference numbers.
//!
//! `flock /tmp/bench.lock cargo run --release -p depthlab-nn --example step_timing [modes...]`
//!
//! Modes (default `1 2`), each threaded the way `benches/train.rs` runs it:
//! - `1`: the step inside a 1-thread pool's `install`;
//! - `2`: the step called from the main thread on rayon's global 2-thread pool (so every
//!   parallel region is injected into the pool from outside, as in the bench);
//! - `2i`: the step inside a 2-thread pool's `install` (a caller already on a worker).
//!
//! Each figure is the median over `REPS` timed runs of about 0.3 s (the minimum per-step time
//! in brackets). `NO_FUSE=1` disables the fused SGD weight update; `ONLY=W2` times one
//! workload.

use std::time::Instant;

use depthlab_nn::{BatchTargets, Loss, Matrix, MlpConfig, NnError, OptimizerConfig, Trainer};

/// Timed runs per workload and mode.
const REPS: usize = 9;

/// The timed loop, handed to whatever puts it on the right thread.
type Body<'a> = dyn FnMut() -> Result<(), NnError> + Send + 'a;

fn pool(threads: usize) -> Result<rayon::ThreadPool, NnError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| NnError::InvalidValue {
            field: "threads".into(),
            value: threads.to_string(),
            reason: e.to_string(),
        })
}

/// Median and best samples/s of one workload, stepping through `run` (which decides the thread
/// the step runs on).
fn measure(
    input: usize,
    hidden: &[usize],
    output: usize,
    batch: usize,
    run: &dyn Fn(&mut Body<'_>) -> Result<(), NnError>,
) -> Result<(f64, f64), NnError> {
    let mut model = MlpConfig::new(input, hidden.to_vec(), output).build(0)?;
    let mut trainer = Trainer::new(
        &model,
        batch,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.01),
    )?;
    trainer.set_fuse_sgd(std::env::var_os("NO_FUSE").is_none());
    let x = Matrix::from_fn(batch, input, |i, j| ((i * 7 + j * 3) % 17) as f32 / 17.0);
    let labels: Vec<usize> = (0..batch).map(|i| i % output).collect();
    let mut per_step: Vec<f64> = Vec::with_capacity(REPS);
    let mut body = || -> Result<(), NnError> {
        let mut step = || trainer.step(&mut model, &x, BatchTargets::Classes(&labels));
        // Warm up and find a step count that takes about 0.3 s.
        let mut n = 1usize;
        loop {
            let t0 = Instant::now();
            for _ in 0..n {
                step()?;
            }
            if t0.elapsed().as_secs_f64() > 0.1 {
                break;
            }
            n *= 2;
        }
        n *= 3;
        for _ in 0..REPS {
            let t0 = Instant::now();
            for _ in 0..n {
                step()?;
            }
            per_step.push(t0.elapsed().as_secs_f64() / n as f64);
        }
        Ok(())
    };
    run(&mut body)?;
    per_step.sort_by(f64::total_cmp);
    let median = per_step[per_step.len() / 2];
    Ok((batch as f64 / median, batch as f64 / per_step[0]))
}

fn main() -> Result<(), NnError> {
    let modes: Vec<String> = std::env::args().skip(1).collect();
    let modes = if modes.is_empty() {
        vec!["1".to_string(), "2".to_string()]
    } else {
        modes
    };
    let workloads: [(&str, usize, &[usize], usize, usize); 3] = [
        ("W1", 2, &[64, 64, 64], 2, 32),
        ("W2", 64, &[256, 256], 10, 64),
        ("W3", 784, &[512, 512], 10, 128),
    ];
    let only = std::env::var("ONLY").ok();
    let one = pool(1)?;
    let two = pool(2)?;
    // The bench's global pool: exactly two workers.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    for mode in &modes {
        for &(name, input, hidden, output, batch) in &workloads {
            if only.as_ref().is_some_and(|o| o != name) {
                continue;
            }
            let run = |body: &mut Body<'_>| match mode.as_str() {
                "1" => one.install(body),
                "2i" => two.install(body),
                _ => body(),
            };
            let (median, best) = measure(input, hidden, output, batch, &run)?;
            println!("{name} mode={mode:<2}: {median:>9.0} samples/s median  ({best:.0} best)");
        }
    }
    Ok(())
}

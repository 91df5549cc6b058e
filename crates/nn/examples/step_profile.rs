//! Runs one workload's training step in a loop for a profiler:
//! `cargo run --release -p depthlab-nn --example step_profile -- W1 5 1` (workload, seconds,
//! mode). Modes as in `step_timing`: `1` inside a 1-thread pool, `2` from the main thread on
//! the global pool (the default, as `benches/train.rs` runs its 2-thread group), `2i` inside a
//! 2-thread pool.

use std::time::Instant;

use depthlab_nn::{BatchTargets, Loss, Matrix, MlpConfig, NnError, OptimizerConfig, Trainer};

fn main() -> Result<(), NnError> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("W1", String::as_str);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let mode = args.get(3).map_or("2", String::as_str);
    let (input, hidden, output, batch) = match name {
        "W2" => (64, vec![256, 256], 10, 64),
        "W3" => (784, vec![512, 512], 10, 128),
        _ => (2, vec![64, 64, 64], 2, 32),
    };
    let mut model = MlpConfig::new(input, hidden, output).build(0)?;
    let mut trainer = Trainer::new(
        &model,
        batch,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.01),
    )?;
    let x = Matrix::from_fn(batch, input, |i, j| ((i * 7 + j * 3) % 17) as f32 / 17.0);
    let labels: Vec<usize> = (0..batch).map(|i| i % output).collect();
    let mut run = || -> Result<f64, NnError> {
        let start = Instant::now();
        let mut steps = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            for _ in 0..100 {
                trainer.step(&mut model, &x, BatchTargets::Classes(&labels))?;
            }
            steps += 100;
        }
        Ok((steps * batch as u64) as f64 / start.elapsed().as_secs_f64())
    };
    let threads = match mode {
        "1" => 1,
        "2i" => 2,
        _ => 0,
    };
    let rate = if threads == 0 {
        run()?
    } else {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| NnError::InvalidValue {
                field: "threads".into(),
                value: threads.to_string(),
                reason: e.to_string(),
            })?
            .install(run)?
    };
    println!("{name} mode {mode}: {rate:.0} samples/s");
    Ok(())
}

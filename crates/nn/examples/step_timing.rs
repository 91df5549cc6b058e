//! Quick samples/s of `Trainer::step` on the workloads (W1, W2, W3), for checking
//! changes by hand; the criterion benches in `benches/train.rs` are the reference numbers.
//!
//! `flock /tmp/bench.lock cargo run --release -p depthlab-nn --example step_timing [threads...]`

use std::time::Instant;

use depthlab_nn::{BatchTargets, Loss, Matrix, MlpConfig, OptimizerConfig, Trainer};

fn main() -> Result<(), depthlab_nn::NnError> {
    let threads: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let threads = if threads.is_empty() {
        vec![1, 2]
    } else {
        threads
    };
    let workloads = [
        ("W1", 2, vec![64, 64, 64], 2, 32),
        ("W2", 64, vec![256, 256], 10, 64),
        ("W3", 784, vec![512, 512], 10, 128),
    ];
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| depthlab_nn::NnError::InvalidValue {
                field: "threads".into(),
                value: t.to_string(),
                reason: e.to_string(),
            })?;
        for (name, input, hidden, output, batch) in &workloads {
            let (input, output, batch) = (*input, *output, *batch);
            let result = pool.install(|| -> Result<f64, depthlab_nn::NnError> {
                let mut model = MlpConfig::new(input, hidden.clone(), output).build(0)?;
                let mut trainer = Trainer::new(
                    &model,
                    batch,
                    Loss::SoftmaxCrossEntropy,
                    OptimizerConfig::sgd(0.01),
                )?;
                trainer.set_fuse_sgd(std::env::var_os("NO_FUSE").is_none());
                let x = Matrix::from_fn(batch, input, |i, j| ((i * 7 + j * 3) % 17) as f32 / 17.0);
                let labels: Vec<usize> = (0..batch).map(|i| i % output).collect();
                let mut step = || trainer.step(&mut model, &x, BatchTargets::Classes(&labels));
                // Warm up, then time batches of steps for about 1 s; report the best batch.
                let mut per_step = f64::INFINITY;
                let mut n = 1usize;
                let start = Instant::now();
                while start.elapsed().as_secs_f64() < 1.5 {
                    let t0 = Instant::now();
                    for _ in 0..n {
                        step()?;
                    }
                    let dt = t0.elapsed().as_secs_f64();
                    per_step = per_step.min(dt / n as f64);
                    if dt < 0.05 {
                        n *= 2;
                    }
                }
                Ok(batch as f64 / per_step)
            })?;
            println!("{name} threads={t}: {:>9.0} samples/s", result);
        }
    }
    Ok(())
}

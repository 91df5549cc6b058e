//! The training workloads W1–W3 as the step examples (`step_timing`, `step_profile`)
//! set them up: the network, plain SGD with softmax cross-entropy, one fixed batch. The
//! workspace's `benches/train.rs` takes its workload table from here too.

// Each includer compiles this file as its own module and uses only part of it.
#![allow(dead_code)]

use std::process::ExitCode;
use std::time::Instant;

use depthlab_nn::{BatchTargets, Loss, Matrix, Mlp, MlpConfig, NnError, OptimizerConfig, Trainer};

/// One workload: layer widths and batch size.
pub struct Workload {
    pub name: &'static str,
    pub input: usize,
    pub hidden: &'static [usize],
    pub output: usize,
    pub batch: usize,
}

/// W1 (overhead-bound), W2 and W3 (GEMM-bound), as in ANCHORS.md and `benches/train.rs`.
pub const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "W1",
        input: 2,
        hidden: &[64, 64, 64],
        output: 2,
        batch: 32,
    },
    Workload {
        name: "W2",
        input: 64,
        hidden: &[256, 256],
        output: 10,
        batch: 64,
    },
    Workload {
        name: "W3",
        input: 784,
        hidden: &[512, 512],
        output: 10,
        batch: 128,
    },
];

/// The workload called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// A rayon pool of `threads` threads.
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, NnError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| NnError::InvalidValue {
            field: "threads".into(),
            value: threads.to_string(),
            reason: e.to_string(),
        })
}

/// A workload's model, trainer, batch and labels, ready to step.
pub struct Setup {
    model: Mlp<f32>,
    trainer: Trainer<f32>,
    x: Matrix<f32>,
    labels: Vec<usize>,
    /// Rows per step.
    pub batch: usize,
}

impl Setup {
    /// The workload's model (seed 0) and trainer; `NO_FUSE=1` in the environment turns off
    /// the fused SGD weight update.
    pub fn new(w: &Workload) -> Result<Self, NnError> {
        let model = MlpConfig::new(w.input, w.hidden.to_vec(), w.output).build(0)?;
        let mut trainer = Trainer::new(
            &model,
            w.batch,
            Loss::SoftmaxCrossEntropy,
            OptimizerConfig::sgd(0.01),
        )?;
        trainer.set_fuse_sgd(std::env::var_os("NO_FUSE").is_none());
        let x = Matrix::from_fn(w.batch, w.input, |i, j| {
            ((i * 7 + j * 3) % 17) as f32 / 17.0
        });
        let labels: Vec<usize> = (0..w.batch).map(|i| i % w.output).collect();
        Ok(Self {
            model,
            trainer,
            x,
            labels,
            batch: w.batch,
        })
    }

    /// One training step on the fixed batch.
    pub fn step(&mut self) -> Result<(), NnError> {
        self.trainer
            .step(
                &mut self.model,
                &self.x,
                BatchTargets::Classes(&self.labels),
            )
            .map(|_| ())
    }

    /// Warms up and returns a step count that takes about 0.1 s.
    pub fn calibrate(&mut self) -> Result<usize, NnError> {
        let mut n = 1usize;
        loop {
            let t0 = Instant::now();
            for _ in 0..n {
                self.step()?;
            }
            if t0.elapsed().as_secs_f64() > 0.1 {
                return Ok(n);
            }
            n *= 2;
        }
    }

    /// Samples/s of steps run in chunks of `chunk` until `secs` seconds have passed.
    pub fn run_for(&mut self, secs: f64, chunk: usize) -> Result<f64, NnError> {
        let start = Instant::now();
        let mut steps = 0usize;
        while start.elapsed().as_secs_f64() < secs {
            for _ in 0..chunk {
                self.step()?;
            }
            steps += chunk;
        }
        Ok((steps * self.batch) as f64 / start.elapsed().as_secs_f64())
    }
}

/// Exit status of an example's `run`: an error is printed as a one-line message naming the bad
/// value, not as a debug dump.
pub fn report(example: &str, result: Result<(), NnError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{example}: {e}");
            ExitCode::FAILURE
        }
    }
}

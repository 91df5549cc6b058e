//! Runs one workload's training step in a loop for a profiler:
//! `cargo run --release -p depthlab-nn --example step_profile -- W1 5 1` (workload, seconds,
//! mode). Modes as in `step_timing`: `1` inside a 1-thread pool, `2` from the main thread on
//! the global pool (the default, as `benches/train.rs` runs its 2-thread group), `2i` inside a
//! 2-thread pool.

use depthlab_nn::NnError;

#[path = "support/workload.rs"]
mod workload;

use workload::{Setup, pool};

fn main() -> std::process::ExitCode {
    workload::report("step_profile", run())
}

fn run() -> Result<(), NnError> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("W1", String::as_str);
    let secs: f64 = match args.get(2) {
        None => 5.0,
        Some(s) => s
            .parse()
            .ok()
            .filter(|v: &f64| *v > 0.0 && v.is_finite())
            .ok_or_else(|| NnError::InvalidValue {
                field: "seconds".into(),
                value: s.clone(),
                reason: "expected a positive number".into(),
            })?,
    };
    let mode = args.get(3).map_or("2", String::as_str);
    let workload = workload::find(name).ok_or_else(|| NnError::InvalidValue {
        field: "workload".into(),
        value: name.into(),
        reason: "expected W1, W2 or W3".into(),
    })?;
    let mut setup = Setup::new(workload)?;
    let mut run = || setup.run_for(secs, 100);
    let rate = match mode {
        "1" => pool(1)?.install(run)?,
        "2i" => pool(2)?.install(run)?,
        "2" => run()?,
        _ => {
            return Err(NnError::InvalidValue {
                field: "mode".into(),
                value: mode.into(),
                reason: "expected 1, 2 or 2i".into(),
            });
        }
    };
    println!("{name} mode {mode}: {rate:.0} samples/s");
    Ok(())
}

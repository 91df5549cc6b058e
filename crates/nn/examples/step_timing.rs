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
//!
//! `serve W MODE` (say `serve W2 1`) warms workload `W` up in thread mode `MODE`, prints
//! `ready`, then answers each line of stdin holding a number of seconds with the samples/s of
//! a timed run that long; it ends at end of input. `benches/peers/interleaved.py` drives it,
//! alternating it round by round with a peer in one process.

use std::time::Instant;

use depthlab_nn::NnError;

#[path = "support/workload.rs"]
mod workload;

use workload::{Setup, WORKLOADS, Workload, pool};

/// Timed runs per workload and mode.
const REPS: usize = 9;

/// The timed loop, handed to whatever puts it on the right thread.
type Body<'a> = dyn FnMut() -> Result<(), NnError> + Send + 'a;

/// Median and best samples/s of one workload, stepping through `run` (which decides the thread
/// the step runs on).
fn measure(
    w: &Workload,
    run: &dyn Fn(&mut Body<'_>) -> Result<(), NnError>,
) -> Result<(f64, f64), NnError> {
    let mut setup = Setup::new(w)?;
    let mut per_step: Vec<f64> = Vec::with_capacity(REPS);
    let mut body = || -> Result<(), NnError> {
        // Runs of about 0.3 s.
        let n = 3 * setup.calibrate()?;
        for _ in 0..REPS {
            let t0 = Instant::now();
            for _ in 0..n {
                setup.step()?;
            }
            per_step.push(t0.elapsed().as_secs_f64() / n as f64);
        }
        Ok(())
    };
    run(&mut body)?;
    per_step.sort_by(f64::total_cmp);
    let median = per_step[per_step.len() / 2];
    Ok((w.batch as f64 / median, w.batch as f64 / per_step[0]))
}

/// Serves timed runs of one workload (see the module docs), on whichever thread calls it.
fn serve(setup: &mut Setup) -> Result<(), NnError> {
    use std::io::{BufRead, Write};
    let n = setup.calibrate()?;
    // About a second more of warm-up, then timed runs in chunks of about 10 ms.
    for _ in 0..10 * n {
        setup.step()?;
    }
    let chunk = (n / 10).max(1);
    let mut out = std::io::stdout().lock();
    let bad = |value: String, reason: &str| NnError::InvalidValue {
        field: "serve request (seconds per run, one per line of stdin)".into(),
        value,
        reason: reason.into(),
    };
    let io = |e: std::io::Error| bad("stdin/stdout".into(), &e.to_string());
    writeln!(out, "ready").map_err(io)?;
    out.flush().map_err(io)?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(io)?;
        let secs: f64 = match line.trim().parse() {
            Ok(v) if v > 0.0 && f64::is_finite(v) => v,
            _ => return Err(bad(line, "expected a positive number of seconds")),
        };
        let rate = setup.run_for(secs, chunk)?;
        writeln!(out, "{rate:.0}").map_err(io)?;
        out.flush().map_err(io)?;
    }
    Ok(())
}

/// The error for a bad argument: which one, its value, and the usage.
fn usage(what: &str, value: Option<&String>) -> NnError {
    NnError::InvalidValue {
        field: what.into(),
        value: value.cloned().unwrap_or_default(),
        reason: "usage: step_timing [1|2|2i ...] or step_timing serve W1|W2|W3 1|2|2i".into(),
    }
}

/// A thread mode named on the command line (see the module docs).
fn mode_of(arg: Option<&String>) -> Result<&str, NnError> {
    match arg.map(String::as_str) {
        Some(m @ ("1" | "2" | "2i")) => Ok(m),
        _ => Err(usage("mode", arg)),
    }
}

fn main() -> std::process::ExitCode {
    workload::report("step_timing", run())
}

fn run() -> Result<(), NnError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let one = pool(1)?;
    let two = pool(2)?;
    // The bench's global pool: exactly two workers.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    let run = |mode: &str, body: &mut Body<'_>| match mode {
        "1" => one.install(body),
        "2i" => two.install(body),
        _ => body(),
    };
    if args.first().map(String::as_str) == Some("serve") {
        let w = args.get(1);
        let workload = w
            .and_then(|name| workload::find(name))
            .ok_or_else(|| usage("serve workload", w))?;
        let mode = mode_of(args.get(2))?;
        let mut setup = Setup::new(workload)?;
        return run(mode, &mut || serve(&mut setup));
    }
    let modes = if args.is_empty() {
        vec!["1".to_string(), "2".to_string()]
    } else {
        args
    };
    for mode in &modes {
        mode_of(Some(mode))?;
    }
    let only = std::env::var("ONLY").ok();
    for mode in &modes {
        for w in &WORKLOADS {
            if only.as_ref().is_some_and(|o| o != w.name) {
                continue;
            }
            let (median, best) = measure(w, &|body| run(mode, body))?;
            let name = w.name;
            println!("{name} mode={mode:<2}: {median:>9.0} samples/s median  ({best:.0} best)");
        }
    }
    Ok(())
}

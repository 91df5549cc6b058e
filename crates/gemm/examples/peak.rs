//! The peak probe: this machine's FMA throughput for every ISA path it has (AVX-512, AVX2),
//! f32 and f64, on 1 and 2 threads, so GEMM rates can be read as a fraction of the limit.
//!
//! ```sh
//! cargo run --release -p depthlab-gemm --example peak            # a table
//! cargo run --release -p depthlab-gemm --example peak -- --json  # JSON for `depthlab bench-report --peak`
//! ```
//!
//! Options: `--json`, `--round-ms N` (length of one timed round, default 200), `--reps N`
//! (rounds per measurement, median taken, default 7). Wrap timed runs in `flock /tmp/bench.lock`.

use std::process::ExitCode;
use std::time::Duration;

use depthlab_gemm::probe::{self, Dtype, PeakResult, measure_peak};
use depthlab_gemm::{Isa, active_isa, available_isas};

struct Options {
    json: bool,
    round: Duration,
    reps: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        json: false,
        round: Duration::from_millis(200),
        reps: 7,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = args.next().ok_or(format!("{name} needs a value"))?;
            v.parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(format!("{name}: expected a positive integer, got {v:?}"))
        };
        match arg.as_str() {
            "--json" => opts.json = true,
            "--round-ms" => opts.round = Duration::from_millis(number("--round-ms")?),
            "--reps" => opts.reps = number("--reps")? as usize,
            "-h" | "--help" => {
                return Err("usage: peak [--json] [--round-ms N] [--reps N]".to_string());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(opts)
}

/// The CPU's marketing name, for the report header.
fn cpu_model() -> String {
    probe::cpu_model().unwrap_or_else(|| "unknown".to_string())
}

/// Escapes a string for a JSON literal (the CPU name is the only free text here).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let active = match active_isa() {
        Ok(isa) => isa,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Only the SIMD paths: the scalar loop's "peak" says nothing about the hardware limit.
    let isas: Vec<Isa> = available_isas()
        .into_iter()
        .filter(|&i| i != Isa::Scalar)
        .collect();
    let mut results: Vec<PeakResult> = Vec::new();
    for &isa in &isas {
        for dtype in [Dtype::F32, Dtype::F64] {
            for threads in [1, 2] {
                match measure_peak(isa, dtype, threads, opts.round, opts.reps) {
                    Ok(r) => results.push(r),
                    Err(e) => {
                        eprintln!("error: {isa} {dtype} {threads}T: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if opts.json {
        let rows: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "    {{\"isa\": \"{}\", \"dtype\": \"{}\", \"threads\": {}, \"gflops\": {:.2}}}",
                    r.isa, r.dtype, r.threads, r.gflops
                )
            })
            .collect();
        println!(
            "{{\n  \"cpu\": {},\n  \"cores\": {cores},\n  \"active_isa\": \"{active}\",\n  \"results\": [\n{}\n  ]\n}}",
            json_string(&cpu_model()),
            rows.join(",\n")
        );
    } else {
        println!(
            "CPU: {} ({cores} logical cores), GEMM uses {active}",
            cpu_model()
        );
        println!(
            "{:<8} {:<5} {:>7} {:>10}",
            "isa", "dtype", "threads", "GFLOP/s"
        );
        for r in &results {
            println!(
                "{:<8} {:<5} {:>7} {:>10.1}",
                r.isa.to_string(),
                r.dtype.to_string(),
                r.threads,
                r.gflops
            );
        }
        if isas.is_empty() {
            println!("(no SIMD path on this CPU: nothing to probe)");
        }
    }
    ExitCode::SUCCESS
}

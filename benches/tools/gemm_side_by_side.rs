//! depthlab-gemm, `matrixmultiply` and the `gemm` crate timed round by round on issue 2's
//! shapes, for ratios that hold on a shared machine whose speed drifts.
//!
//! Criterion times one implementation for seconds, then the next: when a neighbour's load
//! comes or goes in between, a ratio moves by up to 2× on this machine. Here every round runs
//! each implementation once on the shape (a batch of calls lasting about 20 ms), so all three
//! meet the same conditions (in an order that rotates from round to round, so none always
//! follows the probe); a cell is the median over rounds. Every round also runs the FMA
//! peak probe for about 20 ms, and "% of peak" is the median over rounds of depthlab's rate
//! against the probe of the same round, so the clock drifting between rows is not read as a
//! kernel effect. The probe does not see everything the host does: on the 2-core KVM guest of
//! sessions 8–12, slow phases that cut every library's rate by up to 30% (even on products
//! that fit in L2) left the register-only probe where it was. Read such rows by their ratios
//! to the peers. At 2 threads each round also runs depthlab on one thread, for its scaling
//! under the same conditions.
//!
//! ```sh
//! flock /tmp/bench.lock cargo run --release --example gemm_side_by_side -- [THREADS] [ROUNDS] [SHAPE...]
//! ```
//!
//! On one thread, `taskset -c 0` in front keeps every implementation on the same vCPU: unpinned,
//! the process may move between two vCPUs that run at different speeds at the time.
//!
//! THREADS is 1 (default) or 2; ROUNDS defaults to 15; SHAPEs (row labels such as
//! `512x512x512`, `wgrad_128x784x512`, `f64 1024x1024x1024`) keep only those rows. matrixmultiply reads its thread count
//! from `MATMUL_NUM_THREADS` once per process, so the program re-runs itself with that set.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use depthlab_benches::peers::{
    BenchElement, Impl, MM_THREADS_ENV, check_against, dgemm_sizes, mlp_shapes,
    rerun_with_mm_threads, run, square_sizes,
};
use depthlab_benches::{Problem, random_vec};
use depthlab_gemm::probe::{Dtype, measure_peak};
use depthlab_gemm::{Isa, active_isa};

/// The implementations of each round, in the order they run, with the thread count each uses
/// (`None`: the run's). At more than one thread, depthlab also runs on one in every round, so
/// its scaling is read from the same conditions as everything else.
const RUNS: [(Impl, Option<usize>); 4] = [
    (Impl::Depthlab, None),
    (Impl::Matrixmultiply, None),
    (Impl::GemmCrate, None),
    (Impl::Depthlab, Some(1)),
];

/// Roughly how long one implementation's batch of calls lasts in a round.
const BATCH_TIME: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: usize, what: &str| -> Result<usize, String> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("{what} must be a positive integer, got {s:?}"))
        })
    };
    let (threads, rounds) = match (parse(0, 1, "THREADS"), parse(1, 15, "ROUNDS")) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let only = &args[args.len().min(2)..];
    let wanted = |label: String| only.is_empty() || only.contains(&label);
    let f32_rows: Vec<Problem> = square_sizes()
        .into_iter()
        .chain(mlp_shapes())
        .filter(|p| wanted(p.label()))
        .collect();
    let f64_rows: Vec<Problem> = dgemm_sizes()
        .into_iter()
        .filter(|p| wanted(format!("f64 {}", p.label())))
        .collect();
    if f32_rows.is_empty() && f64_rows.is_empty() {
        eprintln!("error: no row is labelled any of {only:?}");
        return ExitCode::FAILURE;
    }
    if std::env::var(MM_THREADS_ENV).ok() != Some(threads.to_string()) {
        return rerun_for_mm(threads);
    }
    // The peak first: rayon's freshly started workers would share the cores with it.
    let isa = active_isa().unwrap_or(Isa::Scalar);
    let peak = |dtype| {
        measure_peak(isa, dtype, threads, Duration::from_millis(200), 5)
            .map_or(f64::NAN, |r| r.gflops)
    };
    // A first, discarded measurement wakes the second vCPU: measured cold, two threads read
    // barely more than one.
    let _ = peak(Dtype::F32);
    let (peak32, peak64) = (peak(Dtype::F32), peak(Dtype::F64));
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
    {
        eprintln!("error: building rayon's {threads}-thread pool: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "{threads} thread(s), {rounds} rounds, ISA {}; FMA peak at the start f32 {peak32:.1}, f64 {peak64:.1} GFLOP/s.\n\
         \"probe\": the row's median probe over its rounds; \"% of peak\": the median over rounds of depthlab against that round's probe.\n",
        isa.name()
    );
    if threads > 1 {
        println!(
            "| shape | depthlab | probe | % of peak | matrixmultiply | gemm (x86-v4) | ours / mm | ours / gemm | depthlab 1 thread | ours / ours 1T |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    } else {
        println!(
            "| shape | depthlab | probe | % of peak | matrixmultiply | gemm (x86-v4) | ours / mm | ours / gemm |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    }
    let probe = |dtype| Probe {
        isa,
        dtype,
        threads,
    };
    for p in f32_rows {
        table_row::<f32>(&p, "", rounds, probe(Dtype::F32));
    }
    for p in f64_rows {
        table_row::<f64>(&p, "f64 ", rounds, probe(Dtype::F64));
    }
    ExitCode::SUCCESS
}

/// Runs this program again with matrixmultiply's thread count set to `threads`.
fn rerun_for_mm(threads: usize) -> ExitCode {
    match rerun_with_mm_threads(threads, &[]) {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("error: the run with {MM_THREADS_ENV}={threads} failed: {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: re-running with {MM_THREADS_ENV}={threads}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The FMA peak probe as one round of a row runs it: the run's ISA, element type and threads.
#[derive(Clone, Copy)]
struct Probe {
    isa: Isa,
    dtype: Dtype,
    threads: usize,
}

/// How long the probe runs in each round: as long as one implementation's batch of calls.
const PROBE_TIME: Duration = BATCH_TIME;

impl Probe {
    /// GFLOP/s of one probe round (NaN if the probe cannot run, which the header already shows).
    fn once(self) -> f64 {
        measure_peak(self.isa, self.dtype, self.threads, PROBE_TIME, 1)
            .map_or(f64::NAN, |r| r.gflops)
    }
}

/// Times the three implementations and the peak probe round by round on `p` and prints one
/// Markdown row.
fn table_row<T: BenchElement>(p: &Problem, prefix: &str, rounds: usize, probe: Probe) {
    let threads = probe.threads;
    let a: Vec<T> = random_vec(p.a_len(), 1);
    let b: Vec<T> = random_vec(p.b_len(), 2);
    let mut c = vec![T::ZERO; p.c_len()];
    // At one thread the extra one-thread run of ours would repeat the first.
    let runs = if threads > 1 { &RUNS[..] } else { &RUNS[..3] };
    for &(imp, t) in runs {
        check_against(imp, t.unwrap_or(threads), p, &a, &b);
    }
    // Calls per batch, from one timed call of ours (every implementation gets the same count).
    let start = Instant::now();
    run(Impl::Depthlab, threads, p, &a, &b, &mut c);
    let once = start.elapsed().max(Duration::from_nanos(50));
    let calls = (BATCH_TIME.as_secs_f64() / once.as_secs_f64()).clamp(1.0, 1e6) as usize;
    let mut secs = vec![Vec::new(); runs.len()];
    let mut peaks = Vec::with_capacity(rounds);
    for round in 0..rounds {
        peaks.push(probe.once());
        // Each round starts one implementation further on, so none always runs straight after
        // the probe's flat-out FMA loop or straight after one particular neighbour.
        for i in (0..runs.len()).map(|j| (j + round) % runs.len()) {
            let (imp, t) = runs[i];
            let t = t.unwrap_or(threads);
            let start = Instant::now();
            for _ in 0..calls {
                run(imp, t, p, &a, std::hint::black_box(&b), &mut c);
            }
            secs[i].push(start.elapsed().as_secs_f64() / calls as f64);
            std::hint::black_box(&c);
        }
    }
    let flops = p.flops() as f64;
    // Ours against the probe of the same round, before the sorts below break the pairing.
    let mut of_peak: Vec<f64> = secs[0]
        .iter()
        .zip(&peaks)
        .map(|(s, peak)| flops / s / 1e9 / peak)
        .collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let of_peak = median(&mut of_peak);
    let peak = median(&mut peaks);
    let rate: Vec<f64> = secs.iter_mut().map(|s| flops / median(s) / 1e9).collect();
    let scaling = if threads > 1 {
        format!(" {:.1} | {:.2}× |", rate[3], rate[0] / rate[3])
    } else {
        String::new()
    };
    println!(
        "| {prefix}{} | {:.1} | {peak:.1} | {:.0}% | {:.1} | {:.1} | {:.2}× | {:.2}× |{scaling}",
        p.label(),
        rate[0],
        100.0 * of_peak,
        rate[1],
        rate[2],
        rate[0] / rate[1],
        rate[0] / rate[2]
    );
}

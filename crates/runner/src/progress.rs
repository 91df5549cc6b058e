//! What the user sees: progress on stderr, an indicatif bar on a terminal (runs done/total,
//! ETA, best test accuracy so far), one plain line per finished run otherwise (logs, CI, Slurm
//! output files); and the two writers every command prints through.
//!
//! Nothing here panics on a closed stream, as `println!` does. A closed stdout
//! (`depthlab datasets | head -1`) ends the command quietly ([`StdoutClosed`], exit 0); a
//! closed or full stderr is ignored, so progress just stops and a study runs to its end.

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use depthlab_runner::execute::ExecError;
use depthlab_runner::record::{EpochPoint, RunOutcome, RunRecord};
use depthlab_runner::sweep::{Observer, SweepStart};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Standard output was closed by its reader: the command stops without a message, as
/// reading only the first lines (`| head`) is not an error.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writes one line to stdout.
///
/// # Errors
/// [`StdoutClosed`] for a broken pipe, the I/O error otherwise (a full disk under `>`).
pub fn out(line: impl Display) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            anyhow::Error::new(StdoutClosed)
        } else {
            anyhow::Error::new(e).context("cannot write to standard output")
        }
    })
}

/// Writes one line to stderr, ignoring failure: messages and progress are not worth
/// stopping a command (or a study's worker threads) for.
pub fn note(line: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `1m05s`-style duration.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// The headline metric of a record: test accuracy, or test MSE for regression.
fn metric(r: &RunRecord) -> String {
    let diverged = if r.outcome == RunOutcome::Diverged {
        " DIVERGED"
    } else {
        ""
    };
    match (r.test_accuracy, r.train_accuracy, r.test_mse, r.train_mse) {
        (Some(te), Some(tr), _, _) => format!("test_acc {te:.3} train_acc {tr:.3}{diverged}"),
        (_, _, Some(te), Some(tr)) => format!("test_mse {te:.4} train_mse {tr:.4}{diverged}"),
        _ => format!("test_loss {:.4}{diverged}", r.test_loss),
    }
}

/// One line summing up a finished run.
pub fn record_line(r: &RunRecord) -> String {
    format!(
        "{} {} params {} epochs {}/{} {}",
        r.id,
        metric(r),
        r.parameter_count,
        r.epochs_run,
        r.epochs,
        duration(r.wall_seconds)
    )
}

/// One line for one epoch of `depthlab train`.
pub fn epoch_line(p: &EpochPoint, total: usize) -> String {
    let mut s = format!(
        "epoch {:>4}/{total} train_loss {:.4} test_loss {:.4}",
        p.epoch, p.train_loss, p.test_loss
    );
    if let (Some(tr), Some(te)) = (p.train_accuracy, p.test_accuracy) {
        s.push_str(&format!(" train_acc {tr:.3} test_acc {te:.3}"));
    }
    if let (Some(tr), Some(te)) = (p.train_mse, p.test_mse) {
        s.push_str(&format!(" train_mse {tr:.4} test_mse {te:.4}"));
    }
    s
}

fn start_line(s: &SweepStart) -> String {
    let mut line = format!(
        "study {}: {} grid points, {} in this run, {} already recorded, {} to run on {} threads -> {}",
        s.study,
        s.grid,
        s.shard_points,
        s.already_done,
        s.to_run,
        s.threads,
        s.dir.display()
    );
    if s.study_changed && s.already_done > 0 {
        line.push_str(
            "\nnote: the study file differs from the one these results were made with; recorded ids are kept, not rerun (use --out for a fresh directory)",
        );
    }
    if let Some(t) = &s.dropped {
        line.push_str(&format!(
            "\nnote: results.jsonl line {} was an interrupted write ({} bytes); it was cut off and that run will be redone",
            t.line, t.bytes
        ));
    }
    line
}

/// Plain progress: one line per finished run.
#[derive(Debug, Default)]
pub struct Lines {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Lines {
    /// A fresh line printer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Observer for Lines {
    fn begin(&self, s: &SweepStart) {
        self.total.store(s.to_run, Ordering::Relaxed);
        note(start_line(s));
    }

    fn finished(&self, r: &RunRecord, progress: f64) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed);
        let width = total.to_string().len();
        let pct = 100.0 * progress;
        note(format_args!(
            "[{n:>width$}/{total} {pct:>3.0}%] {}",
            record_line(r)
        ));
    }

    fn failed(&self, id: &str, e: &ExecError) {
        note(format_args!("depthlab: run {id} failed: {e}"));
    }
}

/// Units of the bar's length: the bar and its ETA follow estimated work, not run counts,
/// because the longest runs are started first.
const BAR_UNITS: u64 = 10_000;

/// A terminal progress bar.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    best: Mutex<Option<(f64, String)>>,
}

impl Bar {
    /// A bar, drawn from `begin` on.
    pub fn new() -> Self {
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let (d, t) = (Arc::clone(&done), Arc::clone(&total));
        let runs = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(
                w,
                "{}/{} runs",
                d.load(Ordering::Relaxed),
                t.load(Ordering::Relaxed)
            );
        };
        let style = ProgressStyle::with_template(
            "{bar:30.cyan/blue} {runs}  {elapsed_precise} ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("runs", runs)
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(BAR_UNITS), ProgressDrawTarget::stderr());
        bar.set_style(style);
        Bar {
            bar,
            done,
            total,
            best: Mutex::new(None),
        }
    }
}

impl Observer for Bar {
    fn begin(&self, s: &SweepStart) {
        self.bar.println(start_line(s));
        self.total.store(s.to_run, Ordering::Relaxed);
        self.bar.enable_steady_tick(Duration::from_millis(500));
    }

    fn finished(&self, r: &RunRecord, progress: f64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(acc) = r.test_accuracy
            && let Ok(mut best) = self.best.lock()
            && best.as_ref().is_none_or(|(b, _)| acc > *b)
        {
            *best = Some((acc, r.id.clone()));
            self.bar
                .set_message(format!("best test acc {acc:.3} ({})", r.id));
        }
        self.bar
            .set_position((progress * BAR_UNITS as f64).round() as u64);
    }

    fn failed(&self, id: &str, e: &ExecError) {
        self.bar.println(format!("depthlab: run {id} failed: {e}"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish();
    }
}

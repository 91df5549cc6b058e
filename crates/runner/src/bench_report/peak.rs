//! The peak probe's JSON (`cargo run --release -p depthlab-gemm --example peak -- --json`) and
//! the machine facts for the report header.

use std::path::Path;

use serde::Deserialize;

use super::BenchReportError;

/// One probe measurement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PeakEntry {
    /// ISA path (`avx512`, `avx2`).
    pub isa: String,
    /// Element type (`f32`, `f64`).
    pub dtype: String,
    /// Threads running the FMA loop at once.
    pub threads: usize,
    /// Measured GFLOP/s.
    pub gflops: f64,
}

/// The probe's whole output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PeakFile {
    /// CPU model name.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// The ISA depthlab-gemm runs on this machine.
    pub active_isa: String,
    /// Every measurement.
    pub results: Vec<PeakEntry>,
}

impl PeakFile {
    /// Reads and validates a probe file.
    ///
    /// # Errors
    /// [`BenchReportError::UnreadablePeak`] when missing or unreadable,
    /// [`BenchReportError::Malformed`] when it does not parse or holds a non-positive rate.
    pub fn load(path: &Path) -> Result<Self, BenchReportError> {
        // The file is the user's argument, so failing to read it is bad input (exit 2), not
        // a fault of the machine.
        let text = std::fs::read_to_string(path).map_err(|e| BenchReportError::UnreadablePeak {
            path: path.to_path_buf(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file (write it with `cargo run --release -p depthlab-gemm --example \
                 peak -- --json > FILE`)"
                    .to_string()
            } else {
                e.to_string()
            },
        })?;
        let file: PeakFile =
            serde_json::from_str(&text).map_err(|e| BenchReportError::Malformed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if let Some(bad) = file
            .results
            .iter()
            .find(|r| !(r.gflops.is_finite() && r.gflops > 0.0) || r.threads == 0)
        {
            return Err(BenchReportError::Malformed {
                path: path.to_path_buf(),
                reason: format!(
                    "peak {} {} {}T must be a positive rate on at least one thread, got {}",
                    bad.isa, bad.dtype, bad.threads, bad.gflops
                ),
            });
        }
        Ok(file)
    }

    /// The ceiling for `dtype` at `threads`: the best rate any probed ISA reached. On most CPUs
    /// that is the active ISA's; where a narrower path keeps up (Zen 4 splits each 512-bit FMA
    /// in two, so AVX2 reaches the same rate), taking the best keeps probe noise from putting
    /// the ceiling below what the hardware showed it can do.
    pub fn gflops(&self, dtype: &str, threads: usize) -> Option<f64> {
        self.results
            .iter()
            .filter(|r| r.dtype == dtype && r.threads == threads)
            .map(|r| r.gflops)
            .reduce(f64::max)
    }
}

/// The CPU model of the machine writing the report (Linux), when no probe file names it.
pub fn local_cpu_model() -> String {
    depthlab_gemm::probe::cpu_model().unwrap_or_else(|| "unknown CPU".to_string())
}

/// Element type of a GEMM benchmark family, for looking up its peak.
pub fn family_dtype(family: &str) -> Option<&'static str> {
    match family {
        "sgemm" | "mlp" | "linear_fwd" | "linear_bwd" => Some("f32"),
        "dgemm" => Some("f64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(isa: &str, dtype: &str, threads: usize, gflops: f64) -> PeakEntry {
        PeakEntry {
            isa: isa.into(),
            dtype: dtype.into(),
            threads,
            gflops,
        }
    }

    #[test]
    fn ceiling_is_the_best_isa_for_that_dtype_and_thread_count() {
        let p = PeakFile {
            cpu: "x".into(),
            cores: 2,
            active_isa: "avx512".into(),
            results: vec![
                entry("avx512", "f64", 1, 50.0),
                entry("avx2", "f64", 1, 56.7),
                entry("avx512", "f32", 1, 115.0),
                entry("avx2", "f32", 2, 500.0),
            ],
        };
        assert_eq!(p.gflops("f64", 1), Some(56.7));
        assert_eq!(p.gflops("f32", 1), Some(115.0));
        assert_eq!(p.gflops("f64", 2), None);
    }
}

//! Reading criterion's saved results: `<dir>/**/new/{benchmark.json,estimates.json}` and, for
//! a named baseline, `<dir>/**/<baseline>/estimates.json`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::BenchReportError;

/// A time per iteration in nanoseconds with criterion's confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Point estimate (criterion's "typical": the slope when it has one, else the mean).
    pub point: f64,
    /// Lower bound of the confidence interval.
    pub lower: f64,
    /// Upper bound of the confidence interval.
    pub upper: f64,
}

/// What one iteration processes, as declared by the bench with `Throughput`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throughput {
    /// Elements per iteration (FLOPs in the GEMM groups, samples in the training groups).
    Elements(u64),
    /// Bytes per iteration.
    Bytes(u64),
    /// Bits per iteration.
    Bits(u64),
}

impl Throughput {
    /// The amount per iteration, whatever the unit.
    pub fn amount(self) -> u64 {
        match self {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::Bits(n) => n,
        }
    }
}

/// One benchmark: its id parts, throughput, and the new (and baseline) time estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    /// Criterion group, e.g. `sgemm_1t`.
    pub group: String,
    /// Implementation (criterion's function id), e.g. `depthlab`.
    pub function: Option<String>,
    /// Shape or workload (criterion's parameter), e.g. `512x512x512`.
    pub value: Option<String>,
    /// Work per iteration, when declared.
    pub throughput: Option<Throughput>,
    /// The latest run (`new/`).
    pub new: Estimate,
    /// The named baseline, when asked for and present for this benchmark.
    pub baseline: Option<Estimate>,
    /// The benchmark's directory under the criterion dir.
    pub dir: PathBuf,
}

impl Benchmark {
    /// `group/implementation/shape`, as criterion names it.
    pub fn id(&self) -> String {
        let mut id = self.group.clone();
        for part in [&self.function, &self.value].into_iter().flatten() {
            id.push('/');
            id.push_str(part);
        }
        id
    }

    /// Units of throughput per second in the latest run.
    pub fn rate(&self) -> Option<f64> {
        self.throughput
            .map(|t| t.amount() as f64 / (self.new.point * 1e-9))
    }

    /// The group's family and thread count: `sgemm_2t` → (`sgemm`, 2); groups without a
    /// `_<n>t` suffix count as one thread.
    pub fn family_threads(&self) -> (&str, usize) {
        split_threads(&self.group)
    }

    /// The implementation name, or the group name for plain benchmarks.
    pub fn implementation(&self) -> &str {
        self.function.as_deref().unwrap_or(&self.group)
    }
}

/// `sgemm_2t` → (`sgemm`, 2); anything else → (name, 1).
pub fn split_threads(group: &str) -> (&str, usize) {
    if let Some((family, suffix)) = group.rsplit_once('_')
        && let Some(n) = suffix.strip_suffix('t')
        && let Ok(threads) = n.parse::<usize>()
        && threads > 0
    {
        return (family, threads);
    }
    (group, 1)
}

#[derive(Deserialize)]
struct RawId {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<RawThroughput>,
}

#[derive(Deserialize)]
enum RawThroughput {
    Elements(u64),
    Bytes(u64),
    BytesDecimal(u64),
    Bits(u64),
    // Criterion reports the elements as the primary rate (the bytes field is left unread).
    ElementsAndBytes { elements: u64 },
}

#[derive(Deserialize)]
struct RawInterval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct RawEstimate {
    confidence_interval: RawInterval,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct RawEstimates {
    mean: RawEstimate,
    slope: Option<RawEstimate>,
}

fn read(path: &Path) -> Result<String, BenchReportError> {
    std::fs::read_to_string(path).map_err(|source| {
        // A benchmark directory missing one of its files is a damaged tree, not an I/O fault.
        if source.kind() == std::io::ErrorKind::NotFound {
            BenchReportError::Malformed {
                path: path.to_path_buf(),
                reason: "missing (criterion writes it beside benchmark.json)".to_string(),
            }
        } else {
            BenchReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Parses one `estimates.json`, taking criterion's typical estimate (slope, else mean).
pub fn parse_estimates(path: &Path) -> Result<Estimate, BenchReportError> {
    let raw: RawEstimates =
        serde_json::from_str(&read(path)?).map_err(|e| BenchReportError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let e = raw.slope.unwrap_or(raw.mean);
    let est = Estimate {
        point: e.point_estimate,
        lower: e.confidence_interval.lower_bound,
        upper: e.confidence_interval.upper_bound,
    };
    let valid = [est.point, est.lower, est.upper]
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
        && est.lower <= est.point
        && est.point <= est.upper;
    if !valid {
        return Err(BenchReportError::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "times must be positive and finite with lower <= point <= upper, got {} [{}, {}]",
                est.point, est.lower, est.upper
            ),
        });
    }
    Ok(est)
}

fn parse_id(path: &Path) -> Result<RawId, BenchReportError> {
    serde_json::from_str(&read(path)?).map_err(|e| BenchReportError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Every benchmark directory (one holding `new/benchmark.json`) under `root`, sorted.
fn benchmark_dirs(root: &Path) -> Result<Vec<PathBuf>, BenchReportError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("new").join("benchmark.json").is_file() {
            found.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| BenchReportError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| BenchReportError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            // criterion's own HTML lives in `report/`; it holds no estimates.
            if path.is_dir() && entry.file_name() != "report" {
                stack.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Baseline names saved beside `new/` in any benchmark directory.
fn saved_baselines(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().join("estimates.json").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n != "new" && n != "change")
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Loads every benchmark under `root`, with `baseline`'s estimates where it was saved.
///
/// # Errors
/// [`BenchReportError::MissingCriterionDir`] when `root` is not a directory,
/// [`BenchReportError::NoBenchmarks`] when it holds no results,
/// [`BenchReportError::UnknownBaseline`] when no benchmark has the named baseline,
/// [`BenchReportError::Malformed`] naming the first file that does not parse.
pub fn load(root: &Path, baseline: Option<&str>) -> Result<Vec<Benchmark>, BenchReportError> {
    if !root.is_dir() {
        return Err(BenchReportError::MissingCriterionDir {
            path: root.to_path_buf(),
        });
    }
    let dirs = benchmark_dirs(root)?;
    if dirs.is_empty() {
        return Err(BenchReportError::NoBenchmarks {
            path: root.to_path_buf(),
        });
    }
    if let Some(name) = baseline {
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\'])
            && name != "change";
        let present = plain
            && dirs
                .iter()
                .any(|d| d.join(name).join("estimates.json").is_file());
        if !present {
            return Err(BenchReportError::UnknownBaseline {
                name: name.to_string(),
                path: root.to_path_buf(),
                available: saved_baselines(&dirs),
            });
        }
    }
    let mut out = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let id = parse_id(&dir.join("new").join("benchmark.json"))?;
        let new = parse_estimates(&dir.join("new").join("estimates.json"))?;
        let baseline = match baseline {
            Some(name) => {
                let path = dir.join(name).join("estimates.json");
                if path.is_file() {
                    Some(parse_estimates(&path)?)
                } else {
                    None
                }
            }
            None => None,
        };
        out.push(Benchmark {
            group: id.group_id,
            function: id.function_id,
            value: id.value_str,
            throughput: id.throughput.map(|t| match t {
                RawThroughput::Elements(n)
                | RawThroughput::ElementsAndBytes { elements: n, .. } => Throughput::Elements(n),
                RawThroughput::Bytes(n) | RawThroughput::BytesDecimal(n) => Throughput::Bytes(n),
                RawThroughput::Bits(n) => Throughput::Bits(n),
            }),
            new,
            baseline,
            dir,
        });
    }
    out.sort_by_key(|b| natural_key(&b.id()));
    Ok(out)
}

/// A sort key that orders the numbers inside ids by value (`64x64x64` before `128x128x128`).
pub(crate) fn natural_key(id: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut chars = id.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            key.push((std::mem::take(&mut text), n));
        } else {
            text.push(c);
            chars.next();
        }
    }
    key.push((text, 0));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_number_value() {
        let mut ids = [
            "s/a/128x128x128",
            "s/a/64x64x64",
            "s/a/1024x1024x1024",
            "s/b/16x16x16",
        ];
        ids.sort_by_key(|i| natural_key(i));
        assert_eq!(
            ids,
            [
                "s/a/64x64x64",
                "s/a/128x128x128",
                "s/a/1024x1024x1024",
                "s/b/16x16x16"
            ]
        );
    }

    #[test]
    fn thread_suffix_is_parsed_only_when_well_formed() {
        assert_eq!(split_threads("sgemm_2t"), ("sgemm", 2));
        assert_eq!(split_threads("mlp_1t"), ("mlp", 1));
        assert_eq!(split_threads("activation"), ("activation", 1));
        assert_eq!(split_threads("odd_xt"), ("odd_xt", 1));
        assert_eq!(split_threads("zero_0t"), ("zero_0t", 1));
    }
}

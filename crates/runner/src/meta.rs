//! `meta.json`: what produced a results directory (versions, commit, machine, threads, time),
//! so every result can be traced to the code and hardware that made it.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Versions and machine description stored next to a study's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Version of depthlab-runner.
    pub depthlab_version: String,
    /// Git commit of the source of the first session that wrote this directory, when known
    /// (`DEPTHLAB_GIT_COMMIT` at build time, else `git rev-parse HEAD` in the working
    /// directory at run time).
    pub git_commit: Option<String>,
    /// Git commit of the latest session: differs from `git_commit` when a study was resumed
    /// under other code, so its results may come from either.
    #[serde(default)]
    pub last_git_commit: Option<String>,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// The SIMD-related CPU flags present (subset of `/proc/cpuinfo` flags).
    pub cpu_features: Vec<String>,
    /// The ISA the GEMM kernels run.
    pub gemm_isa: String,
    /// Every ISA the GEMM kernels could run on this CPU.
    pub gemm_isas_available: Vec<String>,
    /// Logical CPUs the operating system reports.
    pub logical_cpus: usize,
    /// Threads in the pool that ran the study.
    pub threads: usize,
    /// `os-arch` of the build.
    pub target: String,
    /// Start of the first session that wrote this directory, RFC 3339 UTC.
    pub start_time: String,
    /// Start of the latest session (differs from `start_time` after a resume).
    pub last_start_time: String,
    /// The shard this directory holds (`i/n`), when sharded.
    #[serde(default)]
    pub shard: Option<String>,
    /// What `depthlab merge` wrote here (the `meta.json` of every directory it joined), kept
    /// through later sessions: the merged records were made by those sessions, not this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<serde_json::Value>,
}

/// The flags worth recording: the ones that decide which kernels can run.
const FEATURES_OF_INTEREST: &[&str] = &[
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_bf16",
    "avx512_vnni",
    "amx_tile",
    "asimd",
    "sve",
];

impl Meta {
    /// Describes this process and machine now, for a pool of `threads`.
    pub fn collect(threads: usize, shard: Option<String>) -> Meta {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu_model, cpu_features) = parse_cpuinfo(&cpuinfo);
        let now = rfc3339(SystemTime::now());
        let commit = git_commit();
        Meta {
            depthlab_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: commit.clone(),
            last_git_commit: commit,
            cpu_model,
            cpu_features,
            gemm_isa: depthlab_gemm::active_isa()
                .map_or_else(|e| format!("error: {e}"), |i| i.name().to_string()),
            gemm_isas_available: depthlab_gemm::available_isas()
                .iter()
                .map(|i| i.name().to_string())
                .collect(),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads,
            target: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            start_time: now.clone(),
            last_start_time: now,
            shard,
            merged_from: None,
        }
    }

    /// Keeps the first start time and commit of an earlier session in `existing_meta`, if any,
    /// and the provenance a merge left there.
    pub fn continuing(mut self, existing_meta: &Path) -> Meta {
        let Some(old) = std::fs::read(existing_meta)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        else {
            return self;
        };
        // A merge writes only `merged_from`, which is not a whole `Meta`.
        self.merged_from = old.get("merged_from").cloned();
        if let Ok(old) = serde_json::from_value::<Meta>(old) {
            self.start_time = old.start_time;
            self.git_commit = old.git_commit;
        }
        self
    }
}

/// Model name and interesting flags from `/proc/cpuinfo` text.
fn parse_cpuinfo(text: &str) -> (Option<String>, Vec<String>) {
    let model = depthlab_gemm::probe::cpu_model_in(text);
    // x86 lists "flags", aarch64 "Features".
    let flags = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| matches!(k.trim(), "flags" | "Features"))
        .map_or("", |(_, v)| v.trim());
    let have: Vec<&str> = flags.split_whitespace().collect();
    let features = FEATURES_OF_INTEREST
        .iter()
        .filter(|f| have.contains(f))
        .map(|f| f.to_string())
        .collect();
    (model, features)
}

/// The source commit, best effort: a build-time variable, else asking git.
fn git_commit() -> Option<String> {
    if let Some(c) = option_env!("DEPTHLAB_GIT_COMMIT") {
        return Some(c.to_string());
    }
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && hash.len() >= 7).then_some(hash)
}

/// Formats a time as RFC 3339 in UTC with second precision, e.g. `2026-11-28T15:40:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2000-02-29T12:34:56Z, a leap day in a century leap year.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_827_696)),
            "2000-02-29T12:34:56Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_798_761_600)),
            "2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_resumed_study_keeps_its_first_commit_and_start() {
        let dir = std::env::temp_dir().join(format!("depthlab-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("meta.json");
        let mut first = Meta::collect(1, None);
        first.git_commit = Some("first".into());
        first.last_git_commit = Some("first".into());
        first.start_time = "2026-01-01T00:00:00Z".into();
        std::fs::write(&path, serde_json::to_vec(&first).unwrap()).unwrap();
        let mut now = Meta::collect(2, None);
        now.git_commit = Some("second".into());
        now.last_git_commit = Some("second".into());
        let resumed = now.continuing(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(resumed.git_commit.as_deref(), Some("first"));
        assert_eq!(resumed.last_git_commit.as_deref(), Some("second"));
        assert_eq!(resumed.start_time, "2026-01-01T00:00:00Z");
        assert_ne!(resumed.last_start_time, resumed.start_time);
    }

    #[test]
    fn reads_model_and_flags() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx avx2 fma avx512f avx512bw\n";
        let (model, feats) = parse_cpuinfo(text);
        assert_eq!(model.as_deref(), Some("AMD EPYC 9R14"));
        assert_eq!(feats, ["avx", "avx2", "fma", "avx512f", "avx512bw"]);
    }
}

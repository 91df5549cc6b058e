//! Running the `depthlab` binary from integration tests, and the shape every bad-input answer
//! must have.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `cwd` (with no Slurm task id leaking in from the environment).
pub fn depthlab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_depthlab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .expect("the depthlab binary runs")
}

/// Asserts exit code 2 and a single stderr line containing every needle.
pub fn assert_bad_input(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

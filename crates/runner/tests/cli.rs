//! The `depthlab` binary: one-line errors naming the bad value and its source, exit code 2 for
//! bad input, nothing under `runs/` touched, and `--help` with an example for every command.

mod cli_support;

use cli_support::{assert_bad_input, depthlab};
use std::fs;
use std::path::Path;

const STUDY: &str = r#"name = "cli"
datasets = ["xor"]
[axes]
depths = [1]
widths = [4]
activations = ["relu"]
[train]
epochs = 2
"#;

fn write_study(dir: &Path, text: &str) {
    fs::write(dir.join("s.toml"), text).unwrap();
}

#[test]
fn reports_are_named_after_the_results_directory() {
    // Two trials of one study in two --out directories must not share one report directory.
    let tmp = tempfile::tempdir().unwrap();
    write_study(tmp.path(), STUDY);
    for dir in ["trial-a", "trial-b"] {
        let out = depthlab(tmp.path(), &["run", "s.toml", "--out", dir, "--quiet"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            tmp.path()
                .join("reports")
                .join(dir)
                .join("index.html")
                .is_file()
        );
    }
    assert!(!tmp.path().join("reports/cli").exists());
    // `report DIR` follows the same rule.
    fs::remove_dir_all(tmp.path().join("reports/trial-a")).unwrap();
    let out = depthlab(tmp.path(), &["report", "trial-a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.path().join("reports/trial-a/index.html").is_file());
}

#[test]
fn unknown_flag_is_one_line_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = depthlab(tmp.path(), &["run", "--bogus"]);
    assert_bad_input(&out, &["--bogus"]);
}

#[test]
fn study_errors_name_value_and_position_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[\"xor\"]", "[\"xorr\"]", vec!["s.toml:2:13", "xorr"]),
        (
            "widths = [4]",
            "widths = [0]",
            vec!["s.toml:5:11", "width 0"],
        ),
        ("widths = [4]", "widths = [-2]", vec!["s.toml:5", "-2"]),
        ("depths = [1]", "depths = []", vec!["s.toml:4:10", "depths"]),
        ("[\"relu\"]", "[\"relux\"]", vec!["s.toml:6:16", "relux"]),
        (
            "epochs = 2",
            "epochs = 2\nepochs = 3",
            vec!["s.toml:9", "epochs"],
        ),
        ("widths = [4]", "widths = [4", vec!["s.toml:"]),
    ];
    for (from, to, needles) in cases {
        write_study(tmp.path(), &STUDY.replace(from, to));
        let out = depthlab(tmp.path(), &["run", "s.toml"]);
        assert_bad_input(&out, &needles);
        assert!(
            !tmp.path().join("runs").exists(),
            "{to}: runs/ must not be created"
        );
    }
    let out = depthlab(tmp.path(), &["run", "missing.toml"]);
    assert_bad_input(&out, &["missing.toml"]);
}

#[test]
fn csv_errors_leave_existing_results_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs/cli");
    fs::create_dir_all(&runs).unwrap();
    fs::write(runs.join("results.jsonl"), "sentinel\n").unwrap();
    fs::write(
        tmp.path().join("bad.csv"),
        "a,b,target\n1,2,0\n3,oops,1\n5,6,0\n7,8,1\n",
    )
    .unwrap();
    write_study(
        tmp.path(),
        &STUDY.replace("[\"xor\"]", "[{ name = \"bad.csv\", target = \"target\" }]"),
    );
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(&out, &["bad.csv:3:2", "oops"]);

    write_study(
        tmp.path(),
        &STUDY.replace("[\"xor\"]", "[{ name = \"bad.csv\", target = \"label\" }]"),
    );
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(&out, &["bad.csv", "label"]);

    let entries: Vec<_> = fs::read_dir(&runs).unwrap().collect();
    assert_eq!(entries.len(), 1, "nothing added to runs/cli");
    assert_eq!(
        fs::read_to_string(runs.join("results.jsonl")).unwrap(),
        "sentinel\n"
    );
}

#[test]
fn train_rejects_bad_values_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let base = [
        "train",
        "--data",
        "xor",
        "--depth",
        "1",
        "--width",
        "4",
        "--activation",
        "relu",
        "--epochs",
        "1",
    ];
    let with = |i: usize, v: &str| {
        let mut a: Vec<&str> = base.to_vec();
        a[i] = v;
        depthlab(tmp.path(), &a)
    };
    assert_bad_input(&with(2, "nope"), &["--data", "nope"]);
    assert_bad_input(&with(6, "0"), &["--width 0"]);
    assert_bad_input(&with(6, "-5"), &["--width -5"]);
    assert_bad_input(&with(8, "sigmund"), &["--activation", "sigmund"]);
    fs::write(tmp.path().join("d.csv"), "x,y\n1,0\n2,1\n").unwrap();
    let out = depthlab(
        tmp.path(),
        &[
            "train",
            "--data",
            "d.csv",
            "--target",
            "z",
            "--depth",
            "0",
            "--width",
            "1",
            "--activation",
            "relu",
        ],
    );
    assert_bad_input(&out, &["d.csv", "\"z\""]);
}

#[test]
fn train_prints_a_record_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--data",
        "xor",
        "--depth",
        "1",
        "--width",
        "8",
        "--activation",
        "tanh",
        "--epochs",
        "3",
        "--json",
        "--save",
        "m.safetensors",
    ];
    let out = depthlab(tmp.path(), &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("epoch")).count(),
        3,
        "{err}"
    );
    let record: depthlab_runner::record::RunRecord =
        serde_json::from_slice(&out.stdout).expect("stdout is one record");
    assert_eq!(record.id, "xor-d1-w8-tanh-s0");
    assert_eq!(record.curve.len(), 3);
    assert_eq!(record.parameter_count, 2 * 8 + 8 + 8 * 2 + 2);
    assert!(record.test_accuracy.is_some());
    assert!(tmp.path().join("m.safetensors").is_file());
}

#[test]
fn every_command_has_help_with_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        "run",
        "train",
        "init",
        "merge",
        "datasets",
        "report",
        "compare",
        "bench-report",
    ] {
        let out = depthlab(tmp.path(), &[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
    }
}

#[test]
fn init_writes_the_default_study_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = depthlab(tmp.path(), &["init", "my.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = fs::read_to_string(tmp.path().join("my.toml")).unwrap();
    assert_eq!(text, depthlab_runner::study::DEFAULT_STUDY_TOML);
    let out = depthlab(tmp.path(), &["init", "my.toml"]);
    assert_bad_input(&out, &["my.toml", "exists"]);
}

#[test]
fn datasets_lists_the_builtins_with_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = depthlab(tmp.path(), &["datasets"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for name in ["xor", "spirals", "digits", "circles", "sin"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("digits") && l.contains("1797") && l.contains("64")),
        "{text}"
    );
}

#[test]
fn bad_shard_values_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    write_study(tmp.path(), STUDY);
    let out = depthlab(tmp.path(), &["run", "s.toml", "--shard", "4/4"]);
    assert_bad_input(&out, &["4/4"]);
    let out = depthlab(tmp.path(), &["run", "s.toml", "--shard", "/4"]);
    assert_bad_input(&out, &["SLURM_ARRAY_TASK_ID"]);
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn bench_report_on_a_missing_criterion_dir_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = depthlab(
        tmp.path(),
        &["bench-report", "--criterion-dir", "nowhere/criterion"],
    );
    assert_bad_input(&out, &["nowhere/criterion"]);
    assert!(!tmp.path().join("reports").exists());
}

#[test]
fn bench_report_with_a_missing_peak_file_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench/criterion");
    let out = depthlab(
        tmp.path(),
        &[
            "bench-report",
            "--criterion-dir",
            fixture.to_str().unwrap(),
            "--peak",
            "nowhere/peak.json",
        ],
    );
    assert_bad_input(&out, &["nowhere/peak.json"]);
    assert!(!tmp.path().join("reports").exists());
}

#[test]
fn a_results_directory_of_another_study_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write_study(tmp.path(), STUDY);
    let out = depthlab(
        tmp.path(),
        &["run", "s.toml", "--quiet", "--no-report", "--out", "runs/x"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = fs::read(tmp.path().join("runs/x/results.jsonl")).unwrap();
    write_study(
        tmp.path(),
        &STUDY.replace("name = \"cli\"", "name = \"other\""),
    );
    let out = depthlab(tmp.path(), &["run", "s.toml", "--out", "runs/x"]);
    assert_bad_input(&out, &["runs/x", "`cli`", "`other`"]);
    assert_eq!(
        fs::read(tmp.path().join("runs/x/results.jsonl")).unwrap(),
        before
    );
}

#[test]
fn list_prints_the_shard_grid_without_running() {
    let tmp = tempfile::tempdir().unwrap();
    write_study(
        tmp.path(),
        &STUDY.replace("widths = [4]", "widths = [4, 8, 16]"),
    );
    let out = depthlab(tmp.path(), &["run", "s.toml", "--shard", "1/2", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["1\txor-d1-w8-relu-s0\tpending"]
    );
    assert!(!tmp.path().join("runs").exists());
}

/// Every file under `dir` with its bytes, to show a command left a directory as it was.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn reports_are_never_written_into_another_results_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = |out: std::process::Output| {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    write_study(tmp.path(), STUDY);
    ok(depthlab(
        tmp.path(),
        &["run", "s.toml", "--quiet", "--no-report", "--out", "a"],
    ));
    // Another study whose results (and their meta.json: machine, threads, start time) must
    // survive every command below.
    fs::write(
        tmp.path().join("b.toml"),
        STUDY.replace("name = \"cli\"", "name = \"other\""),
    )
    .unwrap();
    ok(depthlab(
        tmp.path(),
        &["run", "b.toml", "--quiet", "--no-report", "--out", "b"],
    ));
    ok(depthlab(
        tmp.path(),
        &[
            "run",
            "b.toml",
            "--quiet",
            "--no-report",
            "--out",
            "reports/c",
        ],
    ));
    let b = snapshot(&tmp.path().join("b"));
    let c = snapshot(&tmp.path().join("reports/c"));

    let out = depthlab(tmp.path(), &["report", "a", "--out", "b"]);
    assert_bad_input(&out, &["--out b", "results directory"]);
    let out = depthlab(tmp.path(), &["compare", "a", "a", "--out", "b"]);
    assert_bad_input(&out, &["--out b", "results directory"]);
    // The default report directory of `run --out c` is reports/c: refused before training.
    let out = depthlab(tmp.path(), &["run", "s.toml", "--quiet", "--out", "c"]);
    assert_bad_input(&out, &["reports/c", "results directory"]);
    assert!(!tmp.path().join("c").exists());
    assert_eq!(snapshot(&tmp.path().join("b")), b);
    assert_eq!(snapshot(&tmp.path().join("reports/c")), c);

    // A study's own directory may hold its report; its results stay as they were.
    let a = snapshot(&tmp.path().join("a"));
    ok(depthlab(tmp.path(), &["report", "a", "--out", "a"]));
    let after = snapshot(&tmp.path().join("a"));
    for (path, bytes) in &a {
        let now = after.iter().find(|(p, _)| p == path).map(|(_, b)| b);
        assert_eq!(now, Some(bytes), "{} changed", path.display());
    }
    assert!(tmp.path().join("a/index.html").is_file());
}

#[test]
fn a_data_file_that_cannot_be_read_is_named_with_its_place_in_the_study() {
    let tmp = tempfile::tempdir().unwrap();
    write_study(
        tmp.path(),
        &STUDY.replace("[\"xor\"]", "[\"data/missing.csv\"]"),
    );
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(
        &out,
        &["s.toml:2:13: cannot read data/missing.csv", "No such file"],
    );
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn train_refuses_to_save_the_model_over_its_data_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("x,target\n");
    for i in 0..20 {
        text.push_str(&format!("{i},{}\n", i % 2));
    }
    fs::create_dir(tmp.path().join("data")).unwrap();
    fs::write(tmp.path().join("data/d.csv"), &text).unwrap();
    // The same file under another spelling is still the data.
    let out = depthlab(
        tmp.path(),
        &[
            "train",
            "--data",
            "data/d.csv",
            "--depth",
            "0",
            "--width",
            "1",
            "--activation",
            "relu",
            "--epochs",
            "1",
            "--save",
            "data/../data/d.csv",
        ],
    );
    assert_bad_input(&out, &["--save data/../data/d.csv", "--data file"]);
    assert_eq!(
        fs::read_to_string(tmp.path().join("data/d.csv")).unwrap(),
        text
    );
}

//! Input the checks used to let through: sizes that aborted or panicked, repeated axis values,
//! missing CSV targets, unprintable learning-rate ids, output paths under a regular file,
//! closed stdout and stderr, and error messages that repeated themselves.

mod cli_support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cli_support::{assert_bad_input, depthlab};
use depthlab_runner::data::{self, DataSpec};
use depthlab_runner::study::{self, Study, StudyError};

const STUDY: &str = r#"name = "lim"
datasets = ["xor"]
[axes]
depths = [1]
widths = [4]
activations = ["relu"]
[train]
epochs = 2
"#;

/// The error of a study that must not parse: position and message.
fn invalid(src: &str) -> (usize, usize, String) {
    match Study::parse(src, "s.toml") {
        Err(StudyError::Invalid {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        Err(other) => panic!("expected an Invalid error, got {other}"),
        Ok(_) => panic!("study should have been rejected:\n{src}"),
    }
}

fn edited(from: &str, to: &str) -> String {
    let src = STUDY.replace(from, to);
    assert_ne!(src, STUDY, "replacement {from} did not apply");
    src
}

#[test]
fn huge_study_values_are_refused_with_the_limit() {
    let i64_max = i64::MAX.to_string();
    let cases = [
        (
            "depths = [1]",
            format!("depths = [{i64_max}]"),
            (4, 11),
            "1000",
        ),
        (
            "widths = [4]",
            "widths = [4, 100000000000]".into(),
            (5, 14),
            "1000000",
        ),
        (
            "epochs = 2",
            format!("epochs = {i64_max}"),
            (8, 10),
            "1000000",
        ),
        (
            "epochs = 2",
            "epochs = 2\nbatch_size = 100000000000".into(),
            (9, 14),
            "10000000",
        ),
        (
            "epochs = 2",
            "epochs = 2\npatience = 10000000".into(),
            (9, 12),
            "1000000",
        ),
        (
            "activations = [\"relu\"]",
            format!("activations = [\"relu\"]\nepochs = [{i64_max}, 2]"),
            (7, 11),
            "1000000",
        ),
    ];
    for (from, to, at, limit) in cases {
        let (line, column, msg) = invalid(&edited(from, &to));
        assert_eq!((line, column), at, "{to}: {msg}");
        assert!(msg.contains("too large") && msg.contains(limit), "{msg}");
    }
}

#[test]
fn width_and_depth_together_are_bounded_by_the_parameter_count() {
    // Each value is within its own limit, but 3 hidden layers of 40,000 are 3.2e9 weights.
    let (line, column, msg) = invalid(&edited(
        "depths = [1]\nwidths = [4]",
        "depths = [1, 3]\nwidths = [4, 40000]",
    ));
    assert_eq!((line, column), (5, 14));
    assert!(
        msg.contains("width 40000") && msg.contains("depth 3") && msg.contains("1000000000"),
        "{msg}"
    );
    assert!(study::check_model_size(2, 2, 3, 40_000, 32).is_err());
    assert!(study::check_model_size(64, 10, 6, 128, 64).is_ok());
    // A batch too large for a wide layer is refused even though the weights fit.
    let e = study::check_model_size(2, 2, 1, 1_000_000, 10_000).unwrap_err();
    assert!(
        e.contains("batch size 10000") && e.contains("activations"),
        "{e}"
    );
}

#[test]
fn a_grid_too_large_to_hold_is_refused() {
    let seeds: Vec<String> = (0..1001).map(|s| s.to_string()).collect();
    let widths: Vec<String> = (1..=1001).map(|w| w.to_string()).collect();
    let src = edited(
        "widths = [4]",
        &format!(
            "widths = [{}]\nseeds = [{}]",
            widths.join(", "),
            seeds.join(", ")
        ),
    );
    let (line, _, msg) = invalid(&src);
    assert_eq!(line, 3, "{msg}");
    assert!(
        msg.contains("1002001 points") && msg.contains("1000000"),
        "{msg}"
    );
}

#[test]
fn no_axis_may_repeat_a_value() {
    let cases = [
        ("learning_rates = [0.01, 0.01]", (7, 25), "`0.01` twice"),
        ("label_noise = [0.0, 0.0]", (7, 21), "`0` twice"),
        ("label_noise = [0.0, -0.0]", (7, 21), "the same as `0`"),
        ("optimizers = [\"adam\", \"Adam\"]", (7, 23), "`adam` twice"),
        ("epochs = [5, 5]", (7, 14), "`5` twice"),
        ("batch_sizes = [8, 8]", (7, 19), "`8` twice"),
        ("train_sizes = [50, 50]", (7, 20), "`50` twice"),
        ("seeds = [3, 3]", (7, 13), "`3` twice"),
    ];
    for (axis, at, needle) in cases {
        let src = edited(
            "activations = [\"relu\"]",
            &format!("activations = [\"relu\"]\n{axis}"),
        );
        let (line, column, msg) = invalid(&src);
        assert_eq!((line, column), at, "{axis}: {msg}");
        assert!(
            msg.contains(needle) && msg.contains("repeat grid ids"),
            "{msg}"
        );
    }
    let (_, _, msg) = invalid(&edited(
        "activations = [\"relu\"]",
        "activations = [\"relu\", \"ReLU\"]",
    ));
    assert!(msg.contains("`relu` twice"), "{msg}");
}

#[test]
fn float_ids_keep_their_plain_form_and_use_exponents_only_at_the_extremes() {
    let src = edited(
        "activations = [\"relu\"]",
        "activations = [\"relu\"]\n\
         learning_rates = [0.01, 0.0001, 0.003, 1e-5, 9999.5, 1e30, 1e300, 1e-7]\n\
         label_noise = [0.0, 0.25]",
    );
    let study = Study::parse(&src, "s.toml").unwrap();
    let suffixes: Vec<String> = study
        .grid()
        .iter()
        .filter(|p| p.train.label_noise == 0.25)
        .map(|p| p.id.trim_start_matches("xor-d1-w4-relu-s0").to_string())
        .collect();
    assert_eq!(
        suffixes,
        [
            "-lr0.01-ln0.25",
            "-lr0.0001-ln0.25",
            "-lr0.003-ln0.25",
            "-lr0.00001-ln0.25",
            "-lr9999.5-ln0.25",
            "-lr1e30-ln0.25",
            "-lr1e300-ln0.25",
            "-lr1e-7-ln0.25",
        ]
    );
    // Ordinary values print as they always have: results directories resume by id.
    for lr in [1e-4, 3e-4, 0.001, 0.01, 0.1, 0.5, 1.0, 3.0, 9999.0] {
        let src = edited(
            "activations = [\"relu\"]",
            &format!("activations = [\"relu\"]\nlearning_rates = [{lr:?}, 0.2]"),
        );
        let id = Study::parse(&src, "s.toml").unwrap().grid()[0].id.clone();
        assert_eq!(id, format!("xor-d1-w4-relu-s0-lr{lr}"));
    }
}

#[test]
fn huge_train_flags_are_bad_input_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--data", "xor", "--activation", "relu"];
        for (flag, value) in [("--depth", "1"), ("--width", "4")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend_from_slice(extra);
        depthlab(tmp.path(), &args)
    };
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["--epochs", "1000000000", "--patience", "5"],
            &["--epochs 1000000000", "1000000"],
        ),
        (
            &["--depth", "10000000000"],
            &["--depth 10000000000", "1000"],
        ),
        (&["--width", "100000000000"], &["--width 100000000000"]),
        (&["--batch", "100000000000"], &["--batch 100000000000"]),
        (&["--patience", "99999999999"], &["--patience"]),
        (&["--samples", "1"], &["--samples 1"]),
        (
            &["--depth", "3", "--width", "40000"],
            &["--depth 3 --width 40000", "parameters", "1000000000"],
        ),
    ];
    for (extra, needles) in cases {
        assert_bad_input(&run(extra), needles);
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn output_paths_under_a_file_are_bad_input_and_checked_first() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("afile"), "x").unwrap();
    fs::write(tmp.path().join("s.toml"), STUDY).unwrap();
    let out = depthlab(tmp.path(), &["run", "s.toml", "--out", "afile/sub", "-q"]);
    assert_bad_input(&out, &["--out afile/sub", "afile is not a directory"]);
    let out = depthlab(
        tmp.path(),
        &[
            "train",
            "--data",
            "xor",
            "--depth",
            "1",
            "--width",
            "4",
            "--activation",
            "relu",
            "--save",
            "afile/m.safetensors",
        ],
    );
    assert_bad_input(&out, &["--save afile/m.safetensors", "afile"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("epoch"),
        "refused before training"
    );
    // A report directory that is a file: refused before the study runs.
    fs::rename(tmp.path().join("afile"), tmp.path().join("reports")).unwrap();
    let out = depthlab(tmp.path(), &["run", "s.toml", "-q"]);
    assert_bad_input(&out, &["reports/lim", "reports is not a directory"]);
    assert!(!tmp.path().join("runs").exists(), "nothing ran");

    let out = depthlab(tmp.path(), &["run", "s.toml", "-q", "--no-report"]);
    assert_eq!(out.status.code(), Some(0));
    let out = depthlab(tmp.path(), &["report", "runs/lim", "--out", "reports"]);
    assert_bad_input(&out, &["--out reports", "not a directory"]);
    let out = depthlab(tmp.path(), &["report", "runs/lim"]);
    assert_bad_input(&out, &["report directory reports/lim"]);
}

#[test]
fn csv_targets_must_be_present_and_numbers_finite_as_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |bad_row: &str, target: &str| {
        let mut text = String::from("a,b,target\n");
        for i in 0..20 {
            let y = if target == "class" {
                (i % 2).to_string()
            } else {
                format!("{}.5", i)
            };
            text.push_str(&format!("{i},{},{y}\n", i * 2));
        }
        text.push_str(bad_row);
        text.push('\n');
        text
    };
    // The bad row is line 22, after the header and 20 good rows.
    let cases = [
        ("1,2,", "class", 3, "empty cell in column \"target\""),
        (
            "1,2,NA",
            "class",
            3,
            "\"NA\" in column \"target\" is not a finite number",
        ),
        (
            "1,2,nan",
            "class",
            3,
            "\"nan\" in column \"target\" is not a finite number",
        ),
        ("1,2,", "value", 3, "empty cell in column \"target\""),
        ("1,2,n/a", "value", 3, "\"n/a\" in column \"target\""),
        ("1,2,-inf", "value", 3, "\"-inf\" in column \"target\""),
        (
            "1,2,1e39",
            "value",
            3,
            "\"1e39\" in column \"target\" is not a finite 32-bit",
        ),
        (
            "1e300,2,1",
            "class",
            1,
            "\"1e300\" in column \"a\" is not a finite 32-bit",
        ),
        (",2,1", "class", 1, "empty cell in column \"a\""),
    ];
    for (i, (bad_row, target, column, needle)) in cases.into_iter().enumerate() {
        let path = tmp.path().join(format!("t{i}.csv"));
        fs::write(&path, rows(bad_row, target)).unwrap();
        let name = path.display().to_string();
        let e = data::load(&DataSpec::new(&name)).map(|_| ()).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(&format!("{name}:22:{column}: ")), "{text}");
        assert!(text.contains(needle), "{bad_row}: {text}");
    }
}

#[test]
fn dataset_errors_name_their_place_once() {
    let tmp = tempfile::tempdir().unwrap();
    let src = STUDY.replace("datasets = [\"xor\"]\n", "")
        + "[[datasets]]\nname = \"blobs\"\nparams = { clases = 5 }\n";
    fs::write(tmp.path().join("s.toml"), src).unwrap();
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(
        &out,
        &["s.toml:10:12: dataset blobs: unknown parameter \"clases\""],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("blobs").count(), 1, "{err}");

    fs::write(
        tmp.path().join("s.toml"),
        format!("{STUDY}[report]\nunderfit_accuracy = 150.0\n"),
    )
    .unwrap();
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(&out, &["s.toml:10:1: [report] underfit_accuracy = 150"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("[report]")
            .count(),
        1
    );
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn the_too_many_classes_hint_fits_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("x,target\n");
    for i in 0..1500 {
        text.push_str(&format!("{i},c{i}\n"));
    }
    fs::write(tmp.path().join("many.csv"), text).unwrap();
    let out = depthlab(
        tmp.path(),
        &[
            "train",
            "--data",
            "many.csv",
            "--depth",
            "0",
            "--width",
            "1",
            "--activation",
            "relu",
        ],
    );
    assert_bad_input(&out, &["1500 distinct", "from a study with params"]);
    let study = STUDY.replace("[\"xor\"]", "[\"many.csv\"]");
    fs::write(tmp.path().join("s.toml"), study).unwrap();
    let out = depthlab(tmp.path(), &["run", "s.toml"]);
    assert_bad_input(
        &out,
        &[
            "s.toml:2:13: dataset many.csv: 1500",
            "add params = { classification = 0 }",
        ],
    );
}

/// Runs depthlab with stdout and stderr on pipes whose reading ends are already closed.
fn with_closed_output(cwd: &Path, args: &[&str]) -> Output {
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (err_r, err_w) = std::io::pipe().unwrap();
    drop((out_r, err_r));
    let status = Command::new(env!("CARGO_BIN_EXE_depthlab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .status()
        .expect("the depthlab binary runs");
    Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

#[test]
fn closed_stdout_and_stderr_end_quietly_and_never_abort_a_study() {
    let tmp = tempfile::tempdir().unwrap();
    let out = with_closed_output(tmp.path(), &["datasets"]);
    assert_eq!(out.status.code(), Some(0), "datasets | head");

    fs::write(
        tmp.path().join("s.toml"),
        STUDY.replace("depths = [1]", "depths = [0, 1, 2]\nseeds = [0, 1]"),
    )
    .unwrap();
    let out = with_closed_output(
        tmp.path(),
        &["run", "s.toml", "--threads", "2", "--no-report"],
    );
    assert_eq!(out.status.code(), Some(0), "the study finishes");
    let results = fs::read_to_string(tmp.path().join("runs/lim/results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 6, "every run was recorded");

    let out = with_closed_output(tmp.path(), &["run", "s.toml", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    let out = with_closed_output(
        tmp.path(),
        &[
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
            "3",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}

//! Study TOML validation, grid expansion and sharding.

use std::collections::HashSet;

use depthlab_runner::shard::Shard;
use depthlab_runner::study::{OptimizerKind, Study, StudyError};

const TINY: &str = r#"
name = "tiny"
datasets = ["xor"]

[axes]
depths = [0, 2]
widths = [4, 8]
activations = ["relu", "tanh"]
seeds = [0, 1]
"#;

fn invalid(src: &str) -> (usize, usize, String) {
    match Study::parse(src, "s.toml") {
        Err(StudyError::Invalid {
            origin,
            line,
            column,
            message,
        }) => {
            assert_eq!(origin, "s.toml");
            let shown = format!("{}", Study::parse(src, "s.toml").unwrap_err());
            assert!(
                shown.starts_with(&format!("s.toml:{line}:{column}: ")),
                "{shown}"
            );
            assert!(!shown.contains('\n'), "error must be one line: {shown}");
            (line, column, message)
        }
        Err(other) => panic!("expected an Invalid error, got {other}"),
        Ok(_) => panic!("study should have been rejected:\n{src}"),
    }
}

#[test]
fn default_study_expands_to_the_documented_grid() {
    let study = Study::default_study().expect("built-in study parses");
    assert_eq!(study.name, "default");
    let grid = study.grid();
    assert_eq!(grid.len(), 3 * 7 * 7 * 4 * 3);
    let ids: HashSet<&str> = grid.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), grid.len(), "ids must be unique");
    assert!(ids.contains("spirals-d3-w16-relu-s0"));
    assert!(ids.contains("digits-d6-w128-sigmoid-s2"));
    assert!(ids.contains("xor-d0-w2-identity-s0"));
    for (i, g) in grid.iter().enumerate() {
        assert_eq!(g.index, i);
    }
}

#[test]
fn grid_is_the_cartesian_product_in_a_stable_order() {
    let study = Study::parse(TINY, "t").unwrap();
    let ids: Vec<String> = study.grid().into_iter().map(|g| g.id).collect();
    assert_eq!(ids.len(), 16);
    assert_eq!(ids[0], "xor-d0-w4-relu-s0");
    assert_eq!(ids[1], "xor-d0-w4-relu-s1");
    assert_eq!(ids[2], "xor-d0-w4-tanh-s0");
    assert_eq!(ids[15], "xor-d2-w8-tanh-s1");
    // Expanding twice gives the same ids in the same order.
    let again: Vec<String> = study.grid().into_iter().map(|g| g.id).collect();
    assert_eq!(ids, again);
}

#[test]
fn optional_axes_add_suffixes_only_when_swept() {
    let one = TINY.replace(
        "seeds = [0, 1]",
        "seeds = [0]\nlearning_rates = [0.05]\noptimizers = [\"sgd\"]",
    );
    let study = Study::parse(&one, "t").unwrap();
    let grid = study.grid();
    assert_eq!(grid[0].id, "xor-d0-w4-relu-s0");
    assert_eq!(grid[0].train.learning_rate, 0.05);
    assert_eq!(grid[0].train.optimizer, OptimizerKind::Sgd);

    let many = TINY.replace(
        "seeds = [0, 1]",
        "seeds = [0]\nlearning_rates = [0.1, 0.01]\nlabel_noise = [0.0, 0.2]\ntrain_sizes = [50, 100]",
    );
    let grid = Study::parse(&many, "t").unwrap().grid();
    assert_eq!(grid.len(), 8 * 8);
    assert!(
        grid.iter()
            .any(|g| g.id == "xor-d2-w8-tanh-s0-lr0.01-ln0.2-n50"),
        "{:?}",
        grid[0].id
    );
    let g = grid
        .iter()
        .find(|g| g.id == "xor-d0-w4-relu-s0-lr0.1-ln0.2-n100")
        .unwrap();
    assert_eq!(
        (
            g.train.learning_rate,
            g.train.label_noise,
            g.train.train_size
        ),
        (0.1, 0.2, Some(100))
    );
}

#[test]
fn settings_resolve_axis_over_dataset_over_study() {
    let src = r#"
name = "layers"
[train]
epochs = 7
batch_size = 16
learning_rate = 0.2
[[datasets]]
name = "xor"
[[datasets]]
name = "spirals"
train = { epochs = 9, patience = 3 }
[axes]
depths = [1]
widths = [4]
activations = ["relu"]
batch_sizes = [8]
"#;
    let study = Study::parse(src, "t").unwrap();
    let grid = study.grid();
    assert_eq!(grid.len(), 2);
    assert_eq!(
        (
            grid[0].train.epochs,
            grid[0].train.batch_size,
            grid[0].train.patience
        ),
        (7, 8, None)
    );
    assert_eq!(
        (
            grid[1].train.epochs,
            grid[1].train.batch_size,
            grid[1].train.patience
        ),
        (9, 8, Some(3))
    );
    assert_eq!(grid[1].train.learning_rate, 0.2);
    assert_eq!(grid[1].id, "spirals-d1-w4-relu-s0", "seeds default to [0]");
}

#[test]
fn zero_and_negative_widths_are_rejected_with_their_position() {
    let (line, col, msg) = invalid(&TINY.replace("widths = [4, 8]", "widths = [4, 0]"));
    assert_eq!((line, col), (7, 14));
    assert!(msg.contains("width 0"), "{msg}");
    let (line, _, msg) = invalid(&TINY.replace("widths = [4, 8]", "widths = [-3]"));
    assert_eq!(line, 7);
    assert!(msg.contains("-3"), "{msg}");
}

#[test]
fn empty_axes_are_rejected() {
    let (line, _, msg) = invalid(&TINY.replace("depths = [0, 2]", "depths = []"));
    assert_eq!(line, 6);
    assert!(msg.contains("`depths` is empty"), "{msg}");
    let (_, _, msg) = invalid(&TINY.replace("seeds = [0, 1]", "seeds = []"));
    assert!(msg.contains("`seeds` is empty"), "{msg}");
}

#[test]
fn unknown_activation_and_dataset_are_named() {
    let (line, col, msg) = invalid(&TINY.replace("\"tanh\"", "\"swishy\""));
    assert_eq!((line, col), (8, 24));
    assert!(msg.contains("swishy") && msg.contains("relu"), "{msg}");
    let (line, col, msg) = invalid(&TINY.replace("[\"xor\"]", "[\"xorr\"]"));
    assert_eq!((line, col), (3, 13));
    assert!(msg.contains("xorr") && msg.contains("spirals"), "{msg}");
}

#[test]
fn malformed_toml_reports_line_and_column() {
    let (line, _, msg) = invalid(&TINY.replace("widths = [4, 8]", "widths = [4, 8"));
    assert!(line >= 7, "line {line}: {msg}");
    let (line, col, msg) = invalid(&TINY.replace("seeds = [0, 1]", "seeds = [0, 1]\nsedes = 3"));
    assert_eq!((line, col), (10, 1));
    assert!(msg.contains("sedes"), "{msg}");
    let (_, _, msg) =
        invalid("name = \"x\"\n[axes]\ndepths = [1]\nwidths = [1]\nactivations = [\"relu\"]\n");
    assert!(msg.contains("datasets"), "a missing key is named: {msg}");
}

#[test]
fn other_bad_values_are_rejected() {
    for (from, to, needle) in [
        ("name = \"tiny\"", "name = \"../evil\"", "../evil"),
        ("seeds = [0, 1]", "seeds = [0, 0]", "twice"),
        (
            "seeds = [0, 1]",
            "seeds = [0]\nlearning_rates = [0.0]",
            "learning rate 0",
        ),
        (
            "seeds = [0, 1]",
            "seeds = [0]\noptimizers = [\"rmsprop\"]",
            "rmsprop",
        ),
        ("seeds = [0, 1]", "seeds = [0]\nlabel_noise = [1.5]", "1.5"),
        (
            "datasets = [\"xor\"]",
            "datasets = [\"xor\", \"xor\"]",
            "twice",
        ),
    ] {
        let src = TINY.replace(from, to);
        assert_ne!(src, TINY, "replacement {from} did not apply");
        let (_, _, msg) = invalid(&src);
        assert!(msg.contains(needle), "{to}: {msg}");
    }
}

#[test]
fn shards_cover_the_grid_exactly_once() {
    let grid = Study::default_study().unwrap().grid();
    for n in [1, 2, 3, 7, 64] {
        let mut seen = vec![0u32; grid.len()];
        for i in 0..n {
            let shard = Shard { index: i, count: n };
            for g in grid.iter().filter(|g| shard.contains(g.index)) {
                seen[g.index] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "n = {n}");
    }
}

#[test]
fn report_thresholds_are_read_and_checked() {
    let study = Study::parse(&format!("{TINY}\n[report]\noverfit_gap = 7.5\n"), "t").unwrap();
    assert_eq!(study.report.overfit_gap, 7.5);
    let (line, _, msg) = invalid(&format!("{TINY}\n[report]\nunderfit_accuracy = 140.0\n"));
    assert!(line >= 10, "{line}");
    assert!(
        msg.contains("underfit_accuracy") && msg.contains("140"),
        "{msg}"
    );
    let (_, _, msg) = invalid(&format!("{TINY}\n[report]\nunderfit = 1\n"));
    assert!(msg.contains("underfit"), "{msg}");
}

#[test]
fn the_commented_report_table_of_the_default_study_is_valid_when_uncommented() {
    let text = depthlab_runner::study::DEFAULT_STUDY_TOML;
    let (head, tail) = text
        .split_once("# [report]")
        .expect("the default study shows [report]");
    let uncommented: String = tail
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let study = Study::parse(&format!("{head}[report]{uncommented}\n"), "t").unwrap();
    assert_eq!(study.report.underfit_accuracy, 90.0);
}

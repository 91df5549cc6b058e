//! `depthlab bench-report` on a small hand-made criterion tree
//! (`tests/fixtures/bench/criterion`, with a `main` baseline) and the probe file beside it.
//!
//! Fixture numbers, chosen so every ratio is exact: f32 peak 160 GFLOP/s (1T); sgemm 64³ is
//! 524,288 FLOP: depthlab 4 µs = 131.1 GFLOP/s (82%), matrixmultiply 8 µs (2.00×), naive
//! 40 µs; sgemm 128³ is 4,194,304 FLOP: depthlab 40 µs now vs 32 µs in `main` (+25%, a
//! regression), matrixmultiply 64 µs (1.60×); sgemm_2t 128³ 25 µs vs 28 µs (−10.7%, an
//! improvement); mlp fwd 32×64×64 is 262,144 FLOP: depthlab 2.62144 µs = 100 GFLOP/s, gemm
//! half that; train W1: 32 samples in 100 µs = 320,000 samples/s, no baseline. The four
//! benchmarks not listed with a change hold the same estimates in `main` as in `new`, as
//! criterion leaves a benchmark that has not run since the baseline was saved.

use std::path::{Path, PathBuf};

use depthlab_runner::bench_report::{
    BenchReportError, BenchReportOptions, Estimate, Verdict, compare, write_bench_report,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench")
}

fn options(out: &Path) -> BenchReportOptions {
    BenchReportOptions {
        criterion_dir: fixtures().join("criterion"),
        baseline: Some("main".to_string()),
        out_dir: out.to_path_buf(),
        peak: Some(fixtures().join("peak.json")),
        ..BenchReportOptions::default()
    }
}

/// Copies the fixture criterion tree so a test can damage it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn report_flags_the_regression_first_and_computes_ratios() {
    let out = tempfile::tempdir().unwrap();
    let summary = write_bench_report(&options(out.path())).unwrap();
    assert_eq!(summary.benchmarks, 9);
    assert_eq!(summary.regressions, vec!["sgemm_1t/depthlab/128x128x128"]);
    // Regressions first, then improvements, then the rest; train W1 has no baseline.
    assert_eq!(summary.comparisons.len(), 7);
    let first = &summary.comparisons[0];
    assert_eq!(first.verdict, Verdict::Regression);
    assert!((first.change - 0.25).abs() < 1e-9, "{}", first.change);
    assert!(first.lower > 0.0 && first.upper > first.change);
    assert_eq!(summary.comparisons[1].id, "sgemm_2t/depthlab/128x128x128");
    assert_eq!(summary.comparisons[1].verdict, Verdict::Improvement);
    assert!(
        summary.comparisons[2..]
            .iter()
            .all(|c| c.verdict == Verdict::NoChange)
    );

    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    // 64³: 131.1 GFLOP/s = 82% of 160, twice matrixmultiply; 128³: 1.60× matrixmultiply.
    assert!(
        md.contains("| 64x64x64 | 131.1 (82%) | 65.5 (41%) | 13.1 (8%) | 2.00× |"),
        "{md}"
    );
    assert!(md.contains("1.60×"), "{md}");
    assert!(
        md.contains("| fwd_32x64x64 | 100.0 (62%) | 50.0 (31%) | 2.00× |"),
        "{md}"
    );
    // Training: 320,000 samples/s against the best ANCHORS peer on W1 at 1 thread (JAX scan).
    assert!(md.contains("320000"), "{md}");
    assert!(md.contains("from ANCHORS.md (2-core Intel Xeon, measured at another time)"));
    assert!(md.contains("Test CPU 9000") && md.contains("avx512"));
    let regress_section = md.find("## Regressions against `main`").unwrap();
    let flagged = md
        .find("**sgemm_1t/depthlab/128x128x128**: +25.0% slower")
        .unwrap();
    let gemm_section = md.find("## GEMM throughput").unwrap();
    assert!(regress_section < flagged && flagged < gemm_section);

    assert!(
        md.contains("4 benchmark(s) hold the same estimates in `main` as in the latest run"),
        "{md}"
    );
    // Every rate is below the probe's peak here: nothing is flagged.
    assert!(
        !md.contains("above the probe's peak") && !md.contains('†'),
        "{md}"
    );

    let html = std::fs::read_to_string(&summary.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<strong>sgemm_1t/depthlab/128x128x128</strong>"));
}

#[test]
fn plots_are_written_and_valid() {
    let out = tempfile::tempdir().unwrap();
    let summary = write_bench_report(&options(out.path())).unwrap();
    let stems: Vec<String> = summary
        .plots
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "sgemm_1t.svg",
        "sgemm_1t.png",
        "sgemm_2t.svg",
        "mlp_1t.svg",
        "train_W1.png",
    ] {
        assert!(
            stems.iter().any(|s| s == want),
            "{want} missing from {stems:?}"
        );
    }
    for path in &summary.plots {
        let bytes = std::fs::read(path).unwrap();
        if path.extension().unwrap() == "svg" {
            let text = String::from_utf8(bytes).unwrap();
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            assert!(
                doc.descendants().any(|n| n.tag_name().name() == "text"),
                "{} has no text",
                path.display()
            );
        } else {
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
                .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
            assert_eq!((img.width(), img.height()), (960, 560));
        }
    }
    // The line chart carries the % of peak beside our points and the ceiling.
    let svg = std::fs::read_to_string(out.path().join("plots/sgemm_1t.svg")).unwrap();
    assert!(
        svg.contains("82%") && svg.contains("measured peak f32 1T: 160"),
        "{svg}"
    );
    // Bar charts name their x axis too.
    let mlp = std::fs::read_to_string(out.path().join("plots/mlp_1t.svg")).unwrap();
    assert!(mlp.contains("layer product"), "{mlp}");
    let train = std::fs::read_to_string(out.path().join("plots/train_W1.svg")).unwrap();
    assert!(train.contains("thread count"), "{train}");
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("![sgemm 1 thread](plots/sgemm_1t.png)"));
}

#[test]
fn a_wider_noise_band_absorbs_the_regression() {
    let out = tempfile::tempdir().unwrap();
    let opts = BenchReportOptions {
        noise: 0.30,
        ..options(out.path())
    };
    let summary = write_bench_report(&opts).unwrap();
    assert!(summary.regressions.is_empty());
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("None beyond the ±30% noise band."));
}

#[test]
fn without_baseline_or_peak_the_report_still_renders() {
    let out = tempfile::tempdir().unwrap();
    let opts = BenchReportOptions {
        baseline: None,
        peak: None,
        ..options(out.path())
    };
    let summary = write_bench_report(&opts).unwrap();
    assert!(summary.comparisons.is_empty());
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(
        md.contains("| 64x64x64 | 131.1 | 65.5 | 13.1 | 2.00× |"),
        "{md}"
    );
    assert!(md.contains("Measured peak: not given"));
    assert!(!md.contains("Against baseline"));
}

#[test]
fn missing_criterion_dir_names_the_path() {
    let out = tempfile::tempdir().unwrap();
    let opts = BenchReportOptions {
        criterion_dir: out.path().join("no/such/dir"),
        ..options(out.path())
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(matches!(err, BenchReportError::MissingCriterionDir { .. }));
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[test]
fn unknown_baseline_lists_the_saved_ones() {
    let out = tempfile::tempdir().unwrap();
    let opts = BenchReportOptions {
        baseline: Some("nightly".to_string()),
        ..options(out.path())
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(matches!(err, BenchReportError::UnknownBaseline { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("\"nightly\"") && msg.contains("saved baselines: main"),
        "{msg}"
    );
    // A name that tries to walk out of the benchmark directory is unknown too.
    let opts = BenchReportOptions {
        baseline: Some("../new".to_string()),
        ..options(out.path())
    };
    assert!(matches!(
        write_bench_report(&opts).unwrap_err(),
        BenchReportError::UnknownBaseline { .. }
    ));
}

#[test]
fn malformed_estimates_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("criterion");
    copy_tree(&fixtures().join("criterion"), &tree);
    let bad = tree.join("sgemm_1t/naive/64x64x64/new/estimates.json");
    std::fs::write(&bad, "{\"mean\": ").unwrap();
    let opts = BenchReportOptions {
        criterion_dir: tree.clone(),
        ..options(&tmp.path().join("out"))
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(matches!(err, BenchReportError::Malformed { .. }), "{err}");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );

    // Parsable but impossible numbers are malformed too.
    let negative = r#"{"mean": {"confidence_interval": {"confidence_level": 0.95,
        "lower_bound": -1.0, "upper_bound": 2.0}, "point_estimate": 1.0, "standard_error": 0.1},
        "slope": null}"#;
    std::fs::write(&bad, negative).unwrap();
    let err = write_bench_report(&opts).unwrap_err();
    assert!(err.to_string().contains("lower <= point <= upper"), "{err}");

    // A benchmark directory that lost its estimates is malformed as well (bad input, exit 2).
    std::fs::remove_file(&bad).unwrap();
    let err = write_bench_report(&opts).unwrap_err();
    assert!(matches!(err, BenchReportError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn empty_criterion_dir_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = BenchReportOptions {
        criterion_dir: tmp.path().to_path_buf(),
        ..options(&tmp.path().join("out"))
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(
        matches!(err, BenchReportError::NoBenchmarks { .. }),
        "{err}"
    );
}

#[test]
fn overlapping_intervals_are_never_a_regression() {
    let base = Estimate {
        point: 100.0,
        lower: 80.0,
        upper: 120.0,
    };
    let new = Estimate {
        point: 115.0,
        lower: 100.0,
        upper: 130.0,
    };
    let c = compare("x", &new, &base, 0.05);
    assert!((c.change - 0.15).abs() < 1e-12);
    assert_eq!(c.verdict, Verdict::NoChange);
    let slower = Estimate {
        point: 200.0,
        lower: 190.0,
        upper: 210.0,
    };
    assert_eq!(
        compare("x", &slower, &base, 0.05).verdict,
        Verdict::Regression
    );
    assert_eq!(
        compare("x", &base, &slower, 0.05).verdict,
        Verdict::Improvement
    );
}

/// Every baseline directory called `name` under `tree`.
fn baseline_dirs(tree: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().unwrap() == name {
                    found.push(path);
                } else {
                    stack.push(path);
                }
            }
        }
    }
    found
}

#[test]
fn a_baseline_identical_to_the_latest_run_is_refused() {
    // What `cargo bench -- --save-baseline main` leaves: main/ is a copy of new/ everywhere.
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("criterion");
    copy_tree(&fixtures().join("criterion"), &tree);
    for main in baseline_dirs(&tree, "main") {
        std::fs::copy(
            main.join("../new/estimates.json"),
            main.join("estimates.json"),
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let opts = BenchReportOptions {
        criterion_dir: tree.clone(),
        ..options(&out)
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(
        matches!(err, BenchReportError::SelfBaseline { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    for needle in [
        "\"main\"",
        tree.to_str().unwrap(),
        "same estimates as the latest run",
        "cargo bench -- --save-baseline NAME",
        "depthlab bench-report --baseline NAME",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    assert!(!out.exists(), "nothing is written on bad input");
}

#[test]
fn criterions_own_base_is_refused_even_when_it_differs() {
    // `base` is rewritten by every plain `cargo bench`: what it holds depends on which benches
    // ran last, so it is never a reference.
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("criterion");
    copy_tree(&fixtures().join("criterion"), &tree);
    for main in baseline_dirs(&tree, "main") {
        std::fs::rename(&main, main.with_file_name("base")).unwrap();
    }
    let opts = BenchReportOptions {
        criterion_dir: tree,
        baseline: Some("base".to_string()),
        ..options(&tmp.path().join("out"))
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(
        matches!(err, BenchReportError::SelfBaseline { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("rewritten by every plain `cargo bench`"),
        "{err}"
    );
}

#[test]
fn points_above_the_probes_peak_are_flagged() {
    // With a 120 GFLOP/s f32 ceiling, depthlab's 131.1 GFLOP/s at 64³ is above it (109%);
    // nothing else is.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("peak.json")).unwrap();
    let peak = tmp.path().join("peak.json");
    std::fs::write(&peak, text.replace("160.0", "120.0")).unwrap();
    let out = tmp.path().join("out");
    let opts = BenchReportOptions {
        peak: Some(peak),
        ..options(&out)
    };
    let summary = write_bench_report(&opts).unwrap();
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(
        md.contains("| 64x64x64 | 131.1 (109%†) | 65.5 (55%) |"),
        "{md}"
    );
    assert!(
        md.contains("- **GEMM points above the probe's peak: 1** (marked †)"),
        "{md}"
    );
    assert!(
        md.contains("120.0 GFLOP/s. † 1 point above it: the machine ran faster"),
        "{md}"
    );
    let svg = std::fs::read_to_string(out.join("plots/sgemm_1t.svg")).unwrap();
    assert!(svg.contains("109%†"), "{svg}");
}

#[test]
fn a_missing_peak_file_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let peak = tmp.path().join("no-such-peak.json");
    let out = tmp.path().join("out");
    let opts = BenchReportOptions {
        peak: Some(peak.clone()),
        ..options(&out)
    };
    let err = write_bench_report(&opts).unwrap_err();
    assert!(
        matches!(err, BenchReportError::UnreadablePeak { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(peak.to_str().unwrap()) && msg.contains("no such file"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn elements_and_bytes_throughput_reads_as_elements() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("criterion");
    copy_tree(&fixtures().join("criterion"), &tree);
    let id = tree.join("train_1t/depthlab/W1/new/benchmark.json");
    let text = std::fs::read_to_string(&id).unwrap();
    let both = r#"{"ElementsAndBytes": {"elements": 32, "bytes": 4096}}"#;
    let changed = text.replace(r#"{"Elements": 32}"#, both);
    assert_ne!(changed, text, "fixture layout changed");
    std::fs::write(&id, changed).unwrap();
    let opts = BenchReportOptions {
        criterion_dir: tree,
        ..options(&tmp.path().join("out"))
    };
    let summary = write_bench_report(&opts).unwrap();
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("320.000 ksamples/s"), "{md}");
}

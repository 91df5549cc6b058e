//! Study reports from hand-made records: every listed file exists, each SVG parses as XML,
//! each PNG decodes with visible content and text, links resolve; plus regression, label
//! noise (double descent), saved models (decision regions, fitted curves) and bad input.

mod report_support;

use std::path::{Path, PathBuf};

use depthlab_nn::{Activation, MlpConfig, save_safetensors};
use depthlab_runner::record::RunOutcome;
use depthlab_runner::report::{ReportError, ReportSettings, StudyContext, write_study_report};
use report_support::{Synth, check_report_dir};

/// Where to write: a temp dir, or `DEPTHLAB_REPORT_KEEP/<name>` to look at the output.
fn out_dir(tmp: &Path, name: &str) -> PathBuf {
    match std::env::var_os("DEPTHLAB_REPORT_KEEP") {
        Some(dir) => Path::new(&dir).join(name),
        None => tmp.join(name),
    }
}

#[test]
fn mixed_study_report_has_every_file_and_readable_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let mut records = Synth::classification("mixed", "spirals").records();
    records.extend(Synth::regression("mixed", "sin").records());
    records[5].outcome = RunOutcome::Diverged;
    records[5].test_accuracy = Some(f64::NAN);
    let study_dir = tmp.path().join("runs/mixed");
    std::fs::create_dir_all(&study_dir).unwrap();
    std::fs::write(
        study_dir.join("meta.json"),
        r#"{"depthlab_version":"0.1.0","cpu_model":"Test CPU","threads":2}"#,
    )
    .unwrap();
    let out = out_dir(tmp.path(), "mixed");
    let ctx = StudyContext::new("mixed", &study_dir, &out);
    let summary = write_study_report(&records, &ctx).unwrap();

    assert_eq!(summary.runs, records.len());
    assert_eq!(summary.configurations, 2 * 3 * 4 * 4);
    for name in [
        "index.html",
        "README.md",
        "verdicts.csv",
        "verdicts.md",
        "meta.json",
    ] {
        assert!(
            summary.files.contains(&PathBuf::from(name)),
            "{name} not listed"
        );
    }
    // Plots 1-5 and 7 for each dataset, as SVG and PNG; plot 6 is skipped (no models).
    for ds in ["spirals", "sin"] {
        for stem in [
            "1-metric-vs-params",
            "2-gap-vs-params",
            "3-test-vs-depth",
            "4-heatmap",
            "5-loss-curves",
            "7-linear-collapse",
        ] {
            for ext in ["svg", "png"] {
                let f = PathBuf::from(format!("plots/{ds}/{stem}.{ext}"));
                assert!(summary.files.contains(&f), "{} not listed", f.display());
            }
        }
    }
    let images = check_report_dir(&out, &summary.files);
    assert_eq!(images, 2 * 6 * 2);

    let html = std::fs::read_to_string(&summary.index_html).unwrap();
    let readme = std::fs::read_to_string(&summary.readme).unwrap();
    assert!(
        !html.contains("<script"),
        "the report must not need JavaScript"
    );
    assert!(
        html.contains("Test CPU") && readme.contains("Test CPU"),
        "meta.json shown"
    );
    for s in &summary.summary {
        assert!(
            readme.contains(s.as_str()),
            "README misses summary line {s}"
        );
    }
    assert!(
        summary.summary.iter().any(|s| s.contains("test MSE")),
        "regression summarised in MSE"
    );
    assert!(
        summary
            .summary
            .iter()
            .any(|s| s.contains("best test accuracy"))
    );
    assert!(
        readme.contains("overfit when the mean train − test gap > 5 points"),
        "thresholds stated"
    );
    assert!(
        summary.notes.iter().any(|n| n.contains("plot 6")),
        "skipped plot 6 is noted"
    );
    let csv = std::fs::read_to_string(out.join("verdicts.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + summary.configurations);
}

#[test]
fn label_noise_study_draws_double_descent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut synth = Synth::classification("dd", "moons");
    synth.depths = vec![1, 2];
    synth.widths = vec![2, 4, 8, 16, 64];
    synth.activations = vec!["relu".into()];
    let mut records = synth.records();
    synth.label_noise = 0.2;
    synth.shift = -8.0;
    let noisy: Vec<_> = synth
        .records()
        .into_iter()
        .map(|mut r| {
            r.id.push_str("-n0.2");
            r
        })
        .collect();
    records.extend(noisy);
    let out = out_dir(tmp.path(), "dd");
    let summary = write_study_report(&records, &StudyContext::new("dd", tmp.path(), &out)).unwrap();
    assert!(
        summary
            .files
            .contains(&PathBuf::from("plots/moons/8-double-descent.png")),
        "{:?}",
        summary.files
    );
    // Two variants: each gets its own section and plot set.
    assert!(
        summary
            .files
            .iter()
            .any(|f| f.to_string_lossy().contains("label-noise-0-2/1-metric"))
    );
    assert!(
        summary
            .summary
            .iter()
            .any(|s| s.contains("double-descent") || s.contains("Double descent"))
    );
    check_report_dir(&out, &summary.files);
}

/// Saves an (untrained) model for every record and points `model_path` at it.
fn attach_models(records: &mut [depthlab_runner::record::RunRecord], study_dir: &Path) {
    std::fs::create_dir_all(study_dir.join("models")).unwrap();
    for r in records.iter_mut() {
        let mut cfg = MlpConfig::new(r.n_features, vec![r.width; r.depth], r.n_outputs);
        cfg.activation = r.activation.parse::<Activation>().unwrap();
        let model = cfg.build(r.seed).unwrap();
        let rel = format!("models/{}.safetensors", r.id);
        save_safetensors(&model, study_dir.join(&rel)).unwrap();
        r.model_path = Some(rel);
    }
}

#[test]
fn saved_models_give_decision_regions_and_fitted_curves() {
    let tmp = tempfile::tempdir().unwrap();
    let study_dir = tmp.path().join("runs/models");
    let mut c = Synth::classification("models", "xor");
    c.seeds = 1;
    c.widths = vec![4, 16];
    let mut r = Synth::regression("models", "sin");
    r.seeds = 1;
    r.widths = vec![4, 16];
    let mut records = c.records();
    records.extend(r.records());
    attach_models(&mut records, &study_dir);
    // One model file is missing: that panel is skipped, the report still renders.
    std::fs::remove_file(study_dir.join(records[0].model_path.as_ref().unwrap())).unwrap();
    let out = out_dir(tmp.path(), "models");
    let summary =
        write_study_report(&records, &StudyContext::new("models", &study_dir, &out)).unwrap();
    for f in [
        "plots/xor/6-decision-regions.png",
        "plots/sin/6-fitted-curves.svg",
    ] {
        assert!(
            summary.files.contains(&PathBuf::from(f)),
            "{f} missing: {:?}",
            summary.notes
        );
    }
    assert!(
        summary.notes.iter().any(|n| n.contains("not drawn")),
        "{:?}",
        summary.notes
    );
    check_report_dir(&out, &summary.files);
}

#[test]
fn bad_input_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = StudyContext::new("empty", tmp.path(), tmp.path().join("out"));
    assert!(matches!(
        write_study_report(&[], &ctx),
        Err(ReportError::NoRecords { .. })
    ));
    let records = Synth::classification("s", "xor").records();
    let mut ctx = StudyContext::new("s", tmp.path(), tmp.path().join("out"));
    ctx.settings = ReportSettings {
        underfit_accuracy: 140.0,
        ..ReportSettings::default()
    };
    let err = write_study_report(&records, &ctx).unwrap_err();
    assert!(err.to_string().contains("underfit_accuracy = 140"), "{err}");
    // An unwritable output path is named in the error.
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let ctx = StudyContext::new("s", tmp.path(), blocker.join("out"));
    let err = write_study_report(&records, &ctx).unwrap_err();
    assert!(err.to_string().contains("file"), "{err}");
}

#[test]
fn settings_parse_from_a_toml_report_table() {
    let s: ReportSettings =
        toml::from_str("underfit_accuracy = 80.0\noverfit_gap = 3.0\nfixed_width = 16\n").unwrap();
    assert_eq!(s.underfit_accuracy, 80.0);
    assert_eq!(s.overfit_gap, 3.0);
    assert_eq!(s.fixed_width, Some(16));
    assert_eq!(
        s.near_best_points,
        ReportSettings::default().near_best_points
    );
    assert!(toml::from_str::<ReportSettings>("no_such_key = 1\n").is_err());
}

#[test]
fn default_sized_study_renders_in_seconds() {
    // The default study's shape: 3 datasets × depths 0..=6 × 7 widths × 4 activations × 3
    // seeds = 1,764 runs, with 60-epoch curves.
    let tmp = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for ds in ["xor", "spirals", "digits"] {
        let mut s = Synth::classification("default", ds);
        s.depths = (0..=6).collect();
        s.widths = vec![2, 4, 8, 16, 32, 64, 128];
        s.activations = ["identity", "relu", "tanh", "sigmoid"]
            .map(String::from)
            .to_vec();
        s.seeds = 3;
        s.epochs = 60;
        if ds == "digits" {
            s.features = 64;
            s.outputs = 10;
        }
        records.extend(s.records());
    }
    assert_eq!(records.len(), 1764);
    let out = out_dir(tmp.path(), "default");
    let t = std::time::Instant::now();
    let summary =
        write_study_report(&records, &StudyContext::new("default", tmp.path(), &out)).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(secs < 20.0, "report took {secs:.1} s");
    assert_eq!(summary.configurations, 3 * 7 * 7 * 4);
    check_report_dir(&out, &summary.files);
}

#[test]
fn summary_sentences_follow_the_numbers() {
    // relu: depth 1 -> 90 %, depth 2 -> 97 %, depth 3 -> 97.5 % (within 1 point of depth 2);
    // identity: 50 % at every depth.
    let mut synth = Synth::classification("sum", "spirals");
    synth.depths = vec![1, 2, 3];
    synth.widths = vec![16];
    synth.activations = vec!["identity".into(), "relu".into()];
    synth.seeds = 1;
    let mut records = synth.records();
    for r in &mut records {
        let test = match (r.activation.as_str(), r.depth) {
            ("identity", _) => 50.0,
            (_, 1) => 90.0,
            (_, 2) => 97.0,
            _ => 97.5,
        };
        r.train_accuracy = Some((test + 1.0) / 100.0);
        r.test_accuracy = Some(test / 100.0);
    }
    let tmp = tempfile::tempdir().unwrap();
    let summary = write_study_report(
        &records,
        &StudyContext::new("sum", tmp.path(), tmp.path().join("out")),
    )
    .unwrap();
    let text = summary.summary.join("\n");
    assert!(
        text.contains("the best test accuracy is 97.5% by relu d3-w16"),
        "{text}"
    );
    assert!(
        text.contains("smallest model within 1 point of it is relu d2-w16"),
        "{text}"
    );
    assert!(
        text.contains("identity at width 16 stays between 50.0% and 50.0%"),
        "{text}"
    );
    assert!(
        text.contains("For relu at width 16, depth beyond 2 adds less than 1 point"),
        "{text}"
    );
    assert!(
        text.contains("3 underfit, 3 are good and 0 overfit"),
        "{text}"
    );
}

#[test]
fn degenerate_studies_still_render() {
    let tmp = tempfile::tempdir().unwrap();
    // One run; a run without a curve; a study where every run diverged.
    let mut one = Synth::classification("one", "xor");
    one.depths = vec![2];
    one.widths = vec![8];
    one.activations = vec!["relu".into()];
    one.seeds = 1;
    let mut single = one.records();
    single[0].curve.clear();
    let summary = write_study_report(
        &single,
        &StudyContext::new("one", tmp.path(), tmp.path().join("one")),
    )
    .unwrap();
    check_report_dir(&tmp.path().join("one"), &summary.files);

    let mut diverged = Synth::regression("div", "sin").records();
    for r in &mut diverged {
        r.outcome = RunOutcome::Diverged;
        r.train_mse = Some(f64::NAN);
        r.test_mse = None;
        r.diverged_epoch = Some(3);
    }
    let out = tmp.path().join("div");
    let summary =
        write_study_report(&diverged, &StudyContext::new("div", tmp.path(), &out)).unwrap();
    assert!(
        summary
            .summary
            .iter()
            .any(|s| s.contains("every run diverged")),
        "{:?}",
        summary.summary
    );
    for f in &summary.files {
        assert!(out.join(f).is_file());
    }
}

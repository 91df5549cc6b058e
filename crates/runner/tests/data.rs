//! Dataset generators, the split/subsample/label-noise/standardise pipeline, the embedded
//! digits and CSV parsing with its error messages.

use std::collections::BTreeSet;
use std::io::Write;

use depthlab_nn::{Matrix, Targets};
use depthlab_runner::data::{self, DataSpec, Dataset};
use depthlab_runner::record::Task;

// ---- helpers: the only code that knows the network crate's types --------------------------

fn labels(t: &Targets) -> Vec<usize> {
    match t {
        Targets::Classes { labels, .. } => labels.clone(),
        Targets::Values(_) => panic!("expected class labels"),
    }
}

fn values(t: &Targets) -> Vec<f32> {
    match t {
        Targets::Values(m) => m.as_slice().to_vec(),
        Targets::Classes { .. } => panic!("expected regression targets"),
    }
}

fn train_labels(d: &Dataset) -> Vec<usize> {
    labels(&d.data.y_train)
}

fn test_labels(d: &Dataset) -> Vec<usize> {
    labels(&d.data.y_test)
}

fn rows(m: &Matrix) -> Vec<Vec<u32>> {
    (0..m.rows())
        .map(|i| m.row(i).iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn bits(m: &Matrix) -> Vec<u32> {
    m.as_slice().iter().map(|v| v.to_bits()).collect()
}

fn counts(labels: &[usize], n_classes: usize) -> Vec<usize> {
    let mut c = vec![0; n_classes];
    for &l in labels {
        c[l] += 1;
    }
    c
}

fn spec(name: &str) -> DataSpec {
    DataSpec::new(name)
}

fn load(spec: &DataSpec) -> Dataset {
    data::load(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.name))
}

fn err(spec: &DataSpec) -> String {
    match data::load(spec) {
        Ok(_) => panic!("{} loaded but should have failed", spec.name),
        Err(e) => e.to_string(),
    }
}

/// A CSV file in a fresh temporary directory; the directory lives as long as the handle.
struct TempCsv {
    _dir: tempfile::TempDir,
    path: String,
}

fn csv(name: &str, text: &str) -> TempCsv {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create csv");
    f.write_all(text.as_bytes()).expect("write csv");
    TempCsv {
        _dir: dir,
        path: path.to_string_lossy().into_owned(),
    }
}

// ---- built-in generators ------------------------------------------------------------------

#[test]
fn every_catalog_entry_loads_with_its_documented_shape() {
    let catalog = data::catalog();
    let names: Vec<&str> = catalog.iter().map(|i| i.name).collect();
    for expected in [
        "xor",
        "checkerboard",
        "spirals",
        "circles",
        "moons",
        "blobs",
        "sin",
        "abs",
        "step",
        "relu_kinks",
        "poly",
        "digits",
    ] {
        assert!(names.contains(&expected), "{expected} missing from catalog");
    }
    for info in &catalog {
        let d = load(&spec(info.name));
        assert_eq!(d.name, info.name);
        assert_eq!(d.task, info.task, "{}", info.name);
        assert_eq!(d.n_features, info.n_features, "{}", info.name);
        assert_eq!(d.data.x_train.cols(), info.n_features);
        assert_eq!(d.data.x_test.cols(), info.n_features);
        assert_eq!(d.raw_x_train.shape(), d.data.x_train.shape());
        assert_eq!(d.feature_names.len(), info.n_features);
        assert_eq!(
            d.n_train() + d.n_test(),
            info.default_samples,
            "{}",
            info.name
        );
        let expected_test = (info.default_test_fraction * info.default_samples as f64).round();
        assert_eq!(d.n_test(), expected_test as usize, "{}", info.name);
        match info.task {
            Task::Classification => {
                let c = info.n_classes.expect("classification has classes");
                assert_eq!(d.n_outputs, c);
                assert_eq!(d.class_names.as_ref().map(Vec::len), Some(c));
                assert!(train_labels(&d).iter().all(|&l| l < c));
            }
            Task::Regression => {
                assert_eq!(d.n_outputs, 1);
                assert!(d.class_names.is_none());
                assert_eq!(values(&d.data.y_train).len(), d.n_train());
                assert_eq!(values(&d.data.y_test).len(), d.n_test());
            }
        }
        for v in d
            .data
            .x_train
            .as_slice()
            .iter()
            .chain(d.data.x_test.as_slice())
        {
            assert!(v.is_finite(), "{}: non-finite feature", info.name);
        }
    }
}

#[test]
fn classification_generators_are_class_balanced_in_both_splits() {
    for name in [
        "xor",
        "checkerboard",
        "spirals",
        "circles",
        "moons",
        "blobs",
    ] {
        let d = load(&spec(name));
        for (side, l) in [("train", train_labels(&d)), ("test", test_labels(&d))] {
            let c = counts(&l, d.n_outputs);
            let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
            assert!(hi - lo <= 1, "{name} {side} counts {c:?}");
        }
    }
}

#[test]
fn same_seed_gives_same_bytes_and_different_seed_differs() {
    for name in ["xor", "spirals", "blobs", "sin", "relu_kinks", "digits"] {
        let a = load(&DataSpec {
            seed: 7,
            ..spec(name)
        });
        let b = load(&DataSpec {
            seed: 7,
            ..spec(name)
        });
        let c = load(&DataSpec {
            seed: 8,
            ..spec(name)
        });
        assert_eq!(bits(&a.data.x_train), bits(&b.data.x_train), "{name}");
        assert_eq!(bits(&a.data.x_test), bits(&b.data.x_test), "{name}");
        assert_eq!(bits(&a.raw_x_train), bits(&b.raw_x_train), "{name}");
        assert_ne!(bits(&a.data.x_train), bits(&c.data.x_train), "{name}");
        if a.task == Task::Classification {
            assert_eq!(train_labels(&a), train_labels(&b), "{name}");
            assert_eq!(test_labels(&a), test_labels(&b), "{name}");
        } else {
            let (ya, yb) = (values(&a.data.y_train), values(&b.data.y_train));
            assert_eq!(ya, yb, "{name}");
        }
    }
}

#[test]
fn generator_geometry_matches_the_description() {
    let raw = |name: &str, noise: f64| {
        let d = load(&DataSpec {
            noise: Some(noise),
            standardize: false,
            ..spec(name)
        });
        let l = train_labels(&d);
        (d.raw_x_train, l)
    };
    // Noise-free xor: class 0 where the coordinates share a sign.
    let (x, l) = raw("xor", 0.0);
    for (i, &c) in l.iter().enumerate() {
        let r = x.row(i);
        assert_eq!(usize::from(r[0] * r[1] < 0.0), c, "xor point {r:?}");
    }
    // Noise-free circles: class 0 on radius 1, class 1 on radius 0.5.
    let (x, l) = raw("circles", 0.0);
    for (i, &c) in l.iter().enumerate() {
        let r = x.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        let want = if c == 0 { 1.0 } else { 0.5 };
        assert!((r - want).abs() < 1e-5, "circle radius {r} class {c}");
    }
    // Noise-free checkerboard: the cell parity is the class.
    let (x, l) = raw("checkerboard", 0.0);
    for (i, &c) in l.iter().enumerate() {
        let r = x.row(i);
        let a = ((r[0] + 1.0) / 0.5).floor() as usize;
        let b = ((r[1] + 1.0) / 0.5).floor() as usize;
        assert_eq!((a + b) % 2, c, "checkerboard point {r:?}");
    }
    // Noise-free regression targets lie on the curve.
    let d = load(&DataSpec {
        noise: Some(0.0),
        standardize: false,
        ..spec("abs")
    });
    for (i, y) in values(&d.data.y_train).into_iter().enumerate() {
        assert!((y - d.data.x_train.row(i)[0].abs()).abs() < 1e-6);
    }
}

#[test]
fn params_change_the_generated_problem() {
    let d = load(&DataSpec {
        params: [("classes".to_string(), 5.0)].into(),
        n_samples: Some(500),
        ..spec("blobs")
    });
    assert_eq!(d.n_outputs, 5);
    assert_eq!(counts(&train_labels(&d), 5), vec![80; 5]);
    let d = load(&DataSpec {
        params: [("k".to_string(), 3.0)].into(),
        ..spec("checkerboard")
    });
    assert_eq!(d.n_outputs, 2);

    let e = err(&DataSpec {
        params: [("classes".to_string(), 1.5)].into(),
        ..spec("blobs")
    });
    assert!(e.contains("classes = 1.5") && e.contains("integer"), "{e}");
    let e = err(&DataSpec {
        params: [("depth".to_string(), 2.0)].into(),
        ..spec("checkerboard")
    });
    assert!(e.contains("\"depth\"") && e.contains("accepted: k"), "{e}");
}

#[test]
fn unknown_dataset_lists_the_valid_names() {
    let e = err(&spec("spiral"));
    assert!(e.contains("\"spiral\""), "{e}");
    assert!(
        e.contains("xor") && e.contains("spirals") && e.contains("digits"),
        "{e}"
    );
}

#[test]
fn bad_knobs_are_rejected_with_their_value() {
    let e = err(&DataSpec {
        test_fraction: Some(1.0),
        ..spec("xor")
    });
    assert!(e.contains("test_fraction = 1"), "{e}");
    let e = err(&DataSpec {
        label_noise: 1.5,
        ..spec("xor")
    });
    assert!(e.contains("label_noise = 1.5"), "{e}");
    let e = err(&DataSpec {
        train_size: Some(10_000),
        ..spec("xor")
    });
    assert!(e.contains("train_size = 10000") && e.contains("320"), "{e}");
    let e = err(&DataSpec {
        noise: Some(0.1),
        ..spec("digits")
    });
    assert!(e.contains("noise"), "{e}");
}

#[test]
fn noise_too_large_for_finite_data_is_refused() {
    // Finite as an f64 but not as the f32 data (1e300), or finite alone but not once a
    // Gaussian draw scales it (3e38): either way the points would be infinite or NaN, and
    // every run on them would only be recorded as diverged.
    for (name, noise, shown) in [
        ("xor", 1e300, "noise = 1e300"),
        ("spirals", 3e38, "noise = 3e38"),
        ("sin", 1e300, "noise = 1e300"),
    ] {
        let e = err(&DataSpec {
            noise: Some(noise),
            ..spec(name)
        });
        assert!(e.contains(shown) && e.contains("finite"), "{name}: {e}");
    }
    // Large but harmless noise still loads.
    let d = load(&DataSpec {
        noise: Some(1e6),
        ..spec("xor")
    });
    assert!(d.n_train() > 0);
}

// ---- split, standardisation, subsampling, label noise -------------------------------------

#[test]
fn split_is_a_stratified_partition_of_the_rows() {
    // Feature `id` makes every row identifiable; 3 classes of 30, 40 and 50 rows.
    let mut text = String::from("id,target\n");
    for i in 0..120 {
        let class = if i < 30 {
            "a"
        } else if i < 70 {
            "b"
        } else {
            "c"
        };
        text.push_str(&format!("{i},{class}\n"));
    }
    let f = csv("ids.csv", &text);
    let d = load(&DataSpec {
        standardize: false,
        test_fraction: Some(0.25),
        seed: 3,
        ..spec(&f.path)
    });
    let ids = |m: &Matrix| -> Vec<usize> { m.as_slice().iter().map(|&v| v as usize).collect() };
    let train = ids(&d.data.x_train);
    let test = ids(&d.data.x_test);
    assert_eq!(test.len(), 30);
    let all: BTreeSet<usize> = train.iter().chain(&test).copied().collect();
    assert_eq!(all.len(), 120, "train and test overlap or lose rows");
    assert_eq!(all, (0..120).collect());
    assert_eq!(counts(&test_labels(&d), 3), vec![8, 10, 12]);
    // Labels travel with their rows.
    for (&id, &l) in train.iter().zip(&train_labels(&d)) {
        assert_eq!(l, usize::from(id >= 30) + usize::from(id >= 70));
    }
    // Rows are not left sorted by class.
    assert!(train.windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn standardisation_uses_training_statistics_only() {
    let d = load(&spec("moons"));
    let s = d
        .standardizer
        .as_ref()
        .expect("standardize is on by default");
    let n = d.n_train() as f64;
    for j in 0..2 {
        let col =
            |m: &Matrix| -> Vec<f64> { (0..m.rows()).map(|i| f64::from(m.row(i)[j])).collect() };
        let train = col(&d.data.x_train);
        let mean = train.iter().sum::<f64>() / n;
        let var = train.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-5, "train mean {mean}");
        assert!((var - 1.0).abs() < 1e-4, "train var {var}");
        let test = col(&d.data.x_test);
        let test_mean = test.iter().sum::<f64>() / test.len() as f64;
        assert!(
            test_mean != 0.0 && test_mean.abs() < 0.5,
            "test mean {test_mean}"
        );
        // The fitted statistics are those of the raw training inputs.
        let raw = col(&d.raw_x_train);
        let raw_mean = raw.iter().sum::<f64>() / n;
        assert!((f64::from(s.mean[j]) - raw_mean).abs() < 1e-5);
    }
    // Mapping raw training points reproduces the model inputs, and inverse undoes it.
    for i in [0, 5, d.n_train() - 1] {
        let z = s.transform_point(d.raw_x_train.row(i));
        for (a, b) in z.iter().zip(d.data.x_train.row(i)) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut back = z.clone();
        s.inverse(&mut back);
        for (a, b) in back.iter().zip(d.raw_x_train.row(i)) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    let off = load(&DataSpec {
        standardize: false,
        ..spec("moons")
    });
    assert!(off.standardizer.is_none());
    assert_eq!(bits(&off.data.x_train), bits(&off.raw_x_train));
    assert_eq!(bits(&off.raw_x_train), bits(&d.raw_x_train));
}

#[test]
fn label_noise_flips_exactly_round_p_n_training_labels_to_other_classes() {
    for (name, p) in [
        ("xor", 0.1),
        ("blobs", 0.3),
        ("digits", 0.25),
        ("spirals", 1.0),
    ] {
        let clean = load(&spec(name));
        let noisy = load(&DataSpec {
            label_noise: p,
            ..spec(name)
        });
        assert_eq!(
            bits(&clean.data.x_train),
            bits(&noisy.data.x_train),
            "{name}"
        );
        assert_eq!(
            test_labels(&clean),
            test_labels(&noisy),
            "{name}: test set must stay clean"
        );
        assert_eq!(bits(&clean.data.x_test), bits(&noisy.data.x_test), "{name}");
        let (a, b) = (train_labels(&clean), train_labels(&noisy));
        let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        let want = (p * a.len() as f64).round() as usize;
        assert_eq!(changed, want, "{name}");
        assert!(b.iter().all(|&l| l < noisy.n_outputs));
    }
    let e = err(&DataSpec {
        label_noise: 0.1,
        ..spec("sin")
    });
    assert!(e.contains("regression"), "{e}");
}

#[test]
fn label_noise_spreads_over_all_other_classes() {
    let clean = load(&spec("digits"));
    let noisy = load(&DataSpec {
        label_noise: 1.0,
        ..spec("digits")
    });
    let mut seen = BTreeSet::new();
    for (a, b) in train_labels(&clean).into_iter().zip(train_labels(&noisy)) {
        assert_ne!(a, b);
        seen.insert(b);
    }
    assert_eq!(seen.len(), 10);
}

#[test]
fn train_size_subsamples_the_training_split_and_keeps_the_test_set() {
    let full = load(&DataSpec {
        standardize: false,
        ..spec("xor")
    });
    let small = load(&DataSpec {
        train_size: Some(50),
        standardize: false,
        ..spec("xor")
    });
    assert_eq!(small.n_train(), 50);
    assert_eq!(counts(&train_labels(&small), 2), vec![25, 25]);
    assert_eq!(bits(&small.data.x_test), bits(&full.data.x_test));
    assert_eq!(test_labels(&small), test_labels(&full));
    let full_rows: BTreeSet<Vec<u32>> = rows(&full.data.x_train).into_iter().collect();
    let small_rows = rows(&small.data.x_train);
    assert!(
        small_rows.iter().all(|r| full_rows.contains(r)),
        "subsample rows not from train"
    );
    assert_eq!(
        small_rows.iter().collect::<BTreeSet<_>>().len(),
        50,
        "rows repeated"
    );
    // Another seed picks another subset.
    let other = load(&DataSpec {
        train_size: Some(50),
        standardize: false,
        seed: 1,
        ..spec("xor")
    });
    assert_ne!(bits(&other.data.x_train), bits(&small.data.x_train));
}

// ---- digits --------------------------------------------------------------------------------

#[test]
fn digits_have_the_uci_shape_classes_and_scaling() {
    let d = load(&DataSpec {
        standardize: false,
        ..spec("digits")
    });
    assert_eq!(d.n_train() + d.n_test(), 1797);
    assert_eq!(d.n_features, 64);
    assert_eq!(d.n_outputs, 10);
    let mut all = train_labels(&d);
    all.extend(test_labels(&d));
    // Per-class counts of the UCI optdigits test set.
    assert_eq!(
        counts(&all, 10),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let px: Vec<f32> = d
        .data
        .x_train
        .as_slice()
        .iter()
        .chain(d.data.x_test.as_slice())
        .copied()
        .collect();
    assert!(
        px.iter()
            .all(|&v| (0.0..=1.0).contains(&v) && (v * 16.0).fract() == 0.0)
    );
    assert!(px.contains(&1.0));
    // Standardised digits: constant pixels map to 0 instead of NaN.
    let z = load(&spec("digits"));
    assert!(z.data.x_train.as_slice().iter().all(|v| v.is_finite()));
    // n_samples takes a stratified subset before splitting.
    let sub = load(&DataSpec {
        n_samples: Some(500),
        ..spec("digits")
    });
    assert_eq!(sub.n_train() + sub.n_test(), 500);
}

// ---- CSV -----------------------------------------------------------------------------------

#[test]
fn csv_with_string_labels_maps_them_in_sorted_order() {
    let f = csv(
        "flowers.csv",
        "length, width ,target\n1.0,2,setosa\n1.5,2.5,virginica\n3,1,setosa\n2,2,versicolor\n\
         0.5,1,virginica\n4,4,versicolor\n1,1,setosa\n2,3,virginica\n3,3,versicolor\n2,2,setosa\n",
    );
    let d = load(&DataSpec {
        standardize: false,
        test_fraction: Some(0.3),
        ..spec(&f.path)
    });
    assert_eq!(d.task, Task::Classification);
    assert_eq!(d.feature_names, vec!["length", "width"]);
    assert_eq!(
        d.class_names,
        Some(vec![
            "setosa".into(),
            "versicolor".into(),
            "virginica".into()
        ])
    );
    assert_eq!(d.n_train() + d.n_test(), 10);
    assert_eq!(d.n_test(), 3);
    // Row "4,4,versicolor" is the only one with length 4.
    let all_x: Vec<(f32, usize)> = (0..d.n_train())
        .map(|i| (d.data.x_train.row(i)[0], train_labels(&d)[i]))
        .chain((0..d.n_test()).map(|i| (d.data.x_test.row(i)[0], test_labels(&d)[i])))
        .collect();
    assert!(all_x.contains(&(4.0, 1)));
}

#[test]
fn csv_task_inference_and_forcing() {
    let mut text = String::from("x,y\n");
    for i in 0..20 {
        text.push_str(&format!("{i},{}\n", f64::from(i) * 0.5));
    }
    let f = csv("reg.csv", &text);
    let d = load(&DataSpec {
        target: Some("y".into()),
        ..spec(&f.path)
    });
    assert_eq!(d.task, Task::Regression);
    assert_eq!(d.n_outputs, 1);

    let mut text = String::from("x,label\n");
    for i in 0..20 {
        text.push_str(&format!("{i},{}\n", [10, 9, 2][i % 3]));
    }
    let f = csv("cls.csv", &text);
    let d = load(&DataSpec {
        target: Some("label".into()),
        ..spec(&f.path)
    });
    assert_eq!(d.task, Task::Classification);
    assert_eq!(
        d.class_names,
        Some(vec!["2".into(), "9".into(), "10".into()])
    );
    let forced = load(&DataSpec {
        target: Some("label".into()),
        params: [("classification".to_string(), 0.0)].into(),
        ..spec(&f.path)
    });
    assert_eq!(forced.task, Task::Regression);
}

#[test]
fn csv_split_column_defines_the_split() {
    let mut text = String::from("a,b,split,target\n");
    for i in 0..12 {
        let side = if i % 4 == 0 { "test" } else { " Train " };
        text.push_str(&format!("{i},{},{side},{}\n", i * 2, i % 2));
    }
    let f = csv("split.csv", &text);
    let d = load(&DataSpec {
        standardize: false,
        test_fraction: Some(0.5),
        ..spec(&f.path)
    });
    assert_eq!(d.feature_names, vec!["a", "b"]);
    assert_eq!(d.n_test(), 3);
    assert_eq!(d.n_train(), 9);
    let test_ids: BTreeSet<u32> = (0..3).map(|i| d.data.x_test.row(i)[0] as u32).collect();
    assert_eq!(test_ids, [0, 4, 8].into());
}

#[test]
fn csv_non_number_cell_reports_file_line_and_column() {
    let f = csv("bad.csv", "a,b,target\n1,2,0\n3,4,1\n5,abc,0\n");
    let e = err(&spec(&f.path));
    assert!(e.contains(&format!("{}:4:2", f.path)), "{e}");
    assert!(e.contains("\"abc\"") && e.contains("column \"b\""), "{e}");
}

#[test]
fn csv_missing_target_names_it_and_lists_the_columns() {
    let f = csv("nolabel.csv", "a,b,class\n1,2,0\n3,4,1\n");
    let e = err(&spec(&f.path));
    assert!(e.contains("\"target\"") && e.contains("a, b, class"), "{e}");
    let e = err(&DataSpec {
        target: Some("label".into()),
        ..spec(&f.path)
    });
    assert!(e.contains("\"label\""), "{e}");
}

#[test]
fn csv_ragged_row_reports_its_line() {
    let f = csv("ragged.csv", "a,b,target\n1,2,0\n3,1\n");
    let e = err(&spec(&f.path));
    assert!(e.contains(&format!("{}:3:", f.path)), "{e}");
    assert!(e.contains("2 fields") && e.contains("header has 3"), "{e}");
}

#[test]
fn csv_other_errors_are_specific() {
    let f = csv("empty.csv", "");
    assert!(err(&spec(&f.path)).contains("empty"));
    let f = csv("header.csv", "a,target\n");
    assert!(err(&spec(&f.path)).contains("no data rows"));
    let f = csv("split.csv", "a,split,target\n1,train,0\n2,validation,1\n");
    let e = err(&spec(&f.path));
    assert!(
        e.contains(&format!("{}:3:2", f.path)) && e.contains("\"validation\""),
        "{e}"
    );
    let f = csv("onlytest.csv", "a,split,target\n1,test,0\n2,test,1\n");
    assert!(err(&spec(&f.path)).contains("0 training"));
    let missing = spec("/nonexistent/dir/file.csv");
    assert!(err(&missing).contains("cannot read /nonexistent/dir/file.csv"));
}

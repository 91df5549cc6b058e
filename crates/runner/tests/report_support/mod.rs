//! Hand-made study records for the report tests: plausible shapes (bigger models fit better,
//! the biggest overfit, identity stays linear) without running any training.

#![allow(dead_code)]

use depthlab_runner::record::{EpochPoint, RunOutcome, RunRecord, Task};
use depthlab_runner::report::ConfigVerdict;

/// Parameters of an MLP with `features` inputs, `depth` hidden layers of `width`, `outputs`.
pub fn params(features: usize, depth: usize, width: usize, outputs: usize) -> usize {
    let mut dims = vec![features];
    dims.extend(std::iter::repeat_n(width, depth));
    dims.push(outputs);
    dims.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
}

/// Deterministic jitter in [-1, 1] from a few integers.
fn jitter(a: usize, b: usize, c: u64) -> f64 {
    let h = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ c.wrapping_mul(0x94D0_49BB_1331_11EB);
    let h = h ^ (h >> 29);
    ((h % 2001) as f64 / 1000.0) - 1.0
}

/// The knobs of one synthetic study.
#[derive(Clone)]
pub struct Synth {
    pub study: String,
    pub dataset: String,
    pub task: Task,
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
    pub activations: Vec<String>,
    pub seeds: u64,
    pub epochs: usize,
    pub label_noise: f64,
    pub features: usize,
    pub outputs: usize,
    /// Added to every test accuracy (points) or multiplied into test MSE, to make a study B differ.
    pub shift: f64,
}

impl Synth {
    /// A small 2-D classification study.
    pub fn classification(study: &str, dataset: &str) -> Synth {
        Synth {
            study: study.into(),
            dataset: dataset.into(),
            task: Task::Classification,
            depths: vec![0, 1, 2, 3],
            widths: vec![2, 8, 32, 128],
            activations: vec!["identity".into(), "relu".into(), "tanh".into()],
            seeds: 2,
            epochs: 12,
            label_noise: 0.0,
            features: 2,
            outputs: 2,
            shift: 0.0,
        }
    }

    /// A small 1-D regression study.
    pub fn regression(study: &str, dataset: &str) -> Synth {
        Synth {
            task: Task::Regression,
            features: 1,
            outputs: 1,
            ..Synth::classification(study, dataset)
        }
    }

    /// The records, one per grid point and seed.
    pub fn records(&self) -> Vec<RunRecord> {
        let mut out = Vec::new();
        for act in &self.activations {
            for &depth in &self.depths {
                for &width in &self.widths {
                    for seed in 0..self.seeds {
                        out.push(self.record(act, depth, width, seed, out.len()));
                    }
                }
            }
        }
        out
    }

    fn record(&self, act: &str, depth: usize, width: usize, seed: u64, index: usize) -> RunRecord {
        let p = params(self.features, depth, width, self.outputs);
        let linear = act == "identity" || depth == 0;
        let lp = (p as f64).log10();
        let j = jitter(depth, width, seed + act.len() as u64);
        // tanh learns a little slower and overfits a little earlier than relu.
        let (speed, onset) = if act == "tanh" {
            (220.0, 2.7)
        } else {
            (150.0, 3.0)
        };
        let over = (lp - onset).max(0.0);
        let (train_final, test_final) = match self.task {
            Task::Classification => {
                let train = if linear {
                    55.0 + j
                } else {
                    (55.0 + 45.0 * (1.0 - (-(p as f64) / speed).exp()) + j).min(100.0)
                };
                let test = (train - 6.0 * over - 1.0 + 0.5 * j + self.shift).clamp(0.0, 100.0);
                (train, test)
            }
            Task::Regression => {
                let train = if linear {
                    0.2 * (1.0 + 0.05 * j)
                } else {
                    0.3 * (-(p as f64) / 100.0).exp() + 0.01 * (1.0 + 0.1 * j)
                };
                let test = train * (1.1 + 2.5 * over) * (1.0 + self.shift);
                (train, test)
            }
        };
        let mut curve = Vec::new();
        for e in 1..=self.epochs {
            let f = 1.0 - (-(e as f64) / 3.0).exp();
            let loss_train =
                0.7 * (1.0 - f) + 0.05 + (1.0 - train_final.min(100.0) / 100.0).abs() * 0.3;
            let loss_test = loss_train * (1.0 + 0.1 * over * e as f64 / self.epochs as f64);
            let (ta, tea, tm, tem) = match self.task {
                Task::Classification => (
                    Some((50.0 + (train_final - 50.0) * f) / 100.0),
                    Some((50.0 + (test_final - 50.0) * f) / 100.0),
                    None,
                    None,
                ),
                Task::Regression => (None, None, Some(train_final / f), Some(test_final / f)),
            };
            curve.push(EpochPoint {
                epoch: e,
                train_loss: loss_train,
                test_loss: loss_test,
                train_accuracy: ta,
                test_accuracy: tea,
                train_mse: tm,
                test_mse: tem,
            });
        }
        let classification = self.task == Task::Classification;
        RunRecord {
            id: format!("{}-d{depth}-w{width}-{act}-s{seed}", self.dataset),
            index,
            study: self.study.clone(),
            dataset: self.dataset.clone(),
            task: self.task,
            depth,
            width,
            activation: act.to_string(),
            seed,
            optimizer: "adam".into(),
            learning_rate: 0.01,
            batch_size: 32,
            epochs: self.epochs,
            label_noise: self.label_noise,
            train_size: None,
            n_train: 400,
            n_test: 100,
            n_features: self.features,
            n_outputs: self.outputs,
            parameter_count: p,
            curve,
            train_loss: 0.1,
            test_loss: 0.2,
            train_accuracy: classification.then_some(train_final / 100.0),
            test_accuracy: classification.then_some(test_final / 100.0),
            train_mse: (!classification).then_some(train_final),
            test_mse: (!classification).then_some(test_final),
            epochs_run: self.epochs,
            wall_seconds: 0.01 * p as f64 / 100.0 + 0.05,
            outcome: RunOutcome::Ok,
            diverged_epoch: None,
            model_path: None,
        }
    }
}

/// Checks every output file of a report: SVGs parse as XML and contain text, PNGs decode with
/// non-blank content and dark text pixels in the title band, and every link in the HTML and
/// Markdown pages resolves to an existing file. Returns the number of images checked.
pub fn check_report_dir(dir: &std::path::Path, files: &[std::path::PathBuf]) -> usize {
    let mut images = 0;
    for f in files {
        let path = dir.join(f);
        assert!(path.is_file(), "listed file missing: {}", path.display());
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => {
                check_svg(&path);
                images += 1;
            }
            Some("png") => {
                check_png(&path);
                images += 1;
            }
            _ => {}
        }
    }
    for page in ["index.html", "README.md"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        let links = links_of(&text, page.ends_with(".html"));
        assert!(!links.is_empty(), "{page} has no links");
        for link in links {
            if link.starts_with('#') {
                continue;
            }
            assert!(!link.contains("://"), "{page} links to the network: {link}");
            assert!(
                dir.join(&link).is_file(),
                "{page} links to missing file {link}"
            );
        }
    }
    images
}

/// `href`/`src` targets in HTML, or `](target)` in Markdown.
pub fn links_of(text: &str, html: bool) -> Vec<String> {
    let mut out = Vec::new();
    let markers: &[&str] = if html {
        &["href=\"", "src=\""]
    } else {
        &["]("]
    };
    for m in markers {
        let mut rest = text;
        while let Some(i) = rest.find(m) {
            rest = &rest[i + m.len()..];
            let end = rest.find(if html { '"' } else { ')' }).unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

pub fn check_svg(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    let texts = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .count();
    assert!(
        texts >= 3,
        "{} has only {texts} text elements",
        path.display()
    );
    let shapes = doc
        .descendants()
        .filter(|n| {
            matches!(
                n.tag_name().name(),
                "polyline" | "rect" | "circle" | "polygon" | "path" | "line"
            )
        })
        .count();
    assert!(shapes >= 5, "{} has only {shapes} shapes", path.display());
}

pub fn check_png(path: &std::path::Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    assert!(w >= 300 && h >= 200, "{} is only {w}x{h}", path.display());
    let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        non_white as f64 > 0.01 * (w * h) as f64,
        "{} is almost blank ({non_white} non-white pixels)",
        path.display()
    );
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels() {
        colours.insert(p.0);
        if colours.len() > 20 {
            break;
        }
    }
    assert!(
        colours.len() > 10,
        "{} has only {} colours",
        path.display(),
        colours.len()
    );
    // The title is drawn in the top 44 px: dark, anti-aliased glyph pixels spread over many columns.
    let mut dark = 0;
    let mut columns = std::collections::HashSet::new();
    for y in 0..44.min(h) {
        for x in 0..w {
            let p = img.get_pixel(x, y).0;
            if u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 200 {
                dark += 1;
                columns.insert(x);
            }
        }
    }
    assert!(
        dark > 150 && columns.len() > 60,
        "{}: no title text ({dark} dark pixels in {} columns)",
        path.display(),
        columns.len()
    );
}

/// A single-seed relu record of study `name` with the given final train and test figures
/// (percent for classification, MSE for regression).
pub fn one_run(
    name: &str,
    task: Task,
    depth: usize,
    width: usize,
    train: f64,
    test: f64,
) -> RunRecord {
    let mut synth = match task {
        Task::Classification => Synth::classification(name, "toy"),
        Task::Regression => Synth::regression(name, "toy"),
    };
    synth.depths = vec![depth];
    synth.widths = vec![width];
    synth.activations = vec!["relu".into()];
    synth.seeds = 1;
    let mut r = synth.records().remove(0);
    match task {
        Task::Classification => {
            r.train_accuracy = Some(train / 100.0);
            r.test_accuracy = Some(test / 100.0);
        }
        Task::Regression => {
            r.train_mse = Some(train);
            r.test_mse = Some(test);
        }
    }
    r
}

/// The verdict row of the configuration at `depth` × `width`.
pub fn verdict_of(rows: &[ConfigVerdict], depth: usize, width: usize) -> &ConfigVerdict {
    rows.iter()
        .find(|v| v.depth == depth && v.width == width)
        .unwrap()
}

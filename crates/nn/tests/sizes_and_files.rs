//! Sizes that overflow or cannot fit in memory are errors, never panics or aborts; model files
//! are checked whole before anything is allocated or overwritten. A counting global allocator
//! shows what a load allocates, so this is its own binary.

use std::alloc::System;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use depthlab_nn::{
    BatchTargets, CONFIG_KEY, Linear, Loss, Matrix, Mlp, MlpConfig, NnError, OptimizerConfig,
    Trainer, load_safetensors, load_safetensors_into, save_safetensors,
};
use safetensors::tensor::{Dtype, TensorView};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator's counters are process-wide (and count refused requests too), so tests that
/// measure them or make huge requests run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("depthlab-nn-sizes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes a safetensors file of zero-filled tensors `(name, dtype, shape)` with optional
/// `depthlab.config` metadata.
fn write_file(path: &PathBuf, tensors: &[(&str, Dtype, Vec<usize>)], config: Option<&str>) {
    let blobs: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dtype, shape)| vec![0u8; dtype.bitsize() / 8 * shape.iter().product::<usize>()])
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&blobs)
        .map(|((name, dtype, shape), bytes)| {
            let view = TensorView::new(*dtype, shape.clone(), bytes).unwrap();
            (name.to_string(), view)
        })
        .collect();
    let meta = config.map(|c| HashMap::from([(CONFIG_KEY.to_string(), c.to_string())]));
    std::fs::write(path, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn expect_tensor_error<T: std::fmt::Debug>(result: Result<T, NnError>, name: &str, words: &str) {
    match result {
        Err(NnError::Tensor { tensor, reason }) => {
            assert_eq!(tensor, name, "{reason}");
            assert!(reason.contains(words), "{reason}");
        }
        other => panic!("expected an error about tensor {name}, got {other:?}"),
    }
}

fn expect_invalid<T: std::fmt::Debug>(result: Result<T, NnError>, field_words: &str) -> String {
    match result {
        Err(e @ NnError::InvalidValue { .. }) => {
            let NnError::InvalidValue { field, .. } = &e else {
                unreachable!()
            };
            assert!(field.contains(field_words), "{e}");
            e.to_string()
        }
        other => panic!("expected InvalidValue about {field_words}, got {other:?}"),
    }
}

#[test]
fn metadata_promising_a_huge_model_is_an_error_naming_a_tensor_before_allocating() {
    let _serial = serial();
    let path = temp_path("huge_metadata.safetensors");
    let one = [("0.weight", Dtype::F32, vec![1, 1])];
    // 360 GB of f32 weights if the metadata were trusted.
    let big = r#"{"input":300000,"hidden":[300000],"output":4,"activation":"relu","init":"pytorch","bias":false}"#;
    write_file(&path, &one, Some(big));
    let region = Region::new(GLOBAL);
    let result = load_safetensors(&path);
    let allocated = region.change().bytes_allocated;
    expect_tensor_error(
        result,
        "0.weight",
        "expected shape [300000, 300000], found [1, 1]",
    );
    assert!(
        allocated < 1 << 20,
        "the failed load allocated {allocated} bytes"
    );

    // Widths whose products overflow usize: still the tensor, not an arithmetic panic.
    let overflow = r#"{"input":4611686018427387904,"hidden":[],"output":4,"activation":"relu","init":"pytorch","bias":false}"#;
    write_file(&path, &one, Some(overflow));
    expect_tensor_error(
        load_safetensors(&path),
        "0.weight",
        "[4, 4611686018427387904]",
    );

    // The first layer matches; the second is what is missing.
    let two =
        r#"{"input":1,"hidden":[1],"output":4,"activation":"relu","init":"pytorch","bias":false}"#;
    write_file(&path, &one, Some(two));
    expect_tensor_error(load_safetensors(&path), "2.weight", "missing");

    // Every expected tensor present: a well-formed file of the same kind loads.
    let tiny =
        r#"{"input":1,"hidden":[],"output":1,"activation":"relu","init":"pytorch","bias":false}"#;
    write_file(&path, &one, Some(tiny));
    assert_eq!(load_safetensors(&path).unwrap().parameter_count(), 1);
}

#[test]
fn overflowing_configurations_are_errors_naming_the_layer() {
    let _serial = serial();
    let huge = MlpConfig::new(1 << 62, vec![], 4);
    assert_eq!(huge.parameter_count(), usize::MAX, "saturates");
    expect_invalid(huge.validate(), "Linear layer 0");
    expect_invalid(huge.build(0), "Linear layer 0");
    expect_invalid(huge.build_as::<f64>(0), "Linear layer 0");

    // 2^66 weights in the second layer; the first alone would fit.
    let second = MlpConfig::new(4, vec![1 << 33, 1 << 33], 2);
    expect_invalid(second.build(0), "Linear layer 1");

    // Fits in usize but not in one allocation of f64 values (2^61 · 8 bytes > isize::MAX).
    let bytes = MlpConfig::new(1 << 31, vec![], 1 << 30);
    expect_invalid(bytes.validate(), "Linear layer 0");

    // Every layer fits on its own (2^59 weights); together they overflow usize.
    let hidden: Vec<usize> = (0..40)
        .map(|k| if k % 2 == 0 { 1 << 30 } else { 1 << 29 })
        .collect();
    let many = MlpConfig {
        bias: false,
        ..MlpConfig::new(1 << 29, hidden, 1)
    };
    expect_invalid(many.validate(), "parameter count");
    assert_eq!(many.parameter_count(), usize::MAX);

    // Valid, but more than any machine holds: an error, not an out-of-memory abort.
    let vast = MlpConfig::new(1 << 29, vec![], 1 << 29);
    assert!(vast.validate().is_ok());
    expect_invalid(vast.build(0), "Linear layer 0");

    // Formatting a length error for an impossible shape does not overflow either.
    let err = Matrix::<f32>::new(usize::MAX, 2, vec![0.0; 3]).unwrap_err();
    assert!(matches!(err, NnError::DataLength { .. }));
    let text = err.to_string();
    assert!(text.contains("needs 36893488147419103230"), "{text}");
}

#[test]
fn parameter_count_is_exact_on_normal_sizes() {
    let cases = [
        (3, vec![], 2, true),
        (3, vec![], 2, false),
        (784, vec![512, 512], 10, true),
        (784, vec![512, 512], 10, false),
        (1, vec![7, 1, 9], 1, true),
    ];
    for (input, hidden, output, bias) in cases {
        let cfg = MlpConfig {
            bias,
            ..MlpConfig::new(input, hidden.clone(), output)
        };
        let mut widths = vec![input];
        widths.extend(&hidden);
        widths.push(output);
        let want: usize = widths
            .windows(2)
            .map(|w| w[0] * w[1] + if bias { w[1] } else { 0 })
            .sum();
        assert_eq!(cfg.parameter_count(), want, "{cfg:?}");
        let model = cfg.build(1).unwrap();
        assert_eq!(model.parameter_count(), want, "{cfg:?}");
    }
}

#[test]
fn trainer_rejects_batches_too_big_for_memory() {
    let _serial = serial();
    let model = MlpConfig::new(2, vec![3], 2).build(0).unwrap();
    let trainer = |batch: usize| {
        Trainer::new(&model, batch, Loss::Mse, OptimizerConfig::sgd(0.1)).map(|t| t.max_batch())
    };
    let text = expect_invalid(trainer(usize::MAX), "batch_size");
    assert!(text.contains(&usize::MAX.to_string()), "{text}");
    // batch × width × 4 bytes overflows only at the byte count.
    expect_invalid(trainer(1 << 62), "batch_size");
    // Within isize::MAX bytes (3 · 2^60) but beyond any address space.
    expect_invalid(trainer(1 << 58), "batch_size");
    assert_eq!(trainer(16).unwrap(), 16);
}

#[test]
fn a_failed_load_into_leaves_the_model_unchanged() {
    let _serial = serial();
    let path = temp_path("into.safetensors");
    let source = MlpConfig::new(3, vec![4, 5], 2).build(11).unwrap();
    save_safetensors(&source, &path).unwrap();

    // Layers 0 and 2 match the file; "4.weight" does not, so nothing may be copied.
    let mut model = MlpConfig::new(3, vec![4, 5], 3).build(2).unwrap();
    let before = model.clone();
    expect_tensor_error(
        load_safetensors_into(&mut model, &path),
        "4.weight",
        "expected shape [3, 5], found [2, 5]",
    );
    assert_eq!(model, before);

    // A bad dtype in the last tensor, every shape right.
    let f32s = |name, shape| (name, Dtype::F32, shape);
    let tensors = [
        f32s("0.weight", vec![4, 3]),
        f32s("0.bias", vec![4]),
        f32s("2.weight", vec![5, 4]),
        f32s("2.bias", vec![5]),
        f32s("4.weight", vec![3, 5]),
        ("4.bias", Dtype::F16, vec![3]),
    ];
    write_file(&path, &tensors, None);
    expect_tensor_error(load_safetensors_into(&mut model, &path), "4.bias", "F16");
    assert_eq!(model, before);

    // The same file with the dtype fixed loads, and zeroes every parameter.
    let mut fixed = tensors.to_vec();
    fixed[5] = f32s("4.bias", vec![3]);
    write_file(&path, &fixed, None);
    load_safetensors_into(&mut model, &path).unwrap();
    assert!(model.layers().iter().all(|l| {
        l.weight().as_slice().iter().all(|&v| v == 0.0)
            && l.bias().unwrap().iter().all(|&v| v == 0.0)
    }));
}

#[test]
fn weight_mut_edits_values_in_place_and_keeps_the_shape() {
    let mut model = MlpConfig::new(2, vec![3], 2).build(5).unwrap();
    let shapes: Vec<_> = model.layers().iter().map(|l| l.weight().shape()).collect();
    {
        let (w, _) = model.parameters_mut().next().unwrap();
        assert_eq!(w.len(), 3 * 2);
        // Row-major out × in: index 1·in + 0 is (out 1, in 0).
        w[2] = 7.0;
    }
    assert_eq!(model.layers()[0].weight().get(1, 0), Some(7.0));
    let after: Vec<_> = model.layers().iter().map(|l| l.weight().shape()).collect();
    assert_eq!(after, shapes);
    let x = Matrix::new(4, 2, vec![0.5f32; 8]).unwrap();
    assert_eq!(model.predict(&x).unwrap().shape(), (4, 2));

    // A standalone layer too.
    let mut layer = Linear::new(Matrix::new(1, 2, vec![1.0f32, 2.0]).unwrap(), None).unwrap();
    layer.weight_mut()[1] = -2.0;
    assert_eq!(layer.weight().as_slice(), &[1.0, -2.0]);
    assert_eq!(layer.weight().shape(), (1, 2));
}

#[test]
fn a_model_of_another_shape_is_a_shape_error_naming_both() {
    let model = MlpConfig::new(2, vec![3], 2).build(5).unwrap();
    let mut trainer = Trainer::new(
        &model,
        8,
        Loss::SoftmaxCrossEntropy,
        OptimizerConfig::sgd(0.1),
    )
    .unwrap();
    let mut other: Mlp = MlpConfig::new(2, vec![5], 2).build(5).unwrap();
    let x = Matrix::new(4, 2, vec![0.5f32; 8]).unwrap();
    let text = match trainer.step(&mut other, &x, BatchTargets::Classes(&[0, 1, 1, 0])) {
        Err(e @ NnError::Shape { .. }) => e.to_string(),
        other => panic!("expected a shape error, got {other:?}"),
    };
    // The trainer's layers against the model's, not one list twice.
    assert!(text.contains("[3x2+bias, 2x3+bias]"), "{text}");
    assert!(text.contains("[5x2+bias, 2x5+bias]"), "{text}");
}

#[test]
fn metadata_promising_millions_of_layers_costs_memory_in_proportion_to_the_file() {
    let _serial = serial();
    let path = temp_path("deep_metadata.safetensors");
    // A million one-unit hidden layers take 2 MB of header; until the loader met the first
    // missing tensor it held a name, a shape and a set entry for every promised layer (152
    // bytes per header byte here, ~15 GB at safetensors' 100 MB header limit).
    let hidden = vec!["1"; 1_000_000].join(",");
    let deep = format!(
        r#"{{"input":1,"hidden":[{hidden}],"output":1,"activation":"relu","init":"pytorch","bias":true}}"#
    );
    let one = [("0.weight", Dtype::F32, vec![1, 1])];
    write_file(&path, &one, Some(&deep));
    let file_len = usize::try_from(std::fs::metadata(&path).unwrap().len()).unwrap();
    let region = Region::new(GLOBAL);
    let result = load_safetensors(&path);
    let allocated = region.change().bytes_allocated;
    expect_tensor_error(result, "0.bias", "missing");
    // Parsing the JSON itself needs a few times the header (the widths as a Vec<usize>).
    assert!(
        allocated < 16 * file_len,
        "a {file_len}-byte file made the load allocate {allocated} bytes"
    );

    // An unexpected tensor beside the same metadata: the message describes the architecture
    // without listing a million modules.
    let extra = [
        ("0.weight", Dtype::F32, vec![1, 1]),
        ("0.bias", Dtype::F32, vec![1]),
        ("1.weight", Dtype::F32, vec![1, 1]),
    ];
    write_file(&path, &extra, Some(&deep));
    let region = Region::new(GLOBAL);
    let result = load_safetensors(&path);
    let allocated = region.change().bytes_allocated;
    match &result {
        Err(NnError::Tensor { tensor, reason }) => {
            assert_eq!(tensor, "1.weight");
            assert!(reason.contains("1000001 Linear layers"), "{reason}");
            assert!(reason.len() < 200, "{} bytes of reason", reason.len());
        }
        other => panic!("expected an error about tensor 1.weight, got {other:?}"),
    }
    assert!(allocated < 16 * file_len, "allocated {allocated} bytes");
}

#[test]
fn only_the_exact_state_dict_spelling_of_a_name_is_accepted() {
    let path = temp_path("spelling.safetensors");
    let mut model = MlpConfig::new(1, vec![1], 1).build(0).unwrap();
    let f32s = |name| (name, Dtype::F32, vec![1, 1]);
    let right = [
        f32s("0.weight"),
        ("0.bias", Dtype::F32, vec![1]),
        f32s("2.weight"),
        ("2.bias", Dtype::F32, vec![1]),
    ];
    write_file(&path, &right, None);
    load_safetensors_into(&mut model, &path).unwrap();
    // Odd indices are activations; "02", "+2" and "2.weight.x" are not PyTorch's names.
    for wrong in [
        "1.weight",
        "02.weight",
        "+2.weight",
        "2.weight.x",
        "4.weight",
        ".weight",
    ] {
        let mut tensors = right.to_vec();
        tensors.push(f32s(wrong));
        write_file(&path, &tensors, None);
        expect_tensor_error(
            load_safetensors_into(&mut model, &path),
            wrong,
            "not part of",
        );
    }
}

//! Safetensors round trips, PyTorch names, and errors naming the offending tensor.

use std::collections::HashMap;
use std::path::PathBuf;

use depthlab_nn::{
    Activation, Init, Matrix, MlpConfig, NnError, load_safetensors, load_safetensors_as,
    load_safetensors_into, save_safetensors,
};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("depthlab-nn-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn config() -> MlpConfig {
    MlpConfig {
        input: 3,
        hidden: vec![5, 4],
        output: 2,
        activation: Activation::LeakyRelu(0.2),
        init: Init::KaimingNormal,
        bias: true,
    }
}

#[test]
fn round_trip_keeps_every_bit_and_the_architecture() {
    let model = config().build(8).unwrap();
    // A folder of its own: the other tests of this file save into the shared one at the same
    // time, and their temporaries in flight are not this save's leftovers.
    let dir = temp_path("round_trip");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_safetensors(&model, &path).unwrap();
    let loaded = load_safetensors(&path).unwrap();
    assert_eq!(loaded, model);
    let x = Matrix::from_fn(4, 3, |i, j| (i as f32 - j as f32) * 0.3);
    assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());
    // No temporary left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|name| name.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");

    // f64 models round-trip in f64, and load as f32 by rounding.
    let m64 = config().build_as::<f64>(8).unwrap();
    let p64 = temp_path("round_trip64.safetensors");
    save_safetensors(&m64, &p64).unwrap();
    assert_eq!(load_safetensors_as::<f64>(&p64).unwrap(), m64);
    assert_eq!(load_safetensors(&p64).unwrap(), m64.cast::<f32>());
}

#[test]
fn saving_the_same_model_twice_writes_the_same_bytes() {
    // The metadata map has three entries; unsorted, eight saves would almost surely not all
    // list them in one order.
    // Its own directory: another test checks that no temporary file is left in the shared one.
    let dir = std::env::temp_dir().join(format!("depthlab-nn-bytes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = config().build(8).unwrap();
    let files: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let path = dir.join(format!("same_bytes_{i}.safetensors"));
            save_safetensors(&model, &path).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(files.iter().all(|f| f == &files[0]));
    assert_eq!(
        load_safetensors(dir.join("same_bytes_7.safetensors")).unwrap(),
        model
    );
}

#[test]
fn file_uses_pytorch_state_dict_names_and_metadata() {
    let model = config().build(1).unwrap();
    let path = temp_path("names.safetensors");
    save_safetensors(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"
        ]
    );
    let w = st.tensor("2.weight").unwrap();
    assert_eq!(w.shape(), [4, 5]);
    assert_eq!(w.dtype(), Dtype::F32);
    let first = f32::from_le_bytes(w.data()[..4].try_into().unwrap());
    assert_eq!(first, model.layers()[1].weight().as_slice()[0]);
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["format"], "pt");
    assert!(
        meta["depthlab.modules"].starts_with("Sequential(Linear(3, 5, bias=True), LeakyReLU(0.2)")
    );
    let cfg: MlpConfig = serde_json::from_str(&meta["depthlab.config"]).unwrap();
    assert_eq!(cfg, config());

    // Depth 0 is a single Linear at index 0.
    let lin = MlpConfig::new(3, vec![], 2).build(1).unwrap();
    let p0 = temp_path("linear.safetensors");
    save_safetensors(&lin, &p0).unwrap();
    let b0 = std::fs::read(&p0).unwrap();
    let mut n0 = SafeTensors::deserialize(&b0)
        .unwrap()
        .names()
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    n0.sort();
    assert_eq!(n0, ["0.bias", "0.weight"]);
}

/// Writes a safetensors file with the given f32 tensors and metadata.
fn write_raw(
    path: &PathBuf,
    tensors: &[(&str, Vec<usize>)],
    meta: Option<HashMap<String, String>>,
) {
    let blobs: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s)| {
            (
                n.to_string(),
                s.clone(),
                vec![0u8; 4 * s.iter().product::<usize>()],
            )
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = blobs
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn expect_tensor_error(result: Result<(), NnError>, tensor: &str, words: &str) {
    match result {
        Err(NnError::Tensor { tensor: t, reason }) => {
            assert_eq!(t, tensor, "{reason}");
            assert!(reason.contains(words), "{reason}");
        }
        other => panic!("expected an error about {tensor}, got {other:?}"),
    }
}

#[test]
fn mismatched_files_are_errors_naming_the_tensor() {
    let mut model = MlpConfig::new(3, vec![4], 2).build(0).unwrap();
    let good = [
        ("0.weight", vec![4, 3]),
        ("0.bias", vec![4]),
        ("2.weight", vec![2, 4]),
        ("2.bias", vec![2]),
    ];
    let path = temp_path("pytorch_like.safetensors");
    write_raw(&path, &good, None);
    load_safetensors_into(&mut model, &path).unwrap();
    assert!(
        model.layers()[1]
            .weight()
            .as_slice()
            .iter()
            .all(|&v| v == 0.0)
    );

    let mut wrong_shape = good.to_vec();
    wrong_shape[2] = ("2.weight", vec![2, 5]);
    write_raw(&path, &wrong_shape, None);
    let err = load_safetensors_into(&mut model, &path);
    expect_tensor_error(err, "2.weight", "expected shape [2, 4], found [2, 5]");

    let missing = &good[..3];
    write_raw(&path, missing, None);
    expect_tensor_error(
        load_safetensors_into(&mut model, &path),
        "2.bias",
        "missing",
    );

    let mut extra = good.to_vec();
    extra.push(("4.weight", vec![2, 2]));
    write_raw(&path, &extra, None);
    expect_tensor_error(
        load_safetensors_into(&mut model, &path),
        "4.weight",
        "not part of",
    );

    // Without metadata, load_safetensors cannot know the architecture.
    write_raw(&path, &good, None);
    let err = load_safetensors(&path).unwrap_err().to_string();
    assert!(err.contains("depthlab.config"), "{err}");

    // Metadata promising a different architecture than the tensors hold.
    let cfg = MlpConfig::new(3, vec![5], 2);
    let meta = HashMap::from([(
        "depthlab.config".to_string(),
        serde_json::to_string(&cfg).unwrap(),
    )]);
    write_raw(&path, &good, Some(meta));
    match load_safetensors(&path) {
        Err(NnError::Tensor { tensor, reason }) => {
            assert_eq!(tensor, "0.weight");
            assert!(
                reason.contains("[5, 3]") && reason.contains("[4, 3]"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    let err = load_safetensors(temp_path("does-not-exist.safetensors")).unwrap_err();
    assert!(matches!(err, NnError::Io { .. }), "{err}");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(matches!(
        load_safetensors(&path),
        Err(NnError::Safetensors { .. })
    ));
}

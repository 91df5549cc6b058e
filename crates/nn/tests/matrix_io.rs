//! Plain matrices as safetensors (`save_matrices`, `load_matrix`): exact round trips in each
//! precision, a file other tools can read, and errors naming the tensor and the file.

use std::path::PathBuf;

use depthlab_nn::{Matrix, NnError, load_matrix, save_matrices};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("depthlab-nn-matrix-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Values whose every bit matters: subnormals, signed zeros, infinities, a NaN payload.
fn awkward<T: depthlab_nn::Float>(rows: usize, cols: usize) -> Matrix<T> {
    let specials = [
        f64::MIN_POSITIVE / 8.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1.0 / 3.0,
        -7.25e-3,
    ];
    Matrix::from_fn(rows, cols, |i, j| {
        T::from_f64(specials[(i * cols + j) % specials.len()] * (1.0 + i as f64))
    })
}

fn bits<T: depthlab_nn::Float>(m: &Matrix<T>) -> Vec<u8> {
    let mut out = Vec::new();
    m.as_slice().iter().for_each(|v| v.write_le(&mut out));
    out
}

fn expect_tensor_error<T: std::fmt::Debug>(
    result: Result<T, NnError>,
    tensor: &str,
    words: &[&str],
) {
    match result {
        Err(NnError::Tensor { tensor: t, reason }) => {
            assert_eq!(t, tensor, "{reason}");
            for w in words {
                assert!(reason.contains(w), "{reason:?} lacks {w:?}");
            }
        }
        other => panic!("expected an error about tensor {tensor:?}, got {other:?}"),
    }
}

#[test]
fn round_trips_keep_every_bit_in_both_precisions() {
    let path = temp_path("both.safetensors");
    let x32 = awkward::<f32>(17, 5);
    let empty = Matrix::<f32>::zeros(0, 3);
    save_matrices(&path, &[("x", &x32), ("empty", &empty)]).unwrap();
    assert_eq!(bits(&load_matrix::<f32>(&path, "x").unwrap()), bits(&x32));
    let e = load_matrix::<f32>(&path, "empty").unwrap();
    assert_eq!((e.rows(), e.cols()), (0, 3));

    let x64 = awkward::<f64>(3, 11);
    save_matrices(&path, &[("y", &x64)]).unwrap();
    assert_eq!(bits(&load_matrix::<f64>(&path, "y").unwrap()), bits(&x64));
    // The second save replaced the file: the first one's tensors are gone.
    expect_tensor_error(load_matrix::<f32>(&path, "x"), "x", &["missing"]);
}

#[test]
fn the_file_is_plain_safetensors_with_row_major_2d_tensors() {
    let path = temp_path("plain.safetensors");
    let a = Matrix::from_fn(2, 3, |i, j| (10 * i + j) as f64);
    save_matrices(&path, &[("a", &a)]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor("a").unwrap();
    assert_eq!(view.dtype(), Dtype::F64);
    assert_eq!(view.shape(), [2, 3]);
    let values: Vec<f64> = view
        .data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values, [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    // Saving the same matrices again gives the same bytes.
    save_matrices(&path, &[("a", &a)]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn loading_converts_nothing_and_names_what_is_wrong() {
    let path = temp_path("wrong.safetensors");
    let a = Matrix::from_fn(2, 2, |i, j| (i + j) as f64);
    save_matrices(&path, &[("a", &a)]).unwrap();
    // Another dtype: no silent rounding or widening.
    expect_tensor_error(load_matrix::<f32>(&path, "a"), "a", &["F64", "F32"]);
    expect_tensor_error(load_matrix::<f64>(&path, "b"), "b", &["missing", "wrong"]);

    // A tensor that is not 2-D.
    let data = vec![0u8; 4 * 6];
    let views = [
        ("flat", TensorView::new(Dtype::F32, vec![6], &data).unwrap()),
        (
            "cube",
            TensorView::new(Dtype::F32, vec![1, 2, 3], &data).unwrap(),
        ),
    ];
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    expect_tensor_error(load_matrix::<f32>(&path, "flat"), "flat", &["[6]", "2-D"]);
    expect_tensor_error(
        load_matrix::<f32>(&path, "cube"),
        "cube",
        &["[1, 2, 3]", "2-D"],
    );

    // Not a safetensors file, and no file at all.
    std::fs::write(&path, b"not a safetensors file").unwrap();
    match load_matrix::<f32>(&path, "a") {
        Err(NnError::Safetensors { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a safetensors error, got {other:?}"),
    }
    let missing = temp_path("absent.safetensors");
    match load_matrix::<f32>(&missing, "a") {
        Err(NnError::Io { path: p, .. }) => assert_eq!(p, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn bad_names_are_refused_before_anything_is_written() {
    let path = temp_path("names.safetensors");
    let a = Matrix::<f32>::zeros(1, 1);
    save_matrices(&path, &[("keep", &a)]).unwrap();
    let before = std::fs::read(&path).unwrap();
    expect_tensor_error(
        save_matrices(&path, &[("x", &a), ("y", &a), ("x", &a)]),
        "x",
        &["twice"],
    );
    expect_tensor_error(save_matrices(&path, &[("", &a)]), "", &["empty"]);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

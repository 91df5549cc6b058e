//! Saving and loading models as safetensors (placeholder, filled in next).
use std::path::Path;

use crate::error::NnError;
use crate::float::Float;
use crate::mlp::Mlp;

/// Writes `model` to `path`.
///
/// # Errors
/// I/O failures.
pub fn save_safetensors<T: Float>(_model: &Mlp<T>, path: impl AsRef<Path>) -> Result<(), NnError> {
    Err(NnError::Io {
        path: path.as_ref().to_path_buf(),
        source: std::io::Error::other("not implemented yet"),
    })
}

/// Reads an `f32` model from `path`.
///
/// # Errors
/// I/O failures or mismatched tensors.
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Mlp<f32>, NnError> {
    load_safetensors_as(path)
}

/// Reads a model of any float type from `path`.
///
/// # Errors
/// I/O failures or mismatched tensors.
pub fn load_safetensors_as<T: Float>(path: impl AsRef<Path>) -> Result<Mlp<T>, NnError> {
    Err(NnError::Io {
        path: path.as_ref().to_path_buf(),
        source: std::io::Error::other("not implemented yet"),
    })
}

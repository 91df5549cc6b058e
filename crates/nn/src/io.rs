//! Saving and loading models as safetensors, with PyTorch `state_dict` names.
//!
//! An [`Mlp`] of depth `d` corresponds to PyTorch's
//! `nn.Sequential(Linear, act, Linear, act, …, Linear)`: Linear layer `l` sits at module index
//! `2l`, so its tensors are `"{2l}.weight"` (out × in, PyTorch's layout) and `"{2l}.bias"`
//! (out). The architecture goes in the header's `__metadata__` as JSON under
//! `"depthlab.config"` (an [`MlpConfig`]), next to `"format": "pt"` and a human-readable
//! `"depthlab.modules"` line. In PyTorch:
//! `model.load_state_dict(safetensors.torch.load_file(path))` on the matching `Sequential`.
//!
//! Plain matrices (an input batch, a model's predictions) travel the same way:
//! [`save_matrices`] writes named 2-D tensors, [`load_matrix`] reads one back, and
//! `safetensors.torch.load_file` or `safetensors.numpy.load_file` opens them on the other side.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::NnError;
use crate::float::Float;
use crate::linear::Linear;
use crate::matrix::Matrix;
use crate::mlp::{Mlp, MlpConfig};

/// Metadata key holding the architecture as JSON.
pub const CONFIG_KEY: &str = "depthlab.config";
/// Metadata key holding the PyTorch module list, for people reading the header.
pub const MODULES_KEY: &str = "depthlab.modules";

/// `state_dict` name of Linear layer `l`'s weight.
fn weight_name(l: usize) -> String {
    format!("{}.weight", 2 * l)
}

/// `state_dict` name of Linear layer `l`'s bias.
fn bias_name(l: usize) -> String {
    format!("{}.bias", 2 * l)
}

/// The PyTorch modules of the equivalent `nn.Sequential`, in order.
fn torch_modules(cfg: &MlpConfig) -> String {
    let dims = cfg.layer_dims();
    let mut parts = Vec::with_capacity(2 * dims.len());
    for (l, (i, o)) in dims.iter().enumerate() {
        if l > 0 {
            parts.push(cfg.activation.torch_module());
        }
        parts.push(format!(
            "Linear({i}, {o}, bias={})",
            if cfg.bias { "True" } else { "False" }
        ));
    }
    format!("Sequential({})", parts.join(", "))
}

fn to_bytes<T: Float>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * T::BYTES);
    values.iter().for_each(|v| v.write_le(&mut out));
    out
}

fn dtype_of<T: Float>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// Writes `model` to `path` atomically (a temporary file in the same folder, then rename),
/// in the model's own float type.
///
/// # Errors
/// [`NnError::Io`] when the file cannot be written; [`NnError::Safetensors`] if serialising
/// fails.
pub fn save_safetensors<T: Float>(model: &Mlp<T>, path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    let cfg = model.config();
    let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in model.layers().iter().enumerate() {
        let w = layer.weight();
        blobs.push((
            weight_name(l),
            vec![w.rows(), w.cols()],
            to_bytes(w.as_slice()),
        ));
        if let Some(b) = layer.bias() {
            blobs.push((bias_name(l), vec![b.len()], to_bytes(b)));
        }
    }
    let config_json = serde_json::to_string(cfg).map_err(|e| NnError::Metadata {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (CONFIG_KEY.to_string(), config_json),
        (MODULES_KEY.to_string(), torch_modules(cfg)),
    ]);
    write_tensors::<T>(path, &blobs, metadata)
}

/// Serialises `tensors` (name, shape, little-endian bytes in `T`'s dtype) with `metadata`,
/// header sorted, and writes the file atomically: the one way every saver here writes.
fn write_tensors<T: Float>(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    metadata: HashMap<String, String>,
) -> Result<(), NnError> {
    let st_err = |e: safetensors::SafeTensorError| st_error(path, &e);
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(dtype_of::<T>(), shape.clone(), bytes).map(|v| (name.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(st_err)?;
    let mut bytes = safetensors::serialize(views, Some(metadata)).map_err(st_err)?;
    sort_header(&mut bytes);
    write_atomically(path, &bytes)
}

/// Rewrites a serialised file's JSON header with its keys sorted, in place.
///
/// `safetensors` writes the `__metadata__` entries in `HashMap` order, which changes from one
/// process to the next, so two saves of the same weights would differ byte for byte.
/// `serde_json`'s maps are sorted, and the same entries in another order take exactly the same
/// bytes, so the header keeps its length (and its space padding) and every data offset holds.
fn sort_header(bytes: &mut [u8]) {
    let Some((len, rest)) = bytes.split_first_chunk_mut::<8>() else {
        return;
    };
    let Some(header) = usize::try_from(u64::from_le_bytes(*len))
        .ok()
        .and_then(|n| rest.get_mut(..n))
    else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return;
    };
    if let Ok(sorted) = serde_json::to_vec(&value)
        && sorted.len() <= header.len()
    {
        let (json, padding) = header.split_at_mut(sorted.len());
        json.copy_from_slice(&sorted);
        padding.fill(b' ');
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| NnError::Io { path: p, source }
    };
    let file_name = path.file_name().ok_or_else(|| NnError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        // Best effort: a failed save must not leave a stray temporary behind.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads an `f32` model (architecture from the file's metadata) from `path`.
///
/// # Errors
/// As [`load_safetensors_as`].
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Mlp<f32>, NnError> {
    load_safetensors_as(path)
}

/// Reads a model of any float type from `path`; stored `F32`/`F64` tensors are converted.
///
/// Every tensor the metadata implies is checked against the file before the model is
/// allocated, so metadata promising a huge model over a small file is an error, not an
/// out-of-memory abort.
///
/// # Errors
/// [`NnError::Io`] when unreadable, [`NnError::Safetensors`] for a malformed container,
/// [`NnError::Metadata`] when the architecture entry is missing or invalid, an error from
/// [`MlpConfig::validate`] for an impossible architecture, and [`NnError::Tensor`] naming a
/// tensor that is missing, unexpected, or of the wrong shape or dtype.
pub fn load_safetensors_as<T: Float>(path: impl AsRef<Path>) -> Result<Mlp<T>, NnError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let st = deserialize(path, &bytes)?;
    // `SafeTensors` keeps its parsed header private, so the metadata comes from a second read.
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| st_error(path, &e))?;
    let meta_err = |reason: String| NnError::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CONFIG_KEY))
        .ok_or_else(|| meta_err(format!("no {CONFIG_KEY:?} entry in __metadata__")))?;
    let cfg: MlpConfig =
        serde_json::from_str(json).map_err(|e| meta_err(format!("{CONFIG_KEY}: {e}")))?;
    // Tensors first: comparing shapes needs no arithmetic on the widths, and an error naming
    // the tensor says more about a bad file than one about an impossible layer size. The
    // layers are walked lazily, so metadata listing millions of layers over a file of a few
    // tensors fails at the first missing one instead of allocating per promised layer.
    let shapes = cfg.dims().map(|(i, o)| (o, i));
    let tensors = check_tensors(&st, cfg.depth() + 1, cfg.bias, shapes, || {
        arch_summary(&cfg)
    })?;
    cfg.validate()?;
    // Each buffer now holds exactly what a validated tensor of the file holds, so the
    // allocations are bounded by the file's own size.
    let layers = tensors
        .iter()
        .zip(cfg.dims())
        .map(|(t, (i, o))| {
            let weight = Matrix::new(o, i, convert(&t.weight))?;
            Linear::new(weight, t.bias.as_ref().map(convert))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Mlp::from_layers(cfg, layers)
}

/// Loads the tensors of a safetensors file (for example one written by PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), path)`) into an existing model, whose
/// layers decide which names and shapes are expected; metadata is ignored.
///
/// All or nothing: every tensor is checked before the first value is copied, so on error
/// the model is unchanged.
///
/// # Errors
/// As [`load_safetensors_as`], except that metadata is not required.
pub fn load_safetensors_into<T: Float>(
    model: &mut Mlp<T>,
    path: impl AsRef<Path>,
) -> Result<(), NnError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let st = deserialize(path, &bytes)?;
    let layers = model.layers();
    let shapes = layers.iter().map(|l| (l.out_features(), l.in_features()));
    let bias = model.config().bias;
    let tensors = check_tensors(&st, layers.len(), bias, shapes, || {
        arch_summary(model.config())
    })?;
    for (layer, t) in model.layers_mut().iter_mut().zip(&tensors) {
        copy_into(&t.weight, layer.weight_mut());
        if let (Some(dst), Some(src)) = (layer.bias_mut(), &t.bias) {
            copy_into(src, dst);
        }
    }
    Ok(())
}

/// Writes `tensors` (each a name and a matrix, stored as a `rows × cols` tensor in `T`'s own
/// dtype) to `path` as one safetensors file, atomically, with `"format": "pt"` in its metadata.
///
/// # Errors
/// [`NnError::Tensor`] for an empty name or one given twice; [`NnError::Io`] when the file
/// cannot be written; [`NnError::Safetensors`] if serialising fails.
pub fn save_matrices<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(&str, &Matrix<T>)],
) -> Result<(), NnError> {
    let path = path.as_ref();
    let mut seen = std::collections::HashSet::new();
    for &(name, _) in tensors {
        let reason = if name.is_empty() {
            "an empty name cannot be stored"
        } else if !seen.insert(name) {
            "given twice"
        } else {
            continue;
        };
        return Err(NnError::Tensor {
            tensor: name.to_string(),
            reason: reason.to_string(),
        });
    }
    let blobs: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|&(name, m)| {
            (
                name.to_string(),
                vec![m.rows(), m.cols()],
                to_bytes(m.as_slice()),
            )
        })
        .collect();
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_tensors::<T>(path, &blobs, metadata)
}

/// Reads the 2-D tensor `name` of the safetensors file at `path` into a matrix.
///
/// The tensor must be stored in `T`'s own dtype: a matrix is data, not parameters, and is
/// neither widened nor rounded on the way in (load an `F64` tensor as `Matrix<f64>`).
///
/// # Errors
/// [`NnError::Io`] when the file cannot be read; [`NnError::Safetensors`] when it is not a
/// safetensors file; [`NnError::Tensor`] when `name` is missing, is not 2-D, or has another
/// dtype.
pub fn load_matrix<T: Float>(path: impl AsRef<Path>, name: &str) -> Result<Matrix<T>, NnError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let st = deserialize(path, &bytes)?;
    let tensor_err = |reason: String| NnError::Tensor {
        tensor: name.to_string(),
        reason: format!("{reason} (in {})", path.display()),
    };
    let view = st
        .tensor(name)
        .map_err(|_| tensor_err("missing".to_string()))?;
    if view.dtype() != dtype_of::<T>() {
        return Err(tensor_err(format!(
            "dtype {:?}, expected {:?}",
            view.dtype(),
            dtype_of::<T>()
        )));
    }
    let &[rows, cols] = view.shape() else {
        return Err(tensor_err(format!("shape {:?} is not 2-D", view.shape())));
    };
    let data = view.data().chunks_exact(T::BYTES).map(T::read_le).collect();
    Matrix::new(rows, cols, data)
}

fn read(path: &Path) -> Result<Vec<u8>, NnError> {
    fs::read(path).map_err(|source| NnError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn st_error(path: &Path, e: &safetensors::SafeTensorError) -> NnError {
    NnError::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn deserialize<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>, NnError> {
    SafeTensors::deserialize(bytes).map_err(|e| st_error(path, &e))
}

/// One Linear layer's tensors in a file, checked against the shapes they must have.
struct LayerTensors<'a> {
    weight: TensorView<'a>,
    bias: Option<TensorView<'a>>,
}

/// Checks the file holds exactly the tensors of `layers` Linear layers whose weights are
/// shaped `(out, in)` as `shapes` yields them (with a bias each when `bias`), with those shapes
/// and a float dtype, and returns them in layer order. `arch` describes the architecture for
/// an unexpected tensor's message.
///
/// Nothing here grows with `layers` beyond the tensors actually found: names are matched by
/// parsing them, and the walk over `shapes` stops at the first tensor that is missing, which
/// comes within the file's own tensor count.
fn check_tensors<'a>(
    st: &SafeTensors<'a>,
    layers: usize,
    bias: bool,
    shapes: impl Iterator<Item = (usize, usize)>,
    arch: impl Fn() -> String,
) -> Result<Vec<LayerTensors<'a>>, NnError> {
    let mut names = st.names();
    names.sort_unstable();
    if let Some(extra) = names.iter().find(|n| !is_expected(n, layers, bias)) {
        return Err(NnError::Tensor {
            tensor: extra.to_string(),
            reason: format!("not part of the architecture {}", arch()),
        });
    }
    shapes
        .enumerate()
        .map(|(l, (o, i))| {
            Ok(LayerTensors {
                weight: check_tensor(st, &weight_name(l), &[o, i])?,
                bias: if bias {
                    Some(check_tensor(st, &bias_name(l), &[o])?)
                } else {
                    None
                },
            })
        })
        .collect()
}

/// Whether `name` is one of [`weight_name`]/[`bias_name`] for a layer below `layers`, in the
/// exact spelling they produce (no sign, no leading zero).
fn is_expected(name: &str, layers: usize, bias: bool) -> bool {
    let Some((index, kind)) = name.split_once('.') else {
        return false;
    };
    // Only the spelling `weight_name` gives reads back: "+2", "02" parse but are not it.
    let Some(module) = index
        .parse::<usize>()
        .ok()
        .filter(|m| m.to_string() == index)
    else {
        return false;
    };
    module % 2 == 0 && module / 2 < layers && (kind == "weight" || (bias && kind == "bias"))
}

/// [`torch_modules`] for an error message, cut short for a very deep architecture so that
/// describing metadata that promises millions of layers does not take gigabytes.
fn arch_summary(cfg: &MlpConfig) -> String {
    const MAX_LISTED: usize = 32;
    if cfg.depth() < MAX_LISTED {
        return torch_modules(cfg);
    }
    format!(
        "Sequential of {} Linear layers ({} inputs, {} outputs, {}, bias={})",
        cfg.depth() + 1,
        cfg.input,
        cfg.output,
        cfg.activation.torch_module(),
        if cfg.bias { "True" } else { "False" }
    )
}

/// The tensor `name`, if present with exactly `shape` and dtype `F32` or `F64`.
fn check_tensor<'a>(
    st: &SafeTensors<'a>,
    name: &str,
    shape: &[usize],
) -> Result<TensorView<'a>, NnError> {
    let tensor_err = |reason: String| NnError::Tensor {
        tensor: name.to_string(),
        reason,
    };
    let view = st
        .tensor(name)
        .map_err(|_| tensor_err(format!("missing (expected shape {shape:?})")))?;
    if view.shape() != shape {
        return Err(tensor_err(format!(
            "expected shape {shape:?}, found {:?}",
            view.shape()
        )));
    }
    if !matches!(view.dtype(), Dtype::F32 | Dtype::F64) {
        return Err(tensor_err(format!(
            "dtype {:?} is not supported (F32 or F64 only)",
            view.dtype()
        )));
    }
    Ok(view)
}

/// The values of a tensor [`check_tensor`] accepted, converted to `T`.
fn values<'a, T: Float>(view: &TensorView<'a>) -> impl Iterator<Item = T> + 'a {
    let data = view.data();
    // The dtype was checked to be F32 or F64, and safetensors checked the byte length.
    let (f64s, f32s) = if view.dtype() == Dtype::F64 {
        (data, &[][..])
    } else {
        (&[][..], data)
    };
    let wide = f64s.chunks_exact(8).map(|c| T::from_f64(f64::read_le(c)));
    let narrow = f32s
        .chunks_exact(4)
        .map(|c| T::from_f64(f64::from(f32::read_le(c))));
    wide.chain(narrow)
}

/// [`values`] into a new buffer.
fn convert<T: Float>(view: &TensorView<'_>) -> Vec<T> {
    values(view).collect()
}

/// [`values`] into a buffer of the tensor's shape.
fn copy_into<T: Float>(view: &TensorView<'_>, dst: &mut [T]) {
    dst.iter_mut().zip(values(view)).for_each(|(d, v)| *d = v);
}

//! Errors returned by depthlab-nn instead of panicking on user input.

use std::path::PathBuf;

use depthlab_gemm::GemmError;

/// Everything that can go wrong when building, training, saving or loading a network.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A matrix was given a buffer whose length is not `rows · cols`.
    #[error(
        "matrix data has {len} elements but a {rows}x{cols} matrix needs {}",
        element_count(*rows, *cols)
    )]
    DataLength {
        /// Requested rows.
        rows: usize,
        /// Requested columns.
        cols: usize,
        /// Length of the buffer that was given.
        len: usize,
    },
    /// Two shapes that must agree do not; both are named.
    #[error("shape mismatch: {what}: expected {expected}, found {found}")]
    Shape {
        /// What was being compared (for example "x_train columns vs model input").
        what: String,
        /// The shape the model or operation needs.
        expected: String,
        /// The shape that was given.
        found: String,
    },
    /// A layer width of zero in a network configuration.
    #[error("{layer} has width 0; every layer needs at least one unit")]
    ZeroWidth {
        /// Which layer ("input", "hidden layer 2", "output").
        layer: String,
    },
    /// An activation name that is not recognised.
    #[error("unknown activation {name:?}; valid names: {valid}")]
    UnknownActivation {
        /// The name as given.
        name: String,
        /// Every accepted spelling.
        valid: String,
    },
    /// A named choice (init, loss, optimizer, schedule) that is not recognised.
    #[error("unknown {kind} {name:?}; valid names: {valid}")]
    UnknownName {
        /// What kind of name ("init", "loss", ...).
        kind: &'static str,
        /// The name as given.
        name: String,
        /// Every accepted spelling.
        valid: String,
    },
    /// A numeric setting outside its valid range.
    #[error("invalid {field} = {value}: {reason}")]
    InvalidValue {
        /// The setting ("lr", "momentum", "batch_size", "leaky_relu alpha", ...).
        field: String,
        /// The offending value, as text.
        value: String,
        /// What the value must satisfy.
        reason: String,
    },
    /// A class label outside `0..n_classes`.
    #[error("{set}: label {label} at row {row} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// Which target set ("y_train", "y_test", "batch").
        set: String,
        /// Row of the offending label.
        row: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// Targets of a kind the loss cannot use.
    #[error("loss {loss} cannot use these targets: {reason}")]
    IncompatibleTargets {
        /// The loss, by name.
        loss: String,
        /// Why not.
        reason: String,
    },
    /// A training set with no rows.
    #[error("{what} is empty")]
    Empty {
        /// Which set.
        what: String,
    },
    /// The matrix kernel refused a product (an internal shape bug if it ever happens).
    #[error(transparent)]
    Gemm(#[from] GemmError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The safetensors container itself is malformed.
    #[error("{}: invalid safetensors file: {reason}", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The architecture metadata in a model file is missing or malformed.
    #[error("{}: bad model metadata: {reason}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A tensor in a model file is missing, unexpected, or has the wrong shape or dtype.
    #[error("tensor {tensor:?}: {reason}")]
    Tensor {
        /// The tensor's name (`"2.weight"`).
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `rows · cols` exactly: in `u128` the product of two `usize`s cannot overflow, so a
/// message about an impossible shape still prints.
fn element_count(rows: usize, cols: usize) -> u128 {
    // usize is at most 64 bits on every target Rust supports, so both casts are lossless.
    (rows as u128) * (cols as u128)
}

/// Describes a `rows × cols` shape for error messages.
pub(crate) fn shape2(rows: usize, cols: usize) -> String {
    format!("{rows}x{cols}")
}

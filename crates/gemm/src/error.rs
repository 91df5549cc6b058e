//! Errors the safe API returns instead of panicking.

use std::fmt;

/// Which operand of `C ← α·A·B + β·C` an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// The left factor `A` (m × k).
    A,
    /// The right factor `B` (k × n).
    B,
    /// The output `C` (m × n).
    C,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::A => "A",
            Operand::B => "B",
            Operand::C => "C",
        })
    }
}

/// Everything that can go wrong when describing or multiplying matrices through the safe API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GemmError {
    /// The shapes do not fit `C (m×n) = A (m×k)·B (k×n)`: `operand` is the one that disagrees
    /// (B when its rows differ from A's columns, else C), and all three shapes are given.
    #[error(
        "shape mismatch: {} (A is {}x{}, B is {}x{}, C is {}x{}; need A: m x k, B: k x n, C: m x n)",
        mismatch(*operand, *a, *b, *c), a.0, a.1, b.0, b.1, c.0, c.1
    )]
    ShapeMismatch {
        /// The operand whose shape disagrees with the others.
        operand: Operand,
        /// Shape of `A` as (rows, cols).
        a: (usize, usize),
        /// Shape of `B` as (rows, cols).
        b: (usize, usize),
        /// Shape of `C` as (rows, cols).
        c: (usize, usize),
    },
    /// A view's shape and strides reach outside its slice.
    #[error(
        "{what}: a {rows}x{cols} view with strides ({row_stride}, {col_stride}) from offset {offset} \
         needs elements {lowest}..={highest} but the slice has {len}"
    )]
    OutOfBounds {
        /// The view being described (operand name or "matrix view").
        what: String,
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Row stride in elements.
        row_stride: isize,
        /// Column stride in elements.
        col_stride: isize,
        /// Index of element (0, 0) in the slice.
        offset: usize,
        /// Lowest slice index the view touches (may be negative).
        lowest: i128,
        /// Highest slice index the view touches.
        highest: i128,
        /// Length of the slice.
        len: usize,
    },
    /// A mutable view whose strides make two elements share one memory slot.
    #[error(
        "{what}: strides ({row_stride}, {col_stride}) make elements of a {rows}x{cols} output alias each other"
    )]
    AliasingOutput {
        /// The view being described.
        what: String,
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Row stride in elements.
        row_stride: isize,
        /// Column stride in elements.
        col_stride: isize,
    },
    /// An [`Epilogue`](crate::Epilogue) operand does not fit `C`: a bias with the wrong number
    /// of values, or a mask of another shape.
    #[error("epilogue {what} has {got} but C is {rows}x{cols}, so it needs {need}")]
    EpilogueMismatch {
        /// The operand: "bias" or "relu mask".
        what: &'static str,
        /// What it has (values, or its shape).
        got: String,
        /// What `C` asks of it.
        need: String,
        /// Rows of `C`.
        rows: usize,
        /// Columns of `C`.
        cols: usize,
    },
    /// An ISA was asked for (by `DEPTHLAB_GEMM_ISA`, by name, or by a caller) that this build
    /// or CPU cannot run.
    #[error("ISA {value:?} (from {origin}): {reason}")]
    UnsupportedIsa {
        /// The value that was asked for.
        value: String,
        /// Who asked: the environment variable, a parsed name, or the function called.
        origin: &'static str,
        /// Why it cannot be used.
        reason: String,
    },
}

impl GemmError {
    /// A [`GemmError::ShapeMismatch`] naming the operand at fault, unless the shapes fit.
    pub(crate) fn check_shapes(
        a: (usize, usize),
        b: (usize, usize),
        c: (usize, usize),
    ) -> Result<(), GemmError> {
        // A fixes m and k; B must then have k rows, and C must be the m × n that A·B makes.
        let operand = if a.1 != b.0 {
            Operand::B
        } else if (a.0, b.1) != c {
            Operand::C
        } else {
            return Ok(());
        };
        Err(GemmError::ShapeMismatch { operand, a, b, c })
    }
}

/// The one-line reason of a shape mismatch, naming the operand at fault.
fn mismatch(operand: Operand, a: (usize, usize), b: (usize, usize), c: (usize, usize)) -> String {
    match operand {
        Operand::B => format!("B has {} rows but A has {} columns", b.0, a.1),
        _ => format!("{operand} is {}x{} but A·B is {}x{}", c.0, c.1, a.0, b.1),
    }
}

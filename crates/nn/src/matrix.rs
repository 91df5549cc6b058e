//! A dense row-major matrix (batch × features) that hands out depthlab-gemm views.

use depthlab_gemm::{MatMut, MatRef};

use crate::aligned::AlignedVec;
use crate::error::NnError;
use crate::float::Float;

/// A dense row-major `rows × cols` matrix: row `i` is one sample, column `j` one feature.
/// Its elements start on a cache line, where depthlab-gemm reads and writes them fastest.
///
/// ```
/// use depthlab_nn::Matrix;
/// let m = Matrix::new(2, 3, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
/// assert_eq!(m.get(0, 2), Some(3.0));
/// # Ok::<(), depthlab_nn::NnError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T = f32> {
    rows: usize,
    cols: usize,
    data: AlignedVec<T>,
}

impl<T: Float> Matrix<T> {
    /// Wraps a row-major buffer (its values move up onto a cache line, within the same
    /// allocation when it has room for the few elements that takes).
    ///
    /// # Errors
    /// [`NnError::DataLength`] when `data.len() != rows · cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self, NnError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(NnError::DataLength {
                rows,
                cols,
                len: data.len(),
            });
        }
        Ok(Self {
            rows,
            cols,
            data: AlignedVec::from_vec(data),
        })
    }

    /// A `rows × cols` matrix of zeros.
    ///
    /// # Panics
    /// When `rows · cols` overflows `usize` or the buffer would exceed `isize::MAX` bytes,
    /// like `vec!` (a wrapped product would break the `rows · cols` invariant instead).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: AlignedVec::filled(element_count(rows, cols), T::ZERO),
        }
    }

    /// A matrix whose element `(i, j)` is `f(i, j)`.
    ///
    /// # Panics
    /// As [`Matrix::zeros`].
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = AlignedVec::with_capacity(element_count(rows, cols), T::ZERO);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Self { rows, cols, data }
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The row-major elements.
    pub fn as_slice(&self) -> &[T] {
        self.data.as_slice()
    }

    /// The row-major elements, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data.as_mut_slice()
    }

    /// The row-major buffer, by value.
    pub fn into_vec(self) -> Vec<T> {
        self.data.into_vec()
    }

    /// Row `i`.
    ///
    /// # Panics
    /// When `i >= rows()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[T] {
        &self.as_slice()[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    ///
    /// # Panics
    /// When `i >= rows()`.
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        let cols = self.cols;
        &mut self.as_mut_slice()[i * cols..(i + 1) * cols]
    }

    /// Element `(i, j)`, or `None` outside the shape.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols).then(|| self.as_slice()[i * self.cols + j])
    }

    /// A read-only depthlab-gemm view (row stride `cols`, column stride 1).
    pub fn view(&self) -> MatRef<'_, T> {
        // The buffer always holds exactly rows·cols elements, so the view is in bounds.
        MatRef::row_major(self.data.as_slice(), self.rows, self.cols)
            .expect("Matrix invariant: data.len() == rows * cols")
    }

    /// A mutable depthlab-gemm view.
    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::row_major(self.data.as_mut_slice(), self.rows, self.cols)
            .expect("Matrix invariant: data.len() == rows * cols")
    }

    /// The same values converted to another float type.
    pub fn cast<U: Float>(&self) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: {
                let mut data = AlignedVec::with_capacity(self.data.len(), U::ZERO);
                for v in self.as_slice() {
                    data.push(U::from_f64(v.to_f64()));
                }
                data
            },
        }
    }

    /// Preallocates room for `rows` rows so later [`Matrix::set_rows`] calls up to that count
    /// never allocate.
    ///
    /// # Panics
    /// As [`Matrix::zeros`].
    pub(crate) fn with_row_capacity(max_rows: usize, cols: usize) -> Self {
        Self::zeros(max_rows, cols)
    }

    /// [`Matrix::with_row_capacity`] that reports a size beyond `isize::MAX` bytes, or one the
    /// allocator refuses, as `None` instead of panicking or aborting.
    pub(crate) fn try_with_row_capacity(max_rows: usize, cols: usize) -> Option<Self> {
        let data = AlignedVec::try_filled(max_rows.checked_mul(cols)?, T::ZERO)?;
        Some(Self {
            rows: max_rows,
            cols,
            data,
        })
    }

    /// Changes the row count within the reserved capacity (a partial last batch).
    pub(crate) fn set_rows(&mut self, rows: usize) {
        self.data.resize(rows * self.cols, T::ZERO);
        self.rows = rows;
    }
}

/// `rows · cols`, panicking with a clear message rather than wrapping in release builds.
fn element_count(rows: usize, cols: usize) -> usize {
    rows.checked_mul(cols)
        .unwrap_or_else(|| panic!("a {rows}x{cols} matrix has more elements than usize holds"))
}

/// Whether `elements` values of `bytes` each fit in one allocation (`isize::MAX` bytes).
pub(crate) fn fits_in_memory(elements: usize, bytes: usize) -> bool {
    elements
        .checked_mul(bytes)
        .is_some_and(|b| isize::try_from(b).is_ok())
}

/// `len` copies of `value`, or `None` when they would exceed `isize::MAX` bytes or the
/// allocator refuses them: sizes that come from user input must not abort the process.
pub(crate) fn try_filled<T: Clone>(len: usize, value: T) -> Option<Vec<T>> {
    let mut data = Vec::new();
    data.try_reserve_exact(len).ok()?;
    data.resize(len, value);
    Some(data)
}

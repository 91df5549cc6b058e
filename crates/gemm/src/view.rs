//! Borrowed matrix views: a slice plus shape and strides, checked once when built.
//!
//! A view never owns memory. Element `(i, j)` lives at `data[offset + i·row_stride + j·col_stride]`;
//! strides may be negative or (for read-only views) zero, so a transpose or a reversed view
//! is a change of numbers, not a copy.

use crate::Element;
use crate::error::GemmError;

/// The lowest and highest slice index touched by a `rows × cols` layout (non-empty), or `None`
/// when the reach does not even fit in 128 bits (then it is certainly out of bounds).
fn index_range(
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
) -> Option<(i128, i128)> {
    let base = offset as i128;
    let last_r = (rows as i128 - 1).checked_mul(rs as i128)?;
    let last_c = (cols as i128 - 1).checked_mul(cs as i128)?;
    let lo = base
        .checked_add(last_r.min(0))?
        .checked_add(last_c.min(0))?;
    let hi = base
        .checked_add(last_r.max(0))?
        .checked_add(last_c.max(0))?;
    Some((lo, hi))
}

fn check_bounds(
    what: &str,
    len: usize,
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
) -> Result<(), GemmError> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let (lowest, highest) =
        index_range(offset, rows, cols, rs, cs).unwrap_or((i128::MIN, i128::MAX));
    if lowest < 0 || highest >= len as i128 {
        return Err(GemmError::OutOfBounds {
            what: what.to_string(),
            rows,
            cols,
            row_stride: rs,
            col_stride: cs,
            offset,
            lowest,
            highest,
            len,
        });
    }
    Ok(())
}

/// True when no two elements of the layout share a slot. Conservative: accepts every layout in
/// which the larger stride steps over the whole extent of the smaller one (all dense, padded,
/// transposed and reversed layouts), and rejects interleaved exotic ones.
fn is_non_aliasing(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    if rows == 0 || cols == 0 || (rows == 1 && cols == 1) {
        return true;
    }
    if rows <= 1 {
        return cs != 0;
    }
    if cols <= 1 {
        return rs != 0;
    }
    let (small, n_small, big) = if rs.unsigned_abs() <= cs.unsigned_abs() {
        (rs.unsigned_abs(), rows, cs.unsigned_abs())
    } else {
        (cs.unsigned_abs(), cols, rs.unsigned_abs())
    };
    small != 0 && (big as u128) >= (small as u128) * (n_small as u128)
}

/// A read-only strided view of a matrix.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T: Element> MatRef<'a, T> {
    /// A view with explicit strides; element `(0, 0)` is `data[offset]`.
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when some element falls outside `data`.
    pub fn from_parts(
        data: &'a [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, GemmError> {
        check_bounds(
            "matrix view",
            data.len(),
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        Ok(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A view with explicit strides starting at `data[0]`.
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when some element falls outside `data`.
    pub fn new(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, GemmError> {
        Self::from_parts(data, 0, rows, cols, row_stride, col_stride)
    }

    /// A dense row-major view (`row_stride = cols`, `col_stride = 1`).
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when `data` is shorter than `rows · cols`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self, GemmError> {
        Self::new(data, rows, cols, cols as isize, 1)
    }

    /// A dense column-major view (`row_stride = 1`, `col_stride = rows`).
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when `data` is shorter than `rows · cols`.
    pub fn col_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self, GemmError> {
        Self::new(data, rows, cols, 1, rows as isize)
    }

    /// The transpose, by swapping shape and strides (no copy).
    #[must_use]
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in elements from `(i, j)` to `(i + 1, j)`.
    pub fn row_stride(&self) -> isize {
        self.row_stride
    }

    /// Distance in elements from `(i, j)` to `(i, j + 1)`.
    pub fn col_stride(&self) -> isize {
        self.col_stride
    }

    /// Element `(i, j)`, or `None` outside the shape.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols).then(|| self.data[self.index(i, j)])
    }

    fn index(&self, i: usize, j: usize) -> usize {
        (self.offset as isize + i as isize * self.row_stride + j as isize * self.col_stride)
            as usize
    }

    /// Pointer to element `(0, 0)` (possibly one past a slice for empty views).
    pub(crate) fn origin(&self) -> *const T {
        self.data.as_ptr().wrapping_add(self.offset)
    }
}

/// A mutable strided view of a matrix whose elements never alias each other.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T: Element> MatMut<'a, T> {
    /// A mutable view with explicit strides; element `(0, 0)` is `data[offset]`.
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when some element falls outside `data`;
    /// [`GemmError::AliasingOutput`] when two elements would share a slot.
    pub fn from_parts(
        data: &'a mut [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, GemmError> {
        check_bounds(
            "matrix view",
            data.len(),
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        if !is_non_aliasing(rows, cols, row_stride, col_stride) {
            return Err(GemmError::AliasingOutput {
                what: "matrix view".to_string(),
                rows,
                cols,
                row_stride,
                col_stride,
            });
        }
        Ok(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A mutable view with explicit strides starting at `data[0]`.
    ///
    /// # Errors
    /// As [`MatMut::from_parts`].
    pub fn new(
        data: &'a mut [T],
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, GemmError> {
        Self::from_parts(data, 0, rows, cols, row_stride, col_stride)
    }

    /// A dense row-major mutable view.
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when `data` is shorter than `rows · cols`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self, GemmError> {
        Self::new(data, rows, cols, cols as isize, 1)
    }

    /// A dense column-major mutable view.
    ///
    /// # Errors
    /// [`GemmError::OutOfBounds`] when `data` is shorter than `rows · cols`.
    pub fn col_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self, GemmError> {
        Self::new(data, rows, cols, 1, rows as isize)
    }

    /// The transpose, by swapping shape and strides (no copy).
    #[must_use]
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            offset: self.offset,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            offset: self.offset,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in elements from `(i, j)` to `(i + 1, j)`.
    pub fn row_stride(&self) -> isize {
        self.row_stride
    }

    /// Distance in elements from `(i, j)` to `(i, j + 1)`.
    pub fn col_stride(&self) -> isize {
        self.col_stride
    }

    pub(crate) fn origin_mut(&mut self) -> *mut T {
        self.data.as_mut_ptr().wrapping_add(self.offset)
    }
}

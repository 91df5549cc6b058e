//! Element-wise steps applied to `C` as the product writes it: a bias, then a ReLU, then a
//! ReLU's backward mask (what oneDNN calls post-ops and cuBLASLt epilogues). On the widest
//! tile, full with contiguous columns, a layer's two usual combinations (bias then optional
//! ReLU; the mask alone) are applied in registers on the way out (see `tile_body`); any other
//! tile or combination runs [`finish_block`] over its block right after the store, while it
//! is in L1. A layer's forward pass `relu(X·Wᵀ + b)` and its backward `(δ·W) ⊙ [a > 0]` then
//! cost no pass of their own over buffers that have left L1.

use crate::Element;
use crate::error::GemmError;
use crate::view::MatRef;

/// Which way a bias vector runs along `C`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiasAlong {
    /// One value per row: `bias[i]` is added to every element of row `i`.
    Rows,
    /// One value per column: `bias[j]` is added to every element of column `j`.
    Columns,
}

/// What happens to each element `c` of `C` once `α·A·B + β·C` is formed, in this order:
/// `c + bias`, then `relu` (`c` if `c > 0` or NaN, else `0`), then the mask (`c` where the
/// mask's element is `> 0`, else `0`). The default does nothing.
#[derive(Debug, Clone, Copy)]
pub struct Epilogue<'a, T> {
    bias: Option<(&'a [T], BiasAlong)>,
    relu: bool,
    relu_mask: Option<MatRef<'a, T>>,
}

impl<T> Default for Epilogue<'_, T> {
    fn default() -> Self {
        Self {
            bias: None,
            relu: false,
            relu_mask: None,
        }
    }
}

impl<'a, T: Element> Epilogue<'a, T> {
    /// Nothing: the plain product.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bias[i]` to row `i` (`BiasAlong::Rows`, `m` values) or `bias[j]` to column `j`
    /// (`BiasAlong::Columns`, `n` values).
    pub fn bias(mut self, bias: &'a [T], along: BiasAlong) -> Self {
        self.bias = Some((bias, along));
        self
    }

    /// Then `max(c, 0)`, except that a NaN passes through (so divergence stays visible), and
    /// `-0` becomes `+0`.
    pub fn relu(mut self) -> Self {
        self.relu = true;
        self
    }

    /// Then keeps `c` where `mask` (the same shape as `C`) is above zero and writes `0`
    /// elsewhere: the backward pass of a ReLU whose output is `mask`.
    pub fn relu_mask(mut self, mask: MatRef<'a, T>) -> Self {
        self.relu_mask = Some(mask);
        self
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.bias.is_none() && !self.relu && self.relu_mask.is_none()
    }

    /// The pointer form for the driver, after checking every operand against `C`'s shape.
    pub(crate) fn raw(
        &self,
        rows: usize,
        cols: usize,
    ) -> Result<Option<RawEpilogue<T>>, GemmError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mismatch =
            |what: &'static str, got: String, need: String| GemmError::EpilogueMismatch {
                what,
                got,
                need,
                rows,
                cols,
            };
        let (bias, bias_per_row) = match self.bias {
            None => (std::ptr::null(), false),
            Some((b, along)) => {
                let (need, per_row) = match along {
                    BiasAlong::Rows => (rows, true),
                    BiasAlong::Columns => (cols, false),
                };
                if b.len() != need {
                    return Err(mismatch(
                        "bias",
                        format!("{} values", b.len()),
                        format!(
                            "{need} values (one per {})",
                            if per_row { "row" } else { "column" }
                        ),
                    ));
                }
                (b.as_ptr(), per_row)
            }
        };
        let (mask, rsm, csm) = match self.relu_mask {
            None => (std::ptr::null(), 0, 0),
            Some(m) => {
                if (m.rows(), m.cols()) != (rows, cols) {
                    return Err(mismatch(
                        "relu mask",
                        format!("{}x{}", m.rows(), m.cols()),
                        format!("{rows}x{cols}"),
                    ));
                }
                (m.origin(), m.row_stride(), m.col_stride())
            }
        };
        Ok(Some(RawEpilogue {
            bias,
            bias_per_row,
            relu: self.relu,
            mask,
            rsm,
            csm,
        }))
    }
}

/// An [`Epilogue`] as pointers and strides, in the frame of the product the driver runs (which
/// may be the transposed one).
#[doc(hidden)]
#[derive(Debug)]
pub struct RawEpilogue<T> {
    /// The bias's first value, or null for none.
    pub bias: *const T,
    /// `bias[i]` per row (else `bias[j]` per column).
    pub bias_per_row: bool,
    /// Whether the ReLU runs after the bias.
    pub relu: bool,
    /// The mask's element (0, 0), or null for none.
    pub mask: *const T,
    /// The mask's row and column strides.
    pub rsm: isize,
    pub csm: isize,
}

impl<T> Clone for RawEpilogue<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawEpilogue<T> {}

impl<T> RawEpilogue<T> {
    /// The same steps for `Cᵀ`: a bias per row becomes one per column, the mask's strides swap.
    pub(crate) fn transposed(self) -> Self {
        Self {
            bias_per_row: !self.bias_per_row,
            rsm: self.csm,
            csm: self.rsm,
            ..self
        }
    }

    /// The steps for the block of `C` whose element (0, 0) is `C`'s `(i0, j0)`. Absent
    /// operands stay null (an offset null pointer would no longer read as absent).
    pub(crate) fn at(self, i0: usize, j0: usize) -> Self {
        let bias = if self.bias.is_null() {
            self.bias
        } else {
            self.bias
                .wrapping_add(if self.bias_per_row { i0 } else { j0 })
        };
        let mask = if self.mask.is_null() {
            self.mask
        } else {
            self.mask
                .wrapping_offset(i0 as isize * self.rsm + j0 as isize * self.csm)
        };
        Self { bias, mask, ..self }
    }
}

/// Applies `e` (already placed at the block with [`RawEpilogue::at`]) to the `m × n` block of
/// `C` at `c`. Compiled into each ISA's functions, where the unit-stride loops vectorise.
///
/// # Safety
/// The block's elements are readable and writable through `rsc`/`csc` and no other thread
/// touches them; `e`'s bias holds `m` (per row) or `n` (per column) values from its pointer and
/// its mask `m × n` elements through its strides.
#[inline(always)]
pub(crate) unsafe fn finish_block<T: Element>(
    c: *mut T,
    rsc: isize,
    csc: isize,
    m: usize,
    n: usize,
    e: &RawEpilogue<T>,
) {
    // SAFETY: (whole body) every pointer formed below addresses an element of the block, of the
    // bias or of the mask, which the caller vouches for.
    unsafe {
        let bias_rows =
            (!e.bias.is_null() && e.bias_per_row).then(|| std::slice::from_raw_parts(e.bias, m));
        for j in 0..n {
            let cj = c.offset(j as isize * csc);
            let bias_col = (!e.bias.is_null() && !e.bias_per_row).then(|| *e.bias.add(j));
            let mj = e.mask.wrapping_offset(j as isize * e.csm);
            if rsc == 1 {
                // One column, contiguous: a few short passes the compiler vectorises.
                let col = std::slice::from_raw_parts_mut(cj, m);
                if let Some(b) = bias_rows {
                    col.iter_mut().zip(b).for_each(|(x, &b)| *x = *x + b);
                }
                if let Some(b) = bias_col {
                    col.iter_mut().for_each(|x| *x = *x + b);
                }
                if e.relu {
                    col.iter_mut().for_each(|x| *x = relu(*x));
                }
                if !e.mask.is_null() {
                    if e.rsm == 1 {
                        let mask = std::slice::from_raw_parts(mj, m);
                        col.iter_mut()
                            .zip(mask)
                            .for_each(|(x, &a)| *x = masked(*x, a));
                    } else {
                        for (i, x) in col.iter_mut().enumerate() {
                            *x = masked(*x, *mj.offset(i as isize * e.rsm));
                        }
                    }
                }
            } else {
                for i in 0..m {
                    let p = cj.offset(i as isize * rsc);
                    let mut x = *p;
                    if let Some(b) = bias_rows {
                        x = x + b[i];
                    }
                    if let Some(b) = bias_col {
                        x = x + b;
                    }
                    if e.relu {
                        x = relu(x);
                    }
                    if !e.mask.is_null() {
                        x = masked(x, *mj.offset(i as isize * e.rsm));
                    }
                    *p = x;
                }
            }
        }
    }
}

/// `x` above zero (or NaN), else `0`: written as a select so loops vectorise.
#[inline(always)]
fn relu<T: Element>(x: T) -> T {
    if x <= T::ZERO { T::ZERO } else { x }
}

/// `x` where the ReLU output `a` is above zero, else `0`.
#[inline(always)]
fn masked<T: Element>(x: T, a: T) -> T {
    if a > T::ZERO { x } else { T::ZERO }
}

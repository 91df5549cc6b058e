//! Packing: copying a block of `A` or `B` into the panel layout the microkernel streams, in
//! 64-byte-aligned scratch buffers that live per thread and are reused across calls.
//!
//! One routine serves both operands. A block of `outer × kc` elements, element `(o, p)` at
//! `src[o·s_outer + p·s_k]`, becomes `ceil(outer / w)` panels; panel `q` holds, for each
//! `p < kc`, the `w` values `(q·w .. q·w + w, p)` contiguously, zero-padded past `outer`.
//! For `A` the outer direction is M and `w = MR`; for `B` it is N and `w = NR`.

use std::cell::RefCell;

use crate::Element;
use crate::kernel::Simd;

/// Packs a block into `w`-wide panels (see the module docs for the layout).
///
/// # Safety
/// `src` must be readable at every `(o, p)` with `o < outer`, `p < kc`, and `dst` writable for
/// `ceil(outer / w) · w · kc` elements.
#[inline(always)]
pub(crate) unsafe fn pack_panels<T: Element, S: Simd<E = T>>(
    outer: usize,
    kc: usize,
    w: usize,
    src: *const T,
    s_outer: isize,
    s_k: isize,
    dst: *mut T,
) {
    let mut out = dst;
    for o0 in (0..outer).step_by(w) {
        let rows = w.min(outer - o0);
        // SAFETY: (whole block) offsets stay within the block the caller vouched for, and
        // `out` advances by exactly one panel (w·kc elements) per iteration.
        unsafe {
            let base = src.offset(o0 as isize * s_outer);
            if s_outer == 1 {
                // Contiguous along the panel's width: copy row by row of k, a register at a
                // time (a panel row is 48–256 bytes, where a call to memcpy costs more than
                // the copy), zero-filling past `rows`.
                let lanes = S::LANES;
                if rows == w && w.is_multiple_of(lanes) {
                    // A full panel of whole registers (every A panel but the last): plain
                    // loads and stores, without the per-register tail checks below, which
                    // cost more than the copy itself in the small products of an MLP step.
                    for p in 0..kc {
                        let from = base.offset(p as isize * s_k);
                        let to = out.add(p * w);
                        for i in (0..w).step_by(lanes) {
                            S::store(to.add(i), S::load(from.add(i)));
                        }
                    }
                    out = out.add(w * kc);
                    continue;
                }
                // A ragged panel, or one narrower than a register (B's NR-wide panels): one
                // register-wide strip of the panel at a time, so each strip's masks are
                // computed once rather than at every step of k.
                for i in (0..w).step_by(lanes) {
                    let n_src = rows.saturating_sub(i).min(lanes);
                    let n_dst = (w - i).min(lanes);
                    let (from, to) = (base.wrapping_add(i), out.add(i));
                    if n_src == lanes && n_dst == lanes {
                        for p in 0..kc {
                            S::store(to.add(p * w), S::load(from.offset(p as isize * s_k)));
                        }
                    } else if n_src == 0 {
                        for p in 0..kc {
                            S::store_partial(to.add(p * w), S::zero(), n_dst);
                        }
                    } else {
                        for p in 0..kc {
                            let v = S::load_partial(from.offset(p as isize * s_k), n_src);
                            S::store_partial(to.add(p * w), v, n_dst);
                        }
                    }
                }
            } else if s_k == 1 {
                // Contiguous along k (a row-major weight matrix, say): a transpose. SIMD ISAs
                // take blocks of up to LANES lines × LANES steps of k through registers.
                let lanes = S::LANES;
                let full_k = if lanes > 1 { kc / lanes * lanes } else { 0 };
                for i0 in (0..rows).step_by(lanes) {
                    let r = lanes.min(rows - i0);
                    let lines = base.offset(i0 as isize * s_outer);
                    for p0 in (0..full_k).step_by(lanes) {
                        S::transpose_block(lines.add(p0), s_outer, r, out.add(p0 * w + i0), w);
                    }
                }
                // The rest of k: shorter than a register on SIMD ISAs, all of it on the scalar
                // path (whose panels are only a few lines wide). Steps go outside, lines
                // inside: with a short k (2 inputs, say) a loop per line over its few steps
                // costs several times the copy, and a tail this short touches each source
                // line at most LANES - 1 times.
                for p in full_k..kc {
                    let from = base.add(p);
                    let to = out.add(p * w);
                    for i in 0..rows {
                        *to.add(i) = *from.offset(i as isize * s_outer);
                    }
                }
                for p in 0..kc {
                    for i in rows..w {
                        *out.add(p * w + i) = T::ZERO;
                    }
                }
            } else {
                // Strided both ways: fill each k-row of the panel in turn, writes contiguous.
                for p in 0..kc {
                    let from = base.offset(p as isize * s_k);
                    let to = out.add(p * w);
                    for i in 0..rows {
                        *to.add(i) = *from.offset(i as isize * s_outer);
                    }
                    for i in rows..w {
                        *to.add(i) = T::ZERO;
                    }
                }
            }
            out = out.add(w * kc);
        }
    }
}

/// A cache-line-aligned chunk; scratch buffers are vectors of these.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A growable, 64-byte-aligned scratch buffer reused across calls.
#[derive(Default)]
pub(crate) struct Scratch {
    lines: Vec<Line>,
}

impl Scratch {
    /// A pointer to at least `len` elements of `T`, growing the buffer if needed.
    pub(crate) fn get<T: Element>(&mut self, len: usize) -> *mut T {
        let bytes = len * std::mem::size_of::<T>();
        let need = bytes.div_ceil(64);
        if self.lines.len() < need {
            self.lines.resize(need, Line([0; 64]));
        }
        self.lines.as_mut_ptr().cast::<T>()
    }
}

thread_local! {
    /// Packed A blocks: each worker packs its own.
    static A_SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// Packed B panels: packed by the calling thread, read by all workers.
    static B_SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(
    key: &'static std::thread::LocalKey<RefCell<Scratch>>,
    f: impl FnOnce(&mut Scratch) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entered on this thread (a nested product): use a one-off buffer.
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Runs `f` with this thread's scratch buffer for packed A.
pub(crate) fn with_a_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    with_scratch(&A_SCRATCH, f)
}

/// Runs `f` with this thread's scratch buffer for packed B.
pub(crate) fn with_b_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    with_scratch(&B_SCRATCH, f)
}

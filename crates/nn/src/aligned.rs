//! Element buffers that start on a cache line. depthlab-gemm reads feature-major operands in
//! place and loads and stores C a register at a time down its columns; from a plain `Vec`
//! (16-byte aligned, and 16 bytes past a page for large ones) each such access straddles two
//! lines. One process, two trainers stepped in alternation, 31 rounds on 1 thread: 64-byte
//! aligned against 16 bytes off, W1 1.07×, W2 1.04×, W3 1.02× the samples/s.

use std::fmt;

/// The alignment in bytes: a cache line, which is also the width of an AVX-512 register.
pub(crate) const ALIGN: usize = 64;

/// A vector whose elements start on an [`ALIGN`]-byte boundary, in safe Rust: a `Vec` with
/// up to a line of slack in front, the offset found with `align_offset`. Should the platform
/// decline to give one, the buffer simply starts unaligned; only speed depends on it.
pub(crate) struct AlignedVec<T> {
    /// `start` slack elements, then the values.
    buf: Vec<T>,
    start: usize,
}

impl<T: Clone> AlignedVec<T> {
    /// Slack elements enough to reach an aligned address from any element-aligned one.
    const SLACK: usize = ALIGN / std::mem::size_of::<T>();

    /// An empty vector with room for `capacity` values, or `None` when the allocation is
    /// refused or would exceed `isize::MAX` bytes. `pad` fills the slack in front.
    pub(crate) fn try_with_capacity(capacity: usize, pad: T) -> Option<Self> {
        let mut buf: Vec<T> = Vec::new();
        buf.try_reserve_exact(capacity.checked_add(Self::SLACK)?)
            .ok()?;
        let start = Self::slack_before_line(buf.as_ptr());
        buf.resize(start, pad);
        Some(Self { buf, start })
    }

    /// An empty vector with room for `capacity` values.
    ///
    /// # Panics
    /// When the allocation is refused or exceeds `isize::MAX` bytes, like `Vec::with_capacity`.
    pub(crate) fn with_capacity(capacity: usize, pad: T) -> Self {
        Self::try_with_capacity(capacity, pad).unwrap_or_else(|| Self::refused(capacity))
    }

    /// Slack elements from `at`, a buffer's start, to a line (none when the platform declines).
    fn slack_before_line(at: *const T) -> usize {
        match at.align_offset(ALIGN) {
            offset if offset <= Self::SLACK => offset,
            _ => 0,
        }
    }

    /// The panic of the infallible constructors when the allocation is refused.
    fn refused(capacity: usize) -> ! {
        let bytes = std::mem::size_of::<T>();
        panic!("cannot allocate {capacity} elements of {bytes} bytes")
    }

    /// `len` copies of `value`, or `None` as [`AlignedVec::try_with_capacity`].
    pub(crate) fn try_filled(len: usize, value: T) -> Option<Self> {
        let mut v = Self::try_with_capacity(len, value.clone())?;
        v.buf.resize(v.start + len, value);
        Some(v)
    }

    /// `len` copies of `value`.
    ///
    /// # Panics
    /// As [`AlignedVec::with_capacity`].
    pub(crate) fn filled(len: usize, value: T) -> Self {
        Self::try_filled(len, value).unwrap_or_else(|| Self::refused(len))
    }

    /// The values of `values`, copied into an aligned buffer.
    pub(crate) fn from_slice(values: &[T]) -> Self {
        let pad = values.first().cloned();
        let mut v = match pad {
            Some(pad) => Self::with_capacity(values.len(), pad),
            None => Self {
                buf: Vec::new(),
                start: 0,
            },
        };
        v.buf.extend_from_slice(values);
        v
    }

    /// The values of `buf`, in the same allocation when it has room for the slack (the values
    /// then shift up by less than a line): a dataset handed over is not held twice.
    pub(crate) fn from_vec(mut buf: Vec<T>) -> Self {
        let Some(pad) = buf.first().cloned() else {
            return Self { buf, start: 0 };
        };
        // May move the values (once); with the slack reserved, the splice below cannot.
        buf.reserve_exact(Self::SLACK);
        let start = Self::slack_before_line(buf.as_ptr());
        buf.splice(0..0, std::iter::repeat_n(pad, start));
        Self { buf, start }
    }

    /// Appends a value (within the reserved capacity the buffer stays where it is).
    pub(crate) fn push(&mut self, value: T) {
        if self.buf.len() == self.buf.capacity() {
            self.regrow(2 * self.len() + 1, value.clone());
        }
        self.buf.push(value);
    }

    /// Sets the length to `len`, filling new places with `value`; within the capacity reserved
    /// at construction nothing is allocated or moved.
    pub(crate) fn resize(&mut self, len: usize, value: T) {
        if self.start.saturating_add(len) > self.buf.capacity() {
            self.regrow(len, value.clone());
        }
        self.buf.resize(self.start + len, value);
    }

    /// Moves the values into a new aligned buffer with room for `capacity`: growing the `Vec`
    /// in place would put them at an address with another offset from a line.
    fn regrow(&mut self, capacity: usize, pad: T) {
        let mut grown = Self::with_capacity(capacity, pad);
        grown.buf.extend_from_slice(self.as_slice());
        *self = grown;
    }

    /// The values as a `Vec` (shifted to the front of the same allocation).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        self.buf.drain(..self.start);
        self.buf
    }
}

impl<T> AlignedVec<T> {
    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The values.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.buf[self.start..]
    }

    /// The values, mutable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.start..]
    }
}

impl<T: Clone> Clone for AlignedVec<T> {
    fn clone(&self) -> Self {
        // A derived clone would copy the offset into a buffer placed elsewhere.
        Self::from_slice(self.as_slice())
    }
}

impl<T: PartialEq> PartialEq for AlignedVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: fmt::Debug> fmt::Debug for AlignedVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned<T>(s: &[T]) -> bool {
        (s.as_ptr() as usize).is_multiple_of(ALIGN)
    }

    #[test]
    fn every_constructor_starts_on_a_line() {
        for len in [1usize, 3, 16, 17, 1000, 40_000] {
            assert!(
                aligned(AlignedVec::filled(len, 1.5f32).as_slice()),
                "filled {len}"
            );
            assert!(
                aligned(AlignedVec::filled(len, 1.5f64).as_slice()),
                "f64 filled {len}"
            );
            let v: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let a = AlignedVec::from_slice(&v);
            assert!(aligned(a.as_slice()), "from_slice {len}");
            assert_eq!(a.as_slice(), &v[..]);
            let c = a.clone();
            assert!(aligned(c.as_slice()), "clone {len}");
            assert_eq!(c, a);
            assert_eq!(a.into_vec(), v);
            let moved = AlignedVec::from_vec(v.clone());
            assert!(aligned(moved.as_slice()), "from_vec {len}");
            assert_eq!(moved.into_vec(), v);
        }
    }

    #[test]
    fn resizing_within_capacity_keeps_the_place_and_beyond_it_realigns() {
        let mut a = AlignedVec::filled(64, 2.0f32);
        let at = a.as_slice().as_ptr();
        a.resize(10, 0.0);
        assert_eq!(a.len(), 10);
        a.resize(64, 7.0);
        assert_eq!(
            a.as_slice().as_ptr(),
            at,
            "shrinking and regrowing must not move"
        );
        assert_eq!(&a.as_slice()[8..12], &[2.0, 2.0, 7.0, 7.0]);
        a.resize(1000, 3.0);
        assert!(aligned(a.as_slice()));
        assert_eq!(a.len(), 1000);
        assert_eq!(
            (a.as_slice()[9], a.as_slice()[10], a.as_slice()[999]),
            (2.0, 7.0, 3.0)
        );
    }

    #[test]
    fn pushing_past_the_capacity_keeps_values_and_alignment() {
        let mut a = AlignedVec::with_capacity(2, 0.0f64);
        for i in 0..100 {
            a.push(f64::from(i));
            assert!(aligned(a.as_slice()), "after {i}");
        }
        let want: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(a.as_slice(), &want[..]);
    }

    #[test]
    fn an_empty_vector_is_empty() {
        let a = AlignedVec::<f32>::from_slice(&[]);
        assert_eq!(a.len(), 0);
        assert!(a.into_vec().is_empty());
        assert!(AlignedVec::<f32>::try_filled(usize::MAX, 0.0).is_none());
    }
}

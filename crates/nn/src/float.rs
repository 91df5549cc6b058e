//! The element trait: everything the layers need from `f32` and `f64`, written once.

use std::fmt;
use std::iter::Sum;
use std::ops::{AddAssign, Div, DivAssign, MulAssign, Neg, Sub, SubAssign};

use depthlab_gemm::Element;

/// A floating-point element: [`Element`] (so depthlab-gemm can multiply it) plus the
/// arithmetic and special functions the activations, losses and optimizers use.
pub trait Float:
    Element
    + Sub<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + PartialOrd
    + Default
    + Sum
    + fmt::Display
    + fmt::LowerExp
{
    /// Name of the type as safetensors spells its dtype (`"F32"`, `"F64"`).
    const DTYPE: &'static str;
    /// Bytes per element.
    const BYTES: usize;
    /// Nearest value to an `f64`.
    fn from_f64(v: f64) -> Self;
    /// Widen (or keep) to `f64`.
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// `e^self` in a branch-free form loops vectorise: within 1 ulp for `f32` (inputs
    /// clamped to [-87.3, 88.3], so it never returns 0 or infinity), the std function for
    /// `f64`.
    fn exp_fast(self) -> Self;
    /// `tanh self` in a branch-free form loops vectorise: within 1.5e-7 absolute and 5e-7
    /// relative for `f32`, the std function for `f64`.
    fn tanh_fast(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Error function (needed by the exact GELU).
    fn erf(self) -> Self;
    /// The larger of two values (NaN-ignoring like `f32::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values.
    fn min(self, other: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Append the little-endian bytes of `self`.
    fn write_le(self, out: &mut Vec<u8>);
    /// Read one value from exactly [`Float::BYTES`] little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

/// One body for both widths, so f32 and f64 cannot drift apart.
macro_rules! impl_float {
    ($t:ty, $dtype:literal, $erf:path, $exp_fast:path, $tanh_fast:path) => {
        impl Float for $t {
            const DTYPE: &'static str = $dtype;
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp_fast(self)
            }
            #[inline(always)]
            fn tanh_fast(self) -> Self {
                $tanh_fast(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
        }
    };
}

impl_float!(
    f32,
    "F32",
    libm::erff,
    crate::fastmath::exp_f32,
    crate::fastmath::tanh_f32
);
impl_float!(f64, "F64", libm::erf, f64::exp, f64::tanh);

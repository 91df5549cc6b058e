//! TEMPORARY
pub trait Sealed {}
impl Sealed for f32 {}
impl Sealed for f64 {}
/// Instruction-set path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}
/// The active ISA.
pub fn active_isa() -> Isa {
    Isa::Scalar
}
/// ISAs available.
pub fn available_isas() -> Vec<Isa> {
    vec![Isa::Scalar]
}

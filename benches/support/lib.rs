//! Support code shared by the criterion benches.

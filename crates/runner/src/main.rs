//! The `depthlab` command line.
fn main() {}

//! depthlab-runner: datasets, sweeps over depth × width × activation × seeds, a resumable
//! results store, plots and reports. The `depthlab` binary (`src/main.rs`) is a thin shell over
//! this library: the library never prints and never exits.

pub mod bench_report;
pub mod record;
pub mod report;

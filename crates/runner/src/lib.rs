//! depthlab-runner: datasets, sweeps over depth × width × activation × seeds, a resumable
//! results store, plots and reports. The `depthlab` binary (`src/main.rs`) is a thin shell over
//! this library: the library never prints and never exits.
//!
//! The pieces, in the order a run goes through them:
//! - [`study`]: a study TOML validated into a [`study::Study`] and expanded into grid points;
//! - [`shard`]: which grid points this process runs (`--shard i/n`);
//! - [`sweep`]: checks the plan, then trains pending points in parallel ([`execute`] trains
//!   one) and stores each result through [`store`] with [`meta`] beside it;
//! - [`data`] loads datasets; [`report`] and [`bench_report`] turn results into reports,
//!   both written as blocks of one document model (`document`) rendered to HTML and Markdown.

pub mod bench_report;
pub mod data;
mod document;
pub mod execute;
pub mod meta;
pub mod record;
pub mod report;
pub mod shard;
pub mod store;
pub mod study;
pub mod sweep;

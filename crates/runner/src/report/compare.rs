//! `depthlab compare`: two studies side by side.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ReportError;
use super::settings::ReportSettings;
use crate::record::RunRecord;

/// What a comparison wrote and found.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSummary {
    /// The comparison directory.
    pub out_dir: PathBuf,
}

pub(crate) fn compare(
    _a: (&str, &[RunRecord]),
    _b: (&str, &[RunRecord]),
    out: &Path,
    _settings: &ReportSettings,
) -> Result<CompareSummary, ReportError> {
    Ok(CompareSummary {
        out_dir: out.to_path_buf(),
    })
}

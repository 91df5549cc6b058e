//! Plot 6: what the models learned: decision regions of 2-D classifiers, fitted curves of 1-D
//! regressors, drawn from the models saved next to the results.

use super::super::StudyContext;
use super::super::analysis::Group;
use super::super::page::Plan;
use super::PlotFiles;

/// Schedules the figure, or says why it cannot be drawn.
pub(crate) fn plan_regions(
    g: &Group<'_>,
    _ctx: &StudyContext,
    _plan: &mut Plan,
) -> Result<(PlotFiles, String), String> {
    if g.configs
        .iter()
        .all(|c| c.runs.iter().all(|r| r.model_path.is_none()))
    {
        return Err("no saved models in this study (models are saved for datasets with at most 2 input features)".into());
    }
    Err("drawing saved models is not available yet".into())
}

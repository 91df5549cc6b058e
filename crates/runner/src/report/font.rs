//! The embedded font. plotters is built without system-font support (no font-kit), so text in
//! PNG plots is rasterised by ab_glyph from DejaVu Sans compiled into the binary: a machine
//! without any font package draws exactly the same pixels. SVG plots name the family and let
//! the viewer pick its own sans-serif face.

use std::sync::OnceLock;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family name every plot asks for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process; later calls return the first outcome.
pub(crate) fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
    })
    .clone()
}

//! FMA peak probe.

//! `depthlab bench-report`: criterion estimates turned into comparison reports.

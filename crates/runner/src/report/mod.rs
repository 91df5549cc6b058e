//! Study reports: plots, fit verdicts, tables and summaries written under `reports/`.

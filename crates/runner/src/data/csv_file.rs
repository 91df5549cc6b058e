//! User CSV files: a header line naming the columns is required; the target column is found by
//! name, an optional `split` column (values `train` / `test`, any case) fixes the split, and
//! every other column is a numeric feature. Cells are trimmed of surrounding whitespace.
//!
//! Task inference, unless the caller forces it: a target whose cells are all finite numbers,
//! all integer-valued, with at most [`MAX_INFERRED_CLASSES`] distinct values is a class label
//! (classes are the distinct values in increasing numeric order); any other all-numeric target
//! is a regression target; a target with any non-numeric cell holds string class labels,
//! mapped to class indices in sorted (byte-wise) order. A target cell that is empty, `NA`,
//! `N/A`, `null` (any case) or a non-finite number is an error, for class and value targets
//! alike: there is no missing-value handling to hide it.
//!
//! Error positions are `file:line:column`, where `line` is the 1-based line of the record in the
//! file and `column` the 1-based field number (the column's name is in the message too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::record::Task;

use super::DataError;
use super::transform::{Labels, Table};

/// Integer-valued numeric targets with at most this many distinct values are taken as classes.
pub const MAX_INFERRED_CLASSES: usize = 20;
/// A classification target may not have more distinct labels than this (guards against a
/// regression column with one typo being read as thousands of classes).
pub const MAX_CLASSES: usize = 1000;
/// Name of the optional column that fixes the train/test split.
pub const SPLIT_COLUMN: &str = "split";

/// A parsed CSV file.
pub(crate) struct CsvData {
    /// Features and targets of every row.
    pub table: Table,
    /// Names of the feature columns, in file order.
    pub feature_names: Vec<String>,
    /// Class names by class index (classification only).
    pub class_names: Option<Vec<String>>,
    /// Per row, `true` if the `split` column put it in the test set.
    pub is_test: Option<Vec<bool>>,
}

/// One cell's text with its position, kept until the target's type is known.
struct Cell {
    text: String,
    line: u64,
}

/// Reads and validates `path`; `shown` is how the path appears in messages.
pub(crate) fn read(path: &Path, target: &str, force: Option<Task>) -> Result<CsvData, DataError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let syntax = |e: csv::Error| DataError::CsvSyntax {
        path: shown.clone(),
        line: e.position().map_or(1, csv::Position::line),
        message: e.to_string(),
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(syntax)?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(DataError::EmptyCsv { path: shown });
    }
    let mut seen = BTreeSet::new();
    for name in &header {
        if !seen.insert(name.as_str()) {
            return Err(DataError::DuplicateColumn {
                path: shown,
                name: name.clone(),
            });
        }
    }
    let target_col =
        header
            .iter()
            .position(|h| h == target)
            .ok_or_else(|| DataError::MissingTarget {
                path: shown.clone(),
                target: target.to_string(),
                columns: header.join(", "),
            })?;
    let split_col = header
        .iter()
        .position(|h| h == SPLIT_COLUMN)
        .filter(|&c| c != target_col);
    let feature_cols: Vec<usize> = (0..header.len())
        .filter(|&c| c != target_col && Some(c) != split_col)
        .collect();
    if feature_cols.is_empty() {
        return Err(DataError::NoFeatures { path: shown });
    }

    let mut x = Vec::new();
    let mut targets = Vec::new();
    let mut is_test = split_col.map(|_| Vec::new());
    for record in reader.records() {
        let record = record.map_err(syntax)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != header.len() {
            return Err(DataError::RaggedRow {
                path: shown,
                line,
                found: record.len(),
                expected: header.len(),
            });
        }
        for &c in &feature_cols {
            x.push(parse_number(&record[c], &shown, line, c, &header[c])?);
        }
        check_target(&record[target_col], &shown, line, target_col, target)?;
        targets.push(Cell {
            text: record[target_col].to_string(),
            line,
        });
        if let (Some(c), Some(flags)) = (split_col, is_test.as_mut()) {
            let v = &record[c];
            flags.push(match v.to_ascii_lowercase().as_str() {
                "train" => false,
                "test" => true,
                _ => {
                    return Err(DataError::BadSplit {
                        path: shown,
                        line,
                        column: c + 1,
                        value: v.to_string(),
                    });
                }
            });
        }
    }
    if targets.is_empty() {
        return Err(DataError::NoRows { path: shown });
    }

    let place = |cell: &Cell| {
        (
            shown.as_str(),
            cell.line,
            target_col,
            header[target_col].as_str(),
        )
    };
    let (labels, class_names) = targets_to_labels(&targets, force, place)?;
    Ok(CsvData {
        table: Table {
            x,
            n_features: feature_cols.len(),
            labels,
        },
        feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
        class_names,
        is_test,
    })
}

/// Parses one cell as a number finite as `f32` (the network's type: 1e300 is finite as
/// `f64` but would train as infinity), or reports where it is and what it holds.
fn parse_number(
    text: &str,
    path: &str,
    line: u64,
    col: usize,
    name: &str,
) -> Result<f32, DataError> {
    if text.is_empty() {
        return Err(empty_cell(path, line, col, name));
    }
    let Some(v) = text.parse::<f64>().ok().filter(|v| v.is_finite()) else {
        return Err(not_a_number(path, line, col, name, text));
    };
    let narrow = v as f32;
    if narrow.is_finite() {
        Ok(narrow)
    } else {
        Err(DataError::OutOfRange {
            path: path.to_string(),
            line,
            column: col + 1,
            column_name: name.to_string(),
            value: text.to_string(),
        })
    }
}

fn not_a_number(path: &str, line: u64, col: usize, name: &str, text: &str) -> DataError {
    DataError::NotANumber {
        path: path.to_string(),
        line,
        column: col + 1,
        column_name: name.to_string(),
        value: text.to_string(),
    }
}

fn empty_cell(path: &str, line: u64, col: usize, name: &str) -> DataError {
    DataError::EmptyCell {
        path: path.to_string(),
        line,
        column: col + 1,
        column_name: name.to_string(),
    }
}

/// Rejects a target cell that marks a missing value. Left in, it would silently become a
/// class of its own (`""`, `NA`), or turn a regression column into hundreds of classes.
fn check_target(
    text: &str,
    path: &str,
    line: u64,
    col: usize,
    name: &str,
) -> Result<(), DataError> {
    if text.is_empty() {
        return Err(empty_cell(path, line, col, name));
    }
    let marker = matches!(text.to_ascii_lowercase().as_str(), "na" | "n/a" | "null");
    let non_finite = text.parse::<f64>().is_ok_and(|v| !v.is_finite());
    if marker || non_finite {
        return Err(not_a_number(path, line, col, name, text));
    }
    Ok(())
}

/// Decides the task and turns target cells into labels (and class names for classification).
fn targets_to_labels<'a>(
    cells: &'a [Cell],
    force: Option<Task>,
    place: impl Fn(&'a Cell) -> (&'a str, u64, usize, &'a str),
) -> Result<(Labels, Option<Vec<String>>), DataError> {
    let numbers: Option<Vec<f64>> = cells
        .iter()
        .map(|c| c.text.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    let task = match (force, &numbers) {
        (Some(task), _) => task,
        (None, None) => Task::Classification,
        (None, Some(v)) => {
            let integral = v.iter().all(|x| x.fract() == 0.0);
            let mut distinct: Vec<f64> = v.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            if integral && distinct.len() <= MAX_INFERRED_CLASSES {
                Task::Classification
            } else {
                Task::Regression
            }
        }
    };
    match task {
        Task::Regression => {
            let mut y = Vec::with_capacity(cells.len());
            for cell in cells {
                let (path, line, col, name) = place(cell);
                y.push(parse_number(&cell.text, path, line, col, name)?);
            }
            Ok((Labels::Values(y), None))
        }
        Task::Classification => {
            // Numeric labels sort by value (so "10" follows "9"), strings byte-wise.
            let (y, names) = match numbers {
                Some(v) => {
                    let mut distinct = v.clone();
                    distinct.sort_by(f64::total_cmp);
                    distinct.dedup();
                    let y = v
                        .iter()
                        .map(|x| distinct.partition_point(|d| d < x))
                        .collect::<Vec<_>>();
                    (
                        y,
                        distinct.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    )
                }
                None => {
                    let index: BTreeMap<&str, usize> = cells
                        .iter()
                        .map(|c| c.text.as_str())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| (s, i))
                        .collect();
                    let y = cells.iter().map(|c| index[c.text.as_str()]).collect();
                    (y, index.keys().map(|s| s.to_string()).collect())
                }
            };
            let (path, ..) = place(&cells[0]);
            if names.len() > MAX_CLASSES {
                return Err(DataError::TooManyClasses {
                    dataset: path.to_string(),
                    found: names.len(),
                    limit: MAX_CLASSES,
                });
            }
            if names.len() < 2 {
                return Err(DataError::TooFewClasses {
                    dataset: path.to_string(),
                    found: names.len(),
                });
            }
            let n_classes = names.len();
            Ok((Labels::Classes { y, n_classes }, Some(names)))
        }
    }
}

// Delimited text (CSV) datasets: one example per row, numeric (or categorical) feature columns, one
// label column.
// Quoting is minimal ("a,b" and "" inside quotes; no line breaks inside quotes); CRLF line ends,
// a UTF-8 byte-order mark and blank lines are accepted.
#pragma once

#include "config/config.hpp"
#include "data/dataset.hpp"
#include "data/labels.hpp"

namespace dlrun {

// Reads `source.path` (`label_column`, `features`, `header`, `delimiter` as in DataSource).
// Features become Dataset::floats with sample_shape {F}. `labels`: classes (numerically sorted
// when every label is an integer, else by name), targets (target_shape {1}), or none (no label
// column; every selected column is a feature).
// Throws ConfigError at source.where for a label or feature name the header lacks (did-you-mean);
// DataError "file:line:col: ..." for a ragged row, a non-numeric cell, an unterminated quote,
// and "file: ..." for a missing or empty file or one without data rows. The column in a location is
// the 1-based character column; messages name the 1-based field number too.
//
// `categorical` (data.categorical) names feature columns whose cells are categories: they are
// recorded in Dataset::categorical_cells (each cell's value is the index of its text among the
// column's distinct values) for one_hot_encode (categorical.hpp). ConfigError at categorical.where
// for a column that does not exist, is the label, is not a feature or is listed twice; DataError
// "file:line:col" for an empty category. `auto` picks every feature column with a non-empty cell
// that is not a number.
Dataset read_csv(const DataSource& source, LabelKind labels, const CategoricalSpec& categorical = {});

}  // namespace dlrun

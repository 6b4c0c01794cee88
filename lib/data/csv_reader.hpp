// Delimited text (CSV) datasets: one example per row, numeric feature columns, one label column.
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
Dataset read_csv(const DataSource& source, LabelKind labels);

}  // namespace dlrun

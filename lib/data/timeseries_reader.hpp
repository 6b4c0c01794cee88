// Time series for forecasting: a CSV whose rows are consecutive time steps, cut into overlapping
// windows (stride 1). Example i holds rows [i, i + window) of the feature columns as a sequence
// (sample_shape {window, F}) and, as its regression target, the target column `horizon` rows after
// the window's last row: row i + window - 1 + horizon.
#pragma once

#include "config/config.hpp"
#include "data/dataset.hpp"

namespace dlrun {

// Reads `source` (format timeseries: path, target, window, horizon, features, header, delimiter).
// The features default to every column, the target included (its past values are usually the
// best predictor of its future); a non-numeric column (a date, say) must then be left out with
// `features:`. The result is marked time_series: the validation split takes the last windows and
// normalisation statistics are per column. Windows overlap, so each row is stored `window` times:
// memory is rows * window * F floats.
// Throws ConfigError at source.where for a target or feature the header lacks, DataError
// "file:line:col" for malformed cells (as read_csv), and DataError naming the file when it has
// fewer than window + horizon rows.
Dataset read_timeseries(const DataSource& source);

}  // namespace dlrun

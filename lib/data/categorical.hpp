// One-hot encoding of categorical CSV feature columns (data.categorical), as pandas.get_dummies or
// sklearn's OneHotEncoder: the categories are learnt from the training rows only (after the
// validation split, like the normalisation), and every other split is encoded with them.
//
// The CSV reader stores each categorical cell as the index of its text among the column's distinct
// values (CategoricalCells); one_hot_encode then replaces each such column by one 0/1 feature per
// learnt category, in place, so the features keep the file's column order.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

struct Dataset;

// A categorical column and the categories learnt for it: numerically sorted when every category
// is a number, else in byte order (as numpy.unique); one-hot position i is categories[i].
struct CategoricalColumn {
  std::string name;
  std::vector<std::string> categories;
  bool operator==(const CategoricalColumn&) const = default;
};

// What the CSV reader records about the categorical cells of one file.
struct CategoricalCells {
  struct Column {
    std::string name;
    Index feature = 0;                // position among the dataset's features (before encoding)
    Index field = 0;                  // 1-based field number in the file, for messages
    std::vector<std::string> values;  // distinct texts in order of first appearance; a cell holds
                                      // the index of its text here, as a float
  };
  std::vector<Column> columns;
  std::vector<std::string> features;  // the file's feature columns, in order (before encoding)
  std::vector<int> lines;             // per row: its 1-based line in the file
  std::vector<int> char_columns;      // per row and column (row-major): where the cell starts
};

// The categories of each categorical column over `rows` of a dataset read with CategoricalCells.
std::vector<CategoricalColumn> fit_categories(const Dataset& raw, std::span<const Index> rows);

// `raw` with each categorical column replaced by its one-hot block over `categories` (from
// fit_categories, or a checkpoint): sample_shape, feature_names ("color=red") and one_hot follow.
// A category that `categories` lacks is all zeros when ignore_unknown, else a DataError
// "file:line:col: field 3 ('color'): category 'purple' ...". A dataset without categorical
// columns is returned as it is.
Dataset one_hot_encode(const Dataset& raw, const std::vector<CategoricalColumn>& categories,
                       bool ignore_unknown);

}  // namespace dlrun

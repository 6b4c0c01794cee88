// Turning raw label values into class indices: the classes are the sorted distinct values, so the
// mapping does not depend on the order in which examples appear.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dlrun {

// What a label column or file becomes.
enum class LabelKind {
  classes,  // class indices over the sorted distinct values
  targets,  // float regression targets
  none,     // no labels (autoencoders: the inputs are the targets)
};

struct ClassLabels {
  std::vector<std::int32_t> labels;  // one class index per value
  std::vector<std::string> names;    // class index -> name
};

// Classes are the distinct values sorted numerically, named by their decimal text ("0", "7", "-1").
ClassLabels integer_classes(std::span<const std::int64_t> values);
// Classes are the distinct strings in byte order ("setosa" < "versicolor" < "virginica").
ClassLabels string_classes(std::span<const std::string> values);

}  // namespace dlrun

#include "support/fixtures.hpp"

#include <fstream>
#include <stdexcept>

namespace dlrun::testing {

std::filesystem::path test_data_path(const std::string& relative_path) {
  return std::filesystem::path(DLRUN_TEST_DATA_DIR) / relative_path;
}

nlohmann::json load_fixture(const std::string& relative_path) {
  const auto path = test_data_path(relative_path);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path.string() + " (run scripts/fixtures/*.py)");
  return nlohmann::json::parse(in);
}

Tensor tensor_from_json(const nlohmann::json& value) {
  std::vector<Index> dims;
  for (const auto& d : value.at("shape")) dims.push_back(d.get<Index>());
  Tensor tensor{Shape(dims)};
  const auto& data = value.at("data");
  if (static_cast<Index>(data.size()) != tensor.size())
    throw std::runtime_error("fixture tensor size mismatch");
  for (Index i = 0; i < tensor.size(); ++i) tensor[i] = data[static_cast<std::size_t>(i)].get<float>();
  return tensor;
}

}  // namespace dlrun::testing

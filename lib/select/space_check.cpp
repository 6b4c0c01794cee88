// check_space_applies (search_space.hpp): every value of every dimension, set alone into the config,
// must give an experiment that builds; a problem is reported at the dimension's key.
#include "config/overrides.hpp"
#include "config/parse_config.hpp"
#include "select/search_space.hpp"
#include "train/experiment.hpp"

namespace dlrun {

void check_space_applies(const SearchSpace& space, const Node& tree, const std::filesystem::path& file,
                         const LoadedData* data) {
  for (const Dimension& dimension : space.dimensions) {
    bool changes_data = false;
    for (const std::string root : {"data", "cv", "seed"}) {
      changes_data = changes_data || dimension.path == root || dimension.path.starts_with(root + ".");
    }
    std::vector<double> values;
    if (!dimension.is_numeric()) {
      for (std::size_t i = 0; i < dimension.choices.size(); ++i) values.push_back(static_cast<double>(i));
    } else {
      values = {dimension.low, dimension.high};
      for (const double x : dimension.grid) {
        if (x != dimension.low && x != dimension.high) values.push_back(x);
      }
    }
    for (const double x : values) {
      const std::string shown = "search.space." + dimension.path + " = " + value_text(dimension, x);
      try {
        Node trial = tree;
        set_path(trial, dimension.path, value_node(dimension, x), dimension.where);
        Config config = config_from_tree(std::move(trial), file);
        if (data && !changes_data) {
          prepare_experiment(std::move(config), *data);
        } else {
          prepare_experiment(std::move(config));
        }
      } catch (const ConfigError& error) {
        // The message leads with the place it found; the search key is the place to fix.
        std::string message = error.what();
        const std::string prefix = error.where().to_string() + ": ";
        if (error.where().known() && message.starts_with(prefix)) message.erase(0, prefix.size());
        throw ConfigError(dimension.where, shown + ": " + message);
      } catch (const ShapeError& error) {
        throw ConfigError(dimension.where, shown + ": " + error.what());
      }
    }
  }
}

}  // namespace dlrun

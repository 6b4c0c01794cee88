// Schedules against torch.optim.lr_scheduler's lr sequences (1e-7 relative), the warm-up
// semantics, reduce_on_plateau's state, and option validation with locations.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "optim/optim_test_support.hpp"
#include "optim/schedule.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::close;
using dlrun::testing::load_fixture;
using dlrun::testing::options_node;

namespace {

std::unique_ptr<Schedule> build(const std::string& type, const nlohmann::json& options_json,
                                const ScheduleContext& context) {
  const Node node = options_node(options_json);
  Options options(node, "schedule");
  auto schedule = make_schedule(type, Location{"test.yaml", 9, 9}, options, context);
  options.finish();
  return schedule;
}

// The ConfigError a schedule's options raise (an empty error when none).
ConfigError schedule_error(const std::string& type, const nlohmann::json& options_json,
                           const ScheduleContext& context = {0.1, 10, 5}) {
  try {
    build(type, options_json, context);
  } catch (const ConfigError& error) {
    return error;
  }
  return ConfigError("no error");
}

}  // namespace

TEST_CASE("schedules: every torch lr sequence is reproduced to 1e-7") {
  const auto fixture = load_fixture("fixtures/optim/schedules.json");
  std::set<std::string> covered;
  for (const auto& test_case : fixture.at("cases")) {
    const std::string name = test_case.at("name").get<std::string>();
    CAPTURE(name);
    const std::string type = test_case.at("type").get<std::string>();
    const ScheduleContext context{test_case.at("base_lr").get<double>(), test_case.at("epochs").get<Index>(),
                                  test_case.at("steps_per_epoch").get<Index>()};
    auto schedule = build(type, test_case.at("options"), context);
    CHECK(schedule->type() == type);
    const auto& lrs = test_case.at("lrs");
    const bool per_step = test_case.at("per") == "step";
    for (std::size_t i = 0; i < lrs.size(); ++i) {
      CAPTURE(i);
      const auto epoch =
          static_cast<Index>(per_step ? i / static_cast<std::size_t>(context.steps_per_epoch) : i);
      const auto step =
          static_cast<Index>(per_step ? i % static_cast<std::size_t>(context.steps_per_epoch) : 0);
      const double expected = lrs[i].get<double>();
      CHECK(close(schedule->learning_rate(epoch, step), expected, 1e-7, 1e-15));
      if (!per_step) CHECK(schedule->learning_rate(epoch, 7) == schedule->learning_rate(epoch, 0));
      if (test_case.contains("metrics")) {
        const std::string monitor = test_case.at("options").value("monitor", "val_loss");
        schedule->observe(epoch, {{"loss", 1.0}, {monitor, test_case.at("metrics")[i].get<double>()}});
      }
    }
    covered.insert(type);
  }
  for (const std::string& type : schedule_types())
    CHECK_MESSAGE(covered.contains(type), "no fixture for " << type);
}

TEST_CASE("schedules: warmup_steps ramps the main schedule's lr per step") {
  // 4 warm-up steps, 3 steps per epoch, start factor 1/5: factors 0.2, 0.4, 0.6, 0.8, then 1.
  auto schedule = build("exponential", {{"gamma", 0.5}, {"warmup_steps", 4}}, {1.0, 5, 3});
  CHECK(schedule->learning_rate(0, 0) == doctest::Approx(0.2));
  CHECK(schedule->learning_rate(0, 2) == doctest::Approx(0.6));
  CHECK(schedule->learning_rate(1, 0) == doctest::Approx(0.8 * 0.5));
  CHECK(schedule->learning_rate(1, 1) == doctest::Approx(0.5));
  CHECK(schedule->learning_rate(2, 0) == doctest::Approx(0.25));
  auto custom = build("constant", {{"warmup_steps", 2}, {"warmup_start_factor", 0.5}}, {0.1, 5, 3});
  CHECK(custom->learning_rate(0, 0) == doctest::Approx(0.05));
  CHECK(custom->learning_rate(0, 1) == doctest::Approx(0.075));
  CHECK(custom->learning_rate(0, 2) == doctest::Approx(0.1));
  CHECK_FALSE(custom->is_constant());
  CHECK(build("constant", nlohmann::json::object(), {0.1, 5, 3})->is_constant());
}

TEST_CASE("reduce_on_plateau: warm-up first, then plateau counting from the end of the warm-up") {
  auto schedule = build("reduce_on_plateau", {{"patience", 0}, {"warmup_epochs", 2}}, {1.0, 10, 1});
  CHECK(schedule->learning_rate(0, 0) == doctest::Approx(1.0 / 3.0));
  schedule->observe(0, {{"val_loss", 1.0}});  // ignored: still warming up
  schedule->observe(1, {{"val_loss", 2.0}});
  CHECK(schedule->learning_rate(2, 0) == doctest::Approx(1.0));
  schedule->observe(2, {{"val_loss", 3.0}});  // first plateau observation: best = 3
  schedule->observe(3, {{"val_loss", 3.0}});  // no improvement, patience 0: reduce
  CHECK(schedule->learning_rate(4, 0) == doctest::Approx(0.1));
}

TEST_CASE("reduce_on_plateau: state round trip, mode auto, and a missing monitor") {
  auto schedule = build("reduce_on_plateau", {{"patience", 1}, {"cooldown", 1}}, {0.1, 10, 1});
  const auto state = schedule->state();
  CHECK(std::isinf(state.at("best")));
  CHECK(state.at("lr") == 0.1);
  for (const double loss : {1.0, 1.0, 1.0}) schedule->observe(0, {{"val_loss", loss}});
  CHECK(schedule->learning_rate(3, 0) == doctest::Approx(0.01));
  auto restored = build("reduce_on_plateau", {{"patience", 1}, {"cooldown", 1}}, {0.1, 10, 1});
  restored->set_state(schedule->state());
  CHECK(restored->state() == schedule->state());
  CHECK(restored->state().at("cooldown_counter") == 1.0);
  CHECK(restored->learning_rate(3, 0) == doctest::Approx(0.01));
  CHECK_THROWS_AS(restored->set_state({{"best", 1.0}}), DataError);

  // auto: accuracy is maximised, so a rising accuracy is never a plateau.
  auto accuracy = build("reduce_on_plateau", {{"monitor", "val_accuracy"}, {"patience", 0}}, {0.1, 10, 1});
  for (const double value : {0.5, 0.6, 0.7}) accuracy->observe(0, {{"val_accuracy", value}});
  CHECK(accuracy->learning_rate(3, 0) == 0.1);

  auto missing = build("reduce_on_plateau", {{"factor", 0.5}, {"monitor", "val_loss"}}, {0.1, 10, 1});
  try {
    missing->observe(0, {{"loss", 1.0}, {"accuracy", 0.5}});
    FAIL("expected a ConfigError");
  } catch (const ConfigError& error) {
    CHECK(error.where().line == 2);  // the monitor key
    CHECK(std::string(error.what()).find("'val_loss'") != std::string::npos);
    CHECK(std::string(error.what()).find("accuracy, loss") != std::string::npos);
  }
}

TEST_CASE("schedules: bad options are ConfigErrors at the key") {
  struct Case {
    std::string type;
    nlohmann::json options;
    int line;  // 9: the type's location
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"cosin", nlohmann::json::object(), 9, "did you mean 'cosine'?"},
      {"step", nlohmann::json::object(), 1, "step_size: is required"},
      {"step", {{"step_size", 0}}, 1, "must be >= 1"},
      {"step", {{"step_size", 2}, {"gamma", -0.5}}, 1, "gamma: must be > 0"},  // keys sort: gamma first
      {"exponential", nlohmann::json::object(), 1, "gamma: is required"},
      {"multistep", {{"milestones", {2, 3.5}}}, 1, "epoch number"},
      {"multistep", nlohmann::json::object(), 1, "milestones: is required"},
      {"cosine", {{"T_max", 0}}, 1, "T_max: must be >= 1"},
      {"cosine", {{"warmup_epochs", 10}}, 1, "defaults to train.epochs - warmup_epochs = 0"},
      {"cosine", {{"eta_min", -1}}, 1, "eta_min: must be >= 0"},
      {"one_cycle", {{"pct_start", 1.0}}, 1, "pct_start: must be in (0, 1)"},
      {"one_cycle", {{"anneal_strategy", "cosine"}}, 1, "unknown value 'cosine'"},
      {"one_cycle", {{"warmup_epochs", 1}}, 1, "its own warm-up"},
      {"reduce_on_plateau", {{"factor", 1.0}}, 1, "factor: must be in (0, 1)"},
      {"reduce_on_plateau", {{"mode", "maxx"}}, 1, "did you mean 'max'?"},
      {"reduce_on_plateau", {{"patience", -1}}, 1, "patience: must be >= 0"},
      {"constant", {{"warmup_epochs", 1}, {"warmup_steps", 2}}, 2, "not both"},
      {"constant", {{"warmup_start_factor", 0.5}}, 1, "needs warmup_epochs or warmup_steps"},
      {"constant", {{"warmup_epochs", 2}, {"warmup_start_factor", 1.5}}, 2, "must be in [0, 1]"},
      {"constant", {{"warmup_epochs", -2}}, 1, "warmup_epochs: must be >= 0"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.type);
    CAPTURE(c.options.dump());
    const ConfigError error = schedule_error(c.type, c.options);
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(error.where().file == "test.yaml");
    CHECK(error.where().line == c.line);
    CHECK(message.find(c.fragment) != std::string::npos);
  }
  // one_cycle needs steps to spread its cycle over.
  CHECK(std::string(schedule_error("one_cycle", nlohmann::json::object(), {0.1, 0, 0}).what())
            .find("one_cycle needs") != std::string::npos);
  // Unknown keys are left to Options::finish, with a suggestion among the keys this type reads.
  const Node node = options_node({{"step_size", 2}, {"gama", 0.5}});
  Options options(node, "schedule");
  make_schedule("step", {}, options, {0.1, 10, 5});
  CHECK_THROWS_WITH_AS(options.finish(), doctest::Contains("did you mean 'gamma'?"), ConfigError);
}

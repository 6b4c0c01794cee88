#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "core/errors.hpp"
#include "io/checkpoint_files.hpp"
#include "io/files.hpp"
#include "io/safetensors.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using testing::contains;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;
namespace fs = std::filesystem;

namespace {

std::string output_error(const auto& action) {
  try {
    action();
    return "no error";
  } catch (const OutputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception: ") + e.what();
  }
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// 2024-01-02 03:04:05 local time, the zone the run directory's name is written in.
std::chrono::system_clock::time_point fixed_local_time() {
  std::tm local{};
  local.tm_year = 2024 - 1900;
  local.tm_mon = 0;
  local.tm_mday = 2;
  local.tm_hour = 3;
  local.tm_min = 4;
  local.tm_sec = 5;
  local.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&local));
}

void write_checkpoint(const fs::path& path, float value) {
  Tensor tensor(Shape{2}, value);
  write_safetensors(path, {{"w", &tensor}}, {});
}

}  // namespace

TEST_CASE("files: write_text_atomic creates and replaces, leaving no temporary") {
  TempDir dir;
  const auto path = dir / "config.yaml";
  write_text_atomic(path, "first\n");
  write_text_atomic(path, "second\n");
  CHECK(read_bytes(path) == "second\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"config.yaml"});
  CHECK(temporary_path_for(path).filename().string() == "config.yaml.tmp-" + std::to_string(::getpid()));
}

TEST_CASE("files: write_text_atomic failures are OutputErrors naming the file; the old file stays") {
  TempDir dir;
  const auto path = dir / "summary.json";
  write_text_atomic(path, "old");

  SUBCASE("parent is a regular file") {
    write_bytes(dir / "plain", "x");
    const auto message = output_error([&] { write_text_atomic(dir / "plain" / "summary.json", "new"); });
    CHECK(message.starts_with((dir / "plain" / "summary.json").string() + ": "));
    CHECK(contains(message, "Not a directory"));
  }
  SUBCASE("missing folder") {
    const auto message = output_error([&] { write_text_atomic(dir / "missing" / "summary.json", "new"); });
    CHECK(contains(message, "No such file or directory"));
  }
  SUBCASE("temporary blocked while the target exists") {
    fs::create_directory(temporary_path_for(path));
    CHECK(contains(output_error([&] { write_text_atomic(path, "new"); }), "Is a directory"));
  }
  SUBCASE("read-only folder (only meaningful when not root)") {
    if (::geteuid() != 0) {
      fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
      CHECK(contains(output_error([&] { write_text_atomic(path, "new"); }), "Permission denied"));
      fs::permissions(dir.path(), fs::perms::owner_all);
    }
  }
  CHECK(read_bytes(path) == "old");
}

TEST_CASE("files: append_line adds one newline-terminated line per call") {
  TempDir dir;
  const auto path = dir / "metrics.csv";
  append_line(path, "epoch,loss");
  append_line(path, "1,0.5\n", /*sync=*/true);
  append_line(path, "");
  CHECK(read_bytes(path) == "epoch,loss\n1,0.5\n\n");
  write_bytes(dir / "plain", "x");
  CHECK(contains(output_error([&] { append_line(dir / "plain" / "log.txt", "x"); }), "Not a directory"));
}

TEST_CASE("files: run directories are named <name>-<timestamp>, with -2, -3 on collision") {
  TempDir dir;
  const auto root = dir / "runs";  // created on demand
  const auto now = fixed_local_time();
  const auto first = make_run_directory(root, "fmnist-cnn", std::nullopt, now).path;
  const auto second = make_run_directory(root, "fmnist-cnn", std::nullopt, now).path;
  const auto third = make_run_directory(root, "fmnist-cnn", std::nullopt, now).path;
  CHECK(first == root / "fmnist-cnn-20240102-030405");
  CHECK(second == root / "fmnist-cnn-20240102-030405-2");
  CHECK(third == root / "fmnist-cnn-20240102-030405-3");
  // Only the checkpoints folder and the run lock's file: the writability probe is gone.
  CHECK(names_in(first) == std::vector<std::string>{".dlrun.lock", "checkpoints"});
  CHECK(names_in(first / "checkpoints").empty());

  // A name is never a path.
  CHECK(make_run_directory(root, "../a b/c", std::nullopt, now).path == root / ".._a_b_c-20240102-030405");
  CHECK(make_run_directory(root, "", std::nullopt, now).path == root / "run-20240102-030405");

  // An output root under a regular file cannot be created.
  write_bytes(dir / "plain", "x");
  const auto message =
      output_error([&] { make_run_directory(dir / "plain" / "runs", "x", std::nullopt, now); });
  CHECK(contains(message, (dir / "plain").string()));
}

TEST_CASE("files: an explicit run directory must be new or empty") {
  TempDir dir;
  const auto fresh = make_run_directory(dir / "ignored", "x", dir / "out" / "deep").path;
  CHECK(fresh == dir / "out" / "deep");
  CHECK(fs::is_directory(fresh / "checkpoints"));
  CHECK_FALSE(fs::exists(dir / "ignored"));

  fs::create_directory(dir / "empty");
  CHECK(make_run_directory(dir.path(), "x", dir / "empty").path == dir / "empty");

  // `fresh` now holds checkpoints/: reusing it for a new run is refused.
  CHECK(contains(output_error([&] { make_run_directory(dir.path(), "x", fresh); }), "not empty"));
  write_bytes(dir / "file", "x");
  CHECK(contains(output_error([&] { make_run_directory(dir.path(), "x", dir / "file"); }), "not a folder"));
}

TEST_CASE("files: two claims of one --out folder: the second is refused while the first holds it") {
  TempDir dir;
  const auto out = dir / "out";
  {
    const RunDirectory first = make_run_directory(dir.path(), "x", out);
    CHECK(first.lock.held());
    // Empty but for the lock file, yet in use: refused, and the early check says so too.
    fs::remove(out / "checkpoints");
    CHECK(
        contains(output_error([&] { make_run_directory(dir.path(), "x", out); }), "in use by another dlrun"));
    CHECK(
        contains(output_error([&] { check_new_run_directory(dir.path(), out); }), "in use by another dlrun"));
    CHECK(contains(output_error([&] { check_run_directory_to_continue(out); }), "in use by another dlrun"));
  }
  // Released, and still empty but for the lock file: a new run may take it.
  check_new_run_directory(dir.path(), out);
  CHECK(make_run_directory(dir.path(), "x", out).path == out);
  check_run_directory_to_continue(out);
}

TEST_CASE("files: the early output checks refuse what the run could not write, and create nothing") {
  TempDir dir;
  check_new_run_directory(dir / "runs" / "deeper", std::nullopt);
  check_new_run_directory(dir / "runs", dir / "out" / "deep");
  CHECK(names_in(dir.path()).empty());

  write_bytes(dir / "plain", "x");
  const auto blocked = output_error([&] { check_new_run_directory(dir / "plain" / "runs", std::nullopt); });
  CHECK(blocked.starts_with((dir / "plain" / "runs").string() + ": cannot create folder: "));
  CHECK(contains(blocked, (dir / "plain").string() + " is not a folder"));
  CHECK(contains(output_error([&] { check_new_run_directory(dir.path(), dir / "plain"); }), "not a folder"));

  fs::create_directory(dir / "used");
  write_bytes(dir / "used" / "metrics.csv", "x");
  CHECK(contains(output_error([&] { check_new_run_directory(dir.path(), dir / "used"); }), "not empty"));
  CHECK_THROWS_AS(check_run_directory_to_continue(dir / "missing"), DataError);

  if (::geteuid() != 0) {  // root writes anywhere: tests/e2e/test_output_faults runs dlrun as nobody
    fs::create_directory(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    const auto message = output_error([&] { check_new_run_directory(dir / "ro" / "runs", std::nullopt); });
    CHECK(contains(message, (dir / "ro").string() + ": not writable: Permission denied"));
    CHECK(contains(output_error([&] { check_run_directory_to_continue(dir / "ro"); }), "not writable"));
    fs::permissions(dir / "ro", fs::perms::owner_all);
  }
}

TEST_CASE("files: check_directory_writable rejects what cannot be written") {
  TempDir dir;
  check_directory_writable(dir.path());
  CHECK(names_in(dir.path()).empty());
  const auto message = output_error([&] { check_directory_writable(dir / "missing"); });
  CHECK(message.starts_with((dir / "missing").string() + ": not writable"));
  CHECK(output_error([&] { check_directory_writable(dir / "missing"); }) != "no error");
}

TEST_CASE("files: summary.json marks a finished run; only completed or early-stopped runs are complete") {
  TempDir dir;
  const auto run = make_run_directory(dir.path(), "r", std::nullopt).path;
  CHECK_FALSE(run_is_complete(run));
  CHECK_FALSE(run_status(run).has_value());

  write_run_summary(run, R"({"command": "train", "status": "completed"})");
  CHECK(run_is_complete(run));
  CHECK(read_bytes(run / "summary.json").ends_with("}\n"));

  write_run_summary(run, R"({"status": "early_stopped"})");
  CHECK(run_is_complete(run));
  for (const char* status : {"interrupted", "diverged", "failed"}) {
    write_run_summary(run, std::string(R"({"status": ")") + status + "\"}");
    CHECK(run_status(run) == status);
    CHECK_FALSE(run_is_complete(run));
  }
  write_bytes(run / "summary.json", R"({"status": "compl)");  // cut short by hand
  CHECK_FALSE(run_status(run).has_value());
  write_bytes(run / "summary.json", R"({"status": 1})");
  CHECK_FALSE(run_is_complete(run));

  write_run_summary(run, R"({"status": "interrupted"})");
  CHECK(open_run_directory_for_resume(run, RunLock(run)).path == run);  // resuming: unfinished again
  CHECK_FALSE(fs::exists(run / "summary.json"));
  mark_incomplete(run);  // idempotent
  CHECK_THROWS_AS(check_run_directory_to_continue(dir / "no-such-run"), DataError);
}

TEST_CASE("files: remove_stale_temporaries removes only <name>.tmp-<digits>") {
  TempDir dir;
  for (const char* name :
       {"last.safetensors.tmp-123", "summary.json.tmp-9", "notes.tmp-", "a.tmp-12x", "keep.txt"}) {
    write_bytes(dir / name, "x");
  }
  CHECK(remove_stale_temporaries(dir.path()) == 2);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"a.tmp-12x", "keep.txt", "notes.tmp-"});
  CHECK(remove_stale_temporaries(dir / "missing") == 0);
}

TEST_CASE("checkpoint files: names") {
  CHECK(epoch_checkpoint_name(7) == "epoch-0007.safetensors");
  CHECK(epoch_checkpoint_name(12345) == "epoch-12345.safetensors");
  CHECK(step_checkpoint_name(1200) == "step-00001200.safetensors");
  CHECK(step_checkpoint_name(123456789) == "step-123456789.safetensors");
}

TEST_CASE("checkpoint files: prune keeps the newest of each kind and never last or best") {
  TempDir dir;
  for (Index epoch : {1, 2, 3, 10, 11}) write_bytes(dir / epoch_checkpoint_name(epoch), "x");
  for (Index step : {100, 200, 300}) write_bytes(dir / step_checkpoint_name(step), "x");
  for (const char* other :
       {"last.safetensors", "best.safetensors", "epoch-0012.safetensors.tmp-4", "epoch-x.safetensors"}) {
    write_bytes(dir / other, "x");
  }
  const auto listed = list_numbered_checkpoints(dir.path());
  REQUIRE(listed.size() == 8);
  CHECK(listed[4].number == 11);  // numeric, not lexical, order (epoch-10 after epoch-3)

  prune_checkpoints(dir.path(), 0);  // keep everything
  CHECK(names_in(dir.path()).size() == 12);
  prune_checkpoints(dir.path(), 2);
  CHECK(names_in(dir.path()) ==
        std::vector<std::string>{"best.safetensors", "epoch-0010.safetensors", "epoch-0011.safetensors",
                                 "epoch-0012.safetensors.tmp-4", "epoch-x.safetensors", "last.safetensors",
                                 "step-00000200.safetensors", "step-00000300.safetensors"});
  prune_checkpoints(dir / "missing", 2);  // no-op
}

TEST_CASE("checkpoint files: newest_checkpoint prefers a valid last, skips corrupt files") {
  TempDir dir;
  const auto run = make_run_directory(dir.path(), "r", std::nullopt).path;
  const auto checkpoints = run / "checkpoints";
  CHECK_FALSE(newest_checkpoint(run).has_value());

  write_checkpoint(checkpoints / epoch_checkpoint_name(1), 1.0f);
  write_checkpoint(checkpoints / epoch_checkpoint_name(2), 2.0f);
  write_checkpoint(checkpoints / "last.safetensors", 2.0f);
  CHECK(newest_checkpoint(run) == checkpoints / "last.safetensors");

  // A truncated last and a corrupt newest epoch file: fall back to epoch 1.
  const std::string last = read_bytes(checkpoints / "last.safetensors");
  write_bytes(checkpoints / "last.safetensors", last.substr(0, last.size() - 3));
  CHECK(newest_checkpoint(run) == checkpoints / epoch_checkpoint_name(2));
  write_bytes(checkpoints / epoch_checkpoint_name(2), "garbage!garbage!");
  CHECK(newest_checkpoint(run) == checkpoints / epoch_checkpoint_name(1));

  // Between kinds, the later written wins.
  write_checkpoint(checkpoints / step_checkpoint_name(50), 3.0f);
  const auto base = fs::last_write_time(checkpoints / epoch_checkpoint_name(1));
  fs::last_write_time(checkpoints / step_checkpoint_name(50), base + std::chrono::seconds(10));
  CHECK(newest_checkpoint(run) == checkpoints / step_checkpoint_name(50));
  fs::last_write_time(checkpoints / step_checkpoint_name(50), base - std::chrono::seconds(10));
  CHECK(newest_checkpoint(run) == checkpoints / epoch_checkpoint_name(1));

  write_bytes(checkpoints / epoch_checkpoint_name(1), "");
  write_bytes(checkpoints / step_checkpoint_name(50), "");
  CHECK_FALSE(newest_checkpoint(run).has_value());
}

// The shared journal of search workers: the file lock excludes other processes and other holders
// in this one, a torn last line is cut before the next append, and the reader reads what was
// appended since its last look (a line without its newline waits).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "select/journal.hpp"
#include "select/journal_lock.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using namespace dlrun::testing;

namespace {

// In a child process: 0 when it could take the lock, 1 when someone held it.
int child_try_lock(const std::filesystem::path& path) {
  const pid_t child = ::fork();
  if (child == 0) {
    JournalLock other(path);
    ::_exit(other.try_lock() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* const kHeader = R"({"event":"search","strategy":"grid"})"
                            "\n";

}  // namespace

TEST_CASE("journal lock: held, it keeps another process out; released, it lets it in") {
  TempDir dir;
  JournalLock lock(dir / "journal.lock");
  lock.lock();
  CHECK(child_try_lock(dir / "journal.lock") == 1);
  lock.unlock();
  CHECK(child_try_lock(dir / "journal.lock") == 0);
  CHECK(lock.try_lock());
  CHECK(!lock.try_lock());  // another thread of this worker waits on the same object
  lock.unlock();
}

TEST_CASE("journal: a torn last line is cut before the next append, whole lines are kept") {
  TempDir dir;
  const auto path = dir.write("journal.jsonl", std::string(kHeader) + R"({"event":"sta)");
  CHECK(cut_torn_tail(path));
  CHECK(read_bytes(path) == kHeader);
  CHECK(!cut_torn_tail(path));  // nothing torn: nothing cut
  const auto only_torn = dir.write("torn.jsonl", R"({"event":"sea)");
  CHECK(cut_torn_tail(only_torn));
  CHECK(read_bytes(only_torn).empty());
  CHECK(!cut_torn_tail(dir / "missing.jsonl"));
}

TEST_CASE("journal reader: each refresh reads the lines appended since; a line without its newline waits") {
  TempDir dir;
  const auto path = dir.write("journal.jsonl", kHeader);
  JournalReader reader(path);
  CHECK(reader.refresh().header["strategy"] == "grid");
  Journal journal(path);
  journal.started(1, 0, {0.5}, {{"x", 0.5}},
                  {{"worker", "h:1"}, {"host", "h"}, {"pid_space", "b/pid"}, {"pid", 1}, {"until", 10.0}});
  journal.append({{"event", "alive"}, {"worker", "h:1"}, {"until", 20.0}});
  write_bytes(path, read_bytes(path) + R"({"event":"finish","tri)");  // being written, or torn
  const JournalContents& seen = reader.refresh();
  REQUIRE(seen.claims.contains(1));
  CHECK(seen.claims.at(1).worker == "h:1");
  CHECK(seen.claims.at(1).until == 10.0);
  CHECK(seen.alive.at("h:1") == 20.0);
  CHECK(seen.finished.empty());
  cut_torn_tail(path);
  TrialRecord record;
  record.trial = 1;
  record.point = {0.5};
  record.outcome.metric = 0.9;
  journal.finished(record, {{"x", 0.5}}, "h:1");
  journal.append({{"event", "release"}, {"trial", 1}, {"budget", 0}, {"worker", "h:1"}});
  const JournalContents& later = reader.refresh();
  REQUIRE(later.finished.contains({1, 0}));
  CHECK(later.finished.at({1, 0}).worker == "h:1");
  CHECK(later.finished.at({1, 0}).outcome.metric == 0.9);
  CHECK(later.claims.at(1).released);
  CHECK(read_journal(path).finished.size() == 1);  // a whole read agrees
}

// The run lock (io/run_lock.hpp): one holder at a time, between processes and within one; the
// refusal names the folder and the holder's pid; a killed holder leaves the lock free; check_free
// reports the same without creating anything.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/errors.hpp"
#include "io/run_lock.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;
using testing::TempDir;
namespace fs = std::filesystem;

namespace {

// A child process that takes the lock of `directory`, tells the parent through a pipe, and waits
// to be killed.
struct LockingChild {
  pid_t pid = -1;

  explicit LockingChild(const fs::path& directory) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid = ::fork();
    if (pid == 0) {
      ::close(ready[0]);
      try {
        const RunLock lock(directory);
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(2);
        for (;;) ::pause();
      } catch (...) {
        ::_exit(1);
      }
    }
    ::close(ready[1]);
    char byte = 0;
    const bool locked = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    REQUIRE(locked);
  }
  ~LockingChild() { kill(); }

  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

}  // namespace

TEST_CASE("run lock: a second holder is refused with the folder and the holder's pid") {
  TempDir dir;
  {
    const RunLock lock(dir.path());
    CHECK(lock.held());
    CHECK(fs::exists(dir / ".dlrun.lock"));
    // Open-file-description locks: a second RunLock in this same process is refused as well.
    const std::string message = message_of([&] { RunLock second(dir.path()); });
    CHECK(message.starts_with(dir.path().string() + ": in use by another dlrun process (pid " +
                              std::to_string(::getpid())));
    CHECK(contains(message, "two runs never share a folder"));
    CHECK_THROWS_AS(RunLock::check_free(dir.path()), OutputError);
  }
  // Released with its object: the next run takes it (the file stays).
  const RunLock again(dir.path());
  CHECK(again.held());
}

TEST_CASE("run lock: held by another process until that process is killed") {
  TempDir dir;
  LockingChild child(dir.path());
  const std::string message = message_of([&] { RunLock mine(dir.path()); });
  CHECK(contains(message, "in use by another dlrun process (pid " + std::to_string(child.pid)));
  CHECK(message_of([&] { RunLock::check_free(dir.path()); }) == message);
  child.kill();  // SIGKILL: no chance to unlock, the kernel releases it
  RunLock::check_free(dir.path());
  CHECK(RunLock(dir.path()).held());
}

TEST_CASE("run lock: check_free creates nothing; a lock in a missing folder is an OutputError") {
  TempDir dir;
  RunLock::check_free(dir.path());
  CHECK(fs::is_empty(dir.path()));
  CHECK_FALSE(RunLock().held());
  CHECK_THROWS_AS(RunLock(dir / "missing"), OutputError);
}

// A dlrun process running in the background, for tests that interrupt training (SIGINT, SIGKILL)
// at chosen moments. stdout and stderr go to files; the destructor kills and reaps a process the
// test left running, so a failed check never leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace dlrun::testing {

class BackgroundRun {
 public:
  // Starts `dlrun <arguments>` (passed to /bin/sh as written, which execs dlrun, so pid() is
  // dlrun's own) with stdout and stderr redirected to `out` and `err`.
  BackgroundRun(const std::string& arguments, const std::filesystem::path& out,
                const std::filesystem::path& err);
  ~BackgroundRun();
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` unless the process has already been reaped.
  void send(int signal);
  // True while the process has not exited (reaps it when it has).
  bool running();
  // Waits for the exit: the exit code, or 128 + the signal number when a signal ended it.
  int wait();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

// Polls `condition` every millisecond until it holds (true) or `timeout` passes (false).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace dlrun::testing

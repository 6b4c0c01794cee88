#include "e2e/background_run.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace dlrun::testing {

BackgroundRun::BackgroundRun(const std::string& arguments, const std::filesystem::path& out,
                             const std::filesystem::path& err) {
  const std::string command = std::string("exec '") + DLRUN_BINARY + "' " + arguments + " >'" + out.string() +
                              "' 2>'" + err.string() + "' </dev/null";
  std::vector<char*> argv{const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                          const_cast<char*>(command.c_str()), nullptr};
  if (::posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("posix_spawn failed for: " + command);
  }
}

BackgroundRun::~BackgroundRun() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  wait();
}

void BackgroundRun::send(int signal) {
  if (!reaped_) ::kill(pid_, signal);
}

bool BackgroundRun::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    reaped_ = true;
    status_ = status;
  }
  return !reaped_;
}

int BackgroundRun::wait() {
  while (!reaped_) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, 0);
    if (done == pid_) {
      reaped_ = true;
      status_ = status;
    } else if (done < 0 && errno != EINTR) {
      throw std::runtime_error("waitpid failed");
    }
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace dlrun::testing

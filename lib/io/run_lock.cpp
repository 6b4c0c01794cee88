#include "io/run_lock.hpp"

#include <unistd.h>

#include <string>
#include <system_error>

#include "core/errors.hpp"

namespace dlrun {
namespace {

namespace fs = std::filesystem;

std::string this_process() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return "pid " + std::to_string(::getpid()) + (host[0] ? std::string(" on ") + host : std::string());
}

[[noreturn]] void throw_in_use(const fs::path& directory, const FileLock& lock) {
  std::string holder = lock.note();
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
  throw OutputError(directory.string() + ": in use by another dlrun process" +
                    (holder.empty() ? std::string() : " (" + holder + ")") +
                    "; two runs never share a folder: wait for it to end, or choose another folder");
}

}  // namespace

RunLock::RunLock(const fs::path& directory)
    : directory_(directory), lock_(std::make_unique<FileLock>(directory / kRunLockFile)) {
  if (!lock_->try_lock()) throw_in_use(directory, *lock_);
  lock_->write_note(this_process() + "\n");
}

void RunLock::check_free(const fs::path& directory) {
  const fs::path path = directory / kRunLockFile;
  std::error_code error;
  if (!fs::exists(path, error)) return;
  FileLock lock(path);
  if (!lock.try_lock()) throw_in_use(directory, lock);
  lock.unlock();
}

}  // namespace dlrun

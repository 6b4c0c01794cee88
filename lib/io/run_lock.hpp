// The lock a run holds on its directory from the moment it claims it until it ends, so that two
// dlrun processes never write one run, cv or search directory at once (a second `dlrun train
// --out DIR`, or a `--resume` of a run that is still training): a FileLock (io/file_lock.hpp) on
// `<dir>/.dlrun.lock`, taken without waiting. The second process fails at once with an OutputError
// (exit 5) naming the folder and the holder (host and pid, which the holder writes into the file).
// The file stays after the run (removing it would race with a process about to lock it) and holds
// no state: the lock dies with its process, so a crashed or killed run never blocks its resume.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "io/file_lock.hpp"

namespace dlrun {

inline constexpr std::string_view kRunLockFile = ".dlrun.lock";

class RunLock {
 public:
  RunLock() = default;  // holds nothing
  // Takes the lock of `directory` (an existing folder), creating its lock file when missing.
  // Throws OutputError when another process holds it, or when the file cannot be opened.
  explicit RunLock(const std::filesystem::path& directory);

  bool held() const { return lock_ != nullptr; }
  const std::filesystem::path& directory() const { return directory_; }

  // Throws the OutputError the constructor would when another process holds the lock of
  // `directory`; creates nothing (a folder without a lock file is free). For checks made before a
  // run starts: the run itself must still take the lock.
  static void check_free(const std::filesystem::path& directory);

 private:
  std::filesystem::path directory_;
  std::unique_ptr<FileLock> lock_;
};

}  // namespace dlrun

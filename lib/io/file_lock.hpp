// An exclusive lock on a file, between processes: an fcntl(2) record lock on the whole file, which
// works between processes on one machine and, through the NFS lock manager, between machines that
// mount the folder (flock(2) is not reliably cluster-wide on every network filesystem; fcntl is
// what NFS and Lustre/GPFS honour). Linux's open-file-description locks are used where available,
// so the lock also excludes threads of one process that hold separate FileLock objects, and
// closing another descriptor of the file does not drop it; one object is shared by threads
// through its mutex. The lock dies with its process, so a killed process never leaves it held.
// Users: search workers around every read-decide-append on their shared journal
// (select/journal_lock.hpp), and a run on its directory for as long as it runs (io/run_lock.hpp).
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

namespace dlrun {

class FileLock {
 public:
  // Opens (creating when missing) the lock file. Throws OutputError naming it.
  explicit FileLock(std::filesystem::path path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Blocks until this thread holds the lock. Throws OutputError.
  void lock();
  // Takes the lock only if no one holds it.
  bool try_lock();
  void unlock();

  // The lock file's text (at most 4 KiB): who holds it, as the holder wrote it; "" when unreadable.
  std::string note() const;
  // Replaces the lock file's text (call holding the lock). Throws OutputError.
  void write_note(std::string_view text);

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex threads_;
};

}  // namespace dlrun

// The lock that search workers (lib/select/search_worker) take around every read-decide-append on
// a shared search journal: an exclusive fcntl(2) record lock on `<search dir>/journal.lock`, which
// works between processes on one machine and, through the NFS lock manager, between machines that
// mount the folder (flock(2) is not reliably cluster-wide on every network filesystem; fcntl is
// what NFS and Lustre/GPFS honour). Linux's open-file-description locks are used where available,
// so the lock also excludes threads of one process that hold separate JournalLock objects; one
// object is shared by the threads of a worker (`--jobs`) through its mutex. The lock dies with its
// process, so a killed worker never leaves the journal locked.
#pragma once

#include <filesystem>
#include <mutex>

namespace dlrun {

class JournalLock {
 public:
  // Opens (creating when missing) the lock file. Throws OutputError naming it.
  explicit JournalLock(std::filesystem::path path);
  ~JournalLock();
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;

  // Blocks until this thread holds the lock. Throws OutputError.
  void lock();
  // Takes the lock only if no one holds it.
  bool try_lock();
  void unlock();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex threads_;
};

// Under the lock: a journal whose last line lacks its newline holds a write that a killed worker
// cut short. It is cut off (truncated back to the last newline), so that the next line appended
// does not glue onto it and the journal stays a sequence of whole lines. Returns whether it cut.
// Throws OutputError.
bool cut_torn_tail(const std::filesystem::path& journal);

}  // namespace dlrun

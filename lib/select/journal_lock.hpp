// The lock that search workers (lib/select/search_worker) take around every read-decide-append on
// a shared search journal: a FileLock (io/file_lock.hpp) on `<search dir>/journal.lock`, one object
// shared by the threads of a worker (`--jobs`). A killed worker never leaves the journal locked.
#pragma once

#include <filesystem>

#include "io/file_lock.hpp"

namespace dlrun {

using JournalLock = FileLock;

// Under the lock: a journal whose last line lacks its newline holds a write that a killed worker
// cut short. It is cut off (truncated back to the last newline), so that the next line appended
// does not glue onto it and the journal stays a sequence of whole lines. Returns whether it cut.
// Throws OutputError.
bool cut_torn_tail(const std::filesystem::path& journal);

}  // namespace dlrun

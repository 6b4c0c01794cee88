#include "select/journal_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "core/errors.hpp"

namespace dlrun {
namespace {

#ifdef F_OFD_SETLKW
constexpr int kSetLockWait = F_OFD_SETLKW;
constexpr int kSetLock = F_OFD_SETLK;
#else
constexpr int kSetLockWait = F_SETLKW;
constexpr int kSetLock = F_SETLK;
#endif

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int error_number) {
  throw OutputError(path.string() + ": " + what + ": " + std::generic_category().message(error_number));
}

// The whole file, exclusively (or unlocked).
struct flock whole_file(short type) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;
  lock.l_pid = 0;  // required 0 for open-file-description locks
  return lock;
}

}  // namespace

JournalLock::JournalLock(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, "cannot open the journal's lock file", errno);
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalLock::lock() {
  threads_.lock();
  struct flock request = whole_file(F_WRLCK);
  while (::fcntl(fd_, kSetLockWait, &request) != 0) {
    if (errno == EINTR) continue;  // a signal (SIGINT) while waiting: keep waiting, the holder is brief
    const int error = errno;
    threads_.unlock();
    fail(path_, "cannot lock", error);
  }
}

bool JournalLock::try_lock() {
  if (!threads_.try_lock()) return false;
  struct flock request = whole_file(F_WRLCK);
  if (::fcntl(fd_, kSetLock, &request) == 0) return true;
  threads_.unlock();
  return false;
}

void JournalLock::unlock() {
  struct flock request = whole_file(F_UNLCK);
  ::fcntl(fd_, kSetLock, &request);  // cannot fail for a lock we hold; closing would release it too
  threads_.unlock();
}

bool cut_torn_tail(const std::filesystem::path& journal) {
  const int fd = ::open(journal.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    fail(journal, "cannot open", errno);
  }
  struct stat status {};
  off_t keep = -1;
  int error = ::fstat(fd, &status) == 0 ? 0 : errno;
  // Look back for the last newline in blocks; a torn line is at most one journal line long.
  char block[4096];
  for (off_t end = error == 0 ? status.st_size : 0; end > 0 && keep < 0 && error == 0;) {
    const off_t begin = end > static_cast<off_t>(sizeof block) ? end - static_cast<off_t>(sizeof block) : 0;
    const ssize_t got = ::pread(fd, block, static_cast<std::size_t>(end - begin), begin);
    if (got != end - begin) {
      error = got < 0 ? errno : EIO;
      break;
    }
    if (end == status.st_size && block[got - 1] == '\n') keep = status.st_size;  // whole lines
    for (ssize_t i = got; keep < 0 && i-- > 0;) {
      if (block[i] == '\n') keep = begin + i + 1;
    }
    end = begin;
  }
  if (error == 0 && status.st_size > 0 && keep < 0) keep = 0;  // not one whole line
  const bool cut = error == 0 && keep >= 0 && keep < status.st_size;
  if (cut && (::ftruncate(fd, keep) != 0 || ::fsync(fd) != 0)) error = errno;
  ::close(fd);
  if (error != 0) fail(journal, "cannot cut a torn last line", error);
  return cut;
}

}  // namespace dlrun

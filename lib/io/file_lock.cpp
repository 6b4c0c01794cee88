#include "io/file_lock.hpp"

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

FileLock::FileLock(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, "cannot open the lock file", errno);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

void FileLock::lock() {
  threads_.lock();
  struct flock request = whole_file(F_WRLCK);
  while (::fcntl(fd_, kSetLockWait, &request) != 0) {
    if (errno == EINTR) continue;  // a signal (SIGINT) while waiting: keep waiting, lock() is for brief holds
    const int error = errno;
    threads_.unlock();
    fail(path_, "cannot lock", error);
  }
}

bool FileLock::try_lock() {
  if (!threads_.try_lock()) return false;
  struct flock request = whole_file(F_WRLCK);
  if (::fcntl(fd_, kSetLock, &request) == 0) return true;
  threads_.unlock();
  return false;
}

void FileLock::unlock() {
  struct flock request = whole_file(F_UNLCK);
  ::fcntl(fd_, kSetLock, &request);  // cannot fail for a lock we hold; closing would release it too
  threads_.unlock();
}

std::string FileLock::note() const {
  char text[4096];
  const ssize_t got = ::pread(fd_, text, sizeof text, 0);
  return got > 0 ? std::string(text, static_cast<std::size_t>(got)) : std::string();
}

void FileLock::write_note(std::string_view text) {
  if (::ftruncate(fd_, 0) != 0) fail(path_, "cannot write", errno);
  for (off_t offset = 0; !text.empty();) {
    const ssize_t written = ::pwrite(fd_, text.data(), text.size(), offset);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) fail(path_, "cannot write", errno);
    text.remove_prefix(static_cast<std::size_t>(written));
    offset += written;
  }
}

}  // namespace dlrun

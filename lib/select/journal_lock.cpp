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

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int error_number) {
  throw OutputError(path.string() + ": " + what + ": " + std::generic_category().message(error_number));
}

}  // namespace

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

#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/errors.hpp"

namespace dlrun {

namespace fs = std::filesystem;

namespace {

std::string error_text(int error_number) {
  return std::generic_category().message(error_number);
}

[[noreturn]] void throw_output_error(const fs::path& path, std::string_view what, int error_number) {
  throw OutputError(path.string() + ": " + std::string(what) + ": " + error_text(error_number));
}

// write(2) until every byte is out; returns 0 or the errno of the failure.
int write_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return 0;
}

fs::path parent_or_current(const fs::path& path) {
  const fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Makes a rename or unlink in `directory` durable. Filesystems that cannot fsync a directory
// (EINVAL) are accepted: there is nothing more to do on them.
int fsync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int result = 0;
  if (::fsync(fd) != 0 && errno != EINVAL) result = errno;
  ::close(fd);
  return result;
}

std::string sanitized_run_name(const std::string& name) {
  std::string text;
  for (const char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '+';
    text += keep ? c : '_';
  }
  if (text.empty() || text == "." || text == "..") text = "run";
  return text;
}

std::string timestamp_text(std::chrono::system_clock::time_point now) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
  return text;
}

void create_directories_or_throw(const fs::path& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) throw_output_error(directory, "cannot create folder", error.value());
  if (!fs::is_directory(directory)) throw_output_error(directory, "cannot create folder", ENOTDIR);
}

// True when `directory` holds nothing but a run lock file (a folder a new run may take).
bool empty_but_lock(const fs::path& directory) {
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->path().filename() != kRunLockFile) return false;
  }
  return !error;
}

[[noreturn]] void throw_not_empty(const fs::path& dir) {
  throw OutputError(dir.string() +
                    ": output folder exists and is not empty (choose another --out, or --resume it)");
}

// The nearest folder on the way to `path` that exists (`path` itself when it does); an OutputError
// when that is not a folder.
fs::path nearest_existing_folder(const fs::path& path) {
  fs::path folder = path;
  std::error_code error;
  while (!fs::exists(folder, error)) {
    const fs::path parent = folder.parent_path();
    if (parent.empty() || parent == folder) {
      folder = parent.empty() ? fs::path(".") : parent;
      break;
    }
    folder = parent;
  }
  if (!fs::is_directory(folder, error)) {
    throw_output_error(path, "cannot create folder: " + folder.string() + " is not a folder", ENOTDIR);
  }
  return folder;
}

// check_directory_writable on the nearest existing folder, naming `target` when that is another.
void check_can_create(const fs::path& target) {
  const fs::path folder = nearest_existing_folder(target);
  try {
    check_directory_writable(folder);
  } catch (const OutputError& error) {
    if (folder == target) throw;
    throw OutputError(target.string() + ": cannot create the output folder: " + error.what());
  }
}

void prepare_checkpoints_and_probe(const fs::path& run_dir) {
  const fs::path checkpoints = run_dir / kCheckpointsFolder;
  create_directories_or_throw(checkpoints);
  check_directory_writable(run_dir);
  check_directory_writable(checkpoints);
}

}  // namespace

fs::path temporary_path_for(const fs::path& path) {
  fs::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  return temporary;
}

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)), temporary_(temporary_path_for(path_)) {
  // O_NOFOLLOW: a symlink planted at the temporary name must not redirect the write.
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    throw_output_error(path_, "cannot create temporary file " + temporary_.filename().string(), errno);
  }
  created_ = true;
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (created_) ::unlink(temporary_.c_str());
  created_ = false;
}

void AtomicFile::fail(std::string_view what, int error_number) {
  discard();
  throw_output_error(path_, what, error_number);
}

void AtomicFile::write(std::span<const std::byte> bytes) {
  require(fd_ >= 0, "AtomicFile::write after commit");
  if (const int error = write_all(fd_, bytes); error != 0) fail("cannot write", error);
}

void AtomicFile::commit() {
  require(fd_ >= 0, "AtomicFile::commit twice");
  if (::fsync(fd_) != 0) fail("cannot flush to disk (fsync)", errno);
  const int fd = fd_;
  fd_ = -1;
  // close() can report a deferred write error (NFS, quotas): the data is then not safe.
  if (::close(fd) != 0) fail("cannot close", errno);
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary over it", errno);
  created_ = false;
  if (const int error = fsync_directory(parent_or_current(path_)); error != 0) {
    throw_output_error(path_, "written, but its folder could not be synced", error);
  }
}

void write_text_atomic(const fs::path& path, std::string_view text) {
  AtomicFile file(path);
  file.write(text);
  file.commit();
}

void append_line(const fs::path& path, std::string_view line, bool sync) {
  std::string text(line);
  if (text.empty() || text.back() != '\n') text += '\n';
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_output_error(path, "cannot open for appending", errno);
  int error = write_all(fd, std::as_bytes(std::span(text.data(), text.size())));
  if (error == 0 && sync && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) throw_output_error(path, "cannot append", error);
}

void check_directory_writable(const fs::path& directory) {
  const fs::path probe = directory / (".dlrun-write-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw_output_error(directory, "not writable", errno);
  int error = write_all(fd, std::as_bytes(std::span("probe", 5)));
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (::unlink(probe.c_str()) != 0 && error == 0) error = errno;
  if (error != 0) throw_output_error(directory, "not writable", error);
}

RunDirectory make_run_directory(const fs::path& output_root, const std::string& name,
                                const std::optional<fs::path>& explicit_dir,
                                std::chrono::system_clock::time_point now) {
  if (explicit_dir) {
    const fs::path& dir = *explicit_dir;
    std::error_code error;
    const auto status = fs::status(dir, error);
    if (fs::exists(status)) {
      if (!fs::is_directory(status)) throw_output_error(dir, "exists and is not a folder", ENOTDIR);
      // Refused before the lock file is made: a mistyped --out leaves no trace in someone's folder.
      if (!empty_but_lock(dir)) throw_not_empty(dir);
    }
    create_directories_or_throw(dir);
    RunLock lock(dir);
    // Again under the lock: another process may have taken the folder since the look above.
    if (!empty_but_lock(dir)) throw_not_empty(dir);
    prepare_checkpoints_and_probe(dir);
    return {dir, std::move(lock)};
  }

  create_directories_or_throw(output_root);
  const std::string base = sanitized_run_name(name) + "-" + timestamp_text(now);
  // mkdir(2), not create_directories: EEXIST must mean "taken", even when another process made it
  // a moment ago (search and cv run several trainings at once).
  for (int attempt = 1; attempt <= 10000; ++attempt) {
    const fs::path dir = output_root / (attempt == 1 ? base : base + "-" + std::to_string(attempt));
    if (::mkdir(dir.c_str(), 0755) == 0) {
      RunLock lock(dir);
      prepare_checkpoints_and_probe(dir);
      return {dir, std::move(lock)};
    }
    if (errno != EEXIST) throw_output_error(dir, "cannot create run folder", errno);
  }
  throw OutputError((output_root / base).string() +
                    ": cannot create run folder: too many runs with this name");
}

RunDirectory open_run_directory_for_resume(const fs::path& run_dir, RunLock lock) {
  require(lock.held() && lock.directory() == run_dir, "open_run_directory_for_resume: lock the run first");
  prepare_checkpoints_and_probe(run_dir);
  mark_incomplete(run_dir);
  return {run_dir, std::move(lock)};
}

void check_new_run_directory(const fs::path& output_root, const std::optional<fs::path>& explicit_dir) {
  if (!explicit_dir) {
    check_can_create(output_root);
    return;
  }
  const fs::path& dir = *explicit_dir;
  std::error_code error;
  const auto status = fs::status(dir, error);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) throw_output_error(dir, "exists and is not a folder", ENOTDIR);
    RunLock::check_free(dir);
    if (!empty_but_lock(dir)) throw_not_empty(dir);
  }
  check_can_create(dir);
}

void check_run_directory_to_continue(const fs::path& run_dir) {
  std::error_code error;
  if (!fs::is_directory(run_dir, error)) {
    throw DataError(Location{run_dir.string()}, "run folder to resume does not exist or is not a folder");
  }
  RunLock::check_free(run_dir);
  check_directory_writable(run_dir);
}

void mark_incomplete(const fs::path& run_dir) {
  const fs::path summary = run_dir / kSummaryFile;
  if (::unlink(summary.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw_output_error(summary, "cannot remove", errno);
  }
  if (const int error = fsync_directory(run_dir); error != 0) {
    throw_output_error(run_dir, "cannot sync folder", error);
  }
}

void write_run_summary(const fs::path& run_dir, std::string_view summary_json) {
  std::string text(summary_json);
  if (text.empty() || text.back() != '\n') text += '\n';
  write_text_atomic(run_dir / kSummaryFile, text);
}

std::optional<std::string> run_status(const fs::path& run_dir) {
  std::ifstream in(run_dir / kSummaryFile, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const auto summary = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!summary.is_object()) return std::nullopt;
  const auto status = summary.find("status");
  if (status == summary.end() || !status->is_string()) return std::nullopt;
  return status->get<std::string>();
}

bool run_is_complete(const fs::path& run_dir) {
  const auto status = run_status(run_dir);
  return status && (*status == "completed" || *status == "early_stopped");
}

int remove_stale_temporaries(const fs::path& directory) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) return 0;
  std::vector<fs::path> stale;
  try {
    for (const auto& entry : fs::directory_iterator(directory)) {
      const std::string name = entry.path().filename().string();
      const auto marker = name.rfind(".tmp-");
      if (marker == std::string::npos || marker + 5 == name.size()) continue;
      if (name.find_first_not_of("0123456789", marker + 5) != std::string::npos) continue;
      stale.push_back(entry.path());
    }
  } catch (const fs::filesystem_error& e) {
    throw_output_error(directory, "cannot list", e.code().value());
  }
  for (const auto& path : stale) {
    if (::unlink(path.c_str()) != 0) throw_output_error(path, "cannot remove", errno);
  }
  return static_cast<int>(stale.size());
}

}  // namespace dlrun

// Durable file output and run directories (DESIGN.md §4): atomic writes, appended log lines, the
// run directory with its checkpoints/ folder, and the convention that tells a finished run from a
// crashed one. Every failure to write throws OutputError (exit 5) naming the file.
//
// Temporary files: an atomic write of `<dir>/<name>` goes through `<dir>/<name>.tmp-<pid>` (same
// folder, so the rename never crosses filesystems). A crash can leave such a file behind; it is
// never mistaken for the real one, and remove_stale_temporaries() cleans them up.
//
// Run completeness: `summary.json` is the only "done" marker. It is written once, atomically, when
// the run ends (write_run_summary), and removed when a run starts or resumes (mark_incomplete).
// So a run directory without summary.json is running, crashed or was killed hard; one with it has
// ended, and its "status" says how. run_is_complete() is true only for status "completed" or
// "early_stopped": an interrupted, diverged or failed run never looks complete.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "io/run_lock.hpp"

namespace dlrun {

inline constexpr std::string_view kCheckpointsFolder = "checkpoints";
inline constexpr std::string_view kSummaryFile = "summary.json";

// "<path>.tmp-<pid>": where an atomic write of `path` stages its bytes.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Writes one file atomically. Bytes go to temporary_path_for(path); commit() flushes, fsyncs,
// closes, renames over `path` and fsyncs the folder. A writer destroyed without commit() (an
// exception on the way) removes its temporary, so `path` keeps its previous content. Every failure
// (ENOSPC, EACCES, a missing folder, ...) removes the temporary and throws OutputError
// "<path>: <what failed>: <strerror>". One writer per path at a time within a process (the
// temporary's name is per process).
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }
  void commit();

 private:
  [[noreturn]] void fail(std::string_view what, int error_number);
  void discard() noexcept;

  std::filesystem::path path_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  bool created_ = false;
};

// Replaces `path` with `text` atomically (AtomicFile). Throws OutputError.
void write_text_atomic(const std::filesystem::path& path, std::string_view text);

// Appends `line` plus a newline (unless it ends with one) in one write(2) on an O_APPEND
// descriptor, creating the file when missing: metrics.csv rows and log lines. With `sync`, fsyncs
// before returning. Throws OutputError.
void append_line(const std::filesystem::path& path, std::string_view line, bool sync = false);

// Throws OutputError "<directory>: not writable: <strerror>" unless a small probe file can be
// created, written, fsynced and removed there (Caffe's CheckSnapshotWritePermissions), so a run
// fails at its start rather than at its first checkpoint.
void check_directory_writable(const std::filesystem::path& directory);

// A run, cv or search directory this process has claimed, and the lock it holds on it
// (io/run_lock.hpp) for as long as the object lives: keep it until the run ends.
struct RunDirectory {
  std::filesystem::path path;
  RunLock lock;
};

// Creates the directory of a new run with its checkpoints/ folder, takes its lock, probes both
// folders for writability and returns it.
//   Without explicit_dir: `<output_root>/<name>-<YYYYmmdd-HHMMSS>` in local time, created with
//   mkdir(2) so two processes never share one; when taken, `-2`, `-3`, ... is appended. Characters
//   of `name` other than letters, digits, '-', '_', '.' and '+' become '_' (a name is never a path).
//   With explicit_dir (--out DIR): that folder, created when missing; an existing EMPTY folder is
//   used, a non-empty one or a file is an OutputError (a new run must not mix with old files:
//   continuing a run is open_run_directory_for_resume). Emptiness is checked again under the lock,
//   so of two processes given one --out, one runs and the other fails ("in use" or "not empty").
// Throws OutputError.
RunDirectory make_run_directory(const std::filesystem::path& output_root, const std::string& name,
                                const std::optional<std::filesystem::path>& explicit_dir,
                                std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// An existing run directory that --resume continues, with its lock (taken by the caller before it
// read anything there): checkpoints/ is created when missing; both are probed for writability
// (OutputError). Then mark_incomplete(). Returns the directory holding `lock`.
RunDirectory open_run_directory_for_resume(const std::filesystem::path& run_dir, RunLock lock);

// Early checks, made before any data is read so that a run that could not write its results fails
// at once (the run still makes the real claim later; these create nothing but a probe file that
// comes and goes). Throw OutputError naming the folder.
//   check_new_run_directory: what make_run_directory needs: explicit_dir, when it exists, is an
//   empty folder whose lock is free, and writable; otherwise the nearest existing folder on the
//   way to it (or to output_root) is a writable folder.
//   check_run_directory_to_continue: `run_dir` (a run or search directory to resume) is a folder
//   (DataError otherwise, as it is an input), writable, and its lock is free.
void check_new_run_directory(const std::filesystem::path& output_root,
                             const std::optional<std::filesystem::path>& explicit_dir);
void check_run_directory_to_continue(const std::filesystem::path& run_dir);

// Removes summary.json (durably) so that the run reads as unfinished until write_run_summary().
// Throws OutputError when it exists and cannot be removed.
void mark_incomplete(const std::filesystem::path& run_dir);

// Writes summary.json atomically: the final act of every run that ends under dlrun's control,
// whatever its status. `summary_json` is the JSON text (the object printed on stdout).
void write_run_summary(const std::filesystem::path& run_dir, std::string_view summary_json);

// The "status" of summary.json, or nullopt when the file is missing, unreadable or not a JSON
// object with a string "status" (running, crashed, or killed hard). Never throws for bad content.
std::optional<std::string> run_status(const std::filesystem::path& run_dir);

// True when run_status() is "completed" or "early_stopped".
bool run_is_complete(const std::filesystem::path& run_dir);

// Removes `*.tmp-<digits>` files left in `directory` by writes that a crash cut short. Call only
// when no other process writes there (at the start of a run or resume). Missing folder: no-op.
// Returns how many were removed. Throws OutputError when one cannot be removed.
int remove_stale_temporaries(const std::filesystem::path& directory);

}  // namespace dlrun

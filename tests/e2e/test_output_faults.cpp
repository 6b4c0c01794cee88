// End-to-end: faults on the output side (DESIGN.md §2, exit 5). A file size limit (RLIMIT_FSIZE)
// or a full disk (a small tmpfs, where a user namespace allows mounting one) hit while writing a
// checkpoint leaves the previous one byte for byte and no temporary, with one error line; an
// output folder that cannot be written fails before the data is read; two runs never write one
// folder; a resume under another thread count says it will not be bit-identical.
#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "e2e/background_run.hpp"
#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"
#include "io/run_lock.hpp"
#include "support/messages.hpp"
#include "train/checkpoint.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

// stderr holds exactly one line, the error, and it starts with `start`.
void check_only_error(const CommandResult& result, const std::string& start) {
  CAPTURE(result.err);
  const auto errors = error_lines(result.err);
  REQUIRE(errors.size() == 1);
  CHECK(result.err == errors.front() + "\n");
  CHECK(errors.front().starts_with("error: " + start));
}

int temporaries_in(const fs::path& directory) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (contains(entry.path().filename().string(), ".tmp-")) ++count;
  }
  return count;
}

const std::string kQuiet = " --quiet --threads 1";

}  // namespace

TEST_CASE("e2e output faults: a checkpoint over the file size limit is exit 5; the previous stays intact") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  // 256 hidden units: a checkpoint of about 25 kB, far above every other file of the run.
  const auto config = dir.write(
      "wide.yaml", tiny_csv_config(csv, "train: {epochs: 1, batch_size: 10, checkpoint: {every: 1}}\n"));
  const std::string train = "train " + config.string() + " --set model.layers.hidden.units=256" + kQuiet;
  const auto run = dir / "run";
  const auto first = run_dlrun(train + " --out " + run.string());
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const auto last = run / "checkpoints" / "last.safetensors";
  const std::string epoch_one = read_bytes(last);
  REQUIRE(epoch_one.size() > 20000);

  // The limit is set in the child before it execs dlrun (prlimit); dlrun ignores SIGXFSZ, so the
  // write fails with EFBIG instead of the signal killing it.
  const auto full =
      run_command("prlimit --fsize=" + std::to_string(epoch_one.size() / 2) + " '" + DLRUN_BINARY + "' " +
                  train + " --set train.epochs=2 --resume " + run.string());
  CHECK(full.exit_code == 5);
  check_only_error(full, (run / "checkpoints" / "epoch-0002.safetensors").string() +
                             ": cannot write: File too large (the checkpoints written before are intact: "
                             "free space, then --resume " +
                             run.string() + ")");
  CHECK(read_bytes(last) == epoch_one);
  CHECK_FALSE(fs::exists(run / "checkpoints" / "epoch-0002.safetensors"));
  CHECK(temporaries_in(run / "checkpoints") == 0);
  CHECK(temporaries_in(run) == 0);
  CHECK(nlohmann::json::parse(read_bytes(run / "summary.json"))["status"] == "failed");

  // With the space back, the run resumes from the intact checkpoint and finishes.
  const auto resumed = run_dlrun(train + " --set train.epochs=2 --resume " + run.string());
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(last_json_line(resumed.out)["epochs"] == 2);
}

TEST_CASE("e2e output faults: a full disk (a small tmpfs) while checkpointing is exit 5, one line") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  const auto config = dir.write(
      "wide.yaml", tiny_csv_config(csv, "train: {epochs: 1, batch_size: 10, checkpoint: {every: 1}}\n"));
  const std::string dlrun = std::string("'") + DLRUN_BINARY + "' train " + config.string() +
                            " --set model.layers.hidden.units=256" + kQuiet;
  fs::create_directory(dir / "mnt");
  const std::string mnt = (dir / "mnt").string();
  const std::string out = dir.path().string();
  // In a mount namespace of its own (no privilege needed where user namespaces are allowed): a
  // 256 KiB tmpfs, one epoch, then the disk filled but for 16 KiB (less than a checkpoint, more
  // than the run's small files) and a resume. Whatever is to be checked is copied out before the
  // namespace, and the tmpfs with it, ends.
  const std::string script =
      "mount -t tmpfs -o size=256k tmpfs " + mnt + " || exit 97\n" + dlrun + " --out " + mnt +
      "/run >/dev/null 2>&1 || exit 98\n"
      "cp " +
      mnt + "/run/checkpoints/last.safetensors " + out +
      "/before\n"
      "free=$(( $(stat -f -c %a " +
      mnt + ") * $(stat -f -c %S " + mnt +
      ") - 16384 ))\n"
      "head -c $free /dev/zero > " +
      mnt + "/fill\n" + dlrun + " --set train.epochs=2 --resume " + mnt + "/run >/dev/null 2>" + out +
      "/full.err\n"
      "echo $? > " +
      out +
      "/full.rc\n"
      "cp " +
      mnt + "/run/checkpoints/last.safetensors " + out +
      "/after\n"
      "ls -a " +
      mnt + "/run " + mnt + "/run/checkpoints > " + out + "/listing\n";
  dir.write("full.sh", script);
  const auto result = run_command("unshare -rm sh " + (dir / "full.sh").string());
  if (result.exit_code != 0) {
    MESSAGE(
        ("skipped: no tmpfs in a user namespace here (" + result.err + "); the file size limit case stands"));
    return;
  }
  CHECK(read_bytes(dir / "full.rc") == "5\n");
  const std::string err = read_bytes(dir / "full.err");
  CAPTURE(err);
  REQUIRE(error_lines(err).size() == 1);
  CHECK(err == error_lines(err).front() + "\n");
  CHECK(err.starts_with("error: " + mnt +
                        "/run/checkpoints/epoch-0002.safetensors: cannot write: No space left"));
  CHECK(read_bytes(dir / "after") == read_bytes(dir / "before"));
  const std::string listing = read_bytes(dir / "listing");
  CHECK_FALSE(contains(listing, ".tmp-"));
  CHECK_FALSE(contains(listing, "epoch-0002"));
}

TEST_CASE("e2e output faults: an output folder that cannot be written fails before the data is read") {
  TempDir dir;
  // The data file does not exist: reading it would be exit 3, so exit 5 shows the order.
  const auto missing = dir / "missing.csv";
  write_bytes(dir / "plain", "not a folder");
  const auto blocked = dir / "plain" / "runs";
  const auto config = dir.write("c.yaml", tiny_csv_config(missing, "output: " + blocked.string() + "\n"));
  for (const char* command : {"train ", "cv "}) {
    CAPTURE(command);
    const auto result = run_dlrun(command + config.string() + kQuiet);
    CHECK(result.exit_code == 5);
    check_only_error(result, blocked.string() + ": cannot create folder: " + (dir / "plain").string() +
                                 " is not a folder: Not a directory");
  }

  // A folder without write permission. Root writes anywhere, so as root dlrun runs as nobody.
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(dir / "ro");
  fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                  fs::perms::others_exec);
  const std::string as_user = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  const auto result = run_command(as_user + "'" + DLRUN_BINARY + "' train " + config.string() + kQuiet +
                                  " --out " + (dir / "ro" / "run").string());
  CHECK(result.exit_code == 5);
  check_only_error(result, (dir / "ro" / "run").string() + ": cannot create the output folder: " +
                               (dir / "ro").string() + ": not writable: Permission denied");

  // An --out folder holding files: refused before the data too, and left as it was.
  dir.write("used/notes.txt", "mine");
  const auto used = run_dlrun("train " + config.string() + kQuiet + " --out " + (dir / "used").string());
  CHECK(used.exit_code == 5);
  check_only_error(used, (dir / "used").string() + ": output folder exists and is not empty");
  CHECK(read_bytes(dir / "used" / "notes.txt") == "mine");
  CHECK_FALSE(fs::exists(dir / "used" / ".dlrun.lock"));
}

TEST_CASE("e2e output faults: a second run in a folder another run is writing fails at once") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  const auto config = dir.write("long.yaml", tiny_csv_config(csv, "train: {epochs: 1000000}\n"));
  const auto run = dir / "run";
  BackgroundRun first("train " + config.string() + kQuiet + " --out " + run.string(), dir / "first.out",
                      dir / "first.err");
  // config.yaml is written once the run holds its directory.
  REQUIRE(wait_until([&] { return fs::exists(run / "config.yaml"); }, std::chrono::seconds(60)));
  const std::string in_use = ": in use by another dlrun process (pid " + std::to_string(first.pid());
  // train.epochs=1: were the lock not there, these would end soon rather than train on and on.
  for (const std::string flags : {" --out ", " --resume "}) {
    CAPTURE(flags);
    const auto second =
        run_dlrun("train " + config.string() + kQuiet + " --set train.epochs=1" + flags + run.string());
    CHECK(second.exit_code == 5);
    check_only_error(second, run.string() + in_use);
  }
  CHECK(first.running());  // untouched by the attempts
  first.send(SIGINT);
  CHECK(first.wait() == 130);

  // cv and search directories are locked alike; here this process holds the locks.
  const auto short_config = dir.write("short.yaml", tiny_csv_config(csv, "train: {epochs: 1}\n"));
  fs::create_directory(dir / "cv");
  const dlrun::RunLock cv_lock(dir / "cv");
  const dlrun::RunLock run_lock(run);
  const std::string ours = ": in use by another dlrun process (pid " + std::to_string(::getpid());
  const auto cv = run_dlrun("cv " + short_config.string() + kQuiet + " --out " + (dir / "cv").string());
  CHECK(cv.exit_code == 5);
  check_only_error(cv, (dir / "cv").string() + ours);
  const auto search = run_dlrun("search " + short_config.string() + kQuiet + " --resume " + run.string());
  CHECK(search.exit_code == 5);
  check_only_error(search, run.string() + ours);
}

TEST_CASE("e2e output faults: resuming under another thread count warns that bits will differ") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 1, batch_size: 10}\n"));
  const auto run = dir / "run";
  REQUIRE(run_dlrun("train " + config.string() + kQuiet + " --out " + run.string()).exit_code == 0);
  const auto last = run / "checkpoints" / "last.safetensors";
  CHECK(dlrun::read_checkpoint(last).state.provenance["threads"] == 1);

  const std::string resume = "train " + config.string() + " --quiet --resume " + run.string();
  const auto other = run_dlrun(resume + " --threads 2 --set train.epochs=2");
  REQUIRE_MESSAGE(other.exit_code == 0, other.err);
  CHECK(contains(other.err, "last.safetensors: written under threads 1 (now 2)"));
  CHECK(contains(other.err, "(resume with --threads 1 to match)"));
  CHECK(error_lines(other.err).empty());

  const auto same = run_dlrun(resume + " --threads 2 --set train.epochs=3");
  REQUIRE_MESSAGE(same.exit_code == 0, same.err);
  CHECK(same.err.empty());
}

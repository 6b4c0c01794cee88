// End-to-end under mpirun (-np 3 --oversubscribe on this machine): `dlrun search` and `dlrun cv`
// with rank 0 handing trials and folds to ranks 1-2 write the trials.csv, best.yaml and folds.csv
// of a single process (timings aside). Skipped with a message when dlrun is built without MPI.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "dist/communicator.hpp"
#include "e2e/e2e_support.hpp"
#include "support/messages.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

// `mpirun -np <ranks> dlrun <arguments>` (as root where the tests run as root).
CommandResult run_mpi(int ranks, const std::string& arguments, const TempDir& dir) {
  const fs::path out = dir / "mpi-out";
  const fs::path err = dir / "mpi-err";
  const std::string command = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " +
                              std::to_string(ranks) + " --oversubscribe '" + DLRUN_BINARY + "' " + arguments +
                              " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(command.c_str());
  return {WEXITSTATUS(status), read_bytes(out), read_bytes(err)};
}

bool mpi_available() {
  if (!dlrun::mpi_built()) {
    MESSAGE("SKIPPED: dlrun is built without MPI (install libopenmpi-dev: scripts/bootstrap --mpi)");
    return false;
  }
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
    MESSAGE("SKIPPED: mpirun is not installed (openmpi-bin)");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("e2e mpirun: a distributed grid search and cv give the single-process trials.csv and folds.csv") {
  if (!mpi_available()) return;
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write(
      "c.yaml", tiny_csv_config(csv, std::string("train: {epochs: 4, batch_size: 16}\ncv: {folds: 4}\n") +
                                         kTinyGridSearch));
  const auto serial =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + (dir / "serial").string());
  REQUIRE_MESSAGE(serial.exit_code == 0, serial.err);
  const auto ranks =
      run_mpi(3, "search " + config.string() + " --quiet --threads 1 --out " + (dir / "mpi").string(), dir);
  REQUIRE_MESSAGE(ranks.exit_code == 0, ranks.err);
  CHECK(csv_rows_without_column(dir / "serial" / "trials.csv", "seconds") ==
        csv_rows_without_column(dir / "mpi" / "trials.csv", "seconds"));
  CHECK(read_bytes(dir / "serial" / "best.yaml") == read_bytes(dir / "mpi" / "best.yaml"));
  const auto summary = last_json_line(ranks.out);  // rank 0's: the others print nothing
  CHECK(summary["completed"] == 8);
  CHECK(summary["best"] == last_json_line(serial.out)["best"]);

  const auto cv_serial =
      run_dlrun("cv " + config.string() + " --quiet --threads 1 --out " + (dir / "cv-serial").string());
  REQUIRE_MESSAGE(cv_serial.exit_code == 0, cv_serial.err);
  const auto cv_ranks =
      run_mpi(3, "cv " + config.string() + " --quiet --threads 1 --out " + (dir / "cv-mpi").string(), dir);
  REQUIRE_MESSAGE(cv_ranks.exit_code == 0, cv_ranks.err);
  CHECK(csv_rows_without_column(dir / "cv-serial" / "folds.csv", "seconds") ==
        csv_rows_without_column(dir / "cv-mpi" / "folds.csv", "seconds"));
  CHECK(read_bytes(dir / "cv-serial" / "fold_rows.csv") == read_bytes(dir / "cv-mpi" / "fold_rows.csv"));
  CHECK(last_json_line(cv_ranks.out)["mean"] == last_json_line(cv_serial.out)["mean"]);
}

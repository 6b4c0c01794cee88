// End-to-end under mpirun (-np 3 --oversubscribe on this machine): `dlrun search` and `dlrun cv`
// with rank 0 handing trials and folds to ranks 1-2 write the trials.csv, best.yaml and folds.csv
// of a single process (timings aside). Skipped with a message when dlrun is built without MPI.
#include <doctest/doctest.h>

#include <filesystem>

#include "dist/mpi_run.hpp"
#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

TEST_CASE("e2e mpirun: a distributed grid search and cv give the single-process trials.csv and folds.csv") {
  if (!mpirun_available()) {
    MESSAGE("SKIPPED: dlrun is built without MPI (install libopenmpi-dev: scripts/bootstrap --mpi)");
    return;
  }
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write(
      "c.yaml", tiny_csv_config(csv, std::string("train: {epochs: 4, batch_size: 16}\ncv: {folds: 4}\n") +
                                         kTinyGridSearch));
  const auto serial =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + (dir / "serial").string());
  REQUIRE_MESSAGE(serial.exit_code == 0, serial.err);
  const auto ranks =
      run_dlrun_mpi(3, "search " + config.string() + " --quiet --threads 1 --out " + (dir / "mpi").string());
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
      run_dlrun_mpi(3, "cv " + config.string() + " --quiet --threads 1 --out " + (dir / "cv-mpi").string());
  REQUIRE_MESSAGE(cv_ranks.exit_code == 0, cv_ranks.err);
  CHECK(csv_rows_without_column(dir / "cv-serial" / "folds.csv", "seconds") ==
        csv_rows_without_column(dir / "cv-mpi" / "folds.csv", "seconds"));
  CHECK(read_bytes(dir / "cv-serial" / "fold_rows.csv") == read_bytes(dir / "cv-mpi" / "fold_rows.csv"));
  CHECK(last_json_line(cv_ranks.out)["mean"] == last_json_line(cv_serial.out)["mean"]);
}

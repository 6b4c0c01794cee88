// Running dlrun under mpirun from the tests (tests/dist), on this machine.
#pragma once

#include <string>

#include "support/process.hpp"

namespace dlrun::testing {

// True when dlrun was built with MPI (tests that need mpirun print a SKIPPED line otherwise).
bool mpirun_available();

// `mpirun -np RANKS --oversubscribe dlrun ARGUMENTS`, allowed to run as root (CI containers).
CommandResult run_dlrun_mpi(int ranks, const std::string& arguments);

}  // namespace dlrun::testing

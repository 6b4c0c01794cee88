#include "dist/mpi_run.hpp"

#include <sys/wait.h>

#include <cstdlib>

namespace dlrun::testing {

bool mpirun_available() {
#ifdef DLRUN_MPIEXEC
  return true;
#else
  return false;
#endif
}

CommandResult run_dlrun_mpi(int ranks, const std::string& arguments) {
  CommandResult result;
#ifdef DLRUN_MPIEXEC
  TempDir capture;
  const auto out = capture / "stdout";
  const auto err = capture / "stderr";
  const std::string command = std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '") +
                              DLRUN_MPIEXEC + "' -np " + std::to_string(ranks) + " --oversubscribe '" +
                              DLRUN_BINARY + "' " + arguments + " >'" + out.string() + "' 2>'" +
                              err.string() + "' </dev/null";
  const int status = std::system(command.c_str());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_bytes(out);
  result.err = read_bytes(err);
#else
  (void)ranks;
  (void)arguments;
#endif
  return result;
}

}  // namespace dlrun::testing

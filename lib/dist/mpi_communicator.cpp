// The MPI communicator over MPI_COMM_WORLD, and world(). Compiled to the serial fallback when
// dlrun is built without MPI (DLRUN_HAVE_MPI undefined), so nothing else needs an #if.
#include <cstdlib>

#include "core/errors.hpp"
#include "dist/communicator.hpp"

#if DLRUN_HAVE_MPI
#include <mpi.h>

#include <climits>
#endif

namespace dlrun {

#if DLRUN_HAVE_MPI
namespace {

int count_of(std::size_t size) {
  require(size <= static_cast<std::size_t>(INT_MAX), "MPI: a message of more than 2^31 elements");
  return static_cast<int>(size);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(std::span<float> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void allreduce_sum(std::span<double> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
  void allreduce_max(std::span<double> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  }

  void start_allreduce_sum(std::span<float> values) override {
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Iallreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                   &request);
    requests_.push_back(request);
  }
  // Open MPI advances a non-blocking collective only inside MPI calls (no progress thread by
  // default): testing the requests is what moves them on while backward runs.
  void progress() override {
    if (requests_.empty()) return;
    int done = 0;
    MPI_Testall(count_of(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
  }
  void wait_all() override {
    if (requests_.empty()) return;
    MPI_Waitall(count_of(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    requests_.clear();  // keeps its capacity: no allocation per step
  }

  void broadcast(std::span<std::byte> bytes, int root) override {
    MPI_Bcast(bytes.data(), count_of(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

  void send(std::span<const std::byte> bytes, int destination, int tag) override {
    require(tag >= 0, "send: tags are >= 0");
    MPI_Send(bytes.data(), count_of(bytes.size()), MPI_BYTE, destination, tag, MPI_COMM_WORLD);
  }
  Message receive(int source, int tag) override {
    MPI_Status status;
    MPI_Probe(source == kAnySource ? MPI_ANY_SOURCE : source, tag == kAnyTag ? MPI_ANY_TAG : tag,
              MPI_COMM_WORLD, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    Message message;
    message.source = status.MPI_SOURCE;
    message.tag = status.MPI_TAG;
    message.bytes.resize(static_cast<std::size_t>(count));
    MPI_Recv(message.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    return message;
  }

  void abort(int exit_code) override { MPI_Abort(MPI_COMM_WORLD, exit_code); }

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  std::vector<MPI_Request> requests_;
};

// Open MPI's mpirun, MPICH's and Slurm's PMI, and PMIx (srun --mpi=pmix) set these in each rank.
bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

Communicator& make_world() {
  static SerialCommunicator serial;
  if (!started_by_mpi_launcher()) return serial;
  int provided = 0;
  // Only the main thread calls MPI; dlrun's worker threads compute.
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  std::atexit([] {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  });
  static MpiCommunicator mpi;
  if (mpi.size() == 1) return serial;
  return mpi;
}

}  // namespace

bool mpi_built() {
  return true;
}

Communicator& world() {
  static Communicator& communicator = make_world();
  return communicator;
}

#else

bool mpi_built() {
  return false;
}

Communicator& world() {
  static SerialCommunicator serial;
  return serial;
}

#endif

}  // namespace dlrun

// The processes of one distributed run (MPI ranks) as dlrun sees them: a rank and a size, sums,
// broadcasts, a barrier and point-to-point messages. The rest of dlrun talks to this interface only;
// MPI's types stay in mpi_communicator.cpp. Without MPI, or in a run of one process, world() is a
// serial communicator whose collectives leave the data as it is.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace dlrun {

// A message received from another rank.
struct Message {
  int source = 0;
  int tag = 0;
  std::vector<std::byte> bytes;
};

class Communicator {
 public:
  static constexpr int kAnySource = -1;
  static constexpr int kAnyTag = -1;

  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;
  // Ranks on this machine (this one included): they share its cores.
  virtual int local_size() const = 0;
  bool is_root() const { return rank() == 0; }
  bool distributed() const { return size() > 1; }

  // Every rank passes spans of the same length; each ends with the element-wise sum over ranks
  // (in an order MPI chooses: equal on every rank, not necessarily equal to a serial sum's rounding).
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  // The element-wise maximum over ranks (flags: any rank asking to stop).
  virtual void allreduce_max(std::span<double> values) = 0;

  // Starts summing `values` in place without waiting (MPI_Iallreduce): `values` must stay alive and
  // untouched until wait_all(). Every rank starts the same sums in the same order. progress() lets
  // the started sums advance while the caller computes; wait_all() finishes all of them.
  virtual void start_allreduce_sum(std::span<float> values) = 0;
  virtual void progress() {}
  virtual void wait_all() {}

  // Root's bytes (or floats) replace every other rank's; the spans have equal lengths on all ranks.
  virtual void broadcast(std::span<std::byte> bytes, int root = 0) = 0;
  void broadcast(std::span<float> values, int root = 0) { broadcast(std::as_writable_bytes(values), root); }
  virtual void barrier() = 0;

  // Point-to-point: send blocks until `bytes` may be reused; receive blocks until a message from
  // `source` (or kAnySource) with `tag` (or kAnyTag) arrives. Tags are >= 0.
  virtual void send(std::span<const std::byte> bytes, int destination, int tag) = 0;
  virtual Message receive(int source = kAnySource, int tag = kAnyTag) = 0;

  // Ends every rank's process with `exit_code` (MPI_Abort): the way out when one rank fails and
  // the others would wait for it forever in a collective. The serial communicator returns.
  virtual void abort(int exit_code) = 0;
};

// One process alone: rank 0 of 1.
class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void allreduce_max(std::span<double>) override {}
  void start_allreduce_sum(std::span<float>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  void barrier() override {}
  // There is no other rank to talk to: a caller that sends or receives here has a bug.
  void send(std::span<const std::byte>, int, int) override;
  Message receive(int, int) override;
  void abort(int) override {}
};

// True when this dlrun was built with MPI (-DDLRUN_MPI=ON).
bool mpi_built();

// The communicator of this process. On first use, when dlrun was built with MPI and was started by
// an MPI launcher (mpirun, mpiexec, srun: their environment variables say so), it initialises MPI
// (finalised at exit) and returns MPI_COMM_WORLD's communicator when it holds more than one rank;
// otherwise the serial one. A plain `dlrun` never initialises MPI, so it starts as fast as before.
Communicator& world();

}  // namespace dlrun

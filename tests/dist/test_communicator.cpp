// The communicator's operations, for any number of ranks: ctest runs this file in one process
// (the serial communicator) and, when dlrun is built with MPI, under `mpirun -np 2` (dist_mpi).
#include <doctest/doctest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "dist/communicator.hpp"

namespace dlrun {

TEST_CASE("communicator: sums, maxima and broadcasts agree on every rank") {
  Communicator& world = dlrun::world();
  const int rank = world.rank();
  const int size = world.size();
  REQUIRE(rank >= 0);
  REQUIRE(rank < size);
  CHECK(world.local_size() >= 1);
  CHECK(world.local_size() <= size);

  std::vector<float> floats{static_cast<float>(rank + 1), 0.5f};
  world.allreduce_sum(floats);
  CHECK(floats[0] == doctest::Approx(size * (size + 1) / 2.0));
  CHECK(floats[1] == doctest::Approx(0.5 * size));

  std::vector<double> doubles{1e-3 * rank, 2.0};
  world.allreduce_sum(doubles);
  CHECK(doubles[0] == doctest::Approx(1e-3 * size * (size - 1) / 2.0));
  CHECK(doubles[1] == 2.0 * size);

  std::vector<double> flags{rank == size - 1 ? 1.0 : 0.0};
  world.allreduce_max(flags);
  CHECK(flags[0] == 1.0);

  std::vector<float> started(1000);
  std::iota(started.begin(), started.end(), static_cast<float>(rank));
  std::vector<float> second{static_cast<float>(rank)};
  world.start_allreduce_sum(started);
  world.start_allreduce_sum(second);
  world.progress();
  world.wait_all();
  CHECK(started[999] == doctest::Approx(999.0 * size + size * (size - 1) / 2.0));
  CHECK(second[0] == doctest::Approx(size * (size - 1) / 2.0));

  std::vector<float> weights{rank == 0 ? 3.0f : -1.0f, rank == 0 ? 4.0f : -1.0f};
  world.broadcast(std::span<float>(weights));
  CHECK(weights == std::vector<float>{3.0f, 4.0f});
  world.barrier();
}

TEST_CASE("communicator: messages between ranks") {
  Communicator& world = dlrun::world();
  if (!world.distributed()) {
    // One process has nobody to talk to: asking is a bug, reported, not a hang.
    const std::byte byte{1};
    CHECK_THROWS(world.send(std::span<const std::byte>(&byte, 1), 0, 0));
    CHECK_THROWS(world.receive());
    return;
  }
  // A ring: each rank sends its rank to the next and receives from the one before.
  const int next = (world.rank() + 1) % world.size();
  const int previous = (world.rank() + world.size() - 1) % world.size();
  const std::string text = "from " + std::to_string(world.rank());
  if (world.rank() == 0) {
    world.send(std::as_bytes(std::span(text.data(), text.size())), next, 7);
    const Message message = world.receive(Communicator::kAnySource, Communicator::kAnyTag);
    CHECK(message.source == previous);
    CHECK(message.tag == 7);
    CHECK(std::string(reinterpret_cast<const char*>(message.bytes.data()), message.bytes.size()) ==
          "from " + std::to_string(previous));
  } else {
    const Message message = world.receive(previous, 7);
    CHECK(std::string(reinterpret_cast<const char*>(message.bytes.data()), message.bytes.size()) ==
          "from " + std::to_string(previous));
    world.send(std::as_bytes(std::span(text.data(), text.size())), next, 7);
  }
}

}  // namespace dlrun

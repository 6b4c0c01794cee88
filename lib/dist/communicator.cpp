#include "dist/communicator.hpp"

#include "core/errors.hpp"

namespace dlrun {

void SerialCommunicator::send(std::span<const std::byte>, int, int) {
  throw InternalError("send: a run of one process has no other rank");
}

Message SerialCommunicator::receive(int, int) {
  throw InternalError("receive: a run of one process has no other rank");
}

}  // namespace dlrun

#include "select/worker_queue.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>

namespace dlrun {
namespace {

std::string first_line_of(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Why `claim` no longer holds its trial, or "" while it does.
std::string why_dead(const JournalContents& journal, const Claim& claim, double now,
                     const std::function<bool(const Claim&)>& process_gone) {
  if (claim.released) return "released";
  if (claim.worker.empty()) return "no lease";
  double until = claim.until;
  if (const auto alive = journal.alive.find(claim.worker); alive != journal.alive.end()) {
    until = std::max(until, alive->second);
  }
  if (now > until) return "lease expired";
  if (process_gone(claim)) return "process gone";
  return "";
}

}  // namespace

WorkerIdentity WorkerIdentity::of_this_process() {
  WorkerIdentity self;
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) name[0] = '\0';
  self.host = name[0] != '\0' ? name.data() : "unknown-host";
  self.pid = ::getpid();
  self.id = self.host + ":" + std::to_string(self.pid);
  // Containers may share a host name but not a pid namespace: pids compare only within one.
  std::array<char, 256> pid_ns{};
  const ssize_t length = ::readlink("/proc/self/ns/pid", pid_ns.data(), pid_ns.size() - 1);
  self.pid_space = first_line_of("/proc/sys/kernel/random/boot_id") + "/" +
                   (length > 0 ? std::string(pid_ns.data(), static_cast<std::size_t>(length)) : "");
  return self;
}

nlohmann::json WorkerIdentity::claim(double until) const {
  return {{"worker", id}, {"host", host}, {"pid_space", pid_space}, {"pid", pid}, {"until", until}};
}

bool claim_process_gone(const Claim& claim, const WorkerIdentity& self) {
  if (claim.pid <= 0 || claim.pid_space.empty() || claim.pid_space != self.pid_space) return false;
  if (claim.pid == self.pid) return false;
  return ::kill(static_cast<pid_t>(claim.pid), 0) != 0 && errno == ESRCH;
}

QueueDecision next_trial(const JournalContents& journal, const Strategy& strategy, double now,
                         const std::function<bool(const Claim&)>& process_gone) {
  const Index total = strategy.trial_count();
  auto finished = [&](Index trial) { return journal.finished.contains({trial, 0}); };
  QueueDecision decision;
  decision.kind = QueueDecision::Kind::done;
  for (Index trial = 1; trial <= total; ++trial) {
    if (finished(trial)) continue;
    decision.kind = QueueDecision::Kind::wait;
    // Trials are proposed from the trials before sees_before(trial), which is non-decreasing.
    for (Index earlier = 1; earlier < strategy.sees_before(trial); ++earlier) {
      if (!finished(earlier)) return decision;
    }
    const auto claim = journal.claims.find(trial);
    if (claim == journal.claims.end()) {
      return {QueueDecision::Kind::claim, trial, "", ""};
    }
    const std::string why = why_dead(journal, claim->second, now, process_gone);
    if (!why.empty()) return {QueueDecision::Kind::claim, trial, claim->second.worker, why};
  }
  return decision;
}

}  // namespace dlrun

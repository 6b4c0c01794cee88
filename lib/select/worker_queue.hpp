// Which trial a search worker takes next, decided from the journal's contents under its lock
// (lib/select/search_worker). Pure: the clock and "is that process gone?" come in as arguments,
// so the rules are tested without processes.
//
// A trial is free when it has no finish line and either no start line, or its latest start
// (its claim) is dead: released by its worker, written by a plain search (no lease), past its
// lease (the claim's `until`, extended by its worker's heartbeats), or made by a process on this
// machine that no longer exists. Free trials go lowest number first. A trial a strategy proposes
// from earlier results (bayes: sees_before) is free only once those trials have finished, so
// workers train exactly the trials of a serial search.
#pragma once

#include <functional>
#include <string>

#include "select/journal.hpp"
#include "select/strategy.hpp"

namespace dlrun {

// Who a worker is, as its claims say.
struct WorkerIdentity {
  std::string id;         // "<host>:<pid>"
  std::string host;       // gethostname
  std::string pid_space;  // boot id + pid namespace: two workers with the same one can test each other's pid
  std::int64_t pid = 0;

  static WorkerIdentity of_this_process();
  // The claim fields of a start line, with the lease ending at `until`.
  nlohmann::json claim(double until) const;
};

struct QueueDecision {
  enum class Kind { claim, wait, done } kind = Kind::wait;
  Index trial = 0;         // claim: this trial
  std::string taken_from;  // claim: the worker whose dead claim it takes over ("" if none)
  std::string why_taken;   // "lease expired" | "process gone" | "released" | "no lease"
};

// `process_gone(claim)`: true when the claim's process is known to have ended (same pid_space and
// no such pid). `now`: seconds since the epoch.
QueueDecision next_trial(const JournalContents& journal, const Strategy& strategy, double now,
                         const std::function<bool(const Claim&)>& process_gone);

// Whether the process of `claim` is gone: only decidable when it ran in `self`'s pid space.
bool claim_process_gone(const Claim& claim, const WorkerIdentity& self);

}  // namespace dlrun

// Which trial a search worker takes next (lib/select/worker_queue): free trials lowest first,
// claims that hold (lease, heartbeats) and claims that do not (lease expired, process gone,
// released, a plain search's start), and bayes trials that wait for the trials they see.
#include <doctest/doctest.h>

#include "select/worker_queue.hpp"

using namespace dlrun;

namespace {

class FixedStrategy final : public Strategy {
 public:
  FixedStrategy(Index trials, Index sees_from) : trials_(trials), sees_from_(sees_from) {}
  Index trial_count() const override { return trials_; }
  // From trial `sees_from_` on, every trial sees all before it (bayes with batch 1).
  Index sees_before(Index trial) const override { return trial >= sees_from_ ? trial : 1; }
  Point propose(Index, std::span<const Observation>) override { return {}; }

 private:
  Index trials_;
  Index sees_from_;
};

void finish(JournalContents& journal, Index trial) {
  journal.finished[{trial, 0}] = {};
}

void claim(JournalContents& journal, Index trial, const std::string& worker, double until) {
  Claim& c = journal.claims[trial];
  c = Claim{};
  c.worker = worker;
  c.pid = 7;
  c.until = until;
}

const auto kNobodyGone = [](const Claim&) { return false; };

}  // namespace

TEST_CASE("worker queue: free trials lowest first; done when every trial has finished") {
  FixedStrategy strategy(4, 1000);
  JournalContents journal;
  auto next = [&](double now) { return next_trial(journal, strategy, now, kNobodyGone); };
  CHECK(next(0).kind == QueueDecision::Kind::claim);
  CHECK(next(0).trial == 1);
  finish(journal, 1);
  claim(journal, 2, "a:1", 100.0);
  CHECK(next(50).trial == 3);
  CHECK(next(50).taken_from.empty());
  claim(journal, 3, "a:1", 100.0);
  claim(journal, 4, "b:2", 100.0);
  CHECK(next(50).kind == QueueDecision::Kind::wait);  // all claimed, none dead
  finish(journal, 2);
  finish(journal, 3);
  finish(journal, 4);
  CHECK(next(500).kind == QueueDecision::Kind::done);  // finished trials are never taken again
}

TEST_CASE("worker queue: a claim dies with its lease unless heartbeats extend it") {
  FixedStrategy strategy(2, 1000);
  JournalContents journal;
  finish(journal, 2);
  claim(journal, 1, "a:1", 100.0);
  CHECK(next_trial(journal, strategy, 99.0, kNobodyGone).kind == QueueDecision::Kind::wait);
  const QueueDecision expired = next_trial(journal, strategy, 101.0, kNobodyGone);
  CHECK(expired.kind == QueueDecision::Kind::claim);
  CHECK(expired.trial == 1);
  CHECK(expired.taken_from == "a:1");
  CHECK(expired.why_taken == "lease expired");
  journal.alive["a:1"] = 160.0;  // its worker's heartbeat
  CHECK(next_trial(journal, strategy, 150.0, kNobodyGone).kind == QueueDecision::Kind::wait);
  journal.alive["b:9"] = 1000.0;  // another worker's heartbeat extends nothing of a:1
  CHECK(next_trial(journal, strategy, 161.0, kNobodyGone).kind == QueueDecision::Kind::claim);
}

TEST_CASE("worker queue: a gone process, a released claim and a plain search's start free their trial") {
  FixedStrategy strategy(1, 1000);
  JournalContents journal;
  claim(journal, 1, "a:1", 100.0);
  const QueueDecision gone = next_trial(journal, strategy, 0.0, [](const Claim& c) { return c.pid == 7; });
  CHECK(gone.kind == QueueDecision::Kind::claim);
  CHECK(gone.why_taken == "process gone");
  journal.claims[1].released = true;
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).why_taken == "released");
  claim(journal, 1, "", 0.0);  // `dlrun search` without --worker: no lease to wait for
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).why_taken == "no lease");
}

TEST_CASE("worker queue: a trial proposed from earlier results waits until they have finished") {
  FixedStrategy strategy(4, 3);  // trials 1 and 2 independent; 3 sees 1-2, 4 sees 1-3
  JournalContents journal;
  claim(journal, 1, "a:1", 100.0);
  claim(journal, 2, "a:1", 100.0);
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).kind == QueueDecision::Kind::wait);
  finish(journal, 1);
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).kind == QueueDecision::Kind::wait);
  finish(journal, 2);
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).trial == 3);
  claim(journal, 3, "a:1", 100.0);
  CHECK(next_trial(journal, strategy, 0.0, kNobodyGone).kind == QueueDecision::Kind::wait);
}

TEST_CASE("worker queue: only a claim from this machine's pid space can be found gone") {
  WorkerIdentity self = WorkerIdentity::of_this_process();
  CHECK(!self.pid_space.empty());
  CHECK(self.id == self.host + ":" + std::to_string(self.pid));
  Claim claim;
  claim.pid = 999999999;  // beyond pid_max: no such process
  claim.pid_space = self.pid_space;
  CHECK(claim_process_gone(claim, self));
  claim.pid = self.pid;
  CHECK(!claim_process_gone(claim, self));
  claim.pid = 999999999;
  claim.pid_space = "another-machine";
  CHECK(!claim_process_gone(claim, self));  // its lease decides
}

// Synchronous data parallelism, the trainer's side (docs/scaling.md). Every rank holds the whole
// model and walks the same global batches (same seed, same order); rank r computes rows
// [n*r/N, n*(r+1)/N) of a batch of n. Its loss gradient is weighted by its share of the batch
// (n_r / n), so the sum over ranks is the gradient of the global batch's mean loss, exactly as one
// process computes it, also for a last batch that does not divide evenly. The sums run per layer,
// started as soon as backward has finished that layer (MPI_Iallreduce) so that they overlap the
// backward of the layers below; DLRUN_ALLREDUCE=blocking sums everything after backward instead
// (one MPI_Allreduce), for measuring what the overlap is worth.
#pragma once

#include <span>
#include <vector>

#include "dist/communicator.hpp"
#include "model/model.hpp"
#include "train/metrics.hpp"

namespace dlrun {

class DataParallel {
 public:
  // `trainable` are the parameters whose gradients are summed (the optimizer's).
  DataParallel(Communicator& communicator, Model& model, const std::vector<ParameterRef>& trainable);

  bool active() const { return communicator_.distributed(); }

  // This rank's contiguous share of a global batch (all of it in a run of one process).
  std::span<const Index> share(std::span<const Index> rows) const;

  // Called by Model::backward once layer `layer` has accumulated its gradients: starts their sum.
  void layer_done(Index layer);
  // Starts what layer_done has not (layers backward did not reach, a rank with no rows), waits for
  // every sum and leaves the summed gradients in the parameters.
  void finish_gradients();

  // The sum of one number over ranks.
  double sum(double value);

  // Adds every rank's `step` sums into `total` (equal on all ranks afterwards) and returns whether
  // any rank's `stop` was set, in one allreduce.
  bool add_step_metrics(const MetricAccumulator& step, MetricAccumulator& total, bool stop);

  // Replaces every rank's sums in `accumulator` by the sums over ranks.
  void sum_metrics(MetricAccumulator& accumulator);

  // Root's values of every parameter (buffers such as batch norm's running statistics included;
  // with buffers_only, the parameters that are not trained) replace the other ranks'.
  void broadcast_parameters(bool buffers_only = false);

 private:
  struct Bucket {
    std::vector<Parameter*> parameters;
    std::size_t offset = 0;  // in flat_
    std::size_t size = 0;
    bool started = false;
  };
  void start(Bucket& bucket);

  Communicator& communicator_;
  Model& model_;
  bool overlap_ = true;
  std::vector<Bucket> buckets_;      // by layer; empty buckets for layers without gradients
  std::vector<float> flat_;          // every bucket's gradients, contiguous
  std::vector<double> metric_sums_;  // reused from step to step
};

}  // namespace dlrun

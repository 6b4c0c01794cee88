#!/usr/bin/python3
"""Predicts the speed-up of `mpirun -np N dlrun train` (synchronous data parallelism, one rank per
node) for the bundled models: compute per step against the ring allreduce of the gradients.

Per step, with P trainable parameters (float32), N nodes, B the global batch:
  compute(N)   = t1 / N            t1: one node's seconds per step (measured, below); each rank
                                   computes B/N examples, assumed to run at the same rate per example
                                   as B examples on one node (optimistic when B/N gets small)
  allreduce(N) = 2 (N-1)/N * 4P / bandwidth          ring allreduce: reduce-scatter + all-gather
               + (buckets + 2) * 2 (N-1) * latency   one allreduce per layer with parameters, plus the
                                                     step's loss and metric sums (small messages)
  step(N)      = compute(N) + allreduce(N)           no overlap (DLRUN_ALLREDUCE=blocking)
  step_ov(N)   = compute(N) + max(0, allreduce(N) - backward share of compute(N))
                 with ideal overlap of the per-layer sums with backward (2/3 of compute)
  speed-up     = t1 / step(N)

Assumptions: bandwidth 10, 25 or 100 Gb/s per node, all of it usable by the allreduce; latency
per message 20 us (10 Gb/s TCP), 10 us (25 Gb/s), 2 us (100 Gb/s RDMA); the data is on every node
(no input pipeline cost); nodes like this machine (2 cores) with t1 from docs/performance.md.

Usage: scripts/scaling_model.py [--dlrun build/dlrun]  (reads P and the layer count from
`dlrun summary --json`; without a binary it uses the counts printed in docs/scaling.md).
"""
import argparse
import json
import math
import subprocess

# model: (config, global batch, steps per epoch, seconds per epoch on one node)
# Seconds per epoch: docs/performance.md (scripts/bench, 2 threads, this machine): seed_cnn 3.73,
# lenet5 3.21, quickstart 0.65, seed_lstm 20.6. Steps: Fashion-MNIST's 60000 training images in
# batches of 64 (938); seed_lstm holds out 10% for validation (844).
MODELS = {
    "quickstart": ("configs/quickstart.yaml", 64, 938, 0.65),
    "seed_cnn": ("configs/seed_cnn.yaml", 64, 938, 3.73),
    "lenet5": ("configs/lenet5.yaml", 64, 938, 3.21),
    "seed_lstm": ("configs/seed_lstm.yaml", 64, 844, 20.6),
}
# Fallback when no dlrun binary is given: `dlrun summary --json` of each config.
SUMMARY = {
    "quickstart": (235146, 470312.0, 3),
    "seed_cnn": (693962, 1776680.0, 3),
    "lenet5": (61706, 833488.0, 5),
    "seed_lstm": (57994, 3212584.0, 3),
}
NETWORKS = [(10, 20e-6), (25, 10e-6), (100, 2e-6)]  # Gb/s, seconds per message
NODES = [1, 2, 8, 16, 32, 64]


def summary_of(dlrun, config):
    out = subprocess.run([dlrun, "summary", config, "--json"], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    buckets = sum(1 for layer in data["layers"] if layer["parameters"] > 0)
    return data["trainable_parameters"], data["flops_per_example"], buckets


def allreduce_seconds(parameters, buckets, nodes, gbps, latency):
    if nodes == 1:
        return 0.0
    bandwidth = gbps * 1e9 / 8
    data = 2 * (nodes - 1) / nodes * 4 * parameters / bandwidth
    return data + (buckets + 2) * 2 * (nodes - 1) * latency


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlrun", help="a dlrun binary to read the models' parameter counts from")
    args = parser.parse_args()

    print("| model | params | MFLOP/example | batch | t1 ms/step | allreduce MB/step | compute/comm at 8 nodes, 10 Gb/s |")
    print("|---|---|---|---|---|---|---|")
    rows = {}
    for name, (config, batch, steps, epoch_seconds) in MODELS.items():
        parameters, flops, buckets = summary_of(args.dlrun, config) if args.dlrun else SUMMARY[name]
        t1 = epoch_seconds / steps
        rows[name] = (parameters, buckets, t1)
        comm8 = allreduce_seconds(parameters, buckets, 8, *NETWORKS[0])
        print(f"| {name} | {parameters} | {flops / 1e6:.2f} | {batch} | {t1 * 1e3:.2f} | "
              f"{2 * 7 / 8 * 4 * parameters / 1e6:.2f} | {t1 / 8 / comm8:.2f} |")
    print()
    header = " | ".join(f"{n} nodes" for n in NODES[2:])
    print(f"| model | network | {header} |")
    print("|---|---|" + "---|" * len(NODES[2:]))
    for name, (parameters, buckets, t1) in rows.items():
        for gbps, latency in NETWORKS:
            cells = []
            for nodes in NODES[2:]:
                comm = allreduce_seconds(parameters, buckets, nodes, gbps, latency)
                compute = t1 / nodes
                plain = t1 / (compute + comm)
                overlapped = t1 / (compute + max(0.0, comm - compute * 2 / 3))
                cells.append(f"{plain:.1f} ({overlapped:.1f})")
            print(f"| {name} | {gbps} Gb/s | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

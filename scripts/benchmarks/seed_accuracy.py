#!/usr/bin/python3
"""Test accuracy after the same epochs over several seeds, dlrun against PyTorch, as scripts/bench runs
them (2 threads, batch 64, no validation split; PyTorch with OPENBLAS_NUM_THREADS=1). Single runs
differ by their random numbers (initial weights, data order); means over seeds compare the two.

  /usr/bin/python3 scripts/benchmarks/seed_accuracy.py seed_cnn 1,2,3 [--epochs 3]

Needs build/dlrun (scripts/build) and Debian's python3-torch. Accuracy does not depend on load."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

from compare import dlrun_command, torch_command  # the same commands as scripts/bench's


def last_json(command, env=None):
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="configs/<MODEL>.yaml")
    parser.add_argument("seeds", help="comma-separated, e.g. 1,2,3")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    ours, theirs = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(last_json(dlrun_command(args.model, os.path.join(tmp, "run"), 2, 64, args.epochs,
                                                ("--set", f"seed={seed}")))["test"]["accuracy"])
        theirs.append(last_json(torch_command(args.model, 2, 64, args.epochs, seed), env)["test_accuracy"])
        print(f"{args.model} seed {seed}: dlrun {ours[-1]:.4f}  PyTorch {theirs[-1]:.4f}", flush=True)
    spread = (lambda values: statistics.stdev(values)) if len(ours) > 1 else (lambda values: 0.0)
    print(f"{args.model}: dlrun {statistics.mean(ours):.4f} ± {spread(ours):.4f}, "
          f"PyTorch {statistics.mean(theirs):.4f} ± {spread(theirs):.4f} over {len(ours)} seeds; "
          f"difference {100 * (statistics.mean(ours) - statistics.mean(theirs)):+.2f} points")


if __name__ == "__main__":
    main()

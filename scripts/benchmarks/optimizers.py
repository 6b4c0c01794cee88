#!/usr/bin/python3
"""Trains every configs/optimizers/<type>.yaml (the quick-start MLP on Fashion-MNIST) and prints the
table of docs/optimizers.md: test accuracy, final validation loss and seconds per epoch.
Usage: scripts/benchmarks/optimizers.py [--threads N] [TYPE...]"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TYPES = ["sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta", "ftrl", "lbfgs"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("types", nargs="*", default=TYPES)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print("| optimizer | epochs | test accuracy | val loss | s/epoch |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.types:
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [os.path.join(ROOT, "build", "dlrun"), "train", os.path.join(ROOT, "configs", "optimizers", name + ".yaml"),
                 "--quiet", "--threads", str(args.threads), "--out", os.path.join(out, "run")],
                capture_output=True, text=True)
        if result.returncode != 0:
            print(f"| {name} | failed (exit {result.returncode}) | | | |")
            continue
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        val = summary.get("validation", {}).get("loss")
        print(f"| {name} | {summary['epochs']} | {summary['test']['accuracy']:.4f} | "
              f"{'' if val is None else f'{val:.4f}'} | {summary['seconds_per_epoch']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

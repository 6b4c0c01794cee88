#!/usr/bin/python3
"""scripts/bench --int8: float vs int8 inference of a trained model (dlrun quantize measures both
side by side in one process: each evaluates the config's test split --rounds times, taking turns,
and the faster run of each counts), the int8 file's size against the float checkpoint's and against
the float parameters alone, and the test accuracy lost. Without --checkpoint the config is trained
first (--epochs, default the config's). Targets (issue 13): >= 1.5x throughput, <= 30% of the size,
<= 0.5 points of accuracy lost."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DLRUN = os.path.join(ROOT, "build", "dlrun")


def dlrun(*arguments):
    process = subprocess.run([DLRUN, *arguments], capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"failed: dlrun {' '.join(arguments)}\n{process.stderr[-2000:]}")
    return json.loads([line for line in process.stdout.splitlines() if line.startswith("{")][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?", default="seed_cnn", help="configs/MODEL.yaml")
    parser.add_argument("--checkpoint", help="the trained float model (default: train it now)")
    parser.add_argument("--epochs", type=int, help="epochs when training (default: the config's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration-batches", type=int, default=32)
    args = parser.parse_args()
    config = os.path.join(ROOT, "configs", args.model + ".yaml")
    with tempfile.TemporaryDirectory() as work:
        checkpoint = args.checkpoint
        if checkpoint is None:
            command = ["train", config, "--quiet", "--threads", str(args.threads), "--out", os.path.join(work, "run")]
            if args.epochs:
                command += ["--set", f"train.epochs={args.epochs}"]
            dlrun(*command)
            checkpoint = os.path.join(work, "run", "checkpoints", "last.safetensors")
        summary = dlrun("quantize", config, "--quiet", "--threads", str(args.threads), "--checkpoint", checkpoint,
                        "--calibration-batches", str(args.calibration_batches),
                        "--out", os.path.join(work, "model.int8.safetensors"))
    before, after, comparison = summary["before"], summary["after"], summary["comparison"]
    metric = "accuracy" if "accuracy" in before else "loss"
    print(f"{args.model}: {summary['examples']} {summary['split']} examples, {args.threads} threads, "
          f"faster of {summary['timing_rounds']} runs each")
    print(f"  int8 layers: {' '.join(summary['int8_layers'])}; float: {' '.join(summary['float_layers']) or '-'}")
    print(f"  {'':6} {'examples/s':>11} {metric:>9} {'bytes':>10}")
    for name, figures in (("float", before), ("int8", after)):
        print(f"  {name:6} {figures['examples_per_second']:11.0f} {figures[metric]:9.4f} {figures['bytes']:10d}")
    loss_points = 100 * (before[metric] - after[metric]) if metric == "accuracy" else None
    speedup = comparison["speedup"]
    size_file = comparison["size_ratio"]
    size_parameters = comparison["size_vs_float_parameters"]
    print(f"  speedup {speedup:.2f}x (target >= 1.5)")
    print(f"  size: {100 * size_file:.1f}% of the float checkpoint file, {100 * size_parameters:.1f}% of the float "
          f"parameters alone ({before['parameter_bytes']} bytes) (target <= 30%)")
    if loss_points is not None:
        print(f"  accuracy lost: {loss_points:.2f} points (target <= 0.5)")
    print(json.dumps({"model": args.model, "threads": args.threads, "speedup": speedup,
                      "size_vs_float_file": size_file, "size_vs_float_parameters": size_parameters,
                      "float": before, "int8": after, "accuracy_lost_points": loss_points}))


if __name__ == "__main__":
    main()

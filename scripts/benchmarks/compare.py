#!/usr/bin/python3
"""scripts/bench: trains the same model in dlrun and in PyTorch, back to back, on the same data,
batch, optimizer and threads, and prints seconds per epoch, whole-process wall time, peak RSS and
the dlrun/PyTorch ratios (below 1 means dlrun is faster or smaller)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(command, env):
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}\n{err.decode()[-2000:]}")
    last = [line for line in out.decode().splitlines() if line.startswith("{")][-1]
    return json.loads(last), wall, usage.ru_maxrss / 1024.0  # MB


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", default=["seed_cnn"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the median epoch is reported")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs per side, alternating dlrun and PyTorch; each side's fastest run is reported")
    args = parser.parse_args()
    dlrun = os.path.join(ROOT, "build", "dlrun")
    env = dict(os.environ)
    # PyTorch at its best: its own threads only (OpenBLAS's would oversubscribe the cores), and the
    # faster of glibc's default malloc and malloc kept from returning memory to the OS (without it
    # the seed CNN ran 2.7-4x slower here; with it the MLP ran slower): the first round tries both,
    # later rounds use the faster. The machine is shared and its speed drifts by 10-30% over
    # minutes, so the two sides take turns, each gets --rounds runs at its best setting, and each
    # side's fastest run is reported.
    torch_envs = [dict(env, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(args.threads)),
                  dict(env, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(args.threads),
                       GLIBC_TUNABLES="glibc.malloc.trim_threshold=536870912:glibc.malloc.mmap_threshold=536870912")]
    rows = []
    for model in args.models:
        torch_command = ["/usr/bin/python3", os.path.join(ROOT, "scripts", "benchmarks", "torch_train.py"), model,
                         "--epochs", str(args.epochs), "--threads", str(args.threads), "--batch-size",
                         str(args.batch_size)]
        our_runs, their_runs = [], []
        for round_index in range(args.rounds):
            with tempfile.TemporaryDirectory() as out:
                our_runs.append(run(
                    [dlrun, "train", os.path.join(ROOT, "configs", model + ".yaml"), "--quiet", "--threads",
                     str(args.threads), "--out", os.path.join(out, "run"), "--set", f"train.epochs={args.epochs}",
                     "--set", f"train.batch_size={args.batch_size}",
                     # every training row, no validation pass: the same work as the PyTorch side
                     "--set", "data.validation=null"], env))
            if round_index == 0:
                tries = [run(torch_command, e) for e in torch_envs]
                best = min(range(len(tries)), key=lambda i: tries[i][0]["seconds_per_epoch"])
                torch_envs_best = torch_envs[best]
                their_runs += tries
            else:
                their_runs.append(run(torch_command, torch_envs_best))
        print(f"{model}: s/epoch of each run: dlrun " + " ".join(f"{r[0]['seconds_per_epoch']:.2f}" for r in our_runs)
              + ", PyTorch " + " ".join(f"{r[0]['seconds_per_epoch']:.2f}" for r in their_runs), flush=True)
        fastest = lambda runs: min(runs, key=lambda result: result[0]["seconds_per_epoch"])
        ours, our_wall, our_rss = fastest(our_runs)
        theirs, their_wall, their_rss = fastest(their_runs)
        rows.append((model, ours["seconds_per_epoch"], theirs["seconds_per_epoch"], our_wall, their_wall,
                     our_rss, their_rss, ours.get("test", {}).get("accuracy"), theirs["test_accuracy"]))
    print(f"threads {args.threads}, batch {args.batch_size}, {args.epochs} epoch(s); ratio = dlrun / PyTorch")
    header = ("model", "s/epoch dlrun", "s/epoch torch", "ratio", "wall dlrun", "wall torch", "ratio",
              "RSS MB dlrun", "RSS MB torch", "ratio", "test acc dlrun", "test acc torch")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for m, se, st, we, wt, re, rt, ae, at in rows:
        print(f"| {m} | {se:.2f} | {st:.2f} | {se / st:.2f} | {we:.1f} | {wt:.1f} | {we / wt:.2f} | {re:.0f} | {rt:.0f} "
              f"| {re / rt:.2f} | {ae if ae is None else f'{ae:.4f}'} | {at:.4f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""bayes (TPE) against random search, and Hyperband against random search, with real training.

On the space of scripts/benchmarks/search_space_digits.yaml (digits, validation loss, 27 epochs):
(b) best validation loss after 20 trials, random vs bayes, for seeds 1..5 (the seed also sets the
    data split and the initialisation: each seed is a paired comparison);
(c) random search (20 trials x 27 epochs) against Hyperband (min 1, max 27 epochs, eta 3): the best
    validation loss each finds, the epochs each trains in total, and the epochs Hyperband has trained
    when its journal first holds a loss at least as good as random's best.
    /usr/bin/python3 scripts/benchmarks/search_strategies.py [--seeds 5] [--first-seed 1] [--hyperband-trials 98]
        [--startup N] [--model gp|tpe]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DLRUN = os.path.join(ROOT, "build", "dlrun")
CONFIG = os.path.join(ROOT, "scripts", "benchmarks", "search_space_digits.yaml")


def search(dlrun, out, *flags):
    command = [dlrun, "search", CONFIG, "--quiet", "--threads", "1", "--out", out, *flags]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr[-3000:]}")
    return json.loads([line for line in process.stdout.splitlines() if line.startswith("{")][-1])


def epochs_to_reach(journal, target):
    """Epochs trained (in journal order) until a finished evaluation's loss is <= target."""
    total = 0
    with open(journal) as f:
        for line in f:
            entry = json.loads(line)
            if entry.get("event") != "finish":
                continue
            total += entry["new_epochs"]
            if entry["status"] == "completed" and entry["metric"] is not None and entry["metric"] <= target:
                return total
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--hyperband-trials", type=int, default=98,
                        help="trials (configurations) Hyperband samples: 49 per round of brackets 27, 12, 6, 4; "
                             "0 skips (c)")
    parser.add_argument("--dlrun", default=DLRUN, help="the binary (default: build/dlrun)")
    parser.add_argument("--model", choices=["gp", "tpe"], default="gp", help="search.bayes.model")
    parser.add_argument("--startup", type=int, default=None, help="bayes start-up trials (default: dlrun's, min(10, ceil(trials / 4)), 5 for 20 trials)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            common = ["--set", f"seed={seed}", "--trials", str(args.trials)]
            random = search(args.dlrun, os.path.join(tmp, f"r{seed}"), *common, "--strategy", "random")
            startup = ["--set", f"search.bayes.model={args.model}"]
            if args.startup is not None:
                startup += ["--set", f"search.bayes.startup_trials={args.startup}"]
            bayes = search(args.dlrun, os.path.join(tmp, f"b{seed}"), *common, "--strategy", "bayes", *startup)
            hb_dir = os.path.join(tmp, f"h{seed}")
            if args.hyperband_trials == 0:
                rows.append((seed, random, bayes, None, None))
                print(f"seed {seed}: random {random['best']['metric']:.4f}, bayes {bayes['best']['metric']:.4f}",
                      flush=True)
                continue
            hyperband = search(args.dlrun, hb_dir, "--set", f"seed={seed}", "--trials", str(args.hyperband_trials),
                               "--strategy", "random", "--set", "search.scheduler={type: hyperband, min_epochs: 1, "
                               "max_epochs: 27, eta: 3}")
            reach = epochs_to_reach(os.path.join(hb_dir, "journal.jsonl"), random["best"]["metric"])
            rows.append((seed, random, bayes, hyperband, reach))
            print(f"seed {seed}: random {random['best']['metric']:.4f}, bayes {bayes['best']['metric']:.4f}; "
                  f"hyperband {hyperband['best']['metric']:.4f} in {hyperband['total_epochs']} epochs "
                  f"(random: {random['total_epochs']}), reached random's best after {reach} epochs", flush=True)

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else float("nan")

    startup_text = "default, a quarter of the trials" if args.startup is None else str(args.startup)
    print(f"\n(b) best validation loss after {args.trials} trials (lower is better; bayes model {args.model}, "
          f"start-up trials: {startup_text})")
    print(f"| seed | random | bayes ({args.model}) |")
    print("|---|---|---|")
    for seed, random, bayes, _, _ in rows:
        print(f"| {seed} | {random['best']['metric']:.4f} | {bayes['best']['metric']:.4f} |")
    print(f"| mean | {mean([r[1]['best']['metric'] for r in rows]):.4f} | "
          f"{mean([r[2]['best']['metric'] for r in rows]):.4f} |")
    wins = sum(1 for r in rows if r[2]["best"]["metric"] < r[1]["best"]["metric"])
    print(f"bayes better on {wins} of {len(rows)} seeds")

    if args.hyperband_trials == 0:
        return
    print(f"\n(c) random ({args.trials} trials x 27 epochs) vs Hyperband ({args.hyperband_trials} trials, 1..27 epochs, eta 3)")
    print("| seed | random best | random epochs | hyperband best | hyperband epochs | hyperband epochs to random's best |")
    print("|---|---|---|---|---|---|")
    for seed, random, _, hyperband, reach in rows:
        print(f"| {seed} | {random['best']['metric']:.4f} | {random['total_epochs']} | "
              f"{hyperband['best']['metric']:.4f} | {hyperband['total_epochs']} | {reach if reach is not None else 'never'} |")
    reached = [r[4] for r in rows if r[4] is not None]
    print(f"hyperband reached random's best on {len(reached)} of {len(rows)} seeds, after {mean(reached):.0f} epochs "
          f"on average (random trains {rows[0][1]['total_epochs']})")


if __name__ == "__main__":
    main()

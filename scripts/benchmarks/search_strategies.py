#!/usr/bin/python3
"""bayes against random search, and Hyperband and BOHB against random search, with real training.

On the space of scripts/benchmarks/search_space_digits.yaml (digits, validation loss, 27 epochs):
(b) best validation loss after 20 trials, random vs bayes, for seeds 1..5 (the seed also sets the
    data split and the initialisation: each seed is a paired comparison);
(c) random search (20 trials x 27 epochs) against Hyperband (min 1, max 27 epochs, eta 3): the best
    validation loss each finds, the epochs each trains in total, and the epochs Hyperband has trained
    when its journal first holds a loss at least as good as random's best;
(d) the same for BOHB (strategy bayes with the same Hyperband scheduler; docs/search.md, "BOHB").
    /usr/bin/python3 scripts/benchmarks/search_strategies.py [--seeds 5] [--first-seed 1] [--hyperband-trials 98]
        [--startup N] [--model gp|tpe] [--parts b,c,d]
The figures (best losses, epochs) do not depend on the machine's load; training is deterministic.
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
                        help="trials (configurations) Hyperband and BOHB sample: 49 per round of brackets 27, 12, 6, "
                             "4; 0 skips (c) and (d)")
    parser.add_argument("--dlrun", default=DLRUN, help="the binary (default: build/dlrun)")
    parser.add_argument("--model", choices=["gp", "tpe"], default="gp", help="search.bayes.model (bayes and BOHB)")
    parser.add_argument("--parts", default="b,c,d",
                        help="b: bayes vs random; c: Hyperband (random) vs random; d: BOHB vs random")
    parser.add_argument("--startup", type=int, default=None, help="bayes start-up trials (default: dlrun's, min(10, ceil(trials / 4)), 5 for 20 trials)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if args.hyperband_trials == 0:
        parts -= {"c", "d"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            common = ["--set", f"seed={seed}", "--trials", str(args.trials)]
            model = ["--set", f"search.bayes.model={args.model}"]
            random = search(args.dlrun, os.path.join(tmp, f"r{seed}"), *common, "--strategy", "random")
            row = {"seed": seed, "random": random}
            text = f"seed {seed}: random {random['best']['metric']:.4f}"
            if "b" in parts:
                startup = [] if args.startup is None else ["--set", f"search.bayes.startup_trials={args.startup}"]
                row["bayes"] = search(args.dlrun, os.path.join(tmp, f"b{seed}"), *common, "--strategy", "bayes",
                                      *model, *startup)
                text += f", bayes {row['bayes']['best']['metric']:.4f}"
            scheduled = [("c", "hyperband", ["--strategy", "random"]), ("d", "bohb", ["--strategy", "bayes", *model])]
            for part, name, strategy in scheduled:
                if part not in parts:
                    continue
                directory = os.path.join(tmp, f"{name}{seed}")
                summary = search(args.dlrun, directory, "--set", f"seed={seed}", "--trials", str(args.hyperband_trials),
                                 *strategy, "--set", "search.scheduler={type: hyperband, min_epochs: 1, "
                                 "max_epochs: 27, eta: 3}")
                reach = epochs_to_reach(os.path.join(directory, "journal.jsonl"), random["best"]["metric"])
                row[name] = (summary, reach)
                text += (f"; {name} {summary['best']['metric']:.4f} in {summary['total_epochs']} epochs, reached "
                         f"random's best after {reach} epochs")
            rows.append(row)
            print(text + f" (random: {random['total_epochs']} epochs)", flush=True)

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else float("nan")

    if "b" in parts:
        startup_text = "default, a quarter of the trials" if args.startup is None else str(args.startup)
        print(f"\n(b) best validation loss after {args.trials} trials (lower is better; bayes model {args.model}, "
              f"start-up trials: {startup_text})")
        print(f"| seed | random | bayes ({args.model}) |")
        print("|---|---|---|")
        for row in rows:
            print(f"| {row['seed']} | {row['random']['best']['metric']:.4f} | {row['bayes']['best']['metric']:.4f} |")
        print(f"| mean | {mean([r['random']['best']['metric'] for r in rows]):.4f} | "
              f"{mean([r['bayes']['best']['metric'] for r in rows]):.4f} |")
        wins = sum(1 for r in rows if r["bayes"]["best"]["metric"] < r["random"]["best"]["metric"])
        print(f"bayes better on {wins} of {len(rows)} seeds")

    for part, name, title in [("c", "hyperband", "Hyperband (random)"), ("d", "bohb", f"BOHB ({args.model})")]:
        if part not in parts:
            continue
        print(f"\n({part}) random ({args.trials} trials x 27 epochs) vs {title} ({args.hyperband_trials} trials, "
              "1..27 epochs, eta 3)")
        print(f"| seed | random best | random epochs | {name} best | {name} epochs | {name} epochs to random's best |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            summary, reach = row[name]
            print(f"| {row['seed']} | {row['random']['best']['metric']:.4f} | {row['random']['total_epochs']} | "
                  f"{summary['best']['metric']:.4f} | {summary['total_epochs']} | "
                  f"{reach if reach is not None else 'never'} |")
        reached = [row[name][1] for row in rows if row[name][1] is not None]
        fewer = sum(1 for row in rows if row[name][1] is not None and row[name][1] < row["random"]["total_epochs"])
        print(f"{name} reached random's best on {len(reached)} of {len(rows)} seeds ({fewer} in fewer epochs than "
              f"random), after {mean(reached):.0f} epochs on average (random trains {rows[0]['random']['total_epochs']})")

if __name__ == "__main__":
    main()

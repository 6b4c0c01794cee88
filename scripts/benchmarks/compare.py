#!/usr/bin/python3
"""scripts/bench: trains the same models in dlrun and in PyTorch, back to back, with the same data,
threads, batch and optimizer, and prints one table: seconds per epoch, whole-process wall time and
CPU time, images per second classifying the test set, peak RSS, test accuracy after the same
epochs (the mean over the rounds: round r trains with seed r on both sides, since single runs
differ by about a point with their random numbers), the dlrun/PyTorch ratios (below 1: dlrun is
faster or smaller), each model's FLOPs per epoch and the fraction of the machine's sgemm peak that
dlrun's epochs reach.

  scripts/bench                          the four models of the issue, both sides
  scripts/bench seed_cnn --rounds 3      some models (configs/<MODEL>.yaml)
  scripts/bench --json                   one JSON object on stdout instead of the table
  scripts/bench --scaling [MODEL...]     dlrun alone: threads 1 vs 2, batch 32/64/256, and 1/4, 1/2
                                         and all of the training rows (default model: seed_cnn)
  scripts/bench --scaling --threads-only 1 against 2 threads alone, alternating, the speed-up printed

FLOPs: `dlrun summary` counts a forward pass per example per layer, two FLOPs per multiply-add (plus
bias and activation work). Training: 3x forward for a layer with parameters (forward, input
gradient, weight gradient), 2x for the first such layer, whose input gradient neither side computes,
and 2x for a layer without parameters; times 60,000 training examples per epoch. The roofline is
the fastest sgemm of this machine at large square sizes on the same thread count, measured in the
same invocation (bench/gemm_bench.cpp: OpenBLAS split over dlrun's threads, or OpenBLAS's own, or
dlrun's packed AVX-512 kernel where the CPU has it).
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("DLRUN_BUILD_DIR", "build"))  # as scripts/build
DLRUN = os.path.join(BUILD, "dlrun")
GEMM_BENCH = os.path.join(BUILD, "dlrun_gemm_bench")
DEFAULT_MODELS = ["quickstart", "seed_cnn", "lenet5", "seed_lstm"]
FASHION = "/usr/share/datasets/fashion-mnist"
TRAIN_EXAMPLES = 60000
TEST_EXAMPLES = 10000


def log(message):
    print(message, file=sys.stderr, flush=True)


class Measured:
    """One process: its last JSON line, and wall seconds, CPU seconds (user + sys) and peak RSS in
    MB from wait4 of that process alone."""

    def __init__(self, command, env):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = process.stdout.read(), process.stderr.read()  # to the end, then reap with wait4
        _, status, usage = os.wait4(process.pid, 0)
        self.wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(command)}\n{err.decode()[-2000:]}")
        self.result = json.loads([line for line in out.decode().splitlines() if line.startswith("{")][-1])
        self.cpu = usage.ru_utime + usage.ru_stime
        self.rss = usage.ru_maxrss / 1024.0

    @property
    def seconds_per_epoch(self):
        return self.result["seconds_per_epoch"]


def torch_available():
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def dlrun_command(model, out, threads, batch, epochs, extra=()):
    return [DLRUN, "train", os.path.join(ROOT, "configs", model + ".yaml"), "--quiet", "--threads", str(threads),
            "--out", out, "--set", f"train.epochs={epochs}", "--set", f"train.batch_size={batch}",
            # every training row, no validation pass: the same work as the PyTorch side
            "--set", "data.validation=null", *extra]


def torch_command(model, threads, batch, epochs, seed):
    return ["/usr/bin/python3", os.path.join(ROOT, "scripts", "benchmarks", "torch_train.py"), model,
            "--epochs", str(epochs), "--threads", str(threads), "--batch-size", str(batch),
            "--config", os.path.join(ROOT, "configs", model + ".yaml"), "--seed", str(seed)]


def run_dlrun(model, threads, batch, epochs, env, extra=()):
    with tempfile.TemporaryDirectory() as out:
        return Measured(dlrun_command(model, os.path.join(out, "run"), threads, batch, epochs, extra), env)


def flops_per_example(model):
    """(forward, training) FLOPs per example from `dlrun summary --json`'s per-layer forward FLOPs.
    Training: a layer with parameters costs 3x its forward (forward, input gradient, weight
    gradient), except the first one, whose input gradient neither dlrun nor PyTorch computes (2x);
    a layer without parameters 2x (forward and its gradient)."""
    summary = subprocess.run([DLRUN, "summary", os.path.join(ROOT, "configs", model + ".yaml"), "--json"],
                             capture_output=True, text=True, check=True)
    layers = json.loads(summary.stdout.strip().splitlines()[-1])["layers"]
    forward = sum(layer["flops"] for layer in layers)
    training = 0.0
    seen_parameters = False
    for layer in layers:
        if layer["parameters"] > 0:
            training += layer["flops"] * (3.0 if seen_parameters else 2.0)
            seen_parameters = True
        else:
            training += layer["flops"] * 2.0
    return forward, training


def sgemm_peak(threads):
    result = subprocess.run([GEMM_BENCH, "peak", "--threads", str(threads)], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def fastest(runs):
    return min(runs, key=lambda measured: measured.seconds_per_epoch)


def mean_accuracy(by_seed):
    values = [v for v in by_seed.values() if v is not None]
    return statistics.mean(values) if values else None


def ratio(ours, theirs):
    return None if ours is None or theirs in (None, 0) else ours / theirs


def fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def compare(args, env):
    has_torch = not args.no_torch and torch_available()
    if not has_torch:
        log("PyTorch is not available (or --no-torch): dlrun's side only")
    peak = sgemm_peak(args.threads)
    log(f"sgemm peak on {args.threads} thread(s): {peak['sgemm_peak_gflops']:.1f} GFLOP/s "
        f"(gemm() runs {peak.get('gemm_kernel', '?')}; OpenBLAS {peak.get('openblas_peak_gflops', 0):.1f}, "
        f"tile_gemm {peak['tile_gemm_peak_gflops']:.1f})")
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
        flops_forward, flops_training = flops_per_example(model)
        our_runs, their_runs = [], []
        our_accuracy, their_accuracy = {}, {}  # seed -> test accuracy
        best_env = torch_envs[0]
        for round_index in range(args.rounds):
            seed = round_index + 1
            our_runs.append(run_dlrun(model, args.threads, args.batch_size, args.epochs, env,
                                      ("--set", f"seed={seed}")))
            our_accuracy[seed] = our_runs[-1].result.get("test", {}).get("accuracy")
            if not has_torch:
                continue
            seeded = torch_command(model, args.threads, args.batch_size, args.epochs, seed)
            if round_index == 0:
                tries = [Measured(seeded, e) for e in torch_envs]
                best_env = torch_envs[min(range(len(tries)), key=lambda i: tries[i].seconds_per_epoch)]
                their_runs += tries
            else:
                their_runs.append(Measured(seeded, best_env))
            their_accuracy[seed] = their_runs[-1].result["test_accuracy"]
        log(f"{model}: s/epoch of each run: dlrun " + " ".join(f"{r.seconds_per_epoch:.2f}" for r in our_runs)
            + (", PyTorch " + " ".join(f"{r.seconds_per_epoch:.2f}" for r in their_runs) if their_runs else ""))
        ours = fastest(our_runs)
        theirs = fastest(their_runs) if their_runs else None
        flops_epoch = flops_training * TRAIN_EXAMPLES
        rate = flops_epoch / ours.seconds_per_epoch / 1e9
        row = {
            "model": model,
            "flops_forward_per_example": flops_forward,
            "training_flops_per_epoch": flops_epoch,
            "dlrun": {
                "seconds_per_epoch": ours.seconds_per_epoch,
                "wall_seconds": ours.wall,
                "cpu_seconds": ours.cpu,
                "peak_rss_mb": ours.rss,
                "test_accuracy": mean_accuracy(our_accuracy),
                "test_accuracy_by_seed": our_accuracy,
                "test_seconds": ours.result.get("test_seconds"),
                "inference_images_per_second": TEST_EXAMPLES / ours.result["test_seconds"]
                if ours.result.get("test_seconds") else None,
                "training_gflops": rate,
                "roofline_fraction": rate / peak["sgemm_peak_gflops"],
                "runs_seconds_per_epoch": [r.seconds_per_epoch for r in our_runs],
            },
        }
        if theirs:
            row["pytorch"] = {
                "seconds_per_epoch": theirs.seconds_per_epoch,
                "wall_seconds": theirs.wall,
                "cpu_seconds": theirs.cpu,
                "peak_rss_mb": theirs.rss,
                "test_accuracy": mean_accuracy(their_accuracy),
                "test_accuracy_by_seed": their_accuracy,
                "test_seconds": theirs.result["test_seconds"],
                "inference_images_per_second": theirs.result["test_examples"] / theirs.result["test_seconds"],
                "training_gflops": flops_epoch / theirs.seconds_per_epoch / 1e9,
                "roofline_fraction": flops_epoch / theirs.seconds_per_epoch / 1e9 / peak["sgemm_peak_gflops"],
                "runs_seconds_per_epoch": [r.seconds_per_epoch for r in their_runs],
                "malloc": "default" if best_env is torch_envs[0] else "no trim",
            }
            row["ratios"] = {key: ratio(row["dlrun"][key], row["pytorch"][key])
                             for key in ("seconds_per_epoch", "wall_seconds", "cpu_seconds", "peak_rss_mb",
                                         "inference_images_per_second")}
        rows.append(row)
    return {"threads": args.threads, "batch_size": args.batch_size, "epochs": args.epochs, "rounds": args.rounds,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"), "sgemm": peak, "models": rows}


def print_table(report):
    print(f"threads {report['threads']}, batch {report['batch_size']}, {report['epochs']} epoch(s), "
          f"fastest of {report['rounds']} round(s), test accuracy the mean over seeds 1-{report['rounds']}; "
          f"ratio = dlrun / PyTorch; OPENBLAS_CORETYPE "
          f"{report['openblas_coretype']}; sgemm peak {report['sgemm']['sgemm_peak_gflops']:.1f} GFLOP/s")
    header = ("model", "s/epoch dlrun", "s/epoch torch", "ratio", "wall dlrun", "wall torch", "ratio",
              "CPU s dlrun", "CPU s torch", "img/s infer dlrun", "img/s infer torch", "ratio",
              "RSS MB dlrun", "RSS MB torch", "ratio", "test acc dlrun (mean)", "test acc torch (mean)",
              "GFLOP/epoch", "GFLOP/s dlrun", "of sgemm peak")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in report["models"]:
        ours = row["dlrun"]
        theirs = row.get("pytorch", {})
        ratios = row.get("ratios", {})
        cells = [row["model"], fmt(ours["seconds_per_epoch"], 2), fmt(theirs.get("seconds_per_epoch"), 2),
                 fmt(ratios.get("seconds_per_epoch"), 2), fmt(ours["wall_seconds"], 1),
                 fmt(theirs.get("wall_seconds"), 1), fmt(ratios.get("wall_seconds"), 2), fmt(ours["cpu_seconds"], 1),
                 fmt(theirs.get("cpu_seconds"), 1), fmt(ours["inference_images_per_second"], 0),
                 fmt(theirs.get("inference_images_per_second"), 0),
                 fmt(ratios.get("inference_images_per_second"), 2), fmt(ours["peak_rss_mb"], 0),
                 fmt(theirs.get("peak_rss_mb"), 0), fmt(ratios.get("peak_rss_mb"), 2),
                 fmt(ours["test_accuracy"], 4), fmt(theirs.get("test_accuracy"), 4),
                 fmt(row["training_flops_per_epoch"] / 1e9, 1), fmt(ours["training_gflops"], 1),
                 fmt(ours["roofline_fraction"], 2)]
        print("| " + " | ".join(cells) + " |")
    print()
    print("s/epoch of every run, in the order they ran:")
    for row in report["models"]:
        theirs = row.get("pytorch")
        print(f"- {row['model']}: dlrun " + ", ".join(f"{s:.2f}" for s in row["dlrun"]["runs_seconds_per_epoch"])
              + ("" if not theirs else "; PyTorch " + ", ".join(f"{s:.2f}" for s in theirs["runs_seconds_per_epoch"])
                 + f" (faster malloc: {theirs['malloc']})"))
    print("\ntest accuracy by seed:")
    for row in report["models"]:
        theirs = row.get("pytorch")
        by_seed = lambda side: ", ".join(f"seed {seed} {fmt(value, 4)}" for seed, value in side.items())
        print(f"- {row['model']}: dlrun {by_seed(row['dlrun']['test_accuracy_by_seed'])}"
              + ("" if not theirs else f"; PyTorch {by_seed(theirs['test_accuracy_by_seed'])}"))


def write_subset(directory, rows):
    """The first `rows` Fashion-MNIST training images and labels as uncompressed IDX files."""
    with gzip.open(f"{FASHION}/train-images-idx3-ubyte.gz", "rb") as f:
        images = f.read()
    with gzip.open(f"{FASHION}/train-labels-idx1-ubyte.gz", "rb") as f:
        labels = f.read()
    image_path = os.path.join(directory, f"train-{rows}-images-idx3-ubyte")
    label_path = os.path.join(directory, f"train-{rows}-labels-idx1-ubyte")
    with open(image_path, "wb") as f:
        f.write(images[:4] + struct.pack(">III", rows, 28, 28) + images[16 : 16 + rows * 784])
    with open(label_path, "wb") as f:
        f.write(labels[:4] + struct.pack(">I", rows) + labels[8 : 8 + rows])
    return image_path, label_path


def scaling(args, env):
    """dlrun alone (PyTorch's scaling is not the question): threads, batch size and data size."""
    report = {"epochs": args.epochs, "rounds": args.rounds, "models": []}
    for model in args.models:
        entries = []

        def record(kind, value, threads, batch, runs, rows=TRAIN_EXAMPLES):
            best = fastest(runs)
            entry = {"vary": kind, "value": value, "threads": threads, "batch_size": batch, "train_rows": rows,
                     "seconds_per_epoch": best.seconds_per_epoch, "cpu_seconds": best.cpu, "wall_seconds": best.wall,
                     "runs_seconds_per_epoch": [r.seconds_per_epoch for r in runs],
                     "test_accuracy": best.result.get("test", {}).get("accuracy")}
            log(f"{model} {kind}={value}: s/epoch " + ", ".join(f"{r.seconds_per_epoch:.2f}" for r in runs))
            entries.append(entry)

        def measure(kind, value, threads, batch, extra=(), rows=TRAIN_EXAMPLES, rounds=args.rounds):
            runs = [run_dlrun(model, threads, batch, args.epochs, env, extra) for _ in range(rounds)]
            record(kind, value, threads, batch, runs, rows)

        # 1 and 2 threads take turns (1, 2, 1, 2, ...), at least 5 runs each: this VM's speed drifts
        # by 10-25% between runs even when nothing else runs, so both the best runs and the median
        # runs are compared.
        by_threads = {1: [], 2: []}
        for _ in range(max(args.rounds, 5)):
            for threads in (1, 2):
                by_threads[threads].append(run_dlrun(model, threads, 64, args.epochs, env))
        for threads, runs in by_threads.items():
            record("threads", threads, threads, 64, runs)
        if args.threads_only:
            report["models"].append({"model": model, "runs": entries})
            continue
        for batch in (32, 64, 256):
            measure("batch_size", batch, 2, batch)
        with tempfile.TemporaryDirectory() as data:
            for rows in (TRAIN_EXAMPLES // 4, TRAIN_EXAMPLES // 2, TRAIN_EXAMPLES):
                images, labels = write_subset(data, rows)
                # Best of at least 3: the straight-line fit below is only as good as its points.
                measure("train_rows", rows, 2, 64,
                        ("--set", f"data.train.images={images}", "--set", f"data.train.labels={labels}"), rows,
                        max(args.rounds, 3))
        report["models"].append({"model": model, "runs": entries})
    return report


def print_scaling(report):
    print(f"dlrun alone, {report['epochs']} epoch(s), fastest of {report['rounds']} run(s)")
    for model in report["models"]:
        runs = model["runs"]
        by = lambda kind: [r for r in runs if r["vary"] == kind]
        print(f"\n{model['model']}:")
        print("| threads | s/epoch (best) | speed-up | CPU s (whole process) | every run's s/epoch |")
        print("|---|---|---|---|---|")
        one, two = by("threads")
        for r in (one, two):
            print(f"| {r['value']} | {r['seconds_per_epoch']:.2f} | {one['seconds_per_epoch'] / r['seconds_per_epoch']:.2f} "
                  f"| {r['cpu_seconds']:.1f} "
                  f"| {', '.join(f'{s:.2f}' for s in r['runs_seconds_per_epoch'])} |")
        median_one, median_two = (statistics.median(r["runs_seconds_per_epoch"]) for r in (one, two))
        print(f"\n{model['model']}: 2 threads are {one['seconds_per_epoch'] / two['seconds_per_epoch']:.2f}x as fast "
              f"as 1 (best s/epoch {one['seconds_per_epoch']:.2f} against {two['seconds_per_epoch']:.2f}), "
              f"{median_one / median_two:.2f}x median against median ({median_one:.2f} against {median_two:.2f}); "
              f"the issue asks for >= 1.6")
        if not by("batch_size"):
            continue
        print("\n| batch size (2 threads) | s/epoch | images/s | test acc |")
        print("|---|---|---|---|")
        for r in by("batch_size"):
            print(f"| {r['value']} | {r['seconds_per_epoch']:.2f} | {TRAIN_EXAMPLES / r['seconds_per_epoch']:.0f} "
                  f"| {fmt(r['test_accuracy'], 4)} |")
        print("\n| training rows (2 threads, batch 64) | s/epoch | µs per row |")
        print("|---|---|---|")
        sizes = by("train_rows")
        for r in sizes:
            print(f"| {r['value']} | {r['seconds_per_epoch']:.2f} | {r['seconds_per_epoch'] / r['value'] * 1e6:.1f} |")
        # Linear means s/epoch = fixed + rows x per-row cost, the fixed part being the epoch's own
        # work (shuffling the row order, metrics) and, averaged in, the first epoch's warm-up.
        slope, intercept = statistics.linear_regression([r["value"] for r in sizes],
                                                        [r["seconds_per_epoch"] for r in sizes])
        worst = max(abs(r["seconds_per_epoch"] - (intercept + slope * r["value"])) / r["seconds_per_epoch"]
                    for r in sizes)
        print(f"\nleast-squares line: s/epoch = {intercept:.3f} + rows x {slope * 1e6:.1f} µs; "
              f"the farthest point is {worst * 100:.1f}% off it")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the median epoch is reported")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs per side, alternating dlrun and PyTorch; each side's fastest run is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--no-torch", action="store_true", help="run dlrun's side only")
    parser.add_argument("--threads-only", action="store_true",
                        help="with --scaling: only 1 against 2 threads (alternating, at least 3 runs each)")
    parser.add_argument("--scaling", action="store_true",
                        help="dlrun's scaling with threads (1, 2), batch size (32, 64, 256) and training rows "
                             "(1/4, 1/2, all); default model seed_cnn, --epochs 2, --rounds 1 unless given")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.scaling:
        args.models = args.models or ["seed_cnn"]
        if "--epochs" not in sys.argv:
            args.epochs = 2
        if "--rounds" not in sys.argv:
            args.rounds = 1
        report = scaling(args, env)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print_scaling(report)
        return
    args.models = args.models or DEFAULT_MODELS
    report = compare(args, env)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""dlrun cv against scikit-learn on the same folds of the 8x8 digits.

Runs `dlrun cv configs/digits_cv.yaml`, reads the fold of every row from the cv directory's
fold_rows.csv, and cross-validates scikit-learn's MLPClassifier with the same architecture and
optimizer (hidden sizes, relu, adam, learning rate, batch size, alpha = 2 * l2 * batch_size, the
same epochs with no early stopping, shuffling every epoch) behind a StandardScaler in a Pipeline,
on those very folds (PredefinedSplit). Prints each side's mean accuracy and wall time.

Both sides get the same parallelism: --jobs 1 runs both serially on one core (dlrun --threads 1
--jobs 1; sklearn n_jobs=1 with OPENBLAS_NUM_THREADS=1); --jobs 2 runs two folds at a time on two
cores (dlrun --threads 2 --jobs 2; sklearn n_jobs=2, one OpenBLAS thread per worker).
    /usr/bin/python3 scripts/benchmarks/cv_digits.py [--jobs 1|2] [--rounds N]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads: one BLAS thread per process
os.environ["OMP_NUM_THREADS"] = "1"
# MLPClassifier warns that 60 epochs did not converge by its tolerance; the epochs are fixed on
# purpose (the same as dlrun's). Set here so that joblib's worker processes inherit it too.
os.environ["PYTHONWARNINGS"] = "ignore"

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from sklearn.model_selection import PredefinedSplit, cross_validate  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings("ignore")


def run_dlrun(config, jobs, out_dir):
    command = [os.path.join(ROOT, "build", "dlrun"), "cv", config, "--quiet", "--threads", str(jobs),
               "--jobs", str(jobs), "--out", out_dir]
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr[-2000:]}")
    summary = json.loads([line for line in process.stdout.splitlines() if line.startswith("{")][-1])
    return summary, wall


def sklearn_model(config):
    layers = config["model"]["layers"]
    hidden = tuple(layer["units"] for layer in layers[:-1])
    batch = config["train"]["batch_size"]
    epochs = config["train"]["epochs"]
    l2 = layers[0].get("l2", 0.0)
    mlp = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                        learning_rate_init=config["optimizer"]["lr"], batch_size=batch,
                        alpha=2.0 * l2 * batch,  # sklearn: 0.5 * alpha * |W|^2 / batch; dlrun: l2 * |W|^2
                        max_iter=epochs, n_iter_no_change=epochs + 1, tol=0.0, shuffle=True,
                        early_stopping=False, random_state=0)
    return make_pipeline(StandardScaler(), mlp)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=os.path.join(ROOT, "configs", "digits_cv.yaml"))
    parser.add_argument("--jobs", type=int, default=1, choices=[1, 2])
    parser.add_argument("--rounds", type=int, default=1, help="runs per side; each side's fastest is reported")
    args = parser.parse_args()
    with open(args.config) as f:
        config = yaml.safe_load(f)
    data_path = os.path.join(os.path.dirname(args.config), config["data"]["train"]["path"])
    table = np.loadtxt(data_path, delimiter=",", skiprows=1)
    x, y = table[:, :-1], table[:, -1].astype(int)

    dlrun_walls, sklearn_walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(args.rounds):
            out_dir = os.path.join(tmp, f"cv{round_index}")
            summary, wall = run_dlrun(args.config, args.jobs, out_dir)
            dlrun_walls.append(wall)
            rows = np.loadtxt(os.path.join(out_dir, "fold_rows.csv"), delimiter=",", skiprows=1, dtype=int,
                              ndmin=2)
            first = rows[rows[:, 1] == 1]
            test_fold = np.full(len(y), -1)
            test_fold[first[:, 0]] = first[:, 2] - 1
            assert (test_fold >= 0).all(), "every row must be held out by one fold"

            start = time.perf_counter()
            scores = cross_validate(sklearn_model(config), x, y, cv=PredefinedSplit(test_fold), n_jobs=args.jobs,
                                    scoring="accuracy")
            sklearn_walls.append(time.perf_counter() - start)

    dlrun_folds = [fold["accuracy"] for fold in summary["folds"]]
    sk_folds = list(scores["test_score"])
    print(f"digits, {len(y)} rows, {len(dlrun_folds)} folds (the same rows per fold on both sides), "
          f"{config['train']['epochs']} epochs, jobs {args.jobs} (threads/cores {args.jobs} each side)")
    print(f"{'':10} {'mean acc':>9} {'std':>7} {'wall s':>8}   per-fold accuracy")
    print(f"{'dlrun':10} {np.mean(dlrun_folds):9.4f} {np.std(dlrun_folds, ddof=1):7.4f} {min(dlrun_walls):8.2f}   "
          + " ".join(f"{a:.4f}" for a in dlrun_folds))
    print(f"{'sklearn':10} {np.mean(sk_folds):9.4f} {np.std(sk_folds, ddof=1):7.4f} {min(sklearn_walls):8.2f}   "
          + " ".join(f"{a:.4f}" for a in sk_folds))
    print(f"accuracy difference (dlrun - sklearn): {100 * (np.mean(dlrun_folds) - np.mean(sk_folds)):+.2f} points; "
          f"wall time ratio dlrun/sklearn: {min(dlrun_walls) / min(sklearn_walls):.2f}")


if __name__ == "__main__":
    main()

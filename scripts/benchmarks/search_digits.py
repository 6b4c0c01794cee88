#!/usr/bin/python3
"""dlrun search (grid, 5-fold cv) against 18 separate `dlrun cv` runs and scikit-learn's GridSearchCV.

1. `dlrun search configs/digits_search.yaml` (18 grid points x 5 folds).
2. The same 18 points as 18 separate `dlrun cv` runs (`--set` per point): the search must pick the
   same best point, with the same mean accuracy per point.
3. scikit-learn's GridSearchCV over MLPClassifier on the same grid (hidden sizes, alpha = 200 *
   weight_decay, learning rate; adam, batch 200, max_iter = epochs, tol 1e-4 / n_iter_no_change 10
   on the training loss, StandardScaler in a Pipeline) and on the very same folds (PredefinedSplit
   from the fold_rows.csv of a `dlrun cv` of the same config).
Both sides get the same parallelism: --jobs 1 (dlrun --threads 1 --jobs 1; sklearn n_jobs=1,
OPENBLAS_NUM_THREADS=1) or --jobs 2 (dlrun --threads 2 --jobs 2; sklearn n_jobs=2).
    /usr/bin/python3 scripts/benchmarks/search_digits.py [--jobs 1|2] [--skip-separate] [--skip-sklearn]
Prints wall and CPU seconds of each side (CPU time matters on a shared machine).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["PYTHONWARNINGS"] = "ignore"

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from sklearn.model_selection import GridSearchCV, PredefinedSplit  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DLRUN = os.path.join(ROOT, "build", "dlrun")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command):
    start, cpu = time.perf_counter(), children_cpu()
    process = subprocess.run(command, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr[-3000:]}")
    summary = json.loads([line for line in process.stdout.splitlines() if line.startswith("{")][-1])
    return summary, wall, cpu


def grid_points(space):
    """The grid in dlrun's order (last dimension fastest): [(label per dim, value per dim)]."""
    dims = []
    for path, spec in space.items():
        if "choice" in spec:
            choice = spec["choice"]
            items = list(choice.items()) if isinstance(choice, dict) else [(str(v), v) for v in choice]
        else:
            items = [(repr(v), v) for v in spec["grid"]]
        dims.append((path, items))
    points = [[]]
    for path, items in dims:
        points = [p + [(path, label, value)] for p in points for label, value in items]
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=os.path.join(ROOT, "configs", "digits_search.yaml"))
    parser.add_argument("--jobs", type=int, default=1, choices=[1, 2])
    parser.add_argument("--skip-separate", action="store_true", help="do not run the 18 separate dlrun cv")
    parser.add_argument("--skip-sklearn", action="store_true", help="do not run GridSearchCV")
    args = parser.parse_args()
    with open(args.config) as f:
        config = yaml.safe_load(f)
    space = config["search"]["space"]
    points = grid_points(space)
    flags = ["--quiet", "--threads", str(args.jobs)]

    with tempfile.TemporaryDirectory() as tmp:
        search, search_wall, search_cpu = run([DLRUN, "search", args.config, *flags, "--jobs", str(args.jobs),
                                               "--out", os.path.join(tmp, "search")])
        print(f"dlrun search: {search['trials']} trials, best trial {search['best']['trial']} "
              f"{json.dumps(search['best']['params'])} mean accuracy {search['best']['metric']:.4f}; "
              f"wall {search_wall:.1f} s, cpu {search_cpu:.1f} s")
        with open(os.path.join(tmp, "search", "trials.csv")) as f:
            header = f.readline().strip().split(",")
            metric_column = header.index(config["search"]["metric"])
            search_metrics = [float(line.strip().split(",")[metric_column]) for line in f]

        # The folds: a dlrun cv of the same config writes them (the search uses the same ones).
        _, _, _ = run([DLRUN, "cv", args.config, *flags, "--set", "train.epochs=1",
                       "--out", os.path.join(tmp, "folds")])
        rows = np.loadtxt(os.path.join(tmp, "folds", "fold_rows.csv"), delimiter=",", skiprows=1, dtype=int)

        if not args.skip_separate:
            separate = []
            separate_wall = 0.0
            for index, point in enumerate(points):
                sets = []
                for path, _, value in point:
                    sets += ["--set", f"{path}={json.dumps(value)}"]
                summary, wall, _ = run([DLRUN, "cv", args.config, *flags, *sets,
                                        "--out", os.path.join(tmp, f"cv{index}")])
                separate.append(summary["mean"]["accuracy"])
                separate_wall += wall
            best_separate = int(np.argmax(separate))
            same = all(abs(a - b) < 5e-9 for a, b in zip(separate, search_metrics))
            print(f"18 x dlrun cv: best point {best_separate + 1} "
                  f"{ {p: l for p, l, _ in points[best_separate]} } mean accuracy {separate[best_separate]:.4f}; "
                  f"wall {separate_wall:.1f} s in total")
            print(f"same best point: {best_separate + 1 == search['best']['trial']}; "
                  f"every point's mean accuracy equal to the search's trials.csv: {same}")

    if args.skip_sklearn:
        return
    data_path = os.path.join(os.path.dirname(args.config), config["data"]["train"]["path"])
    table = np.loadtxt(data_path, delimiter=",", skiprows=1)
    x, y = table[:, :-1], table[:, -1].astype(int)
    test_fold = np.full(len(y), -1)
    test_fold[rows[rows[:, 1] == 1][:, 0]] = rows[rows[:, 1] == 1][:, 2] - 1
    batch = config["train"]["batch_size"]
    epochs = config["train"]["epochs"]
    grid = {}
    for path, spec in space.items():
        if path == "model.layers":
            grid["mlp__hidden_layer_sizes"] = [tuple(layer["units"] for layer in layers[:-1])
                                               for layers in spec["choice"].values()]
        elif path == "optimizer.weight_decay":
            grid["mlp__alpha"] = [w * batch for w in spec["choice"]]
        elif path == "optimizer.lr":
            grid["mlp__learning_rate_init"] = spec["grid"]
    mlp = MLPClassifier(activation="relu", solver="adam", batch_size=batch, max_iter=epochs, tol=1e-4,
                        n_iter_no_change=10, shuffle=True, early_stopping=False, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", mlp)])
    search_cv = GridSearchCV(pipeline, grid, cv=PredefinedSplit(test_fold), scoring="accuracy", n_jobs=args.jobs,
                             refit=False)
    start = time.perf_counter()
    cpu_start = time.process_time() + children_cpu()
    search_cv.fit(x, y)
    sk_wall = time.perf_counter() - start
    sk_cpu = time.process_time() + children_cpu() - cpu_start
    best = search_cv.best_index_
    print(f"sklearn GridSearchCV: best {search_cv.cv_results_['params'][best]} mean accuracy "
          f"{search_cv.best_score_:.4f}; wall {sk_wall:.1f} s, cpu {sk_cpu:.1f} s")
    print(f"wall time ratio dlrun search / GridSearchCV: {search_wall / sk_wall:.2f}; "
          f"cpu ratio: {search_cpu / sk_cpu:.2f} (jobs {args.jobs})")


if __name__ == "__main__":
    main()

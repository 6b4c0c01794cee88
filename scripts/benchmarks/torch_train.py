#!/usr/bin/python3
"""PyTorch side of scripts/bench: trains the same model as a dlrun config, on the same data, with
the same batch size, optimizer (Adam at the config's learning rate), initialisation scheme and
thread count, then classifies the test set at the same batch size, and prints one JSON line: seconds
per epoch, the test evaluation's seconds and the test accuracy.

Run at PyTorch's best setting on this machine: torch.set_num_threads(N) and OPENBLAS_NUM_THREADS=1
(set by scripts/bench), since Debian's torch calls OpenBLAS whose own threads oversubscribe the cores.
"""
import argparse
import gzip
import json
import struct
import sys
import time

import numpy as np
import torch
import yaml
import torch.nn as nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    _, _, dtype, ndim = struct.unpack(">BBBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class StackedRecurrent(nn.Module):
    """The seed tutorial's stacked LSTM (or GRU): 64 units returning sequences, 64 units, Linear 10,
    on images read row by row ((N, 1, 28, 28) -> 28 steps of 28 features)."""

    def __init__(self, cell, keras_init):
        super().__init__()
        self.first = cell(28, 64, batch_first=True)
        self.second = cell(64, 64, batch_first=True)
        self.out = nn.Linear(64, 10)
        if keras_init:
            for layer in (self.first, self.second):
                keras_initialise(layer)

    def forward(self, x):
        sequence, _ = self.first(x.squeeze(1))
        last, _ = self.second(sequence)
        return self.out(last[:, -1])


def keras_initialise(layer):
    """dlrun's `init: keras` for a recurrent layer: glorot_uniform input weights (over Keras's kernel
    (F, G*H)), orthogonal recurrent weights (Keras's recurrent kernel (H, G*H) has orthonormal
    rows, so weight_hh (G*H, H) has orthonormal columns), zero biases, an LSTM's forget-gate bias 1."""
    hidden = layer.hidden_size
    with torch.no_grad():
        nn.init.xavier_uniform_(layer.weight_ih_l0)  # fans F and G*H, as Keras's kernel's
        nn.init.orthogonal_(layer.weight_hh_l0)      # (G*H, H): orthonormal columns
        layer.bias_ih_l0.zero_()
        layer.bias_hh_l0.zero_()
        if isinstance(layer, nn.LSTM):
            layer.bias_ih_l0[hidden : 2 * hidden] = 1.0  # PyTorch's gate order: input, forget, cell, output


def model_for(name, keras_init):
    if name == "seed_lstm":
        return StackedRecurrent(nn.LSTM, keras_init)
    if name == "seed_gru":
        return StackedRecurrent(nn.GRU, keras_init)
    if name == "quickstart":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "seed_cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if name == "fmnist_cnn_bn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * 7 * 7, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(128, 10))
    raise SystemExit(f"unknown model {name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--config", help="the dlrun config: Adam's lr and the recurrent layers' init come from it")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed: initial weights and data order")
    args = parser.parse_args()
    lr, keras_init = 1e-3, False
    if args.config:
        with open(args.config) as f:
            config = yaml.safe_load(f)
        lr = float(config.get("optimizer", {}).get("lr", lr))
        keras_init = any(layer.get("init") == "keras" for layer in config["model"]["layers"])
    torch.set_num_threads(args.threads)
    # Denormal floats flushed to zero, as dlrun does (lib/core/float_mode.hpp): the same arithmetic,
    # and PyTorch spared any microcode assists on them.
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)

    images = read_idx(f"{args.data}/train-images-idx3-ubyte.gz")
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    images = torch.from_numpy(images.copy()).unsqueeze(1)  # uint8 (N, 1, 28, 28), converted per batch
    test_images = torch.from_numpy(read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").copy()).unsqueeze(1)
    test_labels = torch.from_numpy(read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))

    model = model_for(args.model, keras_init)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    epoch_seconds = []
    for _ in range(args.epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(images.shape[0])
        for begin in range(0, images.shape[0], args.batch_size):
            rows = order[begin : begin + args.batch_size]
            x = images[rows].float().div_(255.0)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), labels[rows])
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - start)
    # The test set at the training batch size, as dlrun evaluates it.
    model.eval()
    correct = 0
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, test_images.shape[0], args.batch_size):
            x = test_images[begin : begin + args.batch_size].float().div_(255.0)
            correct += (model(x).argmax(1) == test_labels[begin : begin + args.batch_size]).sum().item()
    test_seconds = time.perf_counter() - start
    print(json.dumps({"seconds_per_epoch": sorted(epoch_seconds)[len(epoch_seconds) // 2],
                      "epoch_seconds": epoch_seconds, "test_seconds": test_seconds,
                      "test_examples": int(test_images.shape[0]), "train_examples": int(images.shape[0]),
                      "test_accuracy": correct / test_images.shape[0], "lr": lr, "keras_init": keras_init}))


if __name__ == "__main__":
    sys.exit(main())

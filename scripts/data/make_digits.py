#!/usr/bin/python3
"""Writes data/digits.csv from scikit-learn's copy of the UCI optical digits (load_digits).

1797 images of 8x8 pixels, each pixel an integer 0-16, and the digit 0-9. Columns: p0 .. p63
(row-major: p0 is the top-left pixel) and `digit`. Run with Debian's python3-sklearn:
    /usr/bin/python3 scripts/data/make_digits.py
"""
import csv
import pathlib

from sklearn.datasets import load_digits


def main():
    digits = load_digits()
    out = pathlib.Path(__file__).resolve().parents[2] / "data" / "digits.csv"
    with out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([f"p{i}" for i in range(64)] + ["digit"])
        for pixels, digit in zip(digits.data, digits.target):
            writer.writerow([int(v) for v in pixels] + [int(digit)])
    print(f"{out}: {len(digits.target)} rows")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the committed seed corpora in fuzz/corpus/<harness>/ from the project's own valid files
(tests/data/files, configs/) plus a few hand-made edge cases. Run it from anywhere with
/usr/bin/python3 (standard library only); it rewrites fuzz/corpus. The two-file harnesses (idx, npy)
take inputs as fuzz_support.hpp's split_two_files reads them: a flags byte, the length of the
first file (uint32 little-endian), the first file, the second file."""
import gzip
import json
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "tests" / "data" / "files"
CORPUS = ROOT / "fuzz" / "corpus"


def two_files(flags, first, second=b""):
    return bytes([flags]) + struct.pack("<I", len(first)) + first + second


def idx(dims, values=None):
    header = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    count = 1
    for d in dims:
        count *= d
    return header + (bytes(values) if values is not None else bytes(i % 251 for i in range(count)))


def npy(descr, shape, data, version=1):
    shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    length_bytes = 2 if version == 1 else 4
    pad = (64 - (10 + len(header) + 1) % 64) % 64 if version == 1 else (64 - (12 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + data


def safetensors(tensors, metadata=None, extra=b""):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data + extra


def seeds():
    out = {name: {} for name in ["config", "overrides", "idx", "npy", "csv", "safetensors"]}

    # config: every shipped config, and a few edge cases the loader must reject cleanly.
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        out["config"][path.relative_to(ROOT / "configs").as_posix().replace("/", "_")] = path.read_bytes()
    out["config"]["edge_alias.yaml"] = b"a: &x [1, 2]\nb: *x\n"
    out["config"]["edge_deep_flow.yaml"] = b"a: " + b"[" * 70 + b"]" * 70 + b"\n"
    out["config"]["edge_deep_block.yaml"] = b"".join(b"  " * i + b"k%d:\n" % i for i in range(70)) + b"  " * 70 + b"v\n"
    out["config"]["edge_tag.yaml"] = b"name: !!str x\nseed: .nan\n"
    out["config"]["edge_two_docs.yaml"] = b"name: a\n---\nname: b\n"
    out["config"]["edge_block_scalar.yaml"] = b"name: |\n  [[[ not flow\n  {{\ndata: {}\n"

    # overrides: one assignment per line, against the harness's base config.
    out["overrides"]["layers.txt"] = b"model.layers.hidden.units=16\nmodel.layers.1.activation=relu\n"
    out["overrides"]["lists.txt"] = b"data.train.features=[x1]\ntrain.early_stopping={patience: 2}\n"
    out["overrides"]["search.txt"] = b"search.space.optimizer.lr={uniform: [0.1, 0.2]}\nsearch.trials=3\n"
    out["overrides"]["bad.txt"] = b"model.layers.9.units=1\nmodel..x=\n=3\nmodel.layers.dense_7=[\n"

    # idx: images alone, images + labels, 2-D features, a gzipped file, lying headers.
    images = (FILES / "tiny-images-idx3-ubyte").read_bytes()
    labels = gzip.decompress((FILES / "tiny-labels-idx1-ubyte.gz").read_bytes())
    out["idx"]["images.bin"] = two_files(0, images)
    out["idx"]["images_labels.bin"] = two_files(1, images, labels)
    out["idx"]["features.bin"] = two_files(2, (FILES / "tiny-features-idx2-ubyte").read_bytes())
    out["idx"]["gzipped.bin"] = two_files(0, (FILES / "tiny-images-gzipped.idx").read_bytes())
    out["idx"]["nchw_labels.bin"] = two_files(1, idx([2, 1, 2, 2]), idx([2], [7, 3]))
    out["idx"]["huge_dims.bin"] = two_files(2, bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + b"\x01\x02")
    out["idx"]["zero_dim.bin"] = two_files(0, idx([3, 0, 4]))

    # npy: every valid test file as inputs, with labels of each kind.
    xs = ["x_f4.npy", "x_f8.npy", "x_u1.npy"]
    ys = ["y_f4_2d.npy", "y_f4_3rows.npy", "y_f8.npy", "y_i4.npy", "y_i8.npy", "y_u1.npy"]
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            kind = (i + j) % 3
            out["npy"][f"{x[:-4]}_{y[:-4]}.bin"] = two_files(1 | kind << 1, (FILES / x).read_bytes(), (FILES / y).read_bytes())
    out["npy"]["fortran.bin"] = two_files(0, (FILES / "x_fortran.npy").read_bytes())
    out["npy"]["big_endian.bin"] = two_files(0, (FILES / "x_big_endian.npy").read_bytes())
    out["npy"]["v2.bin"] = two_files(0, npy("<f4", [2, 2], struct.pack("<4f", 1, 2, 3, 4), version=2))
    out["npy"]["i8_3d.bin"] = two_files(1, npy("<f4", [2, 1], struct.pack("<2f", 1, 2)), npy("<i8", [2, 2, 1], struct.pack("<4q", 0, 1, 1, 0)))
    out["npy"]["huge_shape.bin"] = two_files(0, npy("<f8", [281474976710656, 281474976710656, 4], b""))

    # csv: the test files with the options byte (bit 0 header, bits 1-2 kind, bit 4-5 label column).
    out["csv"]["flowers.bin"] = bytes([1]) + (FILES / "flowers.csv").read_bytes()
    out["csv"]["golden64.bin"] = bytes([1 | 2]) + (FILES / "golden64.csv").read_bytes()
    out["csv"]["xor_named.bin"] = bytes([1 | 16 | 64]) + (ROOT / "data" / "xor.csv").read_bytes()
    out["csv"]["iris_head.bin"] = bytes([1]) + b"\n".join((ROOT / "data" / "iris.csv").read_bytes().split(b"\n")[:12])
    out["csv"]["tabs_crlf_bom.bin"] = bytes([1 | 8]) + b"\xef\xbb\xbfx1\tx2\ty\r\n1\t2\t3\r\n\r\n4\t5\t6\r\n"
    out["csv"]["quotes.bin"] = bytes([0 | 4]) + b'"1,5",2,"a ""b"""\n3,4,"c"\n'

    # safetensors: small valid checkpoints of every dtype, metadata, and a few lies.
    f32 = struct.pack("<6f", *range(6))
    out["safetensors"]["f32.safetensors"] = safetensors(
        {"dense.weight": ("F32", [2, 3], f32), "dense.bias": ("F32", [2], struct.pack("<2f", 1, 2))},
        {"format": "dlrun", "epoch": "3"})
    out["safetensors"]["dtypes.safetensors"] = safetensors({
        "a": ("F16", [2], b"\x00\x3c\x00\xc0"), "b": ("BF16", [2], b"\x80\x3f\x00\x40"),
        "c": ("F64", [1], struct.pack("<d", 0.5)), "d": ("I8", [3], b"\x01\xff\x7f"), "e": ("U8", [2, 1], b"\x00\xff"),
        "empty": ("F32", [0, 4], b"")})
    out["safetensors"]["overlap.safetensors"] = struct.pack("<Q", 96) + json.dumps(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode().ljust(96) + bytes(12)
    out["safetensors"]["huge_header.safetensors"] = b"\xff" * 8 + b"{}"
    out["safetensors"]["overflow_shape.safetensors"] = safetensors({"a": ("F32", [4294967296, 4294967296, 4294967296], b"")})
    return out


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for harness, files in seeds().items():
        folder = CORPUS / harness
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        print(f"{harness}: {len(files)} seeds")


if __name__ == "__main__":
    main()

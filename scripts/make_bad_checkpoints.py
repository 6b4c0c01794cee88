#!/usr/bin/python3
"""Writes the malformed-checkpoint corpus: tests/data/files/bad_checkpoints/ (docs/checkpoints.md).

    /usr/bin/python3 scripts/make_bad_checkpoints.py [OUT_DIR]

valid.safetensors is a small checkpoint of tiny_csv_config's model (tests/e2e/e2e_support.cpp:
hidden [8, 4] + [8], out [3, 8] + [3]) with a checksum. Every other file is that checkpoint with
one defect, and a correct checksum wherever it has one, so that the defect is what the reader must
name. expected.tsv lists each file with a fragment of the error message dlrun must give (the field
named), or OK for the valid file; tests/io/test_safetensors_corpus.cpp reads it, and the folder
seeds the safetensors fuzzer too (scripts/fuzz). Deterministic: running it again writes the same bytes.
"""

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_checksum import CHECKSUM_ZEROS, build, with_checksum  # noqa: E402

META = {"written_by": "scripts/make_bad_checkpoints.py"}
MIB = 1 << 20


def floats(count, start):
    return struct.pack(f"<{count}f", *[(start + i) * 0.03125 - 0.5 for i in range(count)])


def model_tensors():
    return {
        "hidden.weight": ("F32", [8, 4], floats(32, 0)),
        "hidden.bias": ("F32", [8], floats(8, 32)),
        "out.weight": ("F32", [3, 8], floats(24, 40)),
        "out.bias": ("F32", [3], floats(3, 64)),
    }


VALID = build(model_tensors(), META)


def entry_changed(name, **changes):
    """The valid checkpoint with fields of one tensor's entry replaced."""
    def change(header):
        header[name].update(changes)
    return build(model_tensors(), META, header_extra=change)


def header_changed(change):
    return build(model_tensors(), META, header_extra=change)


def header_size():
    return struct.unpack("<Q", VALID[:8])[0]


def header_text():
    """The valid checkpoint's header without its padding."""
    return VALID[8:8 + header_size()].rstrip(b" ")


def data_area():
    return VALID[8 + header_size():]


def checksum_field():
    """'"checksum":"crc32:<digits>"' as the valid checkpoint holds it."""
    text = header_text()
    at = text.index(CHECKSUM_ZEROS[:-9])
    return text[at:at + len(CHECKSUM_ZEROS)]


def assemble(text, data, checksum=True):
    """A file from header text (padded here) and data; with `checksum`, its checksum recomputed."""
    text += b" " * (-len(text) % 8)
    raw = struct.pack("<Q", len(text)) + text + data
    return with_checksum_redone(raw) if checksum else raw


def with_checksum_redone(raw):
    marker = CHECKSUM_ZEROS[:-9]  # '"checksum":"crc32:'
    at = raw.index(marker) + len(marker)
    return with_checksum(raw[:at - len(marker)] + CHECKSUM_ZEROS + raw[at + 9:])


def text_edited(old, new, checksum=True):
    """The valid checkpoint with `old` replaced once by `new` in its header (bytes); with
    `checksum`, the checksum is recomputed (so the edit is the only defect)."""
    text = header_text()
    assert text.count(old) == 1, old
    return assemble(text.replace(old, new), data_area(), checksum)


def with_length(raw, length):
    return struct.pack("<Q", length) + raw[8:]


def flipped(raw, offset, bit=0):
    data = bytearray(raw)
    data[offset] ^= 1 << bit
    return bytes(data)


def corpus():
    """(file name, bytes, expected message fragment) for every file."""
    n = header_size()
    nested = "[" * 100 + "]" * 100
    gap = model_tensors()
    yield "valid", VALID, "OK"
    # The length field.
    yield "header-length-2e64-1", b"\xff" * 8 + VALID[8:], "header length 18446744073709551615 is over"
    yield "header-length-over-limit", with_length(VALID, 16 * MIB + 1), "over the 16 MiB limit"
    yield "header-length-past-end", with_length(VALID, len(VALID)), "exceeds the file size"
    yield "too-short", VALID[:7], "too short for a safetensors header"
    yield "truncated-in-header", VALID[:8 + n // 2], "exceeds the file size"
    yield "truncated-in-data", VALID[:-4], "go past the data area"
    # JSON syntax.
    yield "header-empty", with_length(VALID[:8], 0) + VALID[8 + n:], "not valid JSON: the header is empty"
    yield "header-not-json", build({}, checksum=False).replace(b"{}", b"no"), "not valid JSON"
    yield "header-array", struct.pack("<Q", 8) + b"[1,2]   ", "header is not a JSON object"
    yield "header-trailing-text", assemble(header_text() + b" x", data_area()), "text after the header object"
    yield "header-nul-padding", nul_padded(), "text after the header object"
    yield "header-invalid-utf8", text_edited(b'"out.bias"', b'"out.b\xffas"'), "invalid UTF-8"
    yield "string-control-character", text_edited(b'"out.bias"', b'"out.\nbias"'), "control character"
    yield "string-lone-surrogate", text_edited(b'"out.bias"', b'"out.\\udc00bias"'), "lone UTF-16 low surrogate"
    yield "number-leading-zero", text_edited(b'"data_offsets":[0,128]', b'"data_offsets":[00,128]'), "leading zero"
    yield "trailing-comma", text_edited(b'"shape":[8,4]', b'"shape":[8,4,]'), "not valid JSON"
    # Duplicates.
    yield "duplicate-tensor", text_edited(b'"out.bias"', b'"out.weight"'), "tensor 'out.weight' appears twice"
    yield "duplicate-metadata-key", text_edited(b'"written_by"', b'"checksum":"x","written_by"'), \
        "__metadata__ key 'checksum' appears twice"
    yield "duplicate-entry-key", text_edited(b'"dtype":"F32","shape":[3]', b'"dtype":"F32","dtype":"F32","shape":[3]'), \
        "'dtype' appears twice"
    # data_offsets.
    yield "offsets-past-end", entry_changed("out.bias", data_offsets=[256, 272]), "go past the data area"
    yield "offsets-overlap", entry_changed("hidden.bias", data_offsets=[120, 152]), "overlap tensor 'hidden.weight'"
    yield "offsets-reversed", entry_changed("out.bias", shape=[0], data_offsets=[268, 256]), "end before they begin"
    gap["hidden.bias"] = ("F32", [8], b"\0" * 4 + floats(8, 32))
    yield "offsets-gap", build(gap, META, header_extra=lambda h: h["hidden.bias"].update(
        data_offsets=[132, 164], shape=[8])), "leave a gap of 4 bytes after tensor 'hidden.weight'"
    yield "offsets-gap-at-start", build(model_tensors(), META, lead_data=b"\0" * 8), \
        "leave a gap of 8 bytes at the start of the data area"
    yield "trailing-bytes", build(model_tensors(), META, extra_data=b"\0" * 8), "8 trailing bytes after the last tensor"
    yield "offsets-not-integers", entry_changed("out.bias", data_offsets=[256, "268"]), \
        "'data_offsets' are not non-negative integers"
    yield "offsets-not-pair", entry_changed("out.bias", data_offsets=[256]), "'data_offsets' is not [begin, end]"
    yield "offsets-beyond-64-bits", entry_changed("out.bias", data_offsets=[256, 2**64]), \
        "'data_offsets' are not non-negative integers (18446744073709551616)"
    # Shapes.
    yield "shape-product-overflow", entry_changed("hidden.weight", shape=[2**32, 2**32, 4]), "overflows 64 bits"
    yield "shape-product-overflow-with-zero", entry_changed("out.bias", shape=[2**62, 4, 0], data_offsets=[268, 268]), \
        "overflows 64 bits"
    yield "shape-dimension-negative", entry_changed("hidden.bias", shape=[-8]), "shape dimension 0 (-8)"
    yield "shape-dimension-beyond-int64", entry_changed("hidden.bias", shape=[2**63]), \
        "shape dimension 0 (9223372036854775808) is not a non-negative integer"
    yield "shape-dimension-fraction", entry_changed("hidden.bias", shape=[8.0]), "shape dimension 0 (8.0)"
    yield "shape-dimension-list", entry_changed("hidden.bias", shape=[[8]]), "shape dimension 0 (a list)"
    yield "shape-rank-65", entry_changed("out.bias", shape=[1] * 64 + [3]), "more than 8 dimensions"
    # dtypes and byte counts that disagree.
    yield "dtype-lie-count", entry_changed("hidden.bias", shape=[9]), \
        "shape [9] of F32 (9 elements of 4 bytes) does not match its 32-byte data range"
    yield "dtype-lie-f16", entry_changed("hidden.bias", dtype="F16"), "shape [8] of F16 (8 elements of 2 bytes)"
    yield "dtype-lie-f64", entry_changed("hidden.bias", dtype="F64"), "shape [8] of F64 (8 elements of 8 bytes)"
    yield "dtype-unknown", entry_changed("out.bias", dtype="Q4"), "dtype Q4 is not supported"
    yield "dtype-i64", entry_changed("out.bias", dtype="I64"), "dtype I64 is not supported"
    yield "dtype-not-string", entry_changed("out.bias", dtype=4), "'dtype' is not a string"
    # Entries and metadata.
    yield "entry-missing-offsets", header_changed(lambda h: h["out.bias"].pop("data_offsets")), \
        "tensor 'out.bias': missing 'data_offsets'"
    yield "entry-not-object", header_changed(lambda h: h.update({"out.bias": [3]})), \
        "tensor 'out.bias': entry is not a JSON object"
    yield "entry-extra-too-deep", text_edited(b'"dtype":"F32","shape":[3]', b'"dtype":"F32","x":' +
                                              nested.encode() + b',"shape":[3]'), "'x' nests deeper than 64 levels"
    yield "empty-tensor-name", text_edited(b'"out.bias"', b'""'), "a tensor has an empty name"
    yield "metadata-not-object", build(model_tensors(), None, checksum=False,
                                       header_extra=lambda h: h.update({"__metadata__": ["a"]})), \
        "__metadata__ is not a JSON object"
    yield "metadata-value-not-string", header_changed(lambda h: h["__metadata__"].update(epoch=3)), \
        "__metadata__ value 'epoch' is not a string"
    # The checksum.
    yield "checksum-data-bit", flipped(VALID, len(VALID) - 5, 3), "does not match the file's CRC-32"
    yield "checksum-header-byte", text_edited(b"make_bad", b"make_baD", checksum=False), \
        "does not match the file's CRC-32"
    yield "checksum-padding-tab", padding_tab(), "does not match the file's CRC-32"
    yield "checksum-length-field", length_plus_space(), "does not match the file's CRC-32"
    yield "checksum-malformed", text_edited(checksum_field(), b'"checksum":"crc32:xyz"', checksum=False), \
        "checksum 'crc32:xyz' is not"
    yield "checksum-escaped", text_edited(checksum_field(), b'"checksum":"crc32:\\u00300000000"', checksum=False), \
        "written without escapes"
    yield "checksum-missing-dlrun-format", build(model_tensors(), {"format": "dlrun-checkpoint-1"}, checksum=False), \
        "__metadata__ has no checksum"


def nul_padded():
    """Padding of NUL bytes instead of spaces (not JSON whitespace)."""
    text = header_text()
    text += b"\0" * (-len(text) % 8 or 8)
    return with_checksum_redone(struct.pack("<Q", len(text)) + text + data_area())


def padding_tab():
    """A padding space made a tab: still valid JSON, so only the checksum sees it."""
    n = header_size()
    assert VALID[8 + n - 1:8 + n] == b" ", "the valid checkpoint needs padding: change META"
    data = bytearray(VALID)
    data[8 + n - 1] = ord("\t")
    return bytes(data)


def length_plus_space():
    """Eight more padding spaces with the length raised to match: valid JSON and layout, wrong CRC."""
    n = header_size()
    return struct.pack("<Q", n + 8) + VALID[8:8 + n] + b" " * 8 + VALID[8 + n:]


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parent.parent / "tests/data/files/bad_checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors"):
        old.unlink()
    lines = []
    for name, raw, expected in corpus():
        if expected is None:
            continue
        (out / f"{name}.safetensors").write_bytes(raw)
        lines.append(f"{name}.safetensors\t{expected}")
    (out / "expected.tsv").write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} files in {out}")


if __name__ == "__main__":
    main()

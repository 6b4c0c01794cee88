"""dlrun's safetensors checkpoints in a few lines of Python 3 (stdlib only): writing one with its
checksum, and verifying one as dlrun does (docs/checkpoints.md).

The checksum is `"checksum": "crc32:xxxxxxxx"` in `__metadata__`: the CRC-32 (zlib.crc32) of the
whole file, with those eight hex digits read as "00000000".

    from checkpoint_checksum import build, verify
    data = build({"w": ("F32", [2], struct.pack("<2f", 1, 2))}, {"written_by": "me"})
    verify("run/checkpoints/last.safetensors")   # raises ValueError naming the problem

Used by scripts/make_bad_checkpoints.py and scripts/kill_test.
"""

import json
import struct
import zlib

CHECKSUM_ZEROS = b'"checksum":"crc32:00000000"'
DIGITS_OFFSET = len(b'"checksum":"crc32:')


def build(tensors, metadata=None, checksum=True, extra_data=b"", header_extra=None, lead_data=b""):
    """The bytes of a safetensors file.

    tensors: {name: (dtype, shape, data bytes)} in file order (offsets are laid out contiguously).
    metadata: {str: str}; with checksum=True a correct "checksum" is added.
    extra_data: bytes appended after the tensors (covered by the checksum).
    lead_data: bytes before the first tensor (its offsets start after them).
    header_extra: a function given the header dict (before it is written) to change it.
    """
    header = {}
    meta = dict(metadata or {})
    if checksum:
        meta["checksum"] = "crc32:00000000"
    if meta:
        header["__metadata__"] = meta
    offset = len(lead_data)
    data = lead_data
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    data += extra_data
    if header_extra:
        header_extra(header)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    raw = struct.pack("<Q", len(text)) + text + data
    if checksum:
        raw = with_checksum(raw)
    return raw


def with_checksum(raw):
    """`raw` (holding the zeroed checksum once) with its checksum's digits filled in."""
    at = raw.index(CHECKSUM_ZEROS)
    digits = at + DIGITS_OFFSET
    crc = zlib.crc32(raw)
    return raw[:digits] + b"%08x" % crc + raw[digits + 8:]


def verify(path):
    """Checks a dlrun-written file's layout and checksum; returns the metadata. Raises ValueError."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short")
    n = struct.unpack("<Q", raw[:8])[0]
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file ({len(raw)} bytes)")
    text = raw[8:8 + n]
    header = json.loads(text.decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    end = 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        if begin != end:
            raise ValueError(f"{path}: tensor {name} begins at {begin}, expected {end}")
        end = stop
    if 8 + n + end != len(raw):
        raise ValueError(f"{path}: the tensors end at {8 + n + end}, the file at {len(raw)}")
    stored = metadata.get("checksum")
    if stored is None:
        raise ValueError(f"{path}: no checksum")
    key = b'"checksum":"'
    if text.count(key) != 1:
        raise ValueError(f"{path}: the checksum key is not written once, compactly")
    digits = 8 + text.index(key) + len(key) + len("crc32:")
    zeroed = raw[:digits] + b"00000000" + raw[digits + 8:]
    actual = "crc32:%08x" % zlib.crc32(zeroed)
    if stored != actual:
        raise ValueError(f"{path}: checksum {stored} stored, {actual} computed")
    return metadata

"""Read ARRAYX v1 files as read-only numpy arrays.

ARRAYX v1 is specified byte-exactly in docs/FORMAT.md: a 16-byte prefix, a
msgpack header, zero padding, then the raw little-endian data at a
4096-aligned offset, with a CRC-32C (and, since 1.1, an XXH3-128) per data
block. This module is the package's complete reader; it needs numpy and
msgpack, and checks the XXH3-128 digests when the xxhash module is there.

    import arrayx
    arr, header = arrayx.open("weights.arx")                # checked header
    arr, header = arrayx.open("weights.arx", verify=True)   # + every CRC
    header = arrayx.read_header("weights.arx")               # header only

``open(path, verify=False, *, max_header=1 MiB)`` returns an ``ArrayFile``,
a named tuple ``(array, header)``:

* ``array`` is a read-only ``numpy.memmap`` (mode ``"r"``) over the file's
  data region, with the file's dtype (little-endian), shape and order (C or
  F): nothing is read or copied until you touch the elements. An empty array
  (nbytes == 0, which mmap cannot map) is a read-only ``numpy.ndarray`` of
  the right dtype, shape and order instead. A 0-d array is a 0-d memmap.
* ``header`` is a dict: ``dtype`` (the ARRAYX name, str), ``shape`` (tuple
  of int), ``order`` ("C" or "F"), ``nbytes``, ``data_offset``,
  ``block_size`` (int), ``sealed`` (bool), ``crc32c`` (the raw table, bytes:
  4 bytes little-endian per block; None only from ``read_header(...,
  allow_unsealed=True)``) and ``attrs`` (dict, {} when absent). Keys a later
  minor version adds are skipped, as the format says.

bfloat16 has no numpy dtype: such an array is returned as its raw bits, a
``uint16`` (``<u2``) array, with ``header["dtype"] == "bfloat16"``;
``bfloat16_to_float32(array)`` widens it exactly (same shape and order).

Validation follows docs/FORMAT.md "Readers" step by step, limits before
reads: the file size is checked before the prefix is read, the header length
H against ``max_header`` and the file size before the header is read, and the
header bytes are scanned iteratively for well-formedness (every declared
length must fit in the H bytes, nesting at most 32 levels) before msgpack
decodes them, with msgpack's own max_*_len limits as a second line. Then
every key and type, the dtype name, rank and overflow, nbytes, data_offset,
block_size, the CRC table's length, the exact file size and the sealed flag
are checked. Every problem raises ``FormatError`` (a ``ValueError``) whose
message names the file, the field and the problem; a CRC mismatch raises
``ChecksumError`` (a ``FormatError``) naming the block and its byte offsets.
Errors opening or reading the file itself (missing file, permission) stay
``OSError``. Like any memory map, the array assumes the file is not
truncated while mapped; ARRAYX files are published whole and sealed, never
changed in place.

Attrs are decoded as msgpack gives them (str, int, float, bool, None,
bytes, lists, dicts, msgpack.ExtType / msgpack.Timestamp); strings that are
not valid UTF-8 keep their bytes as surrogate escapes. Nested map keys may
be str, int, float, bool or None and must not repeat. Python's dict cannot
hold keys that are distinct in msgpack but equal in Python (1, 1.0 and
True): such a map is returned as a list of (key, value) pairs. Two corners
where this reader is stricter than Go's, because msgpack for Python decodes
before we can look: an ext of type -1 (a msgpack timestamp) must have a
valid timestamp payload, and a float32 and a float64 key of equal value in
one nested map count as a duplicate.

``verify(array, header)`` checks an opened array later; ``read_header(
path_or_file, *, max_header, allow_unsealed=False)`` reads the header alone
(``allow_unsealed`` lets tools inspect a file still being written).

CRC-32C: ``crc32c(data, value=0)`` and ``block_crc32c(data, block_size)``
use the ``google_crc32c`` or ``crc32c`` module when one is installed (and
passes a self-test), else a pure numpy implementation; ``CRC32C_BACKEND``
names the one in use and may be set to "numpy" to force the fallback. The
numpy code splits the data into 64-byte lanes and advances all the lanes of
a 512 KiB slab together, four bytes per step, with two 64K-entry tables
(slicing-by-4 over 16-bit indices: one vector operation covers thousands of
lanes); the lane CRCs are then merged with CRC-shift operators (GF(2)
32x32 matrices applied as byte tables) in a log-depth tree. Measured with
Debian's Python 3.11 and numpy 1.24 on a shared, busy 2-core x86-64 VM
(python/python_test.go's TestCRCSpeed logs it): 280 to 540 MB/s on a 64 MiB
array, one thread; ``open(..., verify=True)`` of a 64 MiB file in the page
cache 190 to 560 MB/s, page faults included. That is some 20 to 50 times
slower than Go's hardware CRC; install google-crc32c or crc32c for native
speed.

Command line: ``python3 arrayx.py FILE [--verify]`` prints the header and a
preview of the values; exit status 1 (and a one-line message) on a format,
checksum or file error.
"""

import collections
import functools
import io
import os
import stat
import struct

import msgpack
import numpy as np

try:
    import xxhash
    _xxh3_128 = xxhash.xxh3_128_digest  # canonical form, as FORMAT.md says
except (ImportError, AttributeError):
    _xxh3_128 = None

__all__ = [
    "ArrayFile", "ChecksumError", "DEFAULT_MAX_HEADER",
    "DTYPES", "FormatError", "bfloat16_to_float32", "block_crc32c",
    "crc32c", "crc32c_backend", "open", "read_header", "set_crc32c_backend",
    "verify",
]

MAGIC = b"\x89ARX\r\n\x1a\n"
PREFIX_SIZE = 16
MAJOR_VERSION = 1
ALIGNMENT = 4096
MIN_BLOCK_SIZE = 1 << 16
MAX_BLOCK_SIZE = 1 << 30
MAX_RANK = 64
MAX_DEPTH = 32
DEFAULT_MAX_HEADER = 1 << 20
INT64_MAX = (1 << 63) - 1

# ARRAYX dtype name -> (numpy type string, item size). bfloat16 is returned
# as its raw bits.
DTYPES = {
    "bool": ("|b1", 1), "int8": ("|i1", 1), "int16": ("<i2", 2),
    "int32": ("<i4", 4), "int64": ("<i8", 8), "uint8": ("|u1", 1),
    "uint16": ("<u2", 2), "uint32": ("<u4", 4), "uint64": ("<u8", 8),
    "float16": ("<f2", 2), "bfloat16": ("<u2", 2), "float32": ("<f4", 4),
    "float64": ("<f8", 8), "complex64": ("<c8", 8),
    "complex128": ("<c16", 16),
}

_REQUIRED = ("dtype", "shape", "order", "nbytes", "data_offset",
             "block_size", "sealed")


class FormatError(ValueError):
    """The file is not a valid, complete ARRAYX v1 file."""


class ChecksumError(FormatError):
    """A data block does not match its CRC-32C.

    ``block`` is the first bad block's index, ``offset`` its byte offset in
    the data region (``file_offset`` in the file), ``want`` and ``got`` the
    header's and the data's CRCs, and ``bad_blocks`` every bad block index.
    """

    def __init__(self, message, block, offset, file_offset, want, got,
                 bad_blocks):
        super().__init__(message)
        self.block = block
        self.offset = offset
        self.file_offset = file_offset
        self.want = want
        self.got = got
        self.bad_blocks = bad_blocks


ArrayFile = collections.namedtuple("ArrayFile", ["array", "header"])
ArrayFile.__doc__ = "What open returns: (read-only array, header dict)."


# ---------------------------------------------------------------------------
# Reading the header.

def read_header(path_or_file, *, max_header: int = DEFAULT_MAX_HEADER,
                allow_unsealed: bool = False) -> dict:
    """Read and check the header of an ARRAYX file; return the header dict.

    path_or_file is a path or a binary file object (read with os.pread when
    it has a file descriptor, else with seek and read). The checks are
    those of open, including the exact file size, but the data is neither
    mapped nor verified. An unsealed file (one still being written) raises
    FormatError unless allow_unsealed is true.
    """
    if hasattr(path_or_file, "read"):
        name = getattr(path_or_file, "name", "<file>")
        return _read_header(path_or_file, str(name), max_header,
                            allow_unsealed)
    with _open_file(path_or_file) as f:
        return _read_header(f, os.fsdecode(path_or_file), max_header,
                            allow_unsealed)


def _fail(name, message):
    return FormatError(f"{name}: {message}")


def _open_file(path):
    """Open a regular file for reading (without blocking on a FIFO)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _fail(os.fsdecode(path), "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_size(f):
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return f.seek(0, io.SEEK_END)


def _read_at(f, n, offset):
    """Read up to n bytes at offset; fewer only at the end of the file."""
    try:
        fd = f.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is None or not hasattr(os, "pread"):
        f.seek(offset)
        data = f.read(n)
        if not isinstance(data, bytes):
            raise TypeError("arrayx: need a file opened in binary mode")
        return data
    parts, got = [], 0
    while got < n:
        part = os.pread(fd, n - got, offset + got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_header(f, name, max_header, allow_unsealed):
    size = _file_size(f)
    # 1. The prefix: size, magic, major version.
    if size < PREFIX_SIZE:
        raise _fail(name, f"truncated: file is {size} bytes, the prefix "
                          f"alone is {PREFIX_SIZE}")
    prefix = _read_at(f, PREFIX_SIZE, 0)
    if len(prefix) < PREFIX_SIZE:
        raise _fail(name, "truncated: file shrank while reading the prefix")
    if prefix[:8] != MAGIC:
        raise _fail(name, f"not an ARRAYX file (bad magic): starts "
                          f"{prefix[:8].hex(' ')}")
    major, minor, hlen = struct.unpack("<HHI", prefix[8:])
    if major != MAJOR_VERSION:
        raise _fail(name, f"unsupported format major version {major} "
                          f"(this reader supports {MAJOR_VERSION})")
    # 2. The header length, against the limit and the file, before reading.
    if hlen > max_header:
        raise _fail(name, f"header length {hlen} exceeds the limit of "
                          f"{max_header} bytes")
    if hlen > size - PREFIX_SIZE:
        raise _fail(name, f"truncated: header declares {hlen} bytes, file "
                          f"has {size - PREFIX_SIZE} after the prefix")
    body = _read_at(f, hlen, PREFIX_SIZE)
    if len(body) < hlen:
        raise _fail(name, "truncated: file shrank while reading the header")
    # 3. and 4. Decode and check every field.
    h = _decode_header(body, name)
    _validate(h, hlen, name)
    # 5. The exact file size.
    want = h["data_offset"] + h["nbytes"]
    if size != want:
        what = "truncated" if size < want else "trailing bytes after data"
        raise _fail(name, f"{what}: file is {size} bytes, header declares "
                          f"data_offset {h['data_offset']} + nbytes "
                          f"{h['nbytes']} = {want}")
    # 6. Only a sealed array is complete.
    if not h["sealed"] and not allow_unsealed:
        raise _fail(name, "array is not sealed: its data may be incomplete "
                          "and it has no checksums (a writer has not "
                          "finished it)")
    return h


def parse_header(raw: bytes, name: str = "<header>", *,
                 max_header: int = DEFAULT_MAX_HEADER) -> dict:
    """Check the first 16+H bytes of a sealed ARRAYX file (as the network
    protocol carries them) and return the header dict: the reader's steps
    1 to 4 and 6; the file size is for whoever holds the file."""
    raw = bytes(raw)
    if len(raw) < PREFIX_SIZE:
        raise _fail(name, f"truncated: {len(raw)} bytes, the prefix alone is "
                          f"{PREFIX_SIZE}")
    if raw[:8] != MAGIC:
        raise _fail(name, f"not an ARRAYX file (bad magic): starts "
                          f"{raw[:8].hex(' ')}")
    major, minor, hlen = struct.unpack("<HHI", raw[8:PREFIX_SIZE])
    if major != MAJOR_VERSION:
        raise _fail(name, f"unsupported format major version {major} "
                          f"(this reader supports {MAJOR_VERSION})")
    if hlen > max_header:
        raise _fail(name, f"header length {hlen} exceeds the limit of "
                          f"{max_header} bytes")
    if len(raw) < PREFIX_SIZE + hlen:
        raise _fail(name, f"truncated: header declares {hlen} bytes, "
                          f"{len(raw) - PREFIX_SIZE} follow the prefix")
    h = _decode_header(raw[PREFIX_SIZE:PREFIX_SIZE + hlen], name)
    _validate(h, hlen, name)
    if not h["sealed"]:
        raise _fail(name, "array is not sealed")
    return h


def _scan_msgpack(b, max_depth):
    """Check that b starts with one well-formed msgpack value nested at most
    max_depth deep and return its length.

    A port of the Go reader's internal/mpscan: iterative, and every declared
    length (strings, binaries, item counts) must fit in the bytes present,
    so the decoder that follows never allocates for a lie or recurses deep.
    """
    n = len(b)
    pos = 0
    stack = [1]  # items still to read at each open level

    def need(k):
        if k > n - pos:
            raise ValueError(f"msgpack truncated at byte {pos}: {k} more "
                             f"bytes declared, {n - pos} present")

    def uint(width):
        nonlocal pos
        need(width)
        v = int.from_bytes(b[pos:pos + width], "big")
        pos += width
        return v

    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        need(1)
        c = b[pos]
        pos += 1
        skip = items = 0
        if c <= 0x7F or c >= 0xE0 or c in (0xC0, 0xC2, 0xC3):
            pass  # fixint, nil, bool
        elif c <= 0x8F:
            items = 2 * (c & 0x0F)
        elif c <= 0x9F:
            items = c & 0x0F
        elif c <= 0xBF:
            skip = c & 0x1F
        elif c in (0xC4, 0xD9):  # bin8, str8
            skip = uint(1)
        elif c in (0xC5, 0xDA):
            skip = uint(2)
        elif c in (0xC6, 0xDB):
            skip = uint(4)
        elif 0xC7 <= c <= 0xC9:  # ext8/16/32: length, type byte, data
            skip = uint(1 << (c - 0xC7)) + 1
        elif c == 0xCA:
            skip = 4
        elif c == 0xCB:
            skip = 8
        elif 0xCC <= c <= 0xCF:  # uint8..uint64
            skip = 1 << (c - 0xCC)
        elif 0xD0 <= c <= 0xD3:  # int8..int64
            skip = 1 << (c - 0xD0)
        elif 0xD4 <= c <= 0xD8:  # fixext1..16: type byte, data
            skip = 1 + (1 << (c - 0xD4))
        elif c == 0xDC:
            items = uint(2)
        elif c == 0xDD:
            items = uint(4)
        elif c == 0xDE:
            items = 2 * uint(2)
        elif c == 0xDF:
            items = 2 * uint(4)
        else:  # 0xC1 is never used
            raise ValueError(f"msgpack byte {c:#04x} at {pos - 1} is "
                             f"reserved")
        need(skip)
        pos += skip
        if items:
            if len(stack) > max_depth:
                raise ValueError(f"msgpack nested deeper than {max_depth} "
                                 f"at byte {pos}")
            need(items)  # every item takes at least one byte
            stack.append(items)
    return pos


class _Pairs(list):
    """A decoded msgpack map, as its (key, value) pairs in file order."""


def _decode_header(body, name):
    hlen = len(body)
    try:
        end = _scan_msgpack(body, MAX_DEPTH)
    except ValueError as e:
        raise _fail(name, f"invalid header: {e}") from None
    if end != hlen:
        raise _fail(name, f"invalid header: {hlen - end} bytes after the "
                          f"header map")
    if not (0x80 <= body[0] <= 0x8F or body[0] in (0xDE, 0xDF)):
        raise _fail(name, f"invalid header: not a msgpack map (first byte "
                          f"{body[0]:#04x})")
    try:
        pairs = msgpack.unpackb(
            body, raw=False, use_list=True, strict_map_key=False,
            object_pairs_hook=_Pairs, unicode_errors="surrogateescape",
            max_str_len=hlen, max_bin_len=hlen, max_array_len=hlen,
            max_map_len=hlen, max_ext_len=hlen)
    except Exception as e:  # msgpack raises several types
        raise _fail(name, f"invalid header: msgpack: {e} (a msgpack "
                          f"timestamp, ext type -1, must have a valid "
                          f"payload for this reader)") from None
    h = {}
    for key, value in pairs:
        if type(key) is not str:
            raise _fail(name, f"invalid header: a key is not a string "
                              f"({_typename(key)})")
        if key in h:
            raise _fail(name, f"invalid header: {key}: duplicate key")
        try:
            h[key] = _decode_field(key, value)
        except ValueError as e:
            raise _fail(name, f"invalid header: {key}: {e}") from None
    for key in _REQUIRED:
        if key not in h:
            raise _fail(name, f"invalid header: {key}: missing")
    h.setdefault("crc32c", None)
    h.setdefault("attrs", {})
    out = {k: h[k] for k in _REQUIRED + ("crc32c", "attrs")}
    if "xxh3_128" in h:  # since 1.1
        out["xxh3_128"] = h["xxh3_128"]
    return out


def _typename(v):
    if type(v) is _Pairs:
        return "map"
    return {list: "array", bytes: "binary", type(None): "nil"}.get(
        type(v), type(v).__name__)


def _nonneg(v):
    """An integer field: any msgpack integer encoding, 0 to 2^63-1."""
    if type(v) is not int:
        raise ValueError(f"not an integer ({_typename(v)})")
    if v < 0:
        raise ValueError(f"negative ({v})")
    if v > INT64_MAX:
        raise ValueError(f"{v} exceeds 2^63-1")
    return v


def _decode_field(key, v):
    if key == "dtype":
        if type(v) is not str:
            raise ValueError(f"not a string ({_typename(v)})")
        if v not in DTYPES:
            raise ValueError(f"{v!r} is not an ARRAYX dtype name")
        return v
    if key == "shape":
        if type(v) is not list:
            raise ValueError(f"not an array ({_typename(v)})")
        if len(v) > MAX_RANK:
            raise ValueError(f"rank {len(v)} exceeds {MAX_RANK}")
        return tuple(_nonneg(d) for d in v)
    if key == "order":
        if type(v) is not str:
            raise ValueError(f"not a string ({_typename(v)})")
        if v not in ("C", "F"):
            raise ValueError(f'{v!r}: want "C" or "F"')
        return v
    if key in ("nbytes", "data_offset", "block_size"):
        return _nonneg(v)
    if key == "sealed":
        if type(v) is not bool:
            raise ValueError(f"not a bool ({_typename(v)})")
        return v
    if key in ("crc32c", "xxh3_128"):
        width, what = (4, "uint32 checksums") if key == "crc32c" \
            else (16, "16-byte digests")
        if type(v) is not bytes:
            raise ValueError(f"not binary ({_typename(v)})")
        if len(v) % width:
            raise ValueError(f"{len(v)} bytes is not a whole number of "
                             f"{what}")
        return v
    if key == "attrs":
        if v is None:
            return {}
        if type(v) is not _Pairs:
            raise ValueError(f"not a map ({_typename(v)})")
        out = {}
        for k, item in v:
            if type(k) is not str:
                raise ValueError(f"a key is not a string ({_typename(k)})")
            if k in out:
                raise ValueError(f"duplicate key {k!r}")
            out[k] = _attr_value(item, f"attrs[{k!r}]")
        return out
    return None  # a key of a later minor version: skipped


def _attr_value(v, where):
    if type(v) is list:
        return [_attr_value(x, f"{where}[{i}]") for i, x in enumerate(v)]
    if type(v) is not _Pairs:
        return v
    seen = set()
    for k, _ in v:
        if k is not None and type(k) not in (str, int, float, bool):
            raise ValueError(f"{where}: map key of type {_typename(k)}")
        if (type(k), k) in seen:
            raise ValueError(f"{where}: duplicate key {k!r}")
        seen.add((type(k), k))
    out = {k: _attr_value(x, f"{where}[{k!r}]") for k, x in v}
    if len(out) == len(v):
        return out
    # Keys distinct in msgpack but equal in Python (1, 1.0, True).
    return [(k, _attr_value(x, f"{where}[{k!r}]")) for k, x in v]


def _validate(h, hlen, name):
    """FORMAT.md "Readers" step 4: the fields' values and consistency."""
    def bad(field, message):
        return _fail(name, f"invalid header: {field}: {message}")

    itemsize = DTYPES[h["dtype"]][1]
    shape = h["shape"]
    p = itemsize
    for d in shape:
        if d:
            p *= d
            if p > INT64_MAX:
                raise _fail(name, f"array too large: shape {shape} of "
                                  f"{h['dtype']} overflows int64")
    count = 1
    for d in shape:
        count *= d
    want = count * itemsize
    if h["nbytes"] != want:
        raise bad("nbytes", f"{h['nbytes']}, but shape {shape} of "
                            f"{h['dtype']} is {want} bytes")
    off = h["data_offset"]
    if off < PREFIX_SIZE or off % ALIGNMENT:
        raise bad("data_offset", f"{off} is not a positive multiple of "
                                 f"{ALIGNMENT}")
    if h["nbytes"] > INT64_MAX - off:
        raise _fail(name, f"array too large: data_offset {off} + nbytes "
                          f"{h['nbytes']} overflows int64")
    bs = h["block_size"]
    if not MIN_BLOCK_SIZE <= bs <= MAX_BLOCK_SIZE or bs & (bs - 1):
        raise bad("block_size", f"{bs} is not a power of two from "
                                f"{MIN_BLOCK_SIZE} to {MAX_BLOCK_SIZE}")
    nblocks = -(-h["nbytes"] // bs)
    table = h["crc32c"]
    if table is not None and len(table) != 4 * nblocks:
        raise bad("crc32c", f"{len(table) // 4} checksums for {nblocks} "
                            f"blocks")
    if h["sealed"] and table is None:
        raise bad("crc32c", "missing from a sealed header")
    digests = h.get("xxh3_128")
    if digests is not None and table is None:
        raise bad("xxh3_128", "present without crc32c")
    if digests is not None and len(digests) != 16 * nblocks:
        raise bad("xxh3_128", f"{len(digests) // 16} digests for {nblocks} "
                              f"blocks")
    if off < PREFIX_SIZE + hlen:
        raise bad("data_offset", f"{off} is inside the "
                                 f"{PREFIX_SIZE + hlen}-byte prefix and "
                                 f"header")


# ---------------------------------------------------------------------------
# Mapping the data.

def open(path, verify: bool = False, *,
         max_header: int = DEFAULT_MAX_HEADER) -> "ArrayFile":
    """Open an ARRAYX file: return ArrayFile(array, header).

    path is a path or a binary file object with a descriptor (which stays
    the caller's to close; the mapping outlives it). The array is a
    read-only numpy.memmap of the data (a read-only empty ndarray when
    nbytes is 0); see the module docstring. With verify=True every block's
    CRC-32C is checked first (reading all the data), raising ChecksumError
    on a mismatch. max_header is the limit on the header length H
    (FORMAT.md's default, 1 MiB).
    """
    if hasattr(path, "read"):
        return _open_from(path, str(getattr(path, "name", "<file>")),
                          verify, max_header)
    with _open_file(path) as f:
        return _open_from(f, os.fsdecode(path), verify, max_header)


def _open_from(f, name, verify, max_header):
    h = _read_header(f, name, max_header, False)
    dtype = np.dtype(DTYPES[h["dtype"]][0])
    try:
        if h["nbytes"] == 0:
            arr = np.empty(h["shape"], dtype=dtype, order=h["order"])
            arr.flags.writeable = False
        else:
            arr = np.memmap(f, dtype=dtype, mode="r",
                            offset=h["data_offset"], shape=h["shape"],
                            order=h["order"])
    except (ValueError, OverflowError, MemoryError) as e:
        raise _fail(name, f"cannot map {h['nbytes']} bytes of shape "
                          f"{h['shape']}: {e}") from None
    if verify:
        _verify(arr, h, name)
    return ArrayFile(arr, h)


def verify(array, header: dict) -> None:
    """Check array's bytes against header's CRC-32C table.

    array is what open returned (or any array holding the same bytes in the
    same order). Raises ChecksumError naming the first bad block.
    """
    _verify(array, header, "<array>")


def _verify(array, h, name):
    data = _as_u8(array)
    if data.size != h["nbytes"]:
        raise _fail(name, f"array has {data.size} bytes, header says "
                          f"{h['nbytes']}")
    bs = h["block_size"]
    want = np.frombuffer(h["crc32c"], dtype="<u4")
    got = block_crc32c(data, bs)
    bad = np.flatnonzero(want != got)
    if bad.size:
        i = int(bad[0])
        off = i * bs
        n = min(bs, h["nbytes"] - off)
        raise ChecksumError(
            f"{name}: checksum mismatch in block {i} of {want.size} (data "
            f"bytes {off} to {off + n - 1}, file offset "
            f"{h['data_offset'] + off}): header has {int(want[i]):08x}, "
            f"data has {int(got[i]):08x}"
            + (f"; {bad.size} bad blocks in all" if bad.size > 1 else ""),
            block=i, offset=off, file_offset=h["data_offset"] + off,
            want=int(want[i]), got=int(got[i]),
            bad_blocks=[int(b) for b in bad])
    digests = h.get("xxh3_128")
    if digests is None or _xxh3_128 is None:
        return  # 1.0 arrays have none; without xxhash, the CRC alone
    for i in range(want.size):
        off = i * bs
        if _xxh3_128(memoryview(data[off:off + bs])) != \
                digests[16 * i:16 * i + 16]:
            n = min(bs, h["nbytes"] - off)
            raise ChecksumError(
                f"{name}: XXH3-128 mismatch in block {i} of {want.size} (data "
                f"bytes {off} to {off + n - 1}): its CRC-32C matches, its "
                f"digest does not", block=i, offset=off,
                file_offset=h["data_offset"] + off, want=None, got=None,
                bad_blocks=[i])


def bfloat16_to_float32(bits):
    """Widen bfloat16 raw bits (a uint16 array, as open returns a bfloat16
    array) to float32 exactly, keeping shape and memory order."""
    bits = np.asarray(bits)
    if bits.dtype.itemsize != 2 or bits.dtype.kind not in "ui":
        raise TypeError(f"bfloat16 bits must be a 16-bit integer array, "
                        f"not {bits.dtype}")
    wide = bits.astype("<u4", order="K")
    wide <<= np.uint32(16)
    return wide.view("<f4")


def _as_u8(data):
    """A flat uint8 view of data's bytes in memory order, without copying."""
    if isinstance(data, np.ndarray):
        a = np.asarray(data)
        if a.flags.c_contiguous:
            flat = a.reshape(-1)
        elif a.flags.f_contiguous:
            flat = a.reshape(-1, order="F")
        else:
            raise ValueError("array is not contiguous")
        return flat.view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
#
# Notation: Z is the linear map "feed one zero byte" on the 32-bit CRC
# register, Z(r) = T[r & 0xFF] ^ (r >> 8). Feeding a byte b is r -> Z(r ^ b),
# so feeding 4 bytes (a little-endian word w) is r -> Z^4(r ^ w), which two
# 64K-entry tables of Z^4 (low and high 16 bits) compute. The register after
# A||B is Z^len(B)(register after A) ^ (register of B started from 0), and
# Z^n is a GF(2) 32x32 matrix, applied to vectors as four 256-entry tables.

_POLY = 0x82F63B78
_MASK = 0xFFFFFFFF
_LANE = 64           # bytes per lane
_SLAB = 1 << 19      # bytes advanced together: 8192 lanes (cache-sized)
_BATCH = 1 << 22     # bytes whose lane CRCs are merged at once


def _byte_table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1)
    return t.astype(np.uint32)


_T8 = _byte_table()
_T8_LIST = _T8.tolist()


@functools.lru_cache(maxsize=None)
def _word_tables():
    """Z^4 of every low and every high 16-bit half of a register."""
    def z4(v):
        for _ in range(4):
            v = _T8[v & 0xFF] ^ (v >> 8)
        return v
    x = np.arange(1 << 16, dtype=np.uint32)
    return z4(x), z4(x << np.uint32(16))


def _mat_apply(cols, v):
    r = 0
    i = 0
    while v:
        if v & 1:
            r ^= cols[i]
        v >>= 1
        i += 1
    return r


@functools.lru_cache(maxsize=None)
def _zpow2(k):
    """The columns of Z^(2^k)."""
    if k == 0:
        return tuple(_T8_LIST[(1 << i) & 0xFF] ^ ((1 << i) >> 8)
                     for i in range(32))
    half = _zpow2(k - 1)
    return tuple(_mat_apply(half, c) for c in half)


@functools.lru_cache(maxsize=256)
def _zpow(n):
    """The columns of Z^n."""
    cols = tuple(1 << i for i in range(32))
    k = 0
    while n:
        if n & 1:
            p = _zpow2(k)
            cols = tuple(_mat_apply(p, c) for c in cols)
        n >>= 1
        k += 1
    return cols


def _shift(reg, n):
    """Feed n zero bytes to a scalar register."""
    return _mat_apply(_zpow(n), reg) if n else reg


@functools.lru_cache(maxsize=64)
def _shift_tables(n):
    cols = np.array(_zpow(n), dtype=np.uint32)
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8)
    tables = np.zeros((4, 256), dtype=np.uint32)
    for q in range(4):
        for i in range(8):
            tables[q] ^= np.where(bits[:, i] == 1, cols[8 * q + i], 0
                                  ).astype(np.uint32)
    return tables


def _shift_vec(x, n):
    """Feed n zero bytes to every register of the uint32 array x."""
    t = _shift_tables(n)
    return (t[0][x & 0xFF] ^ t[1][(x >> 8) & 0xFF]
            ^ t[2][(x >> 16) & 0xFF] ^ t[3][x >> 24])


def _lane_registers(buf, out):
    """Registers (from 0) of each _LANE-byte lane of buf into out."""
    low, high = _word_tables()
    words = _LANE // 4
    width = min(_SLAB, buf.size) // _LANE
    cols = np.empty((words, width), dtype=np.uint32)
    lo = np.empty(width, dtype=np.intp)
    hi = np.empty(width, dtype=np.intp)
    a = np.empty(width, dtype=np.uint32)
    for start in range(0, buf.size, _SLAB):
        slab = buf[start:start + _SLAB]
        n = slab.size // _LANE
        c = out[start // _LANE:start // _LANE + n]
        # Transpose so that word j of every lane is contiguous.
        np.copyto(cols[:, :n], slab.view("<u4").reshape(n, words).T)
        c[:] = 0
        for j in range(words):
            np.bitwise_xor(c, cols[j, :n], out=c)
            np.bitwise_and(c, 0xFFFF, out=lo[:n], casting="unsafe")
            np.right_shift(c, 16, out=hi[:n], casting="unsafe")
            np.take(low, lo[:n], out=a[:n])
            np.take(high, hi[:n], out=c)
            np.bitwise_xor(c, a[:n], out=c)


def _merge(regs, piece):
    """Merge registers of consecutive pieces of piece bytes each along the
    last axis (a power of two long) into the register of their
    concatenation."""
    while regs.shape[-1] > 1:
        regs = _shift_vec(regs[..., 0::2], piece) ^ regs[..., 1::2]
        piece *= 2
    return regs[..., 0]


def _register(buf, reg):
    """Feed the uint8 array buf to the register reg (numpy)."""
    whole = buf.size // _LANE * _LANE
    if whole:
        regs = np.empty(min(whole, _BATCH) // _LANE, dtype=np.uint32)
    for start in range(0, whole, _BATCH):
        part = buf[start:min(start + _BATCH, whole)]
        n = part.size // _LANE
        _lane_registers(part, regs[:n])
        lanes = regs[:n]
        pad = (1 << (n - 1).bit_length()) - n
        if pad:  # leading zero registers change nothing
            lanes = np.concatenate([np.zeros(pad, np.uint32), lanes])
        reg = _shift(reg, part.size) ^ int(_merge(lanes, _LANE))
    for b in buf[whole:].tobytes():
        reg = _T8_LIST[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _crc32c_numpy(buf, value):
    return _register(buf, value ^ _MASK) ^ _MASK


def _block_crc32c_numpy(buf, bs):
    n = buf.size
    out = np.empty(-(-n // bs), dtype=np.uint32)
    full = n // bs
    if full and bs <= _BATCH and bs % _LANE == 0 and not bs & (bs - 1):
        # Whole batches of blocks at once: lanes, then a merge per block.
        per = _BATCH // bs
        regs = np.empty(min(full, per) * bs // _LANE, dtype=np.uint32)
        fold = _shift(_MASK, bs) ^ _MASK  # initial value and final XOR
        for first in range(0, full, per):
            k = min(per, full - first)
            part = buf[first * bs:(first + k) * bs]
            _lane_registers(part, regs[:part.size // _LANE])
            lanes = regs[:part.size // _LANE].reshape(k, bs // _LANE)
            out[first:first + k] = _merge(lanes, _LANE) ^ np.uint32(fold)
    else:
        for i in range(full):
            out[i] = _crc32c_numpy(buf[i * bs:(i + 1) * bs], 0)
    if full < out.size:
        out[-1] = _crc32c_numpy(buf[full * bs:], 0)
    return out


def _load_backends():
    found = {"numpy": None}
    try:
        import google_crc32c
        if getattr(google_crc32c, "implementation", "") == "c":
            found["google_crc32c"] = (
                lambda b, v: google_crc32c.extend(v, b))
    except ImportError:
        pass
    try:
        import crc32c as crc32c_module
        found["crc32c"] = lambda b, v: crc32c_module.crc32c(b, v)
    except ImportError:
        pass
    check = memoryview(np.frombuffer(b"123456789", dtype=np.uint8))
    for name, fn in list(found.items()):
        try:
            ok = fn is None or (fn(check, 0) == 0xE3069283
                                and fn(check[5:], fn(check[:5], 0))
                                == 0xE3069283)
        except Exception:
            ok = False
        if not ok:
            del found[name]
    return found


_BACKENDS = _load_backends()
CRC32C_BACKEND = next((b for b in ("google_crc32c", "crc32c")
                       if b in _BACKENDS), "numpy")


def set_crc32c_backend(name: str) -> None:
    """Choose how CRC-32C is computed: "crc32c" or "google_crc32c" (C
    modules, when installed) or "numpy" (always there, slower). The default
    is the fastest available."""
    global CRC32C_BACKEND
    if name not in _BACKENDS:
        raise ValueError(f"CRC-32C backend {name!r} is not available; "
                         f"have {sorted(_BACKENDS)}")
    CRC32C_BACKEND = name


def crc32c_backend() -> str:
    """The CRC-32C backend in use (see set_crc32c_backend)."""
    return CRC32C_BACKEND


def _backend():
    if CRC32C_BACKEND not in _BACKENDS:
        raise ValueError(f"CRC32C_BACKEND {CRC32C_BACKEND!r} is not "
                         f"available; have {sorted(_BACKENDS)}")
    return _BACKENDS[CRC32C_BACKEND]


def crc32c(data, value: int = 0) -> int:
    """The CRC-32C of data (bytes-like or contiguous array), continuing
    from the CRC value of earlier data (0 to start)."""
    buf = _as_u8(data)
    fn = _backend()
    if fn is None:
        return _crc32c_numpy(buf, value)
    return fn(memoryview(buf), value)


def block_crc32c(data, block_size):
    """The CRC-32C of each block_size-byte block of data (the last block
    may be short), as a uint32 array: the format's crc32c table."""
    if block_size <= 0:
        raise ValueError(f"block size {block_size} is not positive")
    buf = _as_u8(data)
    fn = _backend()
    if fn is None:
        return _block_crc32c_numpy(buf, block_size)
    view = memoryview(buf)
    return np.array([fn(view[i:i + block_size], 0)
                     for i in range(0, buf.size, block_size)],
                    dtype=np.uint32)

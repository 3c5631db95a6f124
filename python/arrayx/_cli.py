"""The command line: python -m arrayx info|ls|verify."""

import argparse
import json
import os
import sys
import time

import numpy as np

from . import _format as fmt
from ._store import InvalidNameError, Store


def _json_default(v):
    if isinstance(v, bytes):
        return {"binary": v.hex()}
    return repr(v)


def _preview(arr, h):
    if h["dtype"] == "bfloat16":
        if arr.size > 1 << 20:
            return "(bfloat16, not shown: too large to widen for a preview)"
        arr = fmt.bfloat16_to_float32(arr)
    return np.array2string(np.asarray(arr), threshold=40, edgeitems=3)


def _open(target, store, max_header):
    """A file path (it exists, or ends in .arx) or an array name in the
    store."""
    if os.path.exists(target) or target.endswith(".arx") or store is None \
            and "/" in target:
        return fmt.open(target, max_header=max_header)
    return Store(store, create=False).open(target)


def _info(args):
    arr, h = _open(args.target, args.store, args.max_header)
    if args.verify:
        t0 = time.perf_counter()
        fmt.verify(arr, h)
        secs = time.perf_counter() - t0
    nblocks = len(h["crc32c"]) // 4
    blocks = f"{nblocks} block{'s' * (nblocks != 1)}"
    np_type = arr.dtype.str
    if h["dtype"] == "bfloat16":
        np_type += ", raw bits"
    lines = [
        ("file", args.target),
        ("dtype", f"{h['dtype']} (numpy {np_type})"),
        ("shape", str(h["shape"])),
        ("order", h["order"]),
        ("nbytes", str(h["nbytes"])),
        ("data_offset", str(h["data_offset"])),
        ("block_size", f"{h['block_size']} ({blocks})"),
        ("sealed", str(h["sealed"])),
        ("attrs", json.dumps(h["attrs"], default=_json_default,
                             sort_keys=False)),
    ]
    if args.verify:
        rate = ""
        if h["nbytes"] >= 1 << 20 and secs > 0:
            rate = f", {h['nbytes'] / secs / 1e6:.0f} MB/s"
        lines.append(("verify", f"ok, {blocks} checked in {secs:.3f} s"
                                f"{rate} (CRC-32C by {fmt.crc32c_backend()})"))
    for key, value in lines:
        print(f"{key + ':':13}{value}")
    print(_preview(arr, h))
    return 0


def _ls(args):
    with Store(args.store, create=False) as st:
        for name in st.list(args.prefix):
            h = st.stat(name)
            print(f"{name}\t{h['dtype']}\t{tuple(h['shape'])}\t{h['order']}"
                  f"\t{h['nbytes']}")
    return 0


def _verify(args):
    bad = 0
    for target in args.targets:
        try:
            arr, h = _open(target, args.store, fmt.DEFAULT_MAX_HEADER)
            fmt.verify(arr, h)
            print(f"{target}: ok")
        except (fmt.FormatError, OSError, InvalidNameError) as e:
            print(f"arrayx: error: {target}: {e}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def main(argv=None):
    """python -m arrayx [info] FILE|NAME [--verify] | ls [PREFIX] |
    verify FILE|NAME..."""
    argv = sys.argv[1:] if argv is None else list(argv)
    i = 0  # the verb's place, after --store
    while i < len(argv) and argv[i].startswith("--store"):
        i += 1 if "=" in argv[i] else 2
    if i < len(argv) and argv[i] not in ("info", "ls", "verify", "-h",
                                         "--help"):
        argv.insert(i, "info")  # the one-file reader's command line
    p = argparse.ArgumentParser(
        prog="python -m arrayx",
        description="Show, list and verify ARRAYX v1 arrays: files, or "
        "names in a store (--store, else $ARRAYX_STORE or /dev/shm/arrayx).")
    p.add_argument("--store", help="the store directory")
    sub = p.add_subparsers(dest="verb", required=True)
    info = sub.add_parser("info", help="header and a preview of the values")
    info.add_argument("target", metavar="FILE|NAME")
    info.add_argument("--verify", action="store_true",
                      help="check every data block's CRC-32C")
    info.add_argument("--max-header", type=int,
                      default=fmt.DEFAULT_MAX_HEADER, metavar="BYTES",
                      help="limit on the header length (default %(default)s)")
    ls = sub.add_parser("ls", help="the arrays of the store")
    ls.add_argument("prefix", nargs="?", default="")
    ver = sub.add_parser("verify", help="check every block of arrays")
    ver.add_argument("targets", nargs="+", metavar="FILE|NAME")
    args = p.parse_args(argv)
    try:
        return {"info": _info, "ls": _ls, "verify": _verify}[args.verb](args)
    except (fmt.FormatError, OSError, InvalidNameError) as e:
        msg = str(e).replace("<array>", getattr(args, "target", ""))
        print(f"arrayx: error: {msg}", file=sys.stderr)
        return 1

"""The Python writer's seal (python/arrayx): create and fill a float64 array
(untimed), then seal it: CRC-32C and XXH3-128 per block, the header rewritten,
the rename. The window is the seal alone, as the Go role "seal-go" times it.

python3 sealpy.py
"""

import os

import numpy

import arrayx

from common import Child


def seal(c):
    store = arrayx.Store(os.path.join(c.p["scratch"], "store"), sync="never")
    w = store.create("x", "float64", (c.p["n"],))
    w.array[:] = numpy.arange(c.p["n"], dtype=numpy.float64)
    c.begin()
    arr, h = w.seal()
    c.end()
    if h.get("xxh3_128") is None:
        raise RuntimeError("sealed without XXH3-128 (no xxhash module)")
    c.check(arr)
    c.rep["method"] = "CRC-32C by %s, XXH3-128 by xxhash" % arrayx.crc32c_backend()


Child().run(seal)

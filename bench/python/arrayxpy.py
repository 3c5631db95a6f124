"""arrayx's own Python package (python/arrayx) as a peer of the Go client:
push to and pull from the Go server, every block checked by the receiver.

python3 arrayxpy.py push   # client, the sender: sendfile from the page cache
python3 arrayxpy.py pull   # client, the receiver: each block checked, pwrite
"""

import os
import sys

import arrayx

from common import Child


def push(c):
    store = arrayx.Store(c.p["src_store"], create=False)
    client = arrayx.Client(c.p["addr"])
    c.begin()
    s = client.push(store, "x")
    c.end()
    client.close()
    if s.bytes != c.p["nbytes"] or not s.zero_copy:
        raise RuntimeError("push stats %s: want %d bytes by sendfile" % (s, c.p["nbytes"]))
    c.rep["method"] = s.method
    c.rep["verified"] = "the server acknowledged every block's CRC-32C"


def pull(c):
    store = arrayx.Store(os.path.join(c.p["scratch"], "store"))
    client = arrayx.Client(c.p["addr"])
    c.begin()
    s = client.pull("x", store)
    arr, _ = store.open("x")
    c.end()
    client.close()
    c.check(arr)
    c.rep["method"] = s.method + " (every block's CRC-32C checked)"


Child().run({"push": push, "pull": pull}[sys.argv[1]])

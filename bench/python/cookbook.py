"""Python Cookbook (3rd edition, Beazley and Jones), recipe 11.13, "Sending
and Receiving Large Arrays": send_from and recv_into exactly as published,
around numpy arrays as in the recipe's example. As in the book, the server
sends numpy.arange and the client receives into a preallocated numpy.zeros.

python3 cookbook.py send   # server, the sender: timed from accept to ack
python3 cookbook.py recv   # client, the receiver
"""

import sys
from socket import AF_INET, SOCK_STREAM, socket

import numpy

from common import Child


# --- recipe 11.13, verbatim -------------------------------------------------
def send_from(arr, dest):
    view = memoryview(arr).cast('B')
    while len(view):
        nsent = dest.send(view)
        view = view[nsent:]


def recv_into(arr, source):
    view = memoryview(arr).cast('B')
    while len(view):
        nrecv = source.recv_into(view)
        view = view[nrecv:]
# -----------------------------------------------------------------------------


def send(c):
    a = numpy.arange(0.0, float(c.p["n"]))
    host = c.p.get("host") or "127.0.0.1"  # a namespace host's address, or loopback
    s = socket(AF_INET, SOCK_STREAM)
    s.bind((host, 0))
    s.listen(1)
    c.ready("%s:%d" % (host, s.getsockname()[1]))
    conn, _ = s.accept()
    c.begin()
    send_from(a, conn)
    ack = conn.recv(1)  # the receiver holds all of it (not part of the recipe)
    c.end()
    if ack != b"k":
        raise RuntimeError("bad acknowledgement %r" % ack)
    c.rep["verified"] = "the receiver checks values"
    c.rep["method"] = "socket.send from a memoryview"


def recv(c):
    a = numpy.zeros(shape=c.p["n"], dtype=float)
    host, port = c.p["addr"].rsplit(":", 1)
    conn = socket(AF_INET, SOCK_STREAM)
    c.begin()
    conn.connect((host, int(port)))
    recv_into(a, conn)
    conn.sendall(b"k")
    c.end()
    c.check(a)


Child().run({"send": send, "recv": recv}[sys.argv[1]])

"""A client of the arrayx network protocol, version 2 (docs/PROTOCOL.md):
push and pull arrays between a store and a Go server, every block checked
on arrival, interrupted transfers resumed.

    with arrayx.Client("otherhost:7070", token=b"...") as c:
        stats = c.push(store, "sim/t")              # sendfile from the page cache
        stats = c.pull("sim/t", store, "copy")      # each block checked, then pwrite

One connection, one transfer at a time, none of the optional features
(several streams, relaying, eager requests).
"""

import collections
import hashlib
import hmac
import os
import socket
import struct
import time

import msgpack

from . import _format as fmt
from ._store import validate_name

NET_MAGIC = b"\x89ARXNET\n"
VERSION1, VERSION2 = 1, 2
DEFAULT_PORT = 7070
_AUTH_CONTEXT = b"arrayx-auth-v1"
_FRAME = struct.Struct("<BBHI")  # version, kind, flags, body length

HELLO, AUTH, REPLY, PUT, GET, STAT, LIST, DELETE, NEED, DATA = \
    1, 2, 3, 10, 11, 13, 14, 15, 16, 17
_KIND_NAMES = {HELLO: "HELLO", AUTH: "AUTH", REPLY: "REPLY", PUT: "PUT",
               GET: "GET", STAT: "STAT", LIST: "LIST", DELETE: "DELETE",
               NEED: "NEED", DATA: "DATA"}

SEND_CHUNK = 64 << 20      # the most data one DATA run carries
NEED_RANGES = 1024         # ranges one NEED carries, well within 64 KiB
MAX_BLOCK_ATTEMPTS = 3     # a block that arrives bad this often fails


class ProtocolError(ConnectionError):
    """The server broke the protocol, or closed the connection early."""


class RemoteError(Exception):
    """The server refused a request: status, code and message as it sent
    them (docs/PROTOCOL.md, "Status codes")."""

    def __init__(self, status, code, message):
        super().__init__(f"{message} (status {status}, {code or 'no code'})")
        self.status, self.code, self.message = status, code, message


class Stats(collections.namedtuple(
        "Stats", "bytes seconds zero_copy resumed refetched method")):
    """One transfer's data phase, as Go's Stats."""

    def __str__(self):
        rate = self.bytes / self.seconds / 1e9 if self.seconds > 0 else 0.0
        zc = "yes" if self.zero_copy else "no"
        s = (f"{self.bytes} bytes in {self.seconds:.3f} s, {rate:.2f} GB/s, "
             f"zero-copy: {zc} ({self.method})")
        if self.resumed:
            s += f", resumed after {self.resumed} bytes"
        return s


def _address(addr):
    """(family, sockaddr) of "host:port", "host" (port 7070),
    "arrayx://host:port" or "unix:/path"."""
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[len("unix:"):]
    if addr.startswith("arrayx://"):
        addr = addr[len("arrayx://"):]
    host, sep, port = addr.rpartition(":")
    if not sep or "]" in port:
        host, port = addr, str(DEFAULT_PORT)
    host = host.strip("[]")
    if not port.isdigit():
        raise ValueError(f"address {addr!r}: the port is not a number")
    return None, (host, int(port))


class Client:
    """A connection to an arrayx server. token answers its challenge when
    it has one; timeout bounds connecting, each message and each block
    (30 s by default)."""

    def __init__(self, addr: str, token: "bytes | str | None" = None, *,
                 timeout: float = 30.0,
                 max_header: int = fmt.DEFAULT_MAX_HEADER) -> None:
        self.addr, self.timeout, self.max_header = addr, timeout, max_header
        family, where = _address(addr)
        if family == socket.AF_UNIX:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(timeout)
            self._sock.connect(where)
        else:
            self._sock = socket.create_connection(where, timeout=timeout)
        self.version = VERSION1
        try:
            self._handshake(token)
        except BaseException:
            self._sock.close()
            raise

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- framing ------------------------------------------------------------

    def _send(self, kind, body, version=None):
        b = msgpack.packb(body, use_bin_type=True)
        v = self.version if version is None else version
        self._sock.sendall(_FRAME.pack(v, kind, 0, len(b)) + b)

    def _read_exact(self, n):
        buf = bytearray(n)
        self._recv_into(memoryview(buf))
        return bytes(buf)

    def _recv_into(self, view):
        """Fill view from the socket, all of it."""
        got = 0
        while got < len(view):
            k = self._sock.recv_into(view[got:])
            if k == 0:
                raise ProtocolError(f"{self.addr}: the server closed the "
                                    f"connection")
            got += k

    def _recv(self):
        version, kind, flags, n = _FRAME.unpack(self._read_exact(_FRAME.size))
        limit = self.max_header + (1 << 20) if kind == REPLY else 64 << 10
        if version != self.version or flags or n > limit:
            raise ProtocolError(f"{self.addr}: a bad frame (version "
                                f"{version}, kind {kind}, flags {flags}, "
                                f"{n} bytes)")
        body = msgpack.unpackb(self._read_exact(n), raw=False,
                               strict_map_key=False)
        if not isinstance(body, dict):
            raise ProtocolError(f"{self.addr}: a message body that is not a "
                                f"map")
        return kind, body

    def _reply(self, what):
        kind, body = self._recv()
        if kind != REPLY:
            raise ProtocolError(f"{self.addr}: {what}: got "
                                f"{_KIND_NAMES.get(kind, kind)}, want REPLY")
        _check(body)
        return body

    def _request(self, kind, body, what):
        self._send(kind, body)
        return self._reply(what)

    def _handshake(self, token):
        self._sock.sendall(NET_MAGIC)
        self._send(HELLO, {"version": VERSION1, "versions": [VERSION1,
                   VERSION2], "features": [], "software": "arrayx-python"},
                   version=VERSION1)
        if self._read_exact(len(NET_MAGIC)) != NET_MAGIC:
            raise ProtocolError(f"{self.addr} is not an arrayx server")
        kind, hello = self._recv()
        if kind == REPLY:  # refused before the handshake: busy, TLS...
            _check(hello)
        if kind != HELLO or hello.get("version") != VERSION2:
            raise ProtocolError(f"{self.addr}: the server does not speak "
                                f"protocol version 2 ({hello})")
        self.version = VERSION2
        nonce = hello.get("nonce")
        if nonce:
            if not token:
                raise PermissionError(f"{self.addr} requires a token")
            if isinstance(token, str):
                token = token.encode()
            mac = hmac.new(token, _AUTH_CONTEXT + nonce, hashlib.sha256)
            self._request(AUTH, {"mac": mac.digest()}, "authentication")

    # -- requests -----------------------------------------------------------

    def stat(self, name: str) -> dict:
        """The header of the server's array name."""
        r = self._request(STAT, {"name": name}, f"stat {name}")
        return fmt.parse_header(r["header"], name, max_header=self.max_header)

    def list(self, prefix: str = "") -> "list[dict]":
        """The server's arrays under prefix: dicts with name, dtype, shape,
        order, nbytes and digest, in name order."""
        out, after = [], ""
        while True:
            r = self._request(LIST, {"prefix": prefix, "after": after},
                              "list")
            out += r.get("arrays") or []
            after = r.get("next") or ""
            if not after:
                return out

    def delete(self, name: str) -> None:
        """Remove the server's array name."""
        self._request(DELETE, {"name": name}, f"delete {name}")

    def pull(self, name: str, store, as_name: "str | None" = None) -> Stats:
        """Fetch the server's array name into store (as as_name), checking
        every block's CRC-32C as it lands and publishing it atomically.
        Blocks an interrupted pull left are not fetched again."""
        as_name = as_name or name
        validate_name(name)
        validate_name(as_name)
        r = self._request(GET, {"name": name}, f"pull {name}")
        transfer = r.get("transfer")
        try:
            part = store.receive(as_name, r["header"])
        except BaseException:
            self._send(NEED, {"transfer": transfer})  # do not send it
            raise
        start = time.monotonic()
        try:
            wire, refetched = self._receive(part, transfer)
            part.complete()
        except BaseException:
            part.close()  # kept for the next pull
            self._sock.close()
            raise
        self._send(NEED, {"transfer": transfer})  # the end
        return Stats(wire, time.monotonic() - start,
                     r.get("method") == "sendfile", part.resumed, refetched,
                     f"{r.get('method')}->pwrite")

    def _receive(self, part, transfer):
        """The receiver's side of a transfer on this connection: ask for
        every missing block, land each run, ask again for bad blocks."""
        attempts = collections.Counter()
        asked = set()
        wire = refetched = 0

        def ask(runs):
            for k in range(0, len(runs), NEED_RANGES):
                chunk = runs[k:k + NEED_RANGES]
                for s, e in chunk:
                    asked.update(range(s, e))
                self._send(NEED, {"transfer": transfer,
                                  "ranges": [[s, e] for s, e in chunk]})

        ask(part.missing())
        bs = part.header["block_size"]
        buf = bytearray(bs)
        while asked:
            kind, d = self._recv()
            if kind == REPLY:
                _check(d)
                raise ProtocolError(f"{self.addr}: a REPLY of 200 in the "
                                    f"middle of a transfer")
            if kind != DATA or d.get("transfer") != transfer:
                raise ProtocolError(f"{self.addr}: got "
                                    f"{_KIND_NAMES.get(kind, kind)} in a "
                                    f"transfer")
            off, n = d.get("offset", 0), d.get("length", 0)
            first = off // bs if off % bs == 0 else -1
            last = -(-(off + n) // bs)
            if first < 0 or n <= 0 or off + n > part.header["nbytes"] or \
                    not all(i in asked for i in range(first, last)):
                raise ProtocolError(f"{self.addr}: a DATA run [{off}, "
                                    f"{off}+{n}) not asked for")
            bad = []
            for i in range(first, last):
                _, size = part.block(i)
                view = memoryview(buf)[:size]
                self._recv_into(view)
                wire += size
                asked.discard(i)
                if not part.land(i, view):
                    attempts[i] += 1
                    if attempts[i] >= MAX_BLOCK_ATTEMPTS:
                        raise fmt.ChecksumError(
                            f"{part.name}: block {i} arrived damaged "
                            f"{attempts[i]} times: the source's copy is bad",
                            block=i, offset=i * bs, file_offset=None,
                            want=None, got=None, bad_blocks=[i])
                    refetched += 1
                    bad.append((i, i + 1))
            if bad:
                ask(bad)
        return wire, refetched

    def push(self, store, name: str, as_name: "str | None" = None) -> Stats:
        """Send store's array name to the server (as as_name), its data by
        sendfile from the page cache: only the blocks the server lacks. The
        server checks every block and publishes the array atomically."""
        as_name = as_name or name
        validate_name(as_name)
        with store._open_checked(name) as f:
            prefix = os.pread(f.fileno(), fmt.PREFIX_SIZE, 0)
            hlen = struct.unpack_from("<I", prefix, 12)[0]
            raw = os.pread(f.fileno(), fmt.PREFIX_SIZE + hlen, 0)
            h = fmt.parse_header(raw, name)
            r = self._request(PUT, {"name": as_name, "header": raw},
                              f"push {name}")
            transfer, held = r.get("transfer"), r.get("held", 0)
            start = time.monotonic()
            try:
                wire, final = self._send_blocks(f, h, transfer)
            except BaseException:
                self._sock.close()
                raise
        return Stats(wire, time.monotonic() - start, True, held,
                     final.get("refetched", 0),
                     f"sendfile->{final.get('method', 'pwrite')}")

    def _send_blocks(self, f, h, transfer):
        """The sender's side: answer NEEDs with DATA runs until the final
        REPLY."""
        bs, nbytes = h["block_size"], h["nbytes"]
        wire = 0
        while True:
            kind, d = self._recv()
            if kind == REPLY:
                _check(d)
                return wire, d
            if kind != NEED or d.get("transfer") != transfer or \
                    not d.get("ranges"):
                raise ProtocolError(f"{self.addr}: got "
                                    f"{_KIND_NAMES.get(kind, kind)} {d} "
                                    f"in a push")
            for s, e in d["ranges"]:
                off, end = s * bs, min(e * bs, nbytes)
                if s < 0 or off >= end:
                    raise ProtocolError(f"{self.addr}: a NEED of blocks "
                                        f"[{s}, {e})")
                while off < end:
                    n = min(end - off, SEND_CHUNK)
                    self._send(DATA, {"transfer": transfer, "offset": off,
                                      "length": n})
                    sent = self._sock.sendfile(f, h["data_offset"] + off, n)
                    if sent != n:
                        raise ProtocolError(f"{self.addr}: sent {sent} of "
                                            f"{n} bytes")
                    wire += n
                    off += n


class RemoteNotFoundError(RemoteError, FileNotFoundError):
    """The server has no array of that name."""


class RemotePermissionError(RemoteError, PermissionError):
    """The server refused the token, or is read-only."""


_REMOTE_CLASSES = {"not_found": RemoteNotFoundError,
                   "unauthorized": RemotePermissionError,
                   "read_only": RemotePermissionError}


def _check(reply):
    """Raise the REPLY's error, unless it says 200: a RemoteError, also a
    FileNotFoundError or PermissionError where one fits."""
    status = reply.get("status", 0)
    if status != 200:
        code = reply.get("code", "")
        cls = _REMOTE_CLASSES.get(code, RemoteError)
        raise cls(status, code, reply.get("message", ""))

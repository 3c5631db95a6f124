"""Stores: create, seal, wait for, open, list and remove arrays.

A store is a directory of ARRAYX files shared by processes in any language;
docs/STORE.md is the contract this module follows step by step (names,
hidden temporary files, flock, preallocation, the sealing rewrite, the
publishing rename, sync modes, Wait), so a Python producer and a Go
consumer (or the reverse) can share one store, and a Go server's cleaning
never removes a live Python writer's file.

    store = arrayx.Store()                       # $ARRAYX_STORE or /dev/shm/arrayx
    with store.create("sim/t", "float64", (1000, 1000)) as w:
        w.array[:] = 273.15                      # a writable numpy.memmap
        w.seal()                                 # CRC-32C + XXH3-128, rename
    arr, header = store.wait("sim/t", timeout=10)
"""

import ctypes
import ctypes.util
import errno
import hashlib
import os
import secrets
import select
import stat
import struct
import sys
import time

import msgpack
import numpy as np

from . import _format as fmt

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

_xxh3_128 = fmt._xxh3_128  # None without the xxhash module

ENV_STORE = "ARRAYX_STORE"
EXT = ".arx"
MINOR_VERSION = 1
MAX_NAME = 255
MAX_SEGMENT = 229
MIN_WRITER_BLOCK = 4 << 20
TARGET_MAX_BLOCKS = 32768
MAX_DIGEST_BLOCKS = 32768
MAX_ATTRS_BYTES = 64 << 10
_TMPFS_MAGIC, _RAMFS_MAGIC = 0x01021994, 0x858458F6
_SEGMENT_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class BusyError(OSError):
    """Another transfer of the same array, in some process, holds its
    partial file."""


class InvalidNameError(ValueError):
    """An array name that breaks docs/STORE.md's rules."""


class NoSpaceError(OSError):
    """The store's filesystem cannot hold the array (ENOSPC, EDQUOT, EFBIG)."""


class NotPrivateError(PermissionError):
    """The implicit default store belongs to someone else, or others may
    write to it (docs/STORE.md, "The privacy check")."""


def validate_name(name: str) -> None:
    """Raise InvalidNameError unless name is a valid array name."""
    def bad(why):
        raise InvalidNameError(f"invalid array name {name!r}: {why}")
    if not isinstance(name, str):
        bad("not a string")
    if not name:
        bad("empty")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
        bad(f"longer than {MAX_NAME} bytes")
    segs = name.split("/")
    for i, seg in enumerate(segs):
        if not seg:
            bad("empty segment (a leading, trailing or double /)")
        if len(seg) > MAX_SEGMENT:
            bad(f"a segment longer than {MAX_SEGMENT} bytes")
        if seg[0] == ".":
            bad("a segment starts with '.'")
        if not set(seg) <= _SEGMENT_CHARS:
            bad("only A-Z a-z 0-9 . _ - and / are allowed")
        if i < len(segs) - 1 and seg.endswith(EXT):
            bad(f"a directory segment ends in {EXT}")


def default_dir() -> str:
    """The default store: $ARRAYX_STORE, else /dev/shm/arrayx on Linux,
    else arrayx under the temporary directory (as Go's DefaultDir)."""
    env = os.environ.get(ENV_STORE, "")
    if env:
        return env
    shm = _shm_default()
    if shm:
        return shm
    import tempfile
    return os.path.join(tempfile.gettempdir(), "arrayx")


def _shm_default():
    if sys.platform.startswith("linux") and os.path.isdir("/dev/shm"):
        return "/dev/shm/arrayx"
    return ""


def choose_block_size(nbytes: int) -> int:
    """The block size writers choose: the smallest power of two of at least
    4 MiB giving at most 32,768 blocks (1 GiB at most)."""
    bs = MIN_WRITER_BLOCK
    while bs < fmt.MAX_BLOCK_SIZE and -(-nbytes // bs) > TARGET_MAX_BLOCKS:
        bs <<= 1
    return bs


def _dtype_name(dtype):
    """The ARRAYX name of dtype: an ARRAYX name, or anything numpy.dtype
    takes, little-endian or of one byte."""
    if isinstance(dtype, str) and dtype in fmt.DTYPES:
        return dtype
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype {dtype!r}: not an ARRAYX dtype name nor a "
                         f"numpy type") from None
    if dt.byteorder == ">" and dt.itemsize > 1:
        raise ValueError(f"dtype {dt.str}: ARRAYX data is little-endian")
    want = dt.newbyteorder("<").str if dt.itemsize > 1 else dt.str
    for name, (np_str, _) in fmt.DTYPES.items():
        if name != "bfloat16" and np.dtype(np_str).str == want:
            return name
    raise ValueError(f"dtype {dt.str}: no ARRAYX dtype holds it")


def _canonical(v, where="attrs"):
    """v as the reference writer encodes it: maps with string keys first,
    sorted, then other keys sorted by their msgpack bytes; tuples as lists;
    numpy scalars as Python values."""
    if isinstance(v, dict):
        strs = sorted((k, _canonical(x, where)) for k, x in v.items()
                      if isinstance(k, str))
        others = [(k, x) for k, x in v.items() if not isinstance(k, str)]
        for k, _ in others:
            if not (k is None or isinstance(k, (bool, int, float))):
                raise ValueError(f"{where}: a map key of type "
                                 f"{type(k).__name__}")
        others.sort(key=lambda kv: msgpack.packb(kv[0]))
        return dict(strs + [(k, _canonical(x, where)) for k, x in others])
    if isinstance(v, (list, tuple)):
        return [_canonical(x, where) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def encode_header(h):
    """The msgpack header of h (a dict with dtype, shape, order, nbytes,
    data_offset, block_size, sealed, and crc32c, xxh3_128, attrs when
    present), byte for byte as the reference writer makes it."""
    m = {"dtype": h["dtype"], "shape": [int(d) for d in h["shape"]],
         "order": h["order"], "nbytes": int(h["nbytes"]),
         "data_offset": int(h["data_offset"]),
         "block_size": int(h["block_size"]), "sealed": bool(h["sealed"])}
    if h.get("crc32c") is not None:
        m["crc32c"] = bytes(h["crc32c"])
    if h.get("xxh3_128") is not None:
        m["xxh3_128"] = bytes(h["xxh3_128"])
    if h.get("attrs"):
        m["attrs"] = h["attrs"]
    return msgpack.packb(m, use_bin_type=True)


def _prefix(body):
    return fmt.MAGIC + struct.pack("<HHI", fmt.MAJOR_VERSION, MINOR_VERSION,
                                   len(body))


def new_header(dtype, shape, order="C", attrs=None, *, digests=None):
    """The sealed-to-be header of a new array, as FORMAT.md's Writers
    section says: block size chosen, data_offset sized for the sealed
    header with its full tables. digests says whether it will carry
    XXH3-128 (default: when the xxhash module is there)."""
    name = _dtype_name(dtype)
    if order not in ("C", "F"):
        raise ValueError(f"order {order!r}: want 'C' or 'F'")
    shape = tuple(int(d) for d in shape) if np.iterable(shape) \
        else (int(shape),)
    if len(shape) > fmt.MAX_RANK or any(d < 0 for d in shape):
        raise ValueError(f"shape {shape}: at most {fmt.MAX_RANK} "
                         f"non-negative dimensions")
    n = fmt.DTYPES[name][1]
    for d in shape:
        n *= d
    if n > fmt.INT64_MAX:
        raise ValueError(f"shape {shape}: too many bytes")
    canon = None
    if attrs:
        canon = _canonical(dict(attrs))
        size = len(msgpack.packb(canon, use_bin_type=True))
        if size > MAX_ATTRS_BYTES:
            raise ValueError(f"attrs: {size} bytes encoded, limit "
                             f"{MAX_ATTRS_BYTES}")
    h = {"dtype": name, "shape": shape, "order": order, "nbytes": n,
         "data_offset": fmt.ALIGNMENT, "block_size": choose_block_size(n),
         "sealed": True, "attrs": canon or {}}
    nb = -(-n // h["block_size"])
    if digests is None:
        digests = _xxh3_128 is not None
    if digests and _xxh3_128 is None:
        raise ValueError("XXH3-128 digests need the xxhash module "
                         "(Debian: python3-xxhash)")
    h["crc32c"] = bytes(4 * nb)
    h["xxh3_128"] = bytes(16 * nb) if digests and nb <= MAX_DIGEST_BLOCKS \
        else None
    while True:  # the offset only grows: a few rounds
        body = encode_header(h)
        if len(body) > fmt.DEFAULT_MAX_HEADER:
            raise ValueError(f"its header would be {len(body)} bytes, over "
                             f"readers' limit of {fmt.DEFAULT_MAX_HEADER}")
        need = -(-(fmt.PREFIX_SIZE + len(body)) // fmt.ALIGNMENT) \
            * fmt.ALIGNMENT
        if need <= h["data_offset"]:
            return h
        h["data_offset"] = need


def _fs_is_memory(fd):
    """Whether fd's filesystem is tmpfs or ramfs (fstatfs through ctypes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        buf = ctypes.create_string_buffer(256)  # struct statfs, f_type first
        if libc.fstatfs(fd, buf) != 0:
            return False
        (ftype,) = struct.unpack_from("l", buf.raw, 0)
        return ftype in (_TMPFS_MAGIC, _RAMFS_MAGIC)
    except (OSError, AttributeError):
        return False


def _no_space(e):
    return e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1),
                       errno.EFBIG)


class Store:
    """An arrayx store (a directory), opened once: every operation goes
    through the open directory, one segment at a time, never following a
    symlink out of it.

    path None means default_dir(). sync is "auto" (flush unless the store
    is in memory, tmpfs or ramfs), "always" or "never", as Go's sync modes.
    create=False refuses a directory that does not exist instead of making
    it.
    """

    def __init__(self, path: "str | os.PathLike | None" = None, *,
                 sync: str = "auto", create: bool = True) -> None:
        if sync not in ("auto", "always", "never"):
            raise ValueError(f"sync {sync!r}: want auto, always or never")
        self.path = os.fspath(path) if path is not None else default_dir()
        self.sync = sync
        if create:
            os.makedirs(self.path, 0o755, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY
                           | os.O_CLOEXEC)
        try:
            if self._implicit_default():
                self._check_private()
        except BaseException:
            os.close(self._fd)
            raise

    def _implicit_default(self):
        d = _shm_default()
        return bool(d) and os.path.normpath(self.path) == d \
            and not os.environ.get(ENV_STORE)

    def _check_private(self):
        if stat.S_ISLNK(os.lstat(self.path).st_mode):
            raise NotPrivateError(f"store {self.path} is a symlink")
        st = os.fstat(self._fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise NotPrivateError(
                f"store {self.path} is not private (owner uid {st.st_uid}, "
                f"mode {stat.S_IMODE(st.st_mode):o}); set {ENV_STORE} to "
                f"use a shared store on purpose")

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"arrayx.Store({self.path!r})"

    # -- directories ------------------------------------------------------

    def _array_dir(self, name, create):
        """Open the array's directory, making it if create. Returns
        (dir_fd, BASE); FileNotFoundError when a directory is missing."""
        validate_name(name)
        *dirs, base = name.split("/")
        fd = os.dup(self._fd)
        try:
            for seg in dirs:
                if create:
                    try:
                        os.mkdir(seg, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                sub = os.open(seg, os.O_RDONLY | os.O_DIRECTORY
                              | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = sub
        except BaseException:
            os.close(fd)
            raise
        return fd, base

    def _prune(self, name):
        """Remove the directories of name left empty, deepest first."""
        dirs = name.split("/")[:-1]
        while dirs:
            try:
                os.rmdir("/".join(dirs), dir_fd=self._fd)
            except OSError:
                return
            dirs.pop()

    # -- writers ----------------------------------------------------------

    def create(self, name: str, dtype, shape, order: str = "C",
               attrs: "dict | None" = None) -> "Writer":
        """Start a new array: a Writer whose .array is a writable
        numpy.memmap over a preallocated hidden file. Seal it to publish
        it under name (replacing any array of that name), or abort it."""
        h = new_header(dtype, shape, order, attrs)
        size = h["data_offset"] + h["nbytes"]
        for _ in range(16):  # a concurrent prune removes our directory
            try:
                dir_fd, base = self._array_dir(name, True)
            except FileNotFoundError:
                continue
            try:
                tmp, fd = _create_locked(dir_fd, base)
            except FileNotFoundError:
                os.close(dir_fd)
                continue
            except BaseException:
                os.close(dir_fd)
                raise
            break
        else:
            raise OSError(errno.EAGAIN, f"cannot create {name}: its "
                          f"directory kept disappearing")
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as e:
                if _no_space(e):
                    raise NoSpaceError(e.errno, f"store {self.path}: no "
                                       f"space for {name} ({size} bytes)")
                if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS,
                                   errno.EINVAL):
                    raise
                os.ftruncate(fd, size)
            unsealed = dict(h, sealed=False, crc32c=None, xxh3_128=None)
            body = encode_header(unsealed)
            os.pwrite(fd, _prefix(body) + body, 0)
        except BaseException:
            _unlink_quietly(tmp, dir_fd)
            os.close(fd)
            os.close(dir_fd)
            self._prune(name)
            raise
        return Writer(self, name, h, dir_fd, tmp, fd)

    # -- receivers --------------------------------------------------------

    def receive(self, name: str, raw: bytes,
                max_bytes: "int | None" = None) -> "Partial":
        """Prepare to receive the sealed array whose first 16+H bytes are
        raw, under name: a Partial (docs/STORE.md section 5), resuming the
        good blocks of an interrupted transfer of the same array."""
        h = fmt.parse_header(raw, name)
        if max_bytes is not None and h["nbytes"] > max_bytes:
            raise ValueError(f"{name}: {h['nbytes']} bytes is over the limit "
                             f"of {max_bytes}")
        for _ in range(16):
            try:
                dir_fd, base = self._array_dir(name, True)
            except FileNotFoundError:
                continue
            try:
                return Partial(self, name, bytes(raw), h, dir_fd, base)
            except FileNotFoundError:
                os.close(dir_fd)
                continue
            except BaseException:
                os.close(dir_fd)
                raise
        raise OSError(errno.EAGAIN, f"cannot receive {name}: its directory "
                      f"kept disappearing")

    # -- readers ----------------------------------------------------------

    def _open_file(self, name):
        dir_fd, base = self._array_dir(name, False)
        try:
            fd = os.open(base + EXT, os.O_RDONLY | os.O_NONBLOCK
                         | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        f = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            f.close()
            raise fmt.FormatError(f"{name}: not a regular file")
        return f

    def _open_checked(self, name):
        """The published array name's file, opened read-only."""
        try:
            return self._open_file(name)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(name) from None

    def _missing(self, name):
        return FileNotFoundError(errno.ENOENT,
                                 f"no array {name} in store {self.path}")

    def open(self, name: str, verify: bool = False) -> fmt.ArrayFile:
        """Map the sealed array name read-only: ArrayFile(array, header),
        as arrayx.open. FileNotFoundError if there is none."""
        try:
            f = self._open_file(name)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(name) from None
        with f:
            return fmt._open_from(f, name, verify, fmt.DEFAULT_MAX_HEADER)

    def stat(self, name: str) -> dict:
        """The header of the sealed array name, without mapping it."""
        try:
            f = self._open_file(name)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(name) from None
        with f:
            return fmt._read_header(f, name, fmt.DEFAULT_MAX_HEADER, False)

    def list(self, prefix: str = "") -> "list[str]":
        """The names of the arrays in the store whose names start with
        prefix, sorted; hidden and foreign files are not shown."""
        names = []
        for top, dirs, files, top_fd in os.fwalk(".", dir_fd=self._fd):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(top, ".")
            for f in files:
                if not f.endswith(EXT) or f.startswith("."):
                    continue
                name = f[:-len(EXT)] if rel == "." else \
                    rel.replace(os.sep, "/") + "/" + f[:-len(EXT)]
                try:
                    validate_name(name)
                    st = os.stat(f, dir_fd=top_fd, follow_symlinks=False)
                except (InvalidNameError, OSError):
                    continue
                if stat.S_ISREG(st.st_mode) and name.startswith(prefix):
                    names.append(name)
        return sorted(names)

    def remove(self, name: str) -> None:
        """Remove the array name (readers holding it keep it) and the
        directories it leaves empty."""
        try:
            dir_fd, base = self._array_dir(name, False)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(name) from None
        try:
            os.unlink(base + EXT, dir_fd=dir_fd)
        except FileNotFoundError:
            raise self._missing(name) from None
        finally:
            os.close(dir_fd)
        self._prune(name)

    def wait(self, name: str, timeout: "float | None" = None) -> fmt.ArrayFile:
        """Return the array name (as open) as soon as it is sealed: at once
        if it is, else when a writer or receiver publishes it. Raises
        TimeoutError after timeout seconds (None: wait for ever). Uses
        inotify on Linux, polling (2 ms doubling to 100 ms) elsewhere."""
        validate_name(name)
        deadline = None if timeout is None else time.monotonic() + timeout
        watcher = _Inotify.make()
        try:
            delay = 0.002
            while True:
                try:
                    return self.open(name)
                except FileNotFoundError:
                    pass
                if watcher is not None:
                    watcher.watch(self._deepest_dir(name))
                    try:
                        return self.open(name)  # published meanwhile
                    except FileNotFoundError:
                        pass
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no array {name} in store "
                                       f"{self.path} after {timeout} s")
                if watcher is not None:
                    watcher.wait(left)
                else:
                    time.sleep(delay if left is None else min(delay, left))
                    delay = min(2 * delay, 0.1)
        finally:
            if watcher is not None:
                watcher.close()

    def _deepest_dir(self, name):
        """The path of the deepest existing directory on the way to name."""
        path = self.path
        for seg in name.split("/")[:-1]:
            nxt = os.path.join(path, seg)
            if not os.path.isdir(nxt):
                break
            path = nxt
        return path


def _create_locked(dir_fd, base):
    """docs/STORE.md, writer steps 3 and 4: create and lock a temporary
    file, checking that a cleaner did not take it in between."""
    for _ in range(5):
        name = "." + base + EXT + ".tmp-" + secrets.token_hex(8)
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     0o644, dir_fd=dir_fd)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            st = os.fstat(fd)
            ln = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) == (ln.st_dev, ln.st_ino):
                return name, fd
        except (BlockingIOError, FileNotFoundError):
            pass  # a cleaner took it for an orphan: it unlinks it, not us
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EAGAIN, "no temporary file survived a concurrent "
                  "clean")


def _unlink_quietly(name, dir_fd):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


class Writer:
    """An array being written: fill .array, then seal() to publish it, or
    abort(). As a context manager it aborts on leaving unless sealed, so
    nothing half-written is ever published. .header is the header it will
    have once sealed (tables still zero)."""

    def __init__(self, store, name, header, dir_fd, tmp, fd):
        self.store, self.name, self.header = store, name, header
        self._dir_fd, self._tmp, self._fd = dir_fd, tmp, fd
        self._done = False
        dtype = np.dtype(fmt.DTYPES[header["dtype"]][0])
        shape, order = header["shape"], header["order"]
        if header["nbytes"] == 0:
            self._raw = np.zeros(0, dtype=np.uint8)
            self.array = np.empty(shape, dtype=dtype, order=order)
        else:
            with os.fdopen(os.dup(fd), "r+b") as f:
                self._raw = np.memmap(f, dtype=np.uint8, mode="r+",
                                      offset=header["data_offset"],
                                      shape=(header["nbytes"],))
            self.array = self._raw.view(dtype).reshape(shape, order=order)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._done:
            self.abort()

    def seal(self) -> fmt.ArrayFile:
        """Checksum every block (CRC-32C, and XXH3-128 when the header has
        room for it), rewrite the header as sealed in place, flush as the
        store's sync mode says, and publish the file under the array's name
        by an atomic rename. Returns the array opened read-only."""
        if self._done:
            raise ValueError(f"{self.name}: already sealed or aborted")
        h = dict(self.header)
        bs, raw = h["block_size"], self._raw
        h["crc32c"] = fmt.block_crc32c(raw, bs).astype("<u4").tobytes()
        if h["xxh3_128"] is not None:
            h["xxh3_128"] = b"".join(
                _xxh3_128(memoryview(raw[i:i + bs]))
                for i in range(0, h["nbytes"], bs))
        body = encode_header(h)
        pad = h["data_offset"] - fmt.PREFIX_SIZE - len(body)
        if pad < 0:
            raise AssertionError("the sealed header outgrew its room")
        flush = self.store.sync == "always" or (
            self.store.sync == "auto" and not _fs_is_memory(self._fd))
        try:
            os.pwrite(self._fd, _prefix(body) + body + bytes(pad), 0)
            if flush:
                if h["nbytes"]:
                    raw.flush()
                os.fsync(self._fd)
            base = self.name.rsplit("/", 1)[-1]
            os.rename(self._tmp, base + EXT, src_dir_fd=self._dir_fd,
                      dst_dir_fd=self._dir_fd)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self.header = h
        if flush:
            os.fsync(self._dir_fd)
        self._release()
        return self.store.open(self.name)

    def abort(self) -> None:
        """Drop the array: its hidden file is removed, nothing is published."""
        if self._done:
            return
        self._done = True
        _unlink_quietly(self._tmp, self._dir_fd)
        self._release()
        self.store._prune(self.name)

    def _release(self):
        self.array = self._raw = None  # the mapping goes once unreferenced
        os.close(self._fd)
        os.close(self._dir_fd)


class Partial:
    """An array being received: a hidden file at full size, landed block by
    block, each written only once its CRC-32C matches, and published by
    complete() once all are held. close() keeps the file for the next
    transfer of the same array; discard() removes it."""

    def __init__(self, store, name, raw, h, dir_fd, base):
        self.store, self.name, self.header = store, name, h
        hlen = struct.unpack_from("<I", raw, 12)[0]
        self._head = raw[:fmt.PREFIX_SIZE + hlen]
        self._file = "." + base + EXT + ".part-" + \
            hashlib.sha256(self._head).hexdigest()[:16]
        self._base, self._dir_fd = base, dir_fd
        self._size = h["data_offset"] + h["nbytes"]
        self.nblocks = -(-h["nbytes"] // h["block_size"])
        self._crc = np.frombuffer(h["crc32c"], dtype="<u4")
        self._digests = h.get("xxh3_128") if _xxh3_128 else None
        self.held = np.zeros(self.nblocks, dtype=bool)
        self._fd = self._open()
        try:
            self._prepare()
        except BaseException:
            os.close(self._fd)
            raise
        self.resumed = self.held_bytes()

    def _open(self):
        flags = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC
        for _ in range(5):
            self._created = False
            try:
                fd = os.open(self._file, flags, dir_fd=self._dir_fd)
            except FileNotFoundError:
                try:
                    fd = os.open(self._file, flags | os.O_CREAT | os.O_EXCL,
                                 0o644, dir_fd=self._dir_fd)
                    self._created = True
                except FileExistsError:
                    continue
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                st = os.fstat(fd)
                ln = os.stat(self._file, dir_fd=self._dir_fd,
                             follow_symlinks=False)
                if (st.st_dev, st.st_ino) == (ln.st_dev, ln.st_ino):
                    return fd
            except BlockingIOError:
                os.close(fd)
                raise BusyError(errno.EBUSY, f"{self.name}: another transfer "
                                f"of this array holds it") from None
            except FileNotFoundError:
                pass  # a cleaner removed it after our open: again
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise OSError(errno.EAGAIN, f"{self.name}: no partial file survived "
                      f"a concurrent clean")

    def _prepare(self):
        fd, head = self._fd, self._head
        reuse = False
        if not self._created:
            st = os.fstat(fd)
            got = os.pread(fd, len(head), 0)
            reuse = stat.S_ISREG(st.st_mode) and st.st_size == self._size \
                and len(got) == len(head) and got[1:] == head[1:] \
                and got[0] in (0, head[0])
        if reuse:
            bs, off = self.header["block_size"], self.header["data_offset"]
            for i in range(self.nblocks):
                n = min(bs, self.header["nbytes"] - i * bs)
                data = os.pread(fd, n, off + i * bs)
                self.held[i] = len(data) == n and \
                    fmt.crc32c(data) == int(self._crc[i])
            return
        os.ftruncate(fd, 0)
        vfs = os.fstatvfs(fd)
        if vfs.f_bavail * vfs.f_frsize < self._size:
            self._unlink_locked()
            raise NoSpaceError(errno.ENOSPC, f"{self.name}: {self._size} "
                               f"bytes needed, "
                               f"{vfs.f_bavail * vfs.f_frsize} free")
        try:
            os.posix_fallocate(fd, 0, self._size)
        except OSError as e:
            if _no_space(e):
                self._unlink_locked()
                raise NoSpaceError(e.errno, f"{self.name}: no space for "
                                   f"{self._size} bytes") from None
            if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            os.ftruncate(fd, self._size)
        os.pwrite(fd, b"\x00" + head[1:], 0)

    def _unlink_locked(self):
        _unlink_quietly(self._file, self._dir_fd)

    def held_bytes(self) -> int:
        bs, n = self.header["block_size"], self.header["nbytes"]
        total = int(self.held.sum()) * bs
        if self.nblocks and self.held[-1]:
            total -= self.nblocks * bs - n  # the short last block
        return total

    def missing(self) -> "list[tuple[int, int]]":
        """The blocks not yet held, as [start, end) runs."""
        runs, i = [], 0
        while i < self.nblocks:
            if self.held[i]:
                i += 1
                continue
            j = i
            while j < self.nblocks and not self.held[j]:
                j += 1
            runs.append((i, j))
            i = j
        return runs

    def block(self, i):
        """Block i's (data offset, length)."""
        bs = self.header["block_size"]
        return i * bs, min(bs, self.header["nbytes"] - i * bs)

    def land(self, i: int, data) -> bool:
        """Write block i if data (exactly its bytes) matches its CRC-32C
        (and its XXH3-128, when the header has them and the xxhash module
        is there); return whether it did. A held block is not written
        again."""
        off, n = self.block(i)
        if len(data) != n:
            raise ValueError(f"block {i} has {n} bytes, got {len(data)}")
        if self.held[i]:
            return True
        if fmt.crc32c(data) != int(self._crc[i]):
            return False
        if self._digests is not None and \
                _xxh3_128(data) != self._digests[16 * i:16 * i + 16]:
            return False
        os.pwrite(self._fd, data, self.header["data_offset"] + off)
        self.held[i] = True
        return True

    def complete(self) -> None:
        """Publish the array once every block is held: the first byte
        restored, flushed as the sync mode says, renamed into place."""
        if not self.held.all():
            raise ValueError(f"{self.name}: {int((~self.held).sum())} blocks "
                             f"still missing")
        if os.fstat(self._fd).st_size != self._size:
            raise fmt.FormatError(f"{self.name}: the partial file was "
                                  f"truncated behind the receiver's back")
        os.pwrite(self._fd, self._head[:1], 0)
        sync = self.store.sync
        flush = sync == "always" or (sync == "auto"
                                     and not _fs_is_memory(self._fd))
        if flush:
            os.fsync(self._fd)
        os.rename(self._file, self._base + EXT, src_dir_fd=self._dir_fd,
                  dst_dir_fd=self._dir_fd)
        if flush:
            os.fsync(self._dir_fd)
        self.close()

    def close(self):
        """Stop receiving, keeping the file for the next transfer."""
        if self._fd >= 0:
            os.close(self._fd)
            os.close(self._dir_fd)
            self._fd = -1

    def discard(self):
        """Remove the partial file (while still holding its lock)."""
        if self._fd >= 0:
            self._unlink_locked()
            self.close()
            self.store._prune(self.name)


class _Inotify:
    """Just enough inotify, through ctypes, to see a rename into a
    directory (IN_MOVED_TO) or a directory appear (IN_CREATE)."""

    IN_CREATE, IN_MOVED_TO, IN_ONLYDIR = 0x100, 0x80, 0x01000000
    IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000

    @classmethod
    def make(cls):
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            fd = libc.inotify_init1(cls.IN_NONBLOCK | cls.IN_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None  # out of instances: poll instead
        w = cls()
        w.libc, w.fd, w.watched = libc, fd, set()
        return w

    def watch(self, path):
        if path in self.watched:
            return
        wd = self.libc.inotify_add_watch(
            self.fd, os.fsencode(path),
            self.IN_MOVED_TO | self.IN_CREATE | self.IN_ONLYDIR)
        if wd >= 0:
            self.watched.add(path)

    def wait(self, timeout):
        """Wait for an event (or the timeout) and drain them."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            try:
                os.read(self.fd, 65536)
            except BlockingIOError:
                pass

    def close(self):
        os.close(self.fd)

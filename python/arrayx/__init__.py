"""arrayx for Python: ARRAYX v1 arrays as numpy arrays, without copies.

Read any ARRAYX file (``open``, ``read_header``, ``verify``), and share a
store with Go and other processes (``Store``: ``create`` a writer over a
preallocated hidden file, ``seal`` it to publish it atomically, ``wait``
for an array another process publishes, ``open``, ``stat``, ``list``,
``remove``). docs/FORMAT.md and docs/STORE.md are the specifications this
package follows; ``python -m arrayx`` shows, lists and verifies arrays.

Needs numpy and msgpack; the ``crc32c`` module makes CRC-32C fast (a numpy
fallback is built in) and the ``xxhash`` module lets sealed arrays carry
the XXH3-128 digests that replication compares (without it, arrays are
sealed with CRC-32C alone, as format 1.0 wrote them).
"""

from ._format import (  # noqa: F401
    ArrayFile, ChecksumError, DEFAULT_MAX_HEADER, DTYPES, FormatError,
    bfloat16_to_float32, block_crc32c, crc32c, crc32c_backend, open,
    read_header, set_crc32c_backend, verify,
)
from ._store import (  # noqa: F401
    InvalidNameError, NoSpaceError, NotPrivateError, Store, Writer,
    choose_block_size, default_dir, validate_name,
)

__all__ = [
    "ArrayFile", "ChecksumError", "DEFAULT_MAX_HEADER", "DTYPES",
    "FormatError", "InvalidNameError", "NoSpaceError", "NotPrivateError",
    "Store", "Writer", "bfloat16_to_float32", "block_crc32c",
    "choose_block_size", "crc32c", "crc32c_backend", "default_dir", "open",
    "read_header", "set_crc32c_backend", "validate_name", "verify",
]

// Package mmapstore keeps ARRAYX arrays in memory-mapped files and hands them
// between processes without copying.
//
// A producer calls Create (or Store.Create), which preallocates a file under
// a hidden temporary name and maps it writable; it fills Writer.Bytes, or a
// typed view such as arrayx.Data[float64](w), and calls Seal. Seal computes
// the per-block CRC-32C table on all cores, rewrites the header in place,
// flushes to stable storage where there is one (SyncAuto: on disks, not on
// tmpfs), and renames the file to its name. The rename is the only moment
// the array becomes visible, so no reader can ever open a half-written
// array. Abort discards a writer.
//
// A consumer calls Open (or Store.Open, or Store.Wait to block until a
// sealed array of that name appears). Open reads and validates only the
// prefix and header, then maps the file read-only: its cost does not grow
// with the array. Verify and VerifyRange check the data against the CRC
// table, in parallel.
//
// A receiver (Store.Receive) fills a Partial block by block: each block is
// read from the network into a small buffer, checked against the header's
// CRC while its bytes are hot, and written in place with pwrite
// (ReceiveAt), in any order and from any number of connections at once.
// Missing says what is left, WaitBlock waits for one block, Seed copies
// the blocks an older version of the array holds unchanged, and Complete
// publishes by rename once every block is held.
//
// Whole-array passes that are not the producer's own (Verify, receiving,
// sending by copy, Copy's verification, sealing an import) read the file
// at explicit offsets through small hot buffers instead of a mapping: on
// virtual machines the first touches of a fresh mapping cost more than the
// copy into a buffer, and a file cut short reads short instead of
// faulting. Array.SendData sends a range by sendfile(2) at explicit
// offsets, so no caller ever moves a file's shared offset.
//
// A Store is a directory of arrays named like "sim/run-1/temperature", each
// in a file NAME.arx. Every file operation goes through an os.Root, so names,
// ".." and symlinks cannot reach outside the directory. The default store is
// $ARRAYX_STORE, else /dev/shm/arrayx on Linux, else a directory under
// os.TempDir(). /dev/shm is writable by every user, so OpenStore refuses the
// implicit /dev/shm/arrayx (ErrNotPrivate) unless it is a directory owned by
// this user and writable by no one else.
//
// # Caveats
//
// Slices returned by Array.Bytes, Writer.Bytes and the typed views over them
// point into the mapping. They are valid only until the Array is closed or
// the Writer is sealed or aborted; using one afterwards is undefined: it may
// fault, or read or even write another mapping that reused the addresses.
// There is deliberately no finalizer that unmaps a forgotten Array: a view
// can outlive its Array's last reference, so an Array that is never closed
// keeps its mapping until the process exits (its file descriptor is closed
// by the os.File's own cleanup).
//
// A Store must stay open while its Writers and Partials are in use: they
// publish and clean up through its directory handle. Arrays opened from it
// do not need it.
//
// The mapping of a sealed array is read-only: writing through a view of it
// faults. Another process that truncates an array's file while it is mapped
// makes reads past the new end fault as well; the package's own passes see
// a short read or turn the fault into ErrFault, but reads through raw
// slices cannot be protected. Arrays are only ever replaced by rename, never rewritten in
// place, so this happens only when something outside arrayx modifies the
// store.
//
// # Temporary files and cleaning
//
// A writer fills a hidden temporary file (".NAME.arx.tmp-" and 16 hex
// digits) and a network receive a hidden partial file (".NAME.arx.part-" and
// 16 hex digits of its header's SHA-256); neither is ever listed or opened
// under the array's name. Each holds an exclusive flock(2) on its file while
// it is alive. A process that dies leaves its file behind, unlocked: a
// writer's is garbage, a partial is kept on purpose so that the next
// transfer of the same array resumes from it. Store.Clean removes the
// writers' orphans, and partials older than CleanOptions.PartialsOlderThan
// when asked, taking each file's lock first, so it never removes a file a
// live writer or transfer in any process holds; it is safe to run at any
// time (netlink servers run it when they start). Where flock is unavailable
// (platforms other than Linux), Clean only removes files untouched for 24
// hours.
//
// # Copies
//
// Store.Copy and CopyTo copy a sealed array's file in the kernel: a reflink
// where the filesystem shares extents (btrfs, XFS), else copy_file_range(2),
// else sendfile(2) (between filesystems), each taking over where the one
// before stopped, and only else by reading the source's file into a buffer
// and writing it; CopyStats.Method says which. The copy is written under a
// temporary name like any other, checked against the source's header and
// every block's CRC-32C, and only then renamed into place.
//
// On Linux, Create and Receive reserve space with fallocate(2), so a full
// filesystem is an error (ErrNoSpace) before any data is written; elsewhere
// the file is sized sparsely and a full disk shows up as a fault while
// filling a writer's mapping, or an ErrNoSpace while receiving.
package mmapstore

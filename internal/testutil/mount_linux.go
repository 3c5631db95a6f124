package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// isTmpfs reports whether dir is on a tmpfs.
func isTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && uint32(st.Type) == unix.TMPFS_MAGIC // int32 on 386, int64 on amd64
}

// shmIsTmpfs reports whether /dev/shm is a tmpfs, and if not why.
func shmIsTmpfs() (bool, string) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil {
		return false, fmt.Sprintf("no /dev/shm here (%v)", err)
	}
	if uint32(st.Type) != unix.TMPFS_MAGIC {
		return false, fmt.Sprintf("/dev/shm is not a tmpfs here (filesystem magic %#x)", uint32(st.Type))
	}
	return true, ""
}

// mountPoint makes an empty directory to mount on.
func mountPoint(t testing.TB) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	return mnt
}

// unmountAtCleanup unmounts mnt when the test ends, lazily if it is busy,
// so that the test's directory can go.
func unmountAtCleanup(t testing.TB, mnt string) {
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			if derr := unix.Unmount(mnt, unix.MNT_DETACH); derr != nil {
				t.Errorf("unmounting %s: %v; detaching it: %v", mnt, err, derr)
			}
		}
	})
}

// Tmpfs mounts a tmpfs of the given size (mount's syntax: "8m") for the
// test's duration and returns its mount point: a real filesystem that fills
// up. It needs root.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	NeedRoot(t, "mounting a tmpfs")
	mnt := mountPoint(t)
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mount -t tmpfs -o size=%s %s: %v", size, mnt, err)
	}
	unmountAtCleanup(t, mnt)
	return mnt
}

// XFS mounts a fresh XFS image with reflinks (mkfs.xfs -m reflink=1) on a
// loop device for the test's duration and returns its mount point: a
// filesystem where copies can share extents. It needs root and mkfs.xfs.
func XFS(t testing.TB) string {
	t.Helper()
	NeedRoot(t, "mounting an XFS image")
	mkfs := NeedTool(t, "mkfs.xfs")
	mount := NeedTool(t, "mount")
	img := filepath.Join(t.TempDir(), "xfs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 320<<20); err != nil { // about the smallest XFS that mkfs.xfs makes
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-m", "reflink=1", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v: %s", err, out)
	}
	mnt := mountPoint(t)
	if out, err := exec.Command(mount, "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop %s: %v: %s", img, err, out)
	}
	unmountAtCleanup(t, mnt) // the loop device is set to clear itself on the last unmount
	return mnt
}

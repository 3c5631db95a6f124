package docs

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
)

// TestStoreQuota checks STORE.md's table of store limits against
// OpenStore, on a tmpfs and on disk, and that a refusal leaves nothing.
func TestStoreQuota(t *testing.T) {
	rows := storeTable(t, "store-quota")
	if len(rows) != 3 || rows[0][0] != "positive" || rows[1][0] != "0 (the default)" || rows[2][0] != "negative" {
		t.Fatalf("STORE.md's store-quota table has rows %q", rows)
	}
	m := regexp.MustCompile(`memory-backed filesystem .*, ([0-9]+)% of physical memory`).FindStringSubmatch(rows[1][1])
	if m == nil {
		t.Fatalf("STORE.md's default limit %q names no share of memory", rows[1][1])
	}
	if pct, _ := strconv.Atoi(m[1]); pct != mmapstore.DefaultMemoryPercent {
		t.Fatalf("STORE.md says %d%%, the code %d%%", pct, mmapstore.DefaultMemoryPercent)
	}
	open := func(dir string, max int64) *mmapstore.Store {
		t.Helper()
		s, err := mmapstore.OpenStore(dir, &mmapstore.Options{MaxBytes: max})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	disk := testutil.DiskDir(t)
	if got := open(disk, 4096).MaxBytes(); got != 4096 {
		t.Errorf("positive: limit %d, want 4096", got)
	}
	if got := open(disk, 0).MaxBytes(); got != 0 {
		t.Errorf("0 on disk: limit %d, want none", got)
	}
	s := open(disk, 4096)
	if _, err := s.Create("d/x", arrayx.Uint8, arrayx.Shape{8192}, arrayx.OrderC, nil); !errors.Is(err, mmapstore.ErrNoSpace) {
		t.Fatalf("Create past the limit: %v, want ErrNoSpace", err)
	}
	if entries, _ := os.ReadDir(disk); len(entries) != 0 {
		t.Fatalf("the refusal left %v", entries)
	}
	shm := testutil.ShmDir(t)
	if got := open(shm, -1).MaxBytes(); got != 0 {
		t.Errorf("negative on tmpfs: limit %d, want none", got)
	}
	if got := open(shm, 0).MaxBytes(); got <= 0 {
		t.Errorf("0 on tmpfs: limit %d, want a share of memory", got)
	}
}

//go:build unix

package npy

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

// TestImportFIFO: a FIFO given as the .npy file is refused at once; without
// O_NONBLOCK the open would wait forever for a writer.
func TestImportFIFO(t *testing.T) {
	st := teststore.Temp(t)
	fifo := filepath.Join(t.TempDir(), "fifo.npy")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Import(st, "x", fifo, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("FIFO: %v", err)
	}
	assertStoreEmpty(t, st)
}

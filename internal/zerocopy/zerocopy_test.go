package zerocopy

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"testing"
)

// The hook is global: no test in this package runs in parallel.

// recorder collects what the test hook sees.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	op string
	n  int64
}

// record installs a hook recording every kernel call until the test ends.
func record(t testing.TB) *recorder {
	t.Helper()
	r := &recorder{}
	t.Cleanup(SetTestHook(func(op string, n int64) {
		r.mu.Lock()
		r.calls = append(r.calls, call{op, n})
		r.mu.Unlock()
	}))
	return r
}

// seen returns the calls recorded so far.
func (r *recorder) seen() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// only checks that every call recorded was op and that they moved want
// bytes in all, and returns the calls.
func (r *recorder) only(t testing.TB, op string, want int64) []call {
	t.Helper()
	calls := r.seen()
	var sum int64
	for _, c := range calls {
		if c.op != op || c.n <= 0 || c.n > maxRound {
			t.Errorf("the hook saw %s of %d bytes; want only %s, each of 1 to %d bytes", c.op, c.n, op, maxRound)
		}
		sum += c.n
	}
	if sum != want {
		t.Errorf("the hook saw %d bytes in %d calls, want %d", sum, len(calls), want)
	}
	return calls
}

// none checks that the hook saw no kernel call.
func (r *recorder) none(t testing.TB) {
	t.Helper()
	if calls := r.seen(); len(calls) != 0 {
		t.Errorf("the hook saw %v, want no kernel call", calls)
	}
}

// pattern returns n bytes that differ between offsets 1, 256 and 65536
// apart, so a range read from the wrong offset shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) ^ byte(i>>8)*31 ^ byte(i>>16)*17 + seed
	}
	return b
}

// fileWith creates a file holding data in dir, open for reading and writing.
func fileWith(t testing.TB, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(dir, "zc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

// contents reads f's whole file by name (not through f, whose offset the
// tests watch).
func contents(t testing.TB, f *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetTestHook(t *testing.T) {
	var a, b []int64
	restoreA := SetTestHook(func(op string, n int64) { a = append(a, n) })
	report(OpSendfile, 1)
	restoreB := SetTestHook(func(op string, n int64) { b = append(b, n) })
	report(OpSendfile, 2)
	report(OpSendfile, 0) // nothing moved: not a call to see
	var wg sync.WaitGroup
	wg.Go(func() { report(OpCopyFileRange, 3) }) // other goroutines too
	wg.Wait()
	restoreB()
	report(OpReflink, 4)
	restoreA()
	report(OpReflink, 5)
	if len(a) != 2 || a[0] != 1 || a[1] != 4 || len(b) != 2 || b[0] != 2 || b[1] != 3 {
		t.Fatalf("hook A saw %v, B saw %v; want [1 4] and [2 3]", a, b)
	}
}

// Off Linux every adapter reports handled false, moves nothing and leaves
// both files alone: the caller's portable path does the work.
func TestNotLinux(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("the kernel paths are tested in zerocopy_linux_test.go")
	}
	dir := t.TempDir()
	data := pattern(1<<16, 3)
	src := fileWith(t, dir, data)
	dst := fileWith(t, dir, nil)
	rec := record(t)
	for name, fn := range map[string]func(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error){
		"CopyFileRange": CopyFileRange, "SendFileToFile": SendFileToFile,
	} {
		if n, handled, err := fn(dst, 0, src, 0, int64(len(data))); n != 0 || handled || err != nil {
			t.Errorf("%s: (%d, %v, %v), want (0, false, nil)", name, n, handled, err)
		}
	}
	if handled, err := Reflink(dst, 0, src, 0, 0); handled || err != nil {
		t.Errorf("Reflink: (%v, %v), want (false, nil)", handled, err)
	}
	if got := contents(t, dst); len(got) != 0 {
		t.Errorf("the destination holds %d bytes, want none", len(got))
	}
	if !bytes.Equal(contents(t, src), data) {
		t.Error("the source changed")
	}
	rec.none(t)
}

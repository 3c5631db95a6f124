//go:build linux

package docs

// The tests of STORE.md: the store's files, locks and protocols, checked by
// behaviour against mmapstore. Where the document has a table or a pattern,
// it is parsed from the markdown, so that the document and the code cannot
// drift apart silently. The document describes Linux, where every guarantee
// holds (flock, inotify), so these tests are Linux-only.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// storeDoc returns STORE.md.
func storeDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("STORE.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// afterMarker returns what follows the HTML comment <!-- name --> in STORE.md.
func afterMarker(t *testing.T, name string) string {
	t.Helper()
	doc := storeDoc(t)
	marker := "<!-- " + name + " -->"
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("STORE.md has no %s", marker)
	}
	return doc[i+len(marker):]
}

// storeBlock returns the body of the fenced code block marked name in STORE.md.
func storeBlock(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)^\\s*```[a-z]*\\n(.*?)```").FindStringSubmatch(afterMarker(t, name))
	if m == nil {
		t.Fatalf("STORE.md: no code block right after <!-- %s -->", name)
	}
	return m[1]
}

// storeTable returns the body rows of the markdown table marked name in
// STORE.md, each as its trimmed cells.
func storeTable(t *testing.T, name string) [][]string {
	t.Helper()
	var rows [][]string
	lines := strings.Split(strings.TrimLeft(afterMarker(t, name), "\n"), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "|") {
			break
		}
		if i < 2 { // the header row and the |---| row
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("STORE.md: no table right after <!-- %s -->", name)
	}
	return rows
}

// storeConstant returns the value column of the row named what in the
// store-constants table.
func storeConstant(t *testing.T, what string) string {
	t.Helper()
	for _, r := range storeTable(t, "store-constants") {
		if r[0] == what {
			return r[1]
		}
	}
	t.Fatalf("STORE.md's constants table has no row %q", what)
	return ""
}

// unquote strips the backticks of a code span.
func unquote(t *testing.T, cell string) string {
	t.Helper()
	s, ok := strings.CutPrefix(cell, "`")
	if s, ok2 := strings.CutSuffix(s, "`"); ok && ok2 && !strings.Contains(s, "`") {
		return s
	}
	t.Fatalf("STORE.md: %q is not one code span", cell)
	return ""
}

// docName builds a name written in the names table: "(empty)", or terms
// joined by " + ", each `text` or `text` × N.
func docName(t *testing.T, cell string) string {
	t.Helper()
	if cell == "(empty)" {
		return ""
	}
	term := regexp.MustCompile("^`([^`]+)`(?: × ([0-9]+))?$")
	var b strings.Builder
	for _, part := range strings.Split(cell, " + ") {
		m := term.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("STORE.md names table: cannot read %q in %q", part, cell)
		}
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		b.WriteString(strings.Repeat(m[1], n))
	}
	return b.String()
}

// filePatterns returns STORE.md's file name patterns, by kind, for BASE.
func filePatterns(t *testing.T, base string) map[string]*regexp.Regexp {
	t.Helper()
	out := map[string]*regexp.Regexp{}
	for _, l := range strings.Split(strings.TrimSpace(storeBlock(t, "store-file-patterns")), "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), 2)
		if len(f) != 2 || !strings.Contains(f[1], "BASE") {
			t.Fatalf("STORE.md file patterns: cannot read %q", l)
		}
		out[f[0]] = regexp.MustCompile("^" + strings.ReplaceAll(f[1], "BASE", regexp.QuoteMeta(base)) + "$")
	}
	for _, kind := range []string{"published array", "writer temporary", "partial file"} {
		if out[kind] == nil {
			t.Fatalf("STORE.md file patterns lack %q", kind)
		}
	}
	return out
}

// kindOf says which of STORE.md's patterns file matches ("" for none); it
// fails the test if more than one does.
func kindOf(t *testing.T, pats map[string]*regexp.Regexp, file string) string {
	t.Helper()
	var kinds []string
	for k, re := range pats {
		if re.MatchString(file) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		t.Fatalf("%q matches several of STORE.md's patterns: %v", file, kinds)
	}
	if len(kinds) == 0 {
		return ""
	}
	return kinds[0]
}

// docMode reads a mode like "0644, less the umask" and applies this process's umask.
func docMode(t *testing.T, what string) os.FileMode {
	t.Helper()
	v := storeConstant(t, what)
	num, rest, _ := strings.Cut(v, ",")
	m, err := strconv.ParseUint(num, 8, 32)
	if err != nil || strings.TrimSpace(rest) != "less the umask" {
		t.Fatalf("STORE.md %s: cannot read %q", what, v)
	}
	return os.FileMode(m) &^ umask(t)
}

// umask reads this process's umask without changing it.
func umask(t *testing.T) os.FileMode {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Umask:\s*([0-7]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no Umask line in /proc/self/status")
	}
	u, _ := strconv.ParseUint(string(m[1]), 8, 32)
	return os.FileMode(u)
}

// lockedElsewhere reports whether another open file description holds a
// flock on path: it tries LOCK_EX|LOCK_NB from a descriptor of its own.
func lockedElsewhere(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		return false
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true
	default:
		t.Fatalf("flock %s: %v", path, err)
		return false
	}
}

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func gone(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err != nil
}

// sealedArray creates, fills (byte i = i*7+seed) and seals a uint8 array.
func sealedArray(t *testing.T, s *mmapstore.Store, name string, n int64, seed byte) *mmapstore.Array {
	t.Helper()
	w, err := s.Create(name, arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := 0, w.Bytes(); i < len(b); i++ {
		b[i] = byte(i*7) + seed
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func ago(t *testing.T, path string, d time.Duration) {
	t.Helper()
	then := time.Now().Add(-d)
	if err := os.Chtimes(path, then, then); err != nil {
		t.Fatal(err)
	}
}

// TestStoreConstants checks the constants table and the directory's
// resolution (section 1).
func TestStoreConstants(t *testing.T) {
	for what, want := range map[string]string{
		"environment variable": "`" + mmapstore.EnvStore + "`",
		"array file extension": "`" + mmapstore.Ext + "`",
		"longest name":         fmt.Sprintf("%d bytes", mmapstore.MaxNameLen),
		"longest segment":      fmt.Sprintf("%d bytes", mmapstore.MaxSegmentLen),
		"Wait on Linux":        mmapstore.WaitMethod,
	} {
		if got := storeConstant(t, what); got != want {
			t.Errorf("STORE.md says the %s is %s; the code: %s", what, got, want)
		}
	}

	def := unquote(t, storeConstant(t, "Linux default"))
	dir := t.TempDir()
	t.Setenv(mmapstore.EnvStore, dir)
	if got := mmapstore.DefaultDir(); got != dir {
		t.Errorf("DefaultDir with $%s=%s: %s", mmapstore.EnvStore, dir, got)
	}
	os.Unsetenv(mmapstore.EnvStore) // restored by t.Setenv's cleanup
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if got := mmapstore.DefaultDir(); got != def {
			t.Errorf("DefaultDir without $%s: %s, STORE.md says %s", mmapstore.EnvStore, got, def)
		}
	} else if got, want := mmapstore.DefaultDir(), filepath.Join(os.TempDir(), "arrayx"); got != want {
		t.Errorf("DefaultDir without /dev/shm: %s, want %s", got, want)
	}

	// The privacy check applies to the implicit default only: a directory
	// anyone can write is taken as it is elsewhere, and under $ARRAYX_STORE.
	// (The refusal itself is mmapstore's TestCheckPrivate: it needs the real
	// /dev/shm/arrayx, which tests running in parallel must not share.)
	open := func(dir string) error {
		s, err := mmapstore.OpenStore(dir, nil)
		if err == nil {
			s.Close()
		}
		return err
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := open(shared); err != nil {
		t.Errorf("a world-writable store that is not the default: %v", err)
	}
	t.Setenv(mmapstore.EnvStore, shared)
	if err := open(mmapstore.DefaultDir()); err != nil {
		t.Errorf("a world-writable store named by $%s: %v", mmapstore.EnvStore, err)
	}

	// OpenStore makes the directory and its parents.
	deep := filepath.Join(t.TempDir(), "a", "b")
	if err := open(deep); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(deep); err != nil || fi.Mode().Perm() != docMode(t, "directory mode at creation") {
		t.Errorf("OpenStore made %s with %v (%v), STORE.md says %v", deep, fi.Mode().Perm(), err, docMode(t, "directory mode at creation"))
	}
}

// TestStoreNames checks the names table against ValidateName, and the path
// of every valid name.
func TestStoreNames(t *testing.T) {
	rows := storeTable(t, "store-names")
	if len(rows) < 20 {
		t.Fatalf("STORE.md's names table has %d rows; it lost some?", len(rows))
	}
	s := teststore.Temp(t)
	for _, r := range rows {
		name := docName(t, r[0])
		err := mmapstore.ValidateName(name)
		switch r[1] {
		case "yes":
			if err != nil {
				t.Errorf("STORE.md says %s (%d bytes) is valid: %v", r[0], len(name), err)
				continue
			}
			p, err := s.Path(name)
			if want := filepath.Join(s.Dir(), filepath.FromSlash(name)+mmapstore.Ext); err != nil || p != want {
				t.Errorf("Path(%q) = %q, %v; want %q", name, p, err, want)
			}
		case "no":
			if !errors.Is(err, mmapstore.ErrInvalidName) {
				t.Errorf("STORE.md says %s is invalid (%s); ValidateName: %v", r[0], r[2], err)
			}
		default:
			t.Errorf("STORE.md names table: valid must be yes or no, not %q", r[1])
		}
	}
}

// makeEntry makes an entry of a table "made as" column in dir.
func makeEntry(t *testing.T, dir, rel, madeAs, symlinkTo string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	switch madeAs {
	case "file":
		err = os.WriteFile(p, []byte("not an array"), 0o644)
	case "symlink":
		err = os.Symlink(symlinkTo, p)
	case "FIFO":
		err = syscall.Mkfifo(p, 0o644)
	case "directory":
		err = os.Mkdir(p, 0o755)
	default:
		t.Fatalf("STORE.md: unknown entry kind %q for %s", madeAs, rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStoreListIgnores makes every entry STORE.md says List skips, next to
// one real array, and lists the store.
func TestStoreListIgnores(t *testing.T) {
	s := teststore.Temp(t)
	sealedArray(t, s, "real", 10, 0)
	for _, r := range storeTable(t, "store-list-ignores") {
		makeEntry(t, s.Dir(), unquote(t, r[0]), r[1], "real.arx")
	}
	names, err := s.List()
	if err != nil || !slices.Equal(names, []string{"real"}) {
		t.Fatalf("List = %v, %v; STORE.md says only [real]", names, err)
	}
}

// TestStoreWriterFiles follows a writer through section 4: its temporary
// file's name, mode, size, unsealed header and lock, then Seal and Abort.
func TestStoreWriterFiles(t *testing.T) {
	s := teststore.Temp(t)
	pats := filePatterns(t, "temperature")
	fileMode, dirMode := docMode(t, "file mode at creation"), docMode(t, "directory mode at creation")

	w, err := s.Create("sim/temperature", arrayx.Float64, arrayx.Shape{1000}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	dir := filepath.Join(s.Dir(), "sim")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != dirMode {
		t.Errorf("the array's directory: %v (%v), STORE.md says %v", fi.Mode().Perm(), err, dirMode)
	}
	ents := entries(t, dir)
	if len(ents) != 1 || kindOf(t, pats, ents[0]) != "writer temporary" {
		t.Fatalf("while filling, the array's directory holds %q; STORE.md says one writer temporary file", ents)
	}
	tmp := filepath.Join(dir, ents[0])
	fi, err := os.Lstat(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != fileMode || fi.Size() != w.Header().FileSize() {
		t.Errorf("temporary file: mode %v, %d bytes; STORE.md says a regular file, %v, preallocated to %d",
			fi.Mode(), fi.Size(), fileMode, w.Header().FileSize())
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	h, err := arrayx.Unmarshal(b, arrayx.Limits{})
	if err != nil || h.Sealed || h.CRC32C != nil || b[0] != arrayx.Magic[0] {
		t.Errorf("temporary file's header: %+v, %v; STORE.md says unsealed, no crc32c, magic intact", h, err)
	}
	if _, err := mmapstore.Open(tmp, nil); !errors.Is(err, arrayx.ErrNotSealed) {
		t.Errorf("Open of the temporary file by its path: %v, STORE.md says not sealed", err)
	}
	if !lockedElsewhere(t, tmp) {
		t.Error("the writer's temporary file is not flock'd")
	}
	if names, err := s.List(); err != nil || len(names) != 0 {
		t.Errorf("List while filling: %v, %v", names, err)
	}
	if _, err := s.Open("sim/temperature"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open while filling: %v, want not exist", err)
	}

	x, err := arrayx.Data[float64](w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		x[i] = float64(i)
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if ents := entries(t, dir); len(ents) != 1 || ents[0] != "temperature"+mmapstore.Ext || kindOf(t, pats, ents[0]) != "published array" {
		t.Fatalf("after Seal the array's directory holds %q; STORE.md says only temperature.arx", ents)
	}
	pub := filepath.Join(dir, "temperature.arx")
	if fi, err := os.Lstat(pub); err != nil || fi.Mode().Perm() != fileMode {
		t.Errorf("published file: %v, %v", fi.Mode(), err)
	}
	// Go keeps the lock with the Array Seal returns (step 12).
	if !lockedElsewhere(t, pub) {
		t.Error("STORE.md says Seal's Array keeps the lock until it is closed; it is not held")
	}
	a.Close()
	if lockedElsewhere(t, pub) {
		t.Error("the lock outlived the Array Seal returned")
	}

	// Abort removes the file and the directories it leaves empty.
	w, err = s.Create("deep/er/x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if !gone(t, filepath.Join(s.Dir(), "deep")) {
		t.Errorf("Abort left %v", entries(t, s.Dir()))
	}
}

// partialHash is the 16 digits of section 2: the first 8 bytes of the
// SHA-256 of the first 16+H bytes, in lowercase hex.
func partialHash(t *testing.T, header []byte) string {
	t.Helper()
	pre, err := arrayx.ParsePrefix(header, arrayx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(header[:arrayx.PrefixSize+int(pre.HeaderLen)])
	return hex.EncodeToString(sum[:8])
}

// TestStorePartialFiles follows a receive through section 5: the partial's
// name, zeroed first byte, lock and exclusion, reuse conditions,
// re-verification of every block, completion and discard.
func TestStorePartialFiles(t *testing.T) {
	src := teststore.Temp(t)
	a := sealedArray(t, src, "x", 3<<22, 1) // 3 blocks of 4 MiB
	hdr := a.RawHeader()
	h := a.Header()
	bs, size := h.BlockSize, h.FileSize()
	if h.NumBlocks() != 3 {
		t.Fatalf("%d blocks, want 3", h.NumBlocks())
	}
	land := func(t *testing.T, p *mmapstore.Partial, block int) {
		t.Helper()
		off, n := h.Block(block)
		if got, err := p.ReceiveAt(bytes.NewReader(a.Bytes()[off:off+n]), off, n); err != nil || got != n {
			t.Fatalf("landing block %d: %d, %v", block, got, err)
		}
	}
	dst := teststore.Temp(t)
	receive := func(t *testing.T) *mmapstore.Partial {
		t.Helper()
		// Trailing bytes after 16+H are not hashed (section 2).
		p, err := dst.Receive("in/x", append(bytes.Clone(hdr), "trailing"...), nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := receive(t)
	want := ".x.arx.part-" + partialHash(t, hdr)
	if kindOf(t, filePatterns(t, "x"), want) != "partial file" {
		t.Fatalf("%s does not match STORE.md's partial pattern", want)
	}
	dir := filepath.Join(dst.Dir(), "in")
	if ents := entries(t, dir); !slices.Equal(ents, []string{want}) {
		t.Fatalf("Receive made %q; STORE.md says %q", ents, want)
	}
	part := filepath.Join(dir, want)
	onDisk := func(t *testing.T) []byte {
		t.Helper()
		b, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := onDisk(t)
	if int64(len(b)) != size || b[0] != 0 || !bytes.Equal(b[1:len(hdr)], hdr[1:]) {
		t.Fatalf("the partial file: %d bytes starting % x; STORE.md says %d bytes, the sender's header with byte 0 zeroed", len(b), b[:8], size)
	}
	if fi, err := os.Lstat(part); err != nil || fi.Mode().Perm() != docMode(t, "file mode at creation") {
		t.Errorf("partial file mode %v, %v", fi.Mode(), err)
	}
	if !lockedElsewhere(t, part) {
		t.Error("the partial file is not flock'd")
	}
	if _, err := mmapstore.Open(part, nil); !errors.Is(err, arrayx.ErrBadMagic) {
		t.Errorf("Open of the partial by its path: %v; STORE.md says not an ARRAYX file", err)
	}
	if _, err := dst.Receive("in/x", hdr, nil); !errors.Is(err, mmapstore.ErrBusy) {
		t.Errorf("a second Receive of the same array: %v, want busy", err)
	}
	if names, err := dst.List(); err != nil || len(names) != 0 {
		t.Errorf("List during a receive: %v, %v", names, err)
	}

	// Blocks 0 and 2 land; the transfer breaks off.
	land(t, p, 0)
	land(t, p, 2)
	p.Close()
	if b := onDisk(t); b[0] != 0 {
		t.Fatal("Close restored the magic of an incomplete partial")
	}
	// Every block is verified again, and every good one kept wherever it
	// lies: spoil block 0 behind the receiver's back.
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pwrite := func(b []byte, off int64) {
		t.Helper()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	pwrite([]byte{^a.Bytes()[10]}, h.DataOffset+10)
	check := func(name string, held int64, missing []mmapstore.BlockRange) {
		t.Helper()
		p := receive(t)
		defer p.Close()
		if p.Held() != held || !slices.Equal(p.Missing(), missing) {
			t.Errorf("%s: resumed holding %d bytes, missing %v; want %d, %v", name, p.Held(), p.Missing(), held, missing)
		}
		if b := onDisk(t); b[0] != 0 && b[0] != arrayx.Magic[0] || !bytes.Equal(b[1:len(hdr)], hdr[1:]) {
			t.Errorf("%s: the header on disk is not the sender's", name)
		}
	}
	check("block 0 spoilt", bs, []mmapstore.BlockRange{{Start: 0, End: 2}})
	// Reuse conditions (step 4): first byte 0x00 or 0x89, the rest of the
	// header identical, the size exact.
	pwrite([]byte{arrayx.Magic[0]}, 0)
	check("first byte 0x89", bs, []mmapstore.BlockRange{{Start: 0, End: 2}})
	pwrite([]byte{0x42}, 0)
	check("first byte 0x42", 0, []mmapstore.BlockRange{{Start: 0, End: 3}})
	if b := onDisk(t); b[0] != 0 {
		t.Errorf("a partial started afresh has first byte %#x, want 0", b[0])
	}
	p = receive(t)
	land(t, p, 2)
	p.Close()
	pwrite([]byte{hdr[20] ^ 1}, 20)
	check("a header byte changed", 0, []mmapstore.BlockRange{{Start: 0, End: 3}})
	p = receive(t)
	land(t, p, 2)
	p.Close()
	if err := f.Truncate(size + 1); err != nil {
		t.Fatal(err)
	}
	check("one byte too long", 0, []mmapstore.BlockRange{{Start: 0, End: 3}})

	// Complete: the partial becomes in/x.arx, magic restored.
	p = receive(t)
	for i := range 3 {
		land(t, p, i)
	}
	got, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if ents := entries(t, dir); !slices.Equal(ents, []string{"x.arx"}) {
		t.Fatalf("after Complete the directory holds %q", ents)
	}
	pub, err := dst.Open("in/x")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Verify(); err != nil || !bytes.Equal(pub.RawHeader(), hdr) {
		t.Fatalf("the completed array: %v, header equal %v", err, bytes.Equal(pub.RawHeader(), hdr))
	}

	// Discard removes the file and the directories it leaves empty.
	p, err = dst.Receive("gone/deep/y", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(); err != nil {
		t.Fatal(err)
	}
	if !gone(t, filepath.Join(dst.Dir(), "gone")) {
		t.Error("Discard left its directories")
	}
}

// TestStorePartialExample checks section 2's worked example: the partial
// name of FORMAT.md's example file, received as sim/example.
func TestStorePartialExample(t *testing.T) {
	ex, _ := exampleFile(t)
	facts := storeBlock(t, "store-partial-example")
	sum := sha256.Sum256(ex)
	if line := "SHA-256 = " + hex.EncodeToString(sum[:]); !strings.Contains(facts, line+"\n") {
		t.Errorf("STORE.md's partial example lacks %q:\n%s", line, facts)
	}
	s := teststore.Temp(t)
	p, err := s.Receive("sim/example", ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ents := entries(t, filepath.Join(s.Dir(), "sim"))
	if len(ents) != 1 {
		t.Fatalf("Receive made %q", ents)
	}
	if line := "partial = sim/" + ents[0]; !strings.Contains(facts, line+"\n") {
		t.Errorf("STORE.md's partial example lacks %q:\n%s", line, facts)
	}
}

// orphanName returns a file name of the kind given, per section 2, checked
// against STORE.md's pattern.
func orphanName(t *testing.T, kind, base string) string {
	t.Helper()
	var rnd [8]byte
	rand.Read(rnd[:])
	suffix := map[string]string{"writer temporary": ".tmp-", "partial file": ".part-"}[kind]
	name := "." + base + ".arx" + suffix + hex.EncodeToString(rnd[:])
	if got := kindOf(t, filePatterns(t, base), name); got != kind {
		t.Fatalf("%s is a %s by section 2's recipe, but STORE.md's patterns say %q", name, kind, got)
	}
	return name
}

// TestStoreClean checks section 6: what Clean removes (unlocked writers'
// files at any age, unlocked partials past the age asked) and what it keeps
// (locked files, young partials, and every entry of the store-clean-keeps
// table), that only flock protects a file, and that directories are pruned.
func TestStoreClean(t *testing.T) {
	s := teststore.Temp(t)
	dir := s.Dir()
	create := func(rel string) (string, *os.File) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.WriteString("in progress"); err != nil {
			t.Fatal(err)
		}
		return rel, f
	}
	flock := func(f *os.File) {
		t.Helper()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
	}
	w, p := "writer temporary", "partial file"

	deadWriter, f := create("a/b/" + orphanName(t, w, "x")) // young: age does not matter
	f.Close()
	liveWriter, f := create("live/" + orphanName(t, w, "x"))
	flock(f)
	ago(t, filepath.Join(dir, liveWriter), 48*time.Hour) // old, but alive
	// A POSIX record lock is another lock: it does not protect the file.
	fcntlWriter, f := create(orphanName(t, w, "y"))
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	oldPartial, f := create("p/" + orphanName(t, p, "x"))
	f.Close()
	ago(t, filepath.Join(dir, oldPartial), 48*time.Hour)
	youngPartial, f := create("p/" + orphanName(t, p, "y"))
	f.Close()
	ago(t, filepath.Join(dir, youngPartial), time.Hour)
	livePartial, f := create("p/" + orphanName(t, p, "z"))
	flock(f)
	ago(t, filepath.Join(dir, livePartial), 48*time.Hour)

	sealedArray(t, s, "pub", 10, 0)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("not the store's"), 0o644); err != nil {
		t.Fatal(err)
	}
	ago(t, outside, 48*time.Hour)
	var keep []string
	for _, r := range storeTable(t, "store-clean-keeps") {
		rel := unquote(t, r[0])
		path := makeEntry(t, dir, rel, r[1], outside)
		if r[1] != "symlink" {
			ago(t, path, 48*time.Hour)
		}
		keep = append(keep, rel)
	}
	keep = append(keep, "pub.arx", liveWriter, livePartial, youngPartial)

	// Default options: unlocked writers' files go, partials all stay.
	res, err := s.Clean(nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Removed)
	want := []string{deadWriter, fcntlWriter}
	slices.Sort(want)
	if !slices.Equal(res.Removed, want) || res.InUse != 1 || res.Kept != 3 {
		t.Fatalf("Clean(nil) = %+v; STORE.md says %v removed, 1 in use, 3 partials kept", res, want)
	}
	if !gone(t, filepath.Join(dir, "a")) {
		t.Error("Clean left the empty directories of the orphan it removed")
	}
	// Partials older than a day: the unlocked old one goes.
	res, err = s.Clean(&mmapstore.CleanOptions{PartialsOlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{oldPartial}; !slices.Equal(res.Removed, want) || res.InUse != 2 || res.Kept != 1 {
		t.Fatalf("Clean(24h) = %+v; STORE.md says %v removed, 2 in use, 1 young partial kept", res, want)
	}
	// However young the age asked, nothing else goes.
	res, err = s.Clean(&mmapstore.CleanOptions{PartialsOlderThan: time.Nanosecond})
	if err != nil || len(res.Removed) != 1 || res.Removed[0] != youngPartial {
		t.Fatalf("Clean(1ns) = %+v, %v; want only %s removed", res, err, youngPartial)
	}
	for _, rel := range keep[:len(keep)-1] {
		if gone(t, filepath.Join(dir, filepath.FromSlash(rel))) {
			t.Errorf("Clean removed %s; STORE.md says it stays", rel)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "not the store's" {
		t.Errorf("the symlinks' target outside the store: %q, %v", b, err)
	}
}

// TestStorePython runs section 4's Python functions with the Go code: the
// partial name it computes is the one Go's Receive uses, and the file it
// creates and locks survives Store.Clean while the Python process lives and
// is removed, with its directories, once the process has died.
func TestStorePython(t *testing.T) {
	ex, _ := exampleFile(t)
	s := teststore.Temp(t)
	p, err := s.Receive("example", ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var goPartial string
	for _, e := range entries(t, s.Dir()) {
		if strings.HasPrefix(e, ".example.arx.part-") {
			goPartial = e
		}
	}

	driver := `
import os, sys
header = bytes.fromhex(sys.argv[2])
print(partial_name("example", header + b"trailing bytes"))
store_fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
dir_fd, base = open_array_dir(store_fd, "py/deep/x")
name, fd = create_locked(dir_fd, base)
print("py/deep/" + name, flush=True)
sys.stdin.read()  # until the test closes stdin
os._exit(0)       # dies holding the lock, leaving the file: an orphan
`
	script := filepath.Join(t.TempDir(), "store.py")
	if err := os.WriteFile(script, []byte(storeBlock(t, "python-store")+driver), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Python, script, s.Dir(), hex.EncodeToString(ex))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 2 && out.Scan() {
		lines = append(lines, out.Text())
	}
	if len(lines) < 2 {
		t.Fatalf("the Python functions said %q: %v", lines, out.Err())
	}
	if lines[0] != goPartial {
		t.Errorf("Python's partial_name: %s; Go's Receive: %s", lines[0], goPartial)
	}
	rel := lines[1]
	tmp := filepath.Join(s.Dir(), filepath.FromSlash(rel))
	if kindOf(t, filePatterns(t, "x"), filepath.Base(rel)) != "writer temporary" {
		t.Errorf("Python's temporary file %s does not match STORE.md's pattern", rel)
	}
	fi, err := os.Lstat(tmp)
	if err != nil || fi.Mode().Perm() != docMode(t, "file mode at creation") {
		t.Errorf("Python's temporary file: %v, %v", fi, err)
	}
	for _, d := range []string{"py", "py/deep"} {
		if fi, err := os.Lstat(filepath.Join(s.Dir(), d)); err != nil || fi.Mode().Perm() != docMode(t, "directory mode at creation") {
			t.Errorf("Python's directory %s: %v, %v", d, fi, err)
		}
	}

	res, err := s.Clean(nil)
	if err != nil || len(res.Removed) != 0 || res.InUse != 1 || gone(t, tmp) {
		t.Fatalf("Clean while the Python writer lives: %+v, %v; its file must stay", res, err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	res, err = s.Clean(nil)
	if err != nil || !slices.Equal(res.Removed, []string{rel}) {
		t.Fatalf("Clean after the Python writer died: %+v, %v; want %s removed", res, err, rel)
	}
	if !gone(t, filepath.Join(s.Dir(), "py")) {
		t.Error("Clean left the Python writer's directories")
	}
}

// TestStoreReaders checks section 7's guarantees: Wait returns only the
// sealed array, whatever happens in the directory before; a file written in
// place under a name ends a Wait with an error; a replaced or removed array
// stays valid for the reader holding it.
func TestStoreReaders(t *testing.T) {
	s := teststore.Temp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		a   *mmapstore.Array
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := s.Wait(ctx, "w/deep/x")
		done <- result{a, err}
	}()
	w, err := s.Create("w/deep/x", arrayx.Uint8, arrayx.Shape{1 << 20}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := 0, w.Bytes(); i < len(b); i++ {
		b[i] = byte(i)
	}
	select {
	case r := <-done:
		t.Fatalf("Wait returned before Seal: %v", r.err)
	case <-time.After(200 * time.Millisecond):
	}
	sealed, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	defer sealed.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := r.a.Verify(); err != nil || !bytes.Equal(r.a.RawHeader(), sealed.RawHeader()) {
		t.Fatalf("Wait's array: %v", err)
	}
	r.a.Close()

	// Something other than a sealed array under the name ends a Wait at once.
	if err := os.WriteFile(filepath.Join(s.Dir(), "bad.arx"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(ctx, "bad"); err == nil || errors.Is(err, fs.ErrNotExist) || ctx.Err() != nil {
		t.Errorf("Wait on a non-array: %v; STORE.md says an error at once", err)
	}

	// Replaced, then removed: the reader's old array stays whole.
	old := sealedArray(t, s, "r/x", 1<<20, 1)
	want := bytes.Clone(old.Bytes())
	sealedArray(t, s, "r/x", 1<<20, 2)
	cur, err := s.Open("r/x")
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if cur.Bytes()[0] != 2 {
		t.Fatalf("Open after the replacement: first byte %d, want the new version's", cur.Bytes()[0])
	}
	if err := s.Remove("r/x"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old.Bytes(), want) || old.Verify() != nil {
		t.Error("the reader's array changed when it was replaced and removed")
	}
	if _, err := s.Open("r/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove: %v", err)
	}
	if !gone(t, filepath.Join(s.Dir(), "r")) {
		t.Error("Remove left its empty directory")
	}
}

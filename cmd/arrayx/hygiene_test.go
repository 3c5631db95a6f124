package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
)

// TestMistypedStore: the verbs that only read a store (and clean and rm)
// say that a mistyped --store or ARRAYX_STORE does not exist, and create
// no directory.
func TestMistypedStore(t *testing.T) {
	verbs := [][]string{
		{"ls"}, {"ls", "--all"}, {"info", "x"}, {"cat", "x"}, {"verify", "x"},
		{"export", "x", filepath.Join(t.TempDir(), "x.npy")}, {"push", "x", "127.0.0.1:1"},
		{"serve", "--read-only", "--listen", "127.0.0.1:0"}, {"clean"}, {"clean", "--dry-run"}, {"rm", "x"},
	}
	for _, how := range []string{"--store", mmapstore.EnvStore} {
		for _, args := range verbs {
			parent := t.TempDir()
			dir := filepath.Join(parent, "tpyo", "store")
			var r result
			if how == "--store" {
				r = arrayxRun(t, dir, args...)
			} else {
				t.Setenv(mmapstore.EnvStore, dir)
				r = runRaw(t, args...)
			}
			if want := "store " + dir + " does not exist"; r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("%s, %s: exit %d, stderr %q; want exit 1 saying %q", how, strings.Join(args, " "), r.code, r.stderr, want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "tpyo")); err == nil {
				t.Errorf("%s, %s: made the mistyped store's directory", how, strings.Join(args, " "))
			}
		}
	}
}

// plant writes a file of n bytes at path in the store dir, modified ago.
func plant(t *testing.T, dir, path string, n int, ago time.Duration) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-ago)
	if err := os.Chtimes(p, then, then); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "x", "--shape", "10")
	// Nobody holds their locks: a dead writer's file, an abandoned partial
	// and a recent one.
	tmp := plant(t, dir, "sub/.x.arx.tmp-0123456789abcdef", 3000, 0)
	old := plant(t, dir, ".y.arx.part-0123456789abcdef", 2048, 48*time.Hour)
	young := plant(t, dir, ".z.arx.part-0123456789abcdef", 100, time.Minute)

	out := mustRun(t, dir, "clean", "--dry-run")
	want := "" +
		"would remove  .y.arx.part-0123456789abcdef     2.0 KiB\n" +
		"would remove  sub/.x.arx.tmp-0123456789abcdef  2.9 KiB\n" +
		"would remove 2 files, 4.9 KiB; kept 0 in use and 1 partial\n"
	if out != want {
		t.Fatalf("clean --dry-run printed\n%s\nwant\n%s", out, want)
	}
	for _, p := range []string{tmp, old, young} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the dry run removed %s: %v", p, err)
		}
	}
	if out := mustRun(t, dir, "clean"); out != strings.ReplaceAll(want, "would remove", "removed") {
		t.Fatalf("clean printed\n%s\nwant what the dry run said, done", out)
	}
	for p, gone := range map[string]bool{tmp: true, old: true, young: false, filepath.Join(dir, "x.arx"): false} {
		if _, err := os.Stat(p); (err != nil) != gone {
			t.Fatalf("after clean, %s: %v (want gone: %v)", p, err, gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); err == nil {
		t.Fatal("clean left the orphan's empty directory")
	}
	out = mustRun(t, dir, "clean", "--partials-older-than", "0")
	if out != "removed  .z.arx.part-0123456789abcdef  100 B\nremoved 1 file, 100 B; kept 0 in use and 0 partials\n" {
		t.Fatalf("clean --partials-older-than 0 printed\n%s", out)
	}
	if out := mustRun(t, dir, "clean"); out != "removed 0 files, 0 B; kept 0 in use and 0 partials\n" {
		t.Fatalf("clean of a clean store printed %q", out)
	}
}

// TestLsAll: ls --all shows the files ls hides, live or dead, each
// partial with how much of it verifies, and their total.
func TestLsAll(t *testing.T) {
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, dir, "create", "a", "--dtype", "int8", "--shape", "3")
	mustRun(t, src, "create", "p", "--dtype", "uint8", "--shape", "12582912", "--fill", "random") // not zeros, which a fresh partial holds // 3 blocks of 4 MiB
	raw, err := os.ReadFile(filepath.Join(src, "p.arx"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := arrayx.Unmarshal(raw, arrayx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mmapstore.OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Receive("in/p", raw[:h.DataOffset], nil)
	if err != nil {
		t.Fatal(err)
	}
	data := raw[h.DataOffset:]
	if _, err := p.ReceiveAt(strings.NewReader(string(data[4<<20:8<<20])), 4<<20, 4<<20); err != nil {
		t.Fatal(err)
	}
	p.Close() // abandoned, with one good block
	w, err := st.Create("w", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort() // a live writer: it holds its lock
	plant(t, dir, ".dead.arx.tmp-0123456789abcdef", 512, time.Hour)

	out := mustRun(t, dir, "ls", "--all")
	for _, re := range []string{
		`(?m)^a +int8 +\(3,\) +3 B$`,
		`(?m)^\.dead\.arx\.tmp-0123456789abcdef +512 B +temp +dead +dead writer, 1h0m\d+s old$`,
		`(?m)^in/\.p\.arx\.part-[0-9a-f]{16} +12\.0 MiB +partial +in/p +verified 4\.0 MiB of 12\.0 MiB, \d+s old$`,
		`(?m)^\.w\.arx\.tmp-[0-9a-f]{16} +[\d.]+ K?i?B +temp +w +live writer, \d+s old$`,
		`(?m)^hidden: 3 files, 12\.\d MiB$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ls --all printed\n%s\nwith no line matching %s", out, re)
		}
	}
	if plain := mustRun(t, dir, "ls"); strings.Contains(plain, "arx") || strings.Contains(plain, "hidden") {
		t.Errorf("ls without --all shows hidden files:\n%s", plain)
	}

	var got struct {
		Arrays []map[string]any `json:"arrays"`
		Hidden []hiddenInfo     `json:"hidden"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "ls", "--all", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Arrays) != 1 || got.Arrays[0]["name"] != "a" || len(got.Hidden) != 3 {
		t.Fatalf("ls --all --json: %+v", got)
	}
	for _, hi := range got.Hidden {
		switch hi.Array {
		case "in/p":
			if hi.Kind != "partial" || hi.Live || hi.NBytes == nil || *hi.NBytes != 12<<20 || hi.Verified == nil || *hi.Verified != 4<<20 {
				t.Errorf("partial: %+v", hi)
			}
		case "w":
			if hi.Kind != "temp" || !hi.Live || hi.NBytes != nil {
				t.Errorf("live writer: %+v", hi)
			}
		case "dead":
			if hi.Kind != "temp" || hi.Live || hi.Bytes != 512 {
				t.Errorf("dead writer: %+v", hi)
			}
		default:
			t.Errorf("unexpected hidden file %+v", hi)
		}
	}
	if r := arrayxRun(t, dir, "ls", "--all", "--remote", "127.0.0.1:1"); r.code != 2 {
		t.Errorf("ls --all --remote: exit %d, %q; want a usage error", r.code, r.stderr)
	}
}

// TestServeMaxStoreBytes: serve --max-store-bytes refuses a push that would
// take the store past it, with 507 and nothing left behind; "none" lifts
// the default limit, and a bad size is a usage error.
func TestServeMaxStoreBytes(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	addr, stop := startServe(t, remote, "--max-store-bytes", "100KiB")
	mustRun(t, local, "create", "x", "--dtype", "int32", "--shape", "300,500")
	r := arrayxRun(t, local, "push", "x", addr)
	if r.code != 1 || !strings.Contains(r.stderr, `has no room for "x"`) {
		t.Fatalf("push over the limit: exit %d, stderr %q; want the server's 507 in a sentence", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(remote); len(entries) != 0 {
		t.Fatalf("the refused push left %v", entries)
	}
	mustRun(t, local, "create", "small", "--dtype", "int32", "--shape", "300")
	mustRun(t, local, "push", "small", addr)
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	for _, bad := range []string{"0", "lots", "-5MiB"} {
		r := arrayxRun(t, remote, "serve", "--listen", "127.0.0.1:0", "--max-store-bytes", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "--max-store-bytes") {
			t.Errorf("--max-store-bytes %s: exit %d, %q; want a usage error", bad, r.code, r.stderr)
		}
	}
	c := &serveCmd{maxStore: "none"}
	e := &env{storeDir: testutil.ShmDir(t)}
	st, err := c.openStore(e)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.MaxBytes() != 0 {
		t.Fatalf("--max-store-bytes none: the store's limit is %d", st.MaxBytes())
	}
}

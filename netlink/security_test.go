package netlink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// remoteStatus returns the status of the RemoteError in err's chain, or 0.
func remoteStatus(err error) int {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

// TestAuth: a server with a token accepts only clients that answer its
// challenge with the right token.
func TestAuth(t *testing.T) {
	ctx := context.Background()
	token := []byte("correct horse battery staple")
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			local, remote := teststore.Temp(t), teststore.Temp(t)
			_, addr := startServer(t, remote, network, Config{Token: token})
			a := teststore.NewArray(t, local, "x", arrayx.Float32, arrayx.Shape{1000}, arrayx.OrderC, nil)
			cases := []struct {
				name   string
				token  []byte
				status int // the RemoteError status expected, 0 for a local refusal
				ok     bool
			}{
				{"no_token", nil, 0, false},
				{"wrong_token", []byte("correct horse battery stapl"), StatusUnauthorized, false},
				{"right_token", token, 0, true},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, err := Dial(ctx, addr, &DialOptions{Token: tc.token})
					if tc.ok {
						if err != nil {
							t.Fatal(err)
						}
						defer c.Close()
						if _, err := c.Push(ctx, a, "x"); err != nil {
							t.Fatal(err)
						}
						if _, err := c.Pull(ctx, "x", local, "back"); err != nil {
							t.Fatal(err)
						}
						sameArray(t, a, remote, "x")
						sameArray(t, a, local, "back")
						return
					}
					if err == nil {
						c.Close()
						t.Fatal("Dial succeeded")
					}
					if !errors.Is(err, ErrUnauthorized) || remoteStatus(err) != tc.status {
						t.Fatalf("Dial = %v (status %d), want ErrUnauthorized with status %d", err, remoteStatus(err), tc.status)
					}
				})
			}
		})
	}

	t.Run("token_without_server_token", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{})
		c := dial(t, addr, &DialOptions{Token: token})
		if _, err := c.List(ctx, ""); err != nil {
			t.Fatal(err)
		}
	})

	// Answers that are not HMACs of the nonce at all: empty, short, long,
	// the token itself, a MAC for another context, twice the right answer.
	t.Run("malformed_answers", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{Token: token})
		for name, mac := range map[string]func(nonce []byte) []byte{
			"empty":        func([]byte) []byte { return nil },
			"31_bytes":     func(n []byte) []byte { return authMAC(token, n)[:31] },
			"33_bytes":     func(n []byte) []byte { return append(authMAC(token, n), 0) },
			"4KiB":         func([]byte) []byte { return bytes.Repeat([]byte{1}, 4000) },
			"the_token":    func([]byte) []byte { return token },
			"plain_hmac":   func(n []byte) []byte { return authMAC(token, nil)[:32] },
			"twice":        func(n []byte) []byte { return append(authMAC(token, n), authMAC(token, n)...) },
			"other_nonce":  func(n []byte) []byte { return authMAC(token, append(bytes.Clone(n[1:]), n[0])) },
			"zeros":        func([]byte) []byte { return make([]byte, 32) },
			"nonce_itself": func(n []byte) []byte { return n },
		} {
			r := rawHandshake(t, addr, nil)
			b, err := msgpack.Marshal(&body{MAC: mac(r.hello.Nonce)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.conn.Write(frameOf(kindAuth, b)); err != nil {
				t.Fatal(err)
			}
			rep, err := r.readReply()
			if err == nil && rep.Status == StatusOK {
				t.Fatalf("AUTH with %s: accepted", name)
			}
			if err == nil && rep.Status != StatusUnauthorized {
				t.Fatalf("AUTH with %s: reply %+v, want status %d", name, rep, StatusUnauthorized)
			}
			r.expectEOF()
		}
	})

	t.Run("request_instead_of_auth", func(t *testing.T) {
		remote := teststore.Temp(t)
		teststore.NewArray(t, remote, "secret", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
		_, addr := startServer(t, remote, "tcp", Config{Token: token})
		for _, kind := range []byte{kindList, kindStat, kindGet, kindDelete} {
			r := rawHandshake(t, addr, nil)
			if len(r.hello.Nonce) != NonceSize {
				t.Fatalf("server HELLO nonce %x, want %d bytes", r.hello.Nonce, NonceSize)
			}
			if err := writeMsg(r.conn, Version1, kind, &body{Name: "secret"}); err != nil {
				t.Fatal(err)
			}
			r.expectEOF()
		}
		if names, _ := remote.List(); !slices.Equal(names, []string{"secret"}) {
			t.Fatalf("store after unauthenticated requests: %v", names)
		}
	})
}

// TestAuthReplay captures a valid AUTH from a real client's connection and
// replays it on another connection: the server's fresh nonce makes it useless.
// The token itself never crosses the wire.
func TestAuthReplay(t *testing.T) {
	ctx := context.Background()
	token := []byte("s3cret-token-0123456789")
	remote := teststore.Temp(t)
	teststore.NewArray(t, remote, "secret", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	_, addr := startServer(t, remote, "tcp", Config{Token: token})

	p := newProxy(t, addr)
	p.c2s.record, p.s2c.record = true, true
	c := dial(t, p.addr, &DialOptions{Token: token})
	if _, err := c.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	c.Close()
	p.close()
	up, down := p.c2s.recorded(), p.s2c.recorded()
	if bytes.Contains(up, token) || bytes.Contains(down, token) {
		t.Fatal("the token crossed the wire")
	}
	// Client to server: magic, HELLO, AUTH. Server to client: magic, HELLO.
	cr, sr := bytes.NewReader(up[len(Magic):]), bytes.NewReader(down[len(Magic):])
	if _, err := expect(cr, 4<<10, kindHello); err != nil {
		t.Fatal(err)
	}
	auth, err := expect(cr, 4<<10, kindAuth)
	if err != nil {
		t.Fatal(err)
	}
	hello, err := expect(sr, 4<<10, kindHello)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(auth.MAC, authMAC(token, hello.Nonce)) {
		t.Fatal("captured MAC is not the answer to the captured nonce")
	}

	for _, kind := range []byte{kindList, kindGet} {
		r := rawHandshake(t, addr, nil)
		if len(r.hello.Nonce) != NonceSize || bytes.Equal(r.hello.Nonce, hello.Nonce) {
			t.Fatalf("second connection's nonce %x (first %x): want a fresh %d-byte nonce", r.hello.Nonce, hello.Nonce, NonceSize)
		}
		rep := r.request(kindAuth, &body{MAC: auth.MAC})
		if rep.Status != StatusUnauthorized {
			t.Fatalf("replayed AUTH: reply %+v, want status %d", rep, StatusUnauthorized)
		}
		// The server hangs up: a request after the refusal gets nothing.
		writeMsg(r.conn, Version1, kind, &body{Name: "secret"})
		r.expectEOF()
	}

	// Sanity: the right answer to the new nonce works on a hand-written connection.
	r := rawHandshake(t, addr, nil)
	if rep := r.request(kindAuth, &body{MAC: authMAC(token, r.hello.Nonce)}); rep.Status != StatusOK {
		t.Fatalf("fresh AUTH: %+v", rep)
	}
	if rep := r.request(kindList, &body{}); rep.Status != StatusOK || len(rep.Arrays) != 1 || rep.Arrays[0].Name != "secret" {
		t.Fatalf("LIST after AUTH: %+v", rep)
	}
}

// ---------------------------------------------------------------------------
// Read-only
// ---------------------------------------------------------------------------

// TestReadOnly: a read-only server refuses PUT and DELETE with ErrReadOnly,
// before any data, and serves GET, STAT and LIST.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	counter := countSendfile(t)
	local, remote := teststore.Temp(t), teststore.Temp(t)
	a := teststore.NewArray(t, remote, "ro", arrayx.Int64, arrayx.Shape{3, 1 << 19}, arrayx.OrderF, richAttrs("ro")) // 12 MiB
	b := teststore.NewArray(t, local, "new", arrayx.Int64, arrayx.Shape{1 << 19}, arrayx.OrderC, nil)
	_, addr := startServer(t, remote, "tcp", Config{ReadOnly: true})
	c := dial(t, addr, nil)

	counter.reset()
	st, err := c.Push(ctx, b, "new")
	if !errors.Is(err, ErrReadOnly) || remoteStatus(err) != StatusReadOnly {
		t.Fatalf("push to a read-only server: %v, want ErrReadOnly (status %d)", err, StatusReadOnly)
	}
	if calls, _, _ := counter.snapshot(); calls != 0 || st.Bytes != 0 {
		t.Fatalf("refused push still sent data: %d sendfile calls, stats %+v", calls, st)
	}
	for _, name := range []string{"ro", "missing"} {
		if err := c.Delete(ctx, name); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("delete %s on a read-only server: %v, want ErrReadOnly", name, err)
		}
	}
	// Refusals leave the connection usable and the store untouched.
	h, err := c.Stat(ctx, "ro")
	if err != nil || h.NBytes != a.Header().NBytes {
		t.Fatalf("stat: %v %v", h, err)
	}
	list, err := c.List(ctx, "")
	if err != nil || len(list) != 1 || list[0].Name != "ro" {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := c.Pull(ctx, "ro", local, ""); err != nil {
		t.Fatal(err)
	}
	sameArray(t, a, local, "ro")
	ents, err := os.ReadDir(remote.Dir())
	if err != nil || len(ents) != 1 || ents[0].Name() != "ro.arx" {
		t.Fatalf("read-only store holds %v (%v), want only ro.arx", ents, err)
	}
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

// tree snapshots every path under dir (symlinks not followed): its type,
// mode, size, modification time and, for files, the SHA-256 of its
// contents, so that any write, replacement or removal shows.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// watchTree watches every directory under dir with inotify, for any access:
// an open, a read, a write, a change of attributes, a creation, removal or
// rename. stop returns the events seen, except those on the entries named
// in ignore (directly under dir). It proves that no file outside a store is
// read, which a snapshot of contents and times cannot.
func watchTree(t testing.TB, dir string, ignore ...string) (stop func() []string) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	var paths []string // all found first: the walk's own reads are not events
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); slices.Contains(ignore, rel) {
			return fs.SkipDir
		}
		paths = append(paths, p)
		return nil
	})
	dirs := map[int32]string{}
	for _, p := range paths {
		wd, werr := unix.InotifyAddWatch(fd, p, unix.IN_ALL_EVENTS|unix.IN_DONT_FOLLOW|unix.IN_EXCL_UNLINK)
		if werr != nil {
			err = errors.Join(err, fmt.Errorf("inotify_add_watch %s: %w", p, werr))
		}
		dirs[int32(wd)] = p
	}
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return func() []string {
		defer unix.Close(fd)
		var events []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				break
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				off += unix.SizeofInotifyEvent + int(ev.Len)
				p := dirs[ev.Wd]
				if p == dir && slices.Contains(ignore, name) {
					continue
				}
				events = append(events, fmt.Sprintf("%s %#x", filepath.Join(p, name), ev.Mask))
			}
		}
		return events
	}
}

// createAt writes a sealed array at a plain path.
func createAt(t testing.TB, path string) {
	t.Helper()
	w, err := mmapstore.Create(path, arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, &mmapstore.CreateOptions{Sync: mmapstore.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	teststore.Fill(w.Bytes(), 1, false)
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestNamesCannotEscapeStore sends names that try to leave the store, or to
// reach hidden and temporary files, in every request that takes a name, by
// hand and through the Client. The server answers 400 to each and the file
// tree around the store does not change.
func TestNamesCannotEscapeStore(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	remote := teststore.At(t, filepath.Join(base, "store"))
	createAt(t, filepath.Join(base, "victim.arx"))
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "ok", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	_, addr := startServer(t, remote, "tcp", Config{})
	before := tree(t, base)
	stopWatch := watchTree(t, base, "store")

	names := []struct{ label, name string }{
		{"dotdot", "../x"},
		{"abs_etc_passwd", "/etc/passwd"},
		{"dotdot_inside", "a/../../b"},
		{"nul_byte", "x\x00y"},
		{"hidden", ".hidden"},
		{"double_slash", "a//b"},
		{"empty", ""},
		{"dot", "."},
		{"dotdot_alone", ".."},
		{"dot_segment", "a/./b"},
		{"trailing_slash", "a/"},
		{"root", "/"},
		{"sibling_victim", "../victim"},
		{"abs_victim", filepath.Join(base, "victim")},
		{"backslash", `a\b`},
		{"backslash_dotdot", `..\victim`},
		{"too_long", strings.Repeat("a", mmapstore.MaxNameLen+1)},
		{"segment_too_long", "d/" + strings.Repeat("s", mmapstore.MaxSegmentLen+1)},
		{"dir_ending_in_ext", "a.arx/b"},
		{"hidden_segment", "sub/.x"},
		{"newline", "ok\n"},
		{"temp_name", ".ok.arx.tmp-0123456789abcdef"},
		{"partial_name", ".ok.arx.part-0123456789abcdef"},
		{"utf8", "ünï"},
		// Unicode and encoding tricks: characters that look like "/" or
		// "." (fullwidth solidus and full stop, division slash, one dot
		// leader, a dot with a combining dot above), overlong UTF-8
		// encodings of "." and "/", an RTL override hiding the extension,
		// percent-encoding, and a 4 KiB name.
		{"fullwidth_solidus", "..\uff0f..\uff0fetc\uff0fpasswd"},
		{"fullwidth_dots", "\uff0e\uff0e/x"},
		{"division_slash", "..\u2215victim"},
		{"one_dot_leader", "\u2024\u2024/victim"},
		{"combining_dot", "a/.\u0307./victim"},
		{"overlong_dot_slash", "\xc0\xae\xc0\xae\xc0\xafvictim"},
		{"overlong_slash", "a\xc0\xafb"},
		{"rtl_override", "x\u202excod.arx"},
		{"percent_encoded", "%2e%2e%2fvictim"},
		{"nul_after_dotdot", "..\x00/victim"},
		{"tab", "a\tb"},
		{"name_4KiB", strings.Repeat("a/", 2048)},
	}
	r := rawHandshake(t, addr, nil)
	c := dial(t, addr, nil)
	c1 := dial(t, addr, &DialOptions{MaxVersion: 1})
	for _, tc := range names {
		t.Run(tc.label, func(t *testing.T) {
			reqs := []struct {
				kind byte
				b    *body
			}{
				{kindPut, &body{Name: tc.name, Header: a.RawHeader()}},
				{kindGet, &body{Name: tc.name}},
				{kindStat, &body{Name: tc.name}},
				{kindDelete, &body{Name: tc.name}},
			}
			for _, q := range reqs {
				rep := r.request(q.kind, q.b)
				if rep.Status != StatusBadRequest {
					t.Fatalf("%s %q: reply %+v, want status %d", kindNames[q.kind], tc.name, rep, StatusBadRequest)
				}
			}
			// The same through the Client, which leaves remote names to the
			// server: the server's error keeps its sentinel in version 2; a
			// version-1 reply has only its status.
			_, err := c.Push(ctx, a, tc.name)
			if remoteStatus(err) != StatusBadRequest || !errors.Is(err, mmapstore.ErrInvalidName) {
				t.Fatalf("Push %q: %v, want a 400 wrapping mmapstore.ErrInvalidName", tc.name, err)
			}
			if _, err := c1.Push(ctx, a, tc.name); remoteStatus(err) != StatusBadRequest {
				t.Fatalf("version-1 Push %q: %v, want a 400", tc.name, err)
			}
			if _, err := c.Stat(ctx, tc.name); remoteStatus(err) != StatusBadRequest {
				t.Fatalf("Stat %q: %v, want a 400", tc.name, err)
			}
			if _, err := c.Pull(ctx, tc.name, local, "pulled"); remoteStatus(err) != StatusBadRequest {
				t.Fatalf("Pull %q: %v, want a 400", tc.name, err)
			}
			if err := c.Delete(ctx, tc.name); remoteStatus(err) != StatusBadRequest {
				t.Fatalf("Delete %q: %v, want a 400", tc.name, err)
			}
		})
	}
	if ev := stopWatch(); len(ev) > 0 {
		t.Fatalf("files outside the store were accessed: %v", ev)
	}
	if after := tree(t, base); !mapsEqual(before, after) {
		t.Fatalf("the file tree changed:\nbefore %v\nafter  %v", before, after)
	}
	// Both connections are still usable.
	if rep := r.request(kindList, &body{}); rep.Status != StatusOK || len(rep.Arrays) != 0 {
		t.Fatalf("LIST: %+v", rep)
	}
	if _, err := c.Push(ctx, a, "ok"); err != nil {
		t.Fatal(err)
	}
	sameArray(t, a, remote, "ok")
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestSymlinksInStore: symlinks planted in the store directory do not lead
// the server outside it, for reading, writing or deleting: not under array
// names, directory names, a partial file's name (the next PUT of that very
// array), a writer's temporary name (the cleaning at the server's start),
// nor under the name a PUT publishes (the symlink is replaced, its target
// untouched). inotify sees no access at all to the files outside.
func TestSymlinksInStore(t *testing.T) {
	base := t.TempDir()
	storeDir, outside := filepath.Join(base, "store"), filepath.Join(base, "outside")
	for _, d := range []string{storeDir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	createAt(t, filepath.Join(outside, "secret.arx"))
	if err := os.Symlink(outside, filepath.Join(storeDir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.arx"), filepath.Join(storeDir, "evil.arx")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(storeDir, "rel")); err != nil {
		t.Fatal(err)
	}
	remote := teststore.At(t, storeDir)
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "a", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a.RawHeader())
	for link, target := range map[string]string{
		".planted.arx.part-" + hex.EncodeToString(sum[:8]): filepath.Join(outside, "secret.arx"),
		".x.arx.tmp-0123456789abcdef":                      filepath.Join(outside, "precious"),
		".y.arx.part-0123456789abcdef":                     filepath.Join(outside, "precious"),
		"final.arx":                                        filepath.Join(outside, "precious"),
	} {
		if err := os.Symlink(target, filepath.Join(storeDir, link)); err != nil {
			t.Fatal(err)
		}
	}
	before := tree(t, outside)
	stopWatch := watchTree(t, outside)
	_, addr := startServer(t, remote, "tcp", Config{PartialMaxAge: time.Nanosecond}) // cleans at start

	r := rawHandshake(t, addr, nil)
	for _, name := range []string{"link/secret", "rel/secret", "evil"} {
		for _, kind := range []byte{kindGet, kindStat} {
			if rep := r.request(kind, &body{Name: name}); rep.Status == StatusOK {
				t.Fatalf("%s %s through a symlink out of the store succeeded: %+v", kindNames[kind], name, rep)
			}
		}
	}
	for _, name := range []string{"link/new", "rel/new", "link/secret"} {
		if rep := r.request(kindPut, &body{Name: name, Header: a.RawHeader()}); rep.Status == StatusOK {
			t.Fatalf("PUT %s through a symlink out of the store accepted: %+v", name, rep)
		}
	}
	for _, name := range []string{"link/secret", "rel/secret"} {
		if rep := r.request(kindDelete, &body{Name: name}); rep.Status == StatusOK {
			t.Fatalf("DELETE %s through a symlink out of the store succeeded", name)
		}
	}
	rep := r.request(kindList, &body{})
	if rep.Status != StatusOK || len(rep.Arrays) != 0 {
		t.Fatalf("LIST shows arrays outside the store: %+v", rep)
	}
	// The partial of this very array is a symlink out: refused, not followed.
	if rep := r.request(kindPut, &body{Name: "planted", Header: a.RawHeader()}); rep.Status == StatusOK {
		t.Fatalf("PUT planted, whose partial file name is a symlink out of the store, accepted: %+v", rep)
	} else {
		t.Logf("PUT planted: %d %s", rep.Status, rep.Message)
	}
	// A PUT under a name that is a symlink out replaces the symlink.
	c := dial(t, addr, nil)
	if _, err := c.Push(context.Background(), a, "final"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(storeDir, "final.arx")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("final.arx after the PUT: %v, %v; want a regular file in place of the symlink", fi, err)
	}
	sameArray(t, a, remote, "final")
	if err := c.Delete(context.Background(), "final"); err != nil {
		t.Fatal(err)
	}
	// The cleaning at the server's start left the symlinks named like
	// temporary files alone.
	for _, link := range []string{".x.arx.tmp-0123456789abcdef", ".y.arx.part-0123456789abcdef"} {
		if fi, err := os.Lstat(filepath.Join(storeDir, link)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("%s after the server's start: %v, %v", link, fi, err)
		}
	}
	if ev := stopWatch(); len(ev) > 0 {
		t.Fatalf("files outside the store were accessed: %v", ev)
	}
	if after := tree(t, outside); !mapsEqual(before, after) {
		t.Fatalf("the directory outside the store changed:\nbefore %v\nafter  %v", before, after)
	}
}

// ---------------------------------------------------------------------------
// Limits and malformed input
// ---------------------------------------------------------------------------

// TestServerLimits: the array size limit, the connection limit, oversized
// and malformed frames. After each refusal the server serves a
// well-behaved client.
func TestServerLimits(t *testing.T) {
	ctx := context.Background()

	t.Run("max_array_bytes", func(t *testing.T) {
		counter := countSendfile(t)
		local, remote := teststore.Temp(t), teststore.Temp(t)
		_, addr := startServer(t, remote, "tcp", Config{MaxArrayBytes: mib})
		big := teststore.NewArray(t, local, "big", arrayx.Uint8, arrayx.Shape{mib + 1}, arrayx.OrderC, nil)
		fits := teststore.NewArray(t, local, "fits", arrayx.Uint8, arrayx.Shape{mib}, arrayx.OrderC, nil)
		c := dial(t, addr, nil)
		counter.reset()
		st, err := c.Push(ctx, big, "big")
		if !errors.Is(err, arrayx.ErrTooLarge) || remoteStatus(err) != StatusTooLarge {
			t.Fatalf("push of %d bytes over a %d limit: %v, want arrayx.ErrTooLarge (status %d)", mib+1, mib, err, StatusTooLarge)
		}
		if calls, _, _ := counter.snapshot(); calls != 0 || st.Bytes != 0 {
			t.Fatalf("refused push sent data: %d sendfile calls, stats %+v", calls, st)
		}
		if ents, _ := os.ReadDir(remote.Dir()); len(ents) != 0 {
			t.Fatalf("refused push left %v in the store", ents)
		}
		if _, err := c.Push(ctx, fits, "fits"); err != nil {
			t.Fatalf("push at the limit on the same connection: %v", err)
		}
		sameArray(t, fits, remote, "fits")
	})

	t.Run("max_conns", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{MaxConns: 1})
		c1, err := Dial(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		// The refusal races with the client's greeting: dial 20 times.
		var unavailable int
		var others []string
		for range 20 {
			c2, err := Dial(ctx, addr, nil)
			if err == nil {
				c2.Close()
				t.Fatal("a second connection was accepted with MaxConns 1")
			}
			if errors.Is(err, ErrUnavailable) && remoteStatus(err) == StatusUnavailable {
				unavailable++
			} else {
				others = append(others, err.Error())
			}
		}
		if len(others) > 0 {
			t.Errorf("%d of 20 refused Dials failed without ErrUnavailable (status %d), e.g. %q: server.go refuse "+
				"writes the magic and the 503 REPLY and closes at once, with the client's magic or HELLO unread, "+
				"so the kernel resets the connection and the client's HELLO write fails before it reads the reply",
				len(others), StatusUnavailable, others[0])
		}
		if _, err := c1.List(ctx, ""); err != nil {
			t.Fatalf("the first connection after refusals: %v", err)
		}
		c1.Close()
		var c3 *Client
		testutil.WaitFor(t, "a connection slot after the first client left", func() bool {
			c3, err = Dial(ctx, addr, nil)
			return err == nil
		})
		defer c3.Close()
		if _, err := c3.List(ctx, ""); err != nil {
			t.Fatal(err)
		}
	})

	// A frame declaring a huge body is refused from its 8-byte prefix: no
	// allocation, no wait for the body.
	t.Run("huge_frame", func(t *testing.T) {
		local, remote := teststore.Temp(t), teststore.Temp(t)
		_, addr := startServer(t, remote, "tcp", Config{})
		var serverErrors []string // replies with a 5xx status
		for _, n := range []uint32{1 << 31, math32, uint32(bodyLimit(kindPut, arrayx.DefaultMaxHeaderBytes)) + 1} {
			for _, kind := range []byte{kindPut, kindList} {
				t.Run(fmt.Sprintf("%s_%d", kindNames[kind], n), func(t *testing.T) {
					r := rawHandshake(t, addr, nil)
					var pre [frameSize]byte
					pre[0], pre[1] = Version1, kind
					binary.LittleEndian.PutUint32(pre[4:], n)
					var m0, m1 runtime.MemStats
					runtime.ReadMemStats(&m0)
					start := time.Now()
					if _, err := r.conn.Write(pre[:]); err != nil {
						t.Fatal(err)
					}
					rep, err := r.readReply()
					elapsed := time.Since(start)
					runtime.ReadMemStats(&m1)
					if err != nil {
						t.Fatalf("no reply to a %d-byte frame: %v", n, err)
					}
					if elapsed > 2*time.Second {
						t.Fatalf("reply after %v", elapsed)
					}
					if grown := m1.TotalAlloc - m0.TotalAlloc; grown > 64<<20 {
						t.Fatalf("the process allocated %d bytes while refusing the frame", grown)
					}
					if !strings.Contains(rep.Message, "too large") {
						t.Fatalf("reply %+v does not say the message is too large", rep)
					}
					if rep.Status != StatusBadRequest {
						serverErrors = append(serverErrors, fmt.Sprintf("%d %q", rep.Status, rep.Message))
					}
					r.expectEOF()
				})
			}
		}
		if len(serverErrors) > 0 {
			t.Errorf("%d oversized frames got a reply other than 400, e.g. %s; PROTOCOL.md: \"a request the "+
				"server cannot parse gets a REPLY with status 400\": errors.go statusOf has no case for "+
				"ErrMessageTooLarge, so it falls through to StatusInternal", len(serverErrors), serverErrors[0])
		}
		a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, nil)
		c := dial(t, addr, nil)
		if _, err := c.Push(ctx, a, "x"); err != nil {
			t.Fatalf("a well-behaved client after the huge frames: %v", err)
		}
	})

	t.Run("huge_hello", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{})
		conn := rawDial(t, addr)
		var pre [frameSize]byte
		pre[0], pre[1] = Version1, kindHello
		binary.LittleEndian.PutUint32(pre[4:], 1<<31)
		conn.Write(append(Magic[:], pre[:]...))
		r := &rawClient{t: t, conn: conn}
		r.expectEOF() // refused in the handshake, before the server says anything
		c := dial(t, addr, nil)
		if _, err := c.List(ctx, ""); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("handshake", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{})
		t.Run("not_arrayx", func(t *testing.T) {
			conn := rawDial(t, addr)
			conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			(&rawClient{t: t, conn: conn}).expectEOF()
		})
		t.Run("version_3", func(t *testing.T) {
			r := rawHandshake(t, addr, &body{Version: 3, Versions: []int{3, 4}, Software: "future"})
			if r.hello.Version != Version1 || !slices.Equal(r.hello.Versions, versions) {
				t.Fatalf("server HELLO %+v", r.hello)
			}
			if rep := r.reply(); rep.Status != StatusBadRequest || rep.Code != "protocol" || !strings.Contains(rep.Message, "[3 4]") {
				t.Fatalf("reply to a HELLO of versions 3 and 4: %+v", rep)
			}
			r.expectEOF()
		})
		t.Run("request_before_hello", func(t *testing.T) {
			conn := rawDial(t, addr)
			conn.Write(Magic[:])
			writeMsg(conn, Version1, kindList, &body{})
			(&rawClient{t: t, conn: conn}).expectEOF()
		})
		c := dial(t, addr, nil)
		if _, err := c.List(ctx, ""); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		_, addr := startServer(t, teststore.Temp(t), "tcp", Config{})
		frame := func(version, kind byte, flags uint16, payload []byte) []byte {
			b := make([]byte, frameSize, frameSize+len(payload))
			b[0], b[1] = version, kind
			binary.LittleEndian.PutUint16(b[2:], flags)
			binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
			return append(b, payload...)
		}
		nameKey := []byte{0x81, 0xa4, 'n', 'a', 'm', 'e'} // {"name": ...
		deep := append(bytes.Clone(nameKey), bytes.Repeat([]byte{0x91}, 12)...)
		deep = append(deep, 0xc0)
		cases := []struct {
			name  string
			bytes []byte
			half  bool // close our side after sending
		}{
			{"frame_version_2", frame(2, kindList, 0, []byte{0x80}), false},
			{"unknown_kind", frame(Version1, 99, 0, []byte{0x80}), false},
			{"flags_set", frame(Version1, kindList, 1, []byte{0x80}), false},
			{"trailing_byte", frame(Version1, kindStat, 0, []byte{0x80, 0xc0}), false},
			{"not_msgpack", frame(Version1, kindStat, 0, []byte{0xc1}), false},
			{"truncated_msgpack", frame(Version1, kindStat, 0, []byte{0x81, 0xa4, 'n'}), false},
			{"array_of_2e32_elements", frame(Version1, kindStat, 0, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}), false},
			{"deep_nesting", frame(Version1, kindStat, 0, deep), false},
			{"name_not_a_string", frame(Version1, kindStat, 0, append(bytes.Clone(nameKey), 0x05)), false},
			{"reply_from_client", frame(Version1, kindReply, 0, []byte{0x80}), false},
			{"hello_again", frame(Version1, kindHello, 0, []byte{0x80}), false},
			{"from_outside_get", frame(Version1, kindFrom, 0, []byte{0x80}), false},
			{"body_cut_short", frame(Version1, kindStat, 0, []byte{0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x'})[:frameSize+3], true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := rawHandshake(t, addr, nil)
				if _, err := r.conn.Write(tc.bytes); err != nil {
					t.Fatal(err)
				}
				if tc.half {
					r.conn.(interface{ CloseWrite() error }).CloseWrite()
				}
				rep, err := r.readReply()
				if err != nil {
					t.Fatalf("no reply: %v", err)
				}
				if rep.Status != StatusBadRequest {
					t.Fatalf("reply %+v, want status %d", rep, StatusBadRequest)
				}
			})
		}
		c := dial(t, addr, nil)
		if _, err := c.List(ctx, ""); err != nil {
			t.Fatalf("a well-behaved client after malformed frames: %v", err)
		}
	})
}

const math32 = 1<<32 - 1

// TestMaxHeaderBytes: a header limit configured on the server (Config) or
// the client (DialOptions) refuses larger array headers, in every request,
// before anything is allocated for the array.
func TestMaxHeaderBytes(t *testing.T) {
	ctx := context.Background()
	const limit = 4096
	attrs := map[string]any{"blob": strings.Repeat("x", 16<<10)}

	t.Run("server", func(t *testing.T) {
		local, remote := teststore.Temp(t), teststore.Temp(t)
		_, addr := startServer(t, remote, "tcp", Config{MaxHeaderBytes: limit})
		big := teststore.NewArray(t, local, "big", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, attrs)
		small := teststore.NewArray(t, local, "small", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, nil)
		c := dial(t, addr, nil)
		if _, err := c.Push(ctx, small, "small"); err != nil {
			t.Fatal(err)
		}
		h := len(big.RawHeader()) - arrayx.PrefixSize
		_, err := c.Push(ctx, big, "big")
		if err == nil {
			t.Errorf("the server (Config.MaxHeaderBytes %d) accepted a PUT whose header is %d bytes: handlePut "+
				"passes the header to store.Receive, which checks it against the store's limits, not the "+
				"server's; only the message size (limit + 64 KiB) is bounded by Config.MaxHeaderBytes", limit, h)
		} else if s := remoteStatus(err); s != StatusBadRequest && s != StatusTooLarge {
			t.Errorf("push with a %d-byte header: %v, want status 400 or 413", h, err)
		}
	})

	t.Run("client", func(t *testing.T) {
		local, remote := teststore.Temp(t), teststore.Temp(t)
		teststore.NewArray(t, remote, "big", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, attrs)
		_, addr := startServer(t, remote, "tcp", Config{})
		c := dial(t, addr, &DialOptions{MaxHeaderBytes: limit})
		if _, err := c.Stat(ctx, "big"); !errors.Is(err, arrayx.ErrHeaderTooLarge) {
			t.Fatalf("Stat of an array with a 16 KiB header and MaxHeaderBytes %d: %v, want arrayx.ErrHeaderTooLarge", limit, err)
		}
		// The reply was read whole: the connection is still in step.
		if _, err := c.List(ctx, ""); err != nil {
			t.Errorf("after Stat refused a header locally, List = %v; want the connection usable: Stat returns the "+
				"arrayx.Unmarshal error bare, so Client.do marks the connection broken (Pull wraps such errors "+
				"in localError)", err)
		}
		c = dial(t, addr, &DialOptions{MaxHeaderBytes: limit})
		_, err := c.Pull(ctx, "big", local, "")
		if !errors.Is(err, arrayx.ErrHeaderTooLarge) {
			t.Errorf("Pull with DialOptions.MaxHeaderBytes %d of an array with a 16 KiB header: %v, want "+
				"arrayx.ErrHeaderTooLarge as Stat gives: Pull passes the header to the local store.Receive, "+
				"which uses the store's limits, not the client's", limit, err)
		}
	})
}

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/vmihailenco/msgpack/v5"
)

// The compatibility test runs this version of the CLI against the CLI built
// from compatBase, in separate processes, over real sockets and real files:
//
//   - network: each version's server with the other version's client, push
//     and pull of arrays of several dtypes, orders and sizes (one of three
//     4 MiB blocks, a 0-d one, an empty one), ls --remote, and replacing
//     arrays the receiver already holds;
//   - resume: a partial file left by one version's receiver is completed by
//     the other version's, the other version's peer sending;
//   - files: arrays one version created or imported are verified, inspected
//     and printed identically by the other.
//
// "New" is this test binary itself, re-executed as the arrayx command (as
// TestDemo and the HTTP test do): exactly the code under test, with no
// second build. ARRAYX_COMPAT_NEW=/abs/path/to/arrayx makes the test use that
// binary as "new" instead: to check a build of another tree or branch, or to
// work on this test while the tree's netlink is being rewritten and does not
// compile. The test file itself must compile, so run it from a tree that
// does, e.g. a worktree of HEAD:
//
//	git worktree add --detach /tmp/compat-head HEAD
//	cp cmd/arrayx/compat_test.go /tmp/compat-head/cmd/arrayx/
//	cd /tmp/compat-head && go build -o /tmp/arrayx-new ./cmd/arrayx   # or any arrayx binary
//	ARRAYX_COMPAT_NEW=/tmp/arrayx-new go test -run TestCompat ./cmd/arrayx/
//
// "Old" is built from git (git archive of the commit, never the working
// tree) once per commit and cached in os.UserCacheDir()/arrayx-compat/
// <commit>/arrayx. Without git or without the commit (a shallow clone, an
// exported tarball) the test skips, and fails when $CI is set: CI must check
// out the history (for GitHub's actions/checkout, fetch-depth: 0).

// compatBase is the commit before protocol version 2: its CLI speaks only
// version 1 and is the "old" side of every pair. It stays where it is when
// the protocol changes again; a later baseline would be a further case.
const compatBase = "95be341"

// compatNewEnv names an arrayx binary to use as "new" instead of this test
// binary.
const compatNewEnv = "ARRAYX_COMPAT_NEW"

// TestCompat checks that a client and a server of this version work with
// today's version 1 client and server in both directions, push and pull,
// that interrupted transfers resume across versions, and that each version
// reads the files the other wrote.
func TestCompat(t *testing.T) {
	oldCLI := oldCompatCLI(t)
	newCLI := newCompatCLI(t)
	clis := []*compatCLI{oldCLI, newCLI}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("compat-s3cret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, p := range [][2]*compatCLI{{oldCLI, newCLI}, {newCLI, oldCLI}} {
		server, client := p[0], p[1]
		compatRun(t, server.name+"-server/"+client.name+"-client", func(t *testing.T) {
			compatNetwork(t, server, client, clis, token)
		})
	}

	// Resumes: the partial is left by the first version's receiver, the
	// second version's receiver completes it, and the sender on the wire is
	// of the other version than that receiver.
	t.Run("resume", func(t *testing.T) {
		t.Run("push", func(t *testing.T) {
			compatRun(t, "old-partial/new-server/old-client", func(t *testing.T) {
				compatResumePush(t, oldCLI, newCLI, oldCLI, token)
			})
			compatRun(t, "new-partial/old-server/new-client", func(t *testing.T) {
				compatResumePush(t, newCLI, oldCLI, newCLI, token)
			})
		})
		t.Run("pull", func(t *testing.T) {
			compatRun(t, "old-partial/new-client/old-server", func(t *testing.T) {
				compatResumePull(t, oldCLI, newCLI, oldCLI, token)
			})
			compatRun(t, "new-partial/old-client/new-server", func(t *testing.T) {
				compatResumePull(t, newCLI, oldCLI, newCLI, token)
			})
		})
	})

	t.Run("files", func(t *testing.T) {
		compatRun(t, "old-writes/new-reads", func(t *testing.T) { compatFiles(t, oldCLI, newCLI, oldCLI) })
		compatRun(t, "new-writes/old-reads", func(t *testing.T) { compatFiles(t, newCLI, oldCLI, oldCLI) })
	})
}

// compatRun runs f as a nest of subtests, one per "/"-separated element of
// path, so that -run patterns match each level.
func compatRun(t *testing.T, path string, f func(*testing.T)) bool {
	t.Helper()
	first, rest, nested := strings.Cut(path, "/")
	if !nested {
		return t.Run(first, f)
	}
	return t.Run(first, func(t *testing.T) { compatRun(t, rest, f) })
}

// compatArray is an array the test creates with `arrayx create`.
type compatArray struct {
	name, dtype, shape, order, fill string
	seed                            int
	attrs                           []string
}

func (a compatArray) createArgs() []string {
	args := []string{"create", a.name, "--dtype", a.dtype, "--shape", a.shape, "--order", a.order, "--fill", a.fill}
	if a.fill == "random" {
		args = append(args, "--seed", strconv.Itoa(a.seed))
	}
	for _, kv := range a.attrs {
		args = append(args, "--attr", kv)
	}
	return args
}

// compatNetArrays are pushed and pulled in each direction: about 24 MB.
var compatNetArrays = []compatArray{
	// 10,560,000 bytes: blocks of 4 MiB, 4 MiB and a short one.
	{"sim/temperature", "float64", "1200,1100", "C", "random", 1, []string{"units=K", "note=a=b,c"}},
	{"counts", "int32", "700,900", "F", "arange", 0, nil},
	{"img/rgb", "uint8", "1024,1024,3", "C", "random", 2, nil},
	{"waves", "complex64", "512,640", "F", "random", 3, nil},
	{"half", "bfloat16", "1500000", "C", "ones", 0, nil},
	{"mask", "bool", "2000,1000", "F", "random", 4, nil},
	{"scalar", "float64", "", "C", "ones", 0, nil}, // 0-d
	{"empty", "int16", "0,7", "F", "zeros", 0, nil},
}

// compatServed is created by the server's own binary in its store, so that
// pull is tested on a file the server wrote, whatever push did.
var compatServed = compatArray{"own/field", "float32", "2500,1000", "F", "random", 5, []string{"origin=server"}}

// compatMeta is what `info --json` says of an array (both versions print
// these keys).
type compatMeta struct {
	Name       string  `json:"name"`
	DType      string  `json:"dtype"`
	Shape      []int64 `json:"shape"`
	Order      string  `json:"order"`
	NBytes     int64   `json:"nbytes"`
	DataOffset int64   `json:"data_offset"`
	BlockSize  int64   `json:"block_size"`
}

func (m compatMeta) blocks() int64 {
	if m.BlockSize <= 0 {
		return -1
	}
	return (m.NBytes + m.BlockSize - 1) / m.BlockSize
}

// compatNetwork pushes, pulls back, lists and replaces arrays through a
// server of one version with a client of the other.
func compatNetwork(t *testing.T, server, client *compatCLI, clis []*compatCLI, token string) {
	// The server's store is on tmpfs where there is one, where receivers
	// splice; the client's on t.TempDir(), a disk here, where receivers
	// write through a mapping: both receive paths are crossed.
	cdir, sdir := t.TempDir(), testutil.ShmOrTempDir(t)
	// The arrays each store holds, as the subtests add them.
	var clientArrays, serverArrays []string
	src := make(map[string]compatMeta)
	for _, a := range compatNetArrays {
		client.must(t, cdir, a.createArgs()...)
		src[a.name] = compatInfo(t, client, cdir, a.name)
		clientArrays = append(clientArrays, a.name)
	}
	server.must(t, sdir, compatServed.createArgs()...)
	served := compatInfo(t, server, sdir, compatServed.name)
	serverArrays = append(serverArrays, compatServed.name)
	srv := startCompatServer(t, server, sdir, "--token-file", token)

	pushed := t.Run("push", func(t *testing.T) {
		for _, a := range compatNetArrays {
			as := "up/" + a.name
			out := client.must(t, cdir, "push", a.name, srv.addr, "--as", as, "--token-file", token)
			checkCompatSummary(t, out, "pushed", a.name, srv.addr, as, src[a.name].NBytes, 0)
			compatSameFile(t, compatPath(sdir, as), compatPath(cdir, a.name))
			checkCompatVerify(t, server, sdir, as, src[a.name])
			serverArrays = append(serverArrays, as)
		}
		compatOnlyArrays(t, sdir, serverArrays...)
	})

	t.Run("pull", func(t *testing.T) {
		type pull struct {
			remote, local string
			want          string // the file the pulled one must equal
			meta          compatMeta
		}
		pulls := []pull{{compatServed.name, "back/" + compatServed.name, compatPath(sdir, compatServed.name), served}}
		if pushed {
			for _, a := range compatNetArrays {
				pulls = append(pulls, pull{"up/" + a.name, "back/" + a.name, compatPath(cdir, a.name), src[a.name]})
			}
		} else {
			t.Log("push failed: pulling only the array the server created")
		}
		for _, p := range pulls {
			out := client.must(t, cdir, "pull", srv.addr, p.remote, "--as", p.local, "--token-file", token)
			checkCompatSummary(t, out, "pulled", p.remote, srv.addr, p.local, p.meta.NBytes, 0)
			compatSameFile(t, compatPath(cdir, p.local), p.want)
			checkCompatVerify(t, client, cdir, p.local, p.meta)
			clientArrays = append(clientArrays, p.local)
		}
		compatOnlyArrays(t, cdir, clientArrays...)
	})

	t.Run("ls", func(t *testing.T) {
		if !pushed {
			t.Skip("push failed: the server does not hold the arrays to list")
		}
		want := []compatMeta{served}
		for _, a := range compatNetArrays {
			m := src[a.name]
			m.Name = "up/" + a.name
			want = append(want, m)
		}
		slices.SortFunc(want, func(a, b compatMeta) int { return strings.Compare(a.Name, b.Name) })

		out := client.must(t, cdir, "ls", "--remote", srv.addr, "--json", "--token-file", token)
		var got []compatMeta
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("ls --remote --json: %v\n%s", err, out)
		}
		if len(got) != len(want) {
			t.Fatalf("ls --remote --json lists %d arrays, want %d:\n%s", len(got), len(want), out)
		}
		for i, w := range want {
			g := got[i]
			if g.Name != w.Name || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || g.Order != w.Order || g.NBytes != w.NBytes {
				t.Errorf("ls --remote --json entry %d: %+v, want name %s dtype %s shape %v order %s nbytes %d",
					i, g, w.Name, w.DType, w.Shape, w.Order, w.NBytes)
			}
		}

		// Both versions' clients print the same listing of the same server:
		// scripts parse it.
		text, jsonText := make(map[string]string), make(map[string]string)
		for _, c := range clis {
			text[c.name] = c.must(t, cdir, "ls", "--remote", srv.addr, "--token-file", token)
			jsonText[c.name] = c.must(t, cdir, "ls", "--remote", srv.addr, "--json", "--token-file", token)
		}
		if text["old"] != text["new"] {
			t.Errorf("ls --remote prints differently:\nold:\n%snew:\n%s", text["old"], text["new"])
		}
		if lines := strings.Split(strings.TrimSuffix(text["new"], "\n"), "\n"); len(lines) != len(want) {
			t.Errorf("ls --remote prints %d lines, want %d:\n%s", len(lines), len(want), text["new"])
		} else {
			for i, w := range want {
				if f := strings.Fields(lines[i]); len(f) < 2 || f[0] != w.Name || f[1] != w.DType {
					t.Errorf("ls --remote line %d: %q, want %s %s ...", i, lines[i], w.Name, w.DType)
				}
			}
		}
		compatJSONSubset(t, "ls --remote --json", jsonText["old"], jsonText["new"])
	})

	// Replacing an array the receiver already holds with one that differs
	// in its first or in its last block. A new receiver may keep the blocks
	// that did not change; a version 1 sender still sends everything from
	// the offset it is given, and a version 1 receiver takes everything.
	t.Run("replace", func(t *testing.T) {
		if !pushed {
			t.Skip("push failed")
		}
		base := compatNetArrays[0] // three blocks, C order, float64
		m := src[base.name]
		file, err := os.ReadFile(compatPath(cdir, base.name))
		if err != nil {
			t.Fatal(err)
		}
		if m.blocks() != 3 || m.DType != "float64" || m.Order != "C" {
			t.Fatalf("%s: %+v, want three blocks of C-order float64", base.name, m)
		}
		work := t.TempDir()
		for _, edit := range []struct {
			name  string
			block int64
		}{{"head", 0}, {"tail", m.blocks() - 1}} {
			remote, back, local := "re/"+edit.name, "reback/"+edit.name, "edit/"+edit.name
			// Both sides hold the array as it was...
			client.must(t, cdir, "push", base.name, srv.addr, "--as", remote, "--token-file", token)
			client.must(t, cdir, "pull", srv.addr, remote, "--as", back, "--token-file", token)
			// ... and the client makes the new one (imported, so by its own
			// version), which replaces it on the server and comes back.
			data := bytes.Clone(file[int64(len(file))-m.NBytes:])
			data[edit.block*m.BlockSize+12345] ^= 0x55
			npy := filepath.Join(work, edit.name+".npy")
			compatWriteNpy(t, npy, "<f8", m.Shape, data)
			client.must(t, cdir, "import", npy, local)
			out := client.must(t, cdir, append([]string{"push", local, srv.addr, "--as", remote, "--token-file", token}, client.force()...)...)
			checkCompatSummary(t, out, "pushed", local, srv.addr, remote, -1, -1)
			t.Logf("%s", out)
			compatSameFile(t, compatPath(sdir, remote), compatPath(cdir, local))
			checkCompatVerify(t, server, sdir, remote, m)
			out = client.must(t, cdir, append([]string{"pull", srv.addr, remote, "--as", back, "--token-file", token}, client.force()...)...)
			checkCompatSummary(t, out, "pulled", remote, srv.addr, back, -1, -1)
			t.Logf("%s", out)
			compatSameFile(t, compatPath(cdir, back), compatPath(cdir, local))
			checkCompatVerify(t, client, cdir, back, m)
			serverArrays = append(serverArrays, remote)
			clientArrays = append(clientArrays, back, local)
		}
		compatOnlyArrays(t, sdir, serverArrays...)
		compatOnlyArrays(t, cdir, clientArrays...)
	})
}

// compatResumePush: a version 1 client (this test, speaking the protocol
// directly) pushes an array of three blocks to a server of version first
// with its last block damaged; the server refuses it with 422 and keeps the
// first two blocks as a partial. That server stops, one of version second
// serves the same store, and a client of version client pushes the array
// again: it must resume after the two blocks.
func compatResumePush(t *testing.T, first, second, client *compatCLI, token string) {
	cdir, sdir := t.TempDir(), testutil.ShmOrTempDir(t)
	a := compatArray{"big", "float64", "1200,1100", "C", "random", 7, []string{"units=K"}}
	client.must(t, cdir, a.createArgs()...)
	meta := compatInfo(t, client, cdir, a.name)
	file, err := os.ReadFile(compatPath(cdir, a.name))
	if err != nil {
		t.Fatal(err)
	}
	tok := compatToken(t, token)
	const as = "r/big"
	held := 2 * meta.BlockSize // all but the damaged last block
	if meta.blocks() != 3 {
		t.Fatalf("the array has %d blocks of %d bytes, want 3", meta.blocks(), meta.BlockSize)
	}

	srvA := startCompatServer(t, first, sdir, "--token-file", token)
	v1DamagedPush(t, srvA.addr, tok, as, file, meta)
	srvA.stop(t)
	if _, err := os.Stat(compatPath(sdir, as)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the %s server published a damaged push: %v", first.name, err)
	}

	srvB := startCompatServer(t, second, sdir, "--token-file", token)
	out := client.must(t, cdir, "push", a.name, srvB.addr, "--as", as, "--token-file", token)
	checkCompatSummary(t, out, "pushed", a.name, srvB.addr, as, meta.NBytes-held, held)
	compatSameFile(t, compatPath(sdir, as), compatPath(cdir, a.name))
	checkCompatVerify(t, second, sdir, as, meta)
	compatOnlyArrays(t, sdir, as) // the partial became the array
	srvB.stop(t)
}

// compatResumePull: a client of version first pulls an array of three
// blocks from a version 1 server (this test) that sends two blocks and
// hangs up, leaving a partial in the client's store; a client of version
// second then pulls the array from a server of version server into the same
// store and must resume after the two blocks.
func compatResumePull(t *testing.T, first, second, server *compatCLI, token string) {
	cdir, sdir := t.TempDir(), testutil.ShmOrTempDir(t)
	a := compatArray{"big", "float64", "1100,1200", "F", "random", 8, []string{"units=Pa"}}
	server.must(t, sdir, a.createArgs()...)
	meta := compatInfo(t, server, sdir, a.name)
	file, err := os.ReadFile(compatPath(sdir, a.name))
	if err != nil {
		t.Fatal(err)
	}
	const as = "r/big"
	held := 2 * meta.BlockSize
	if meta.blocks() != 3 {
		t.Fatalf("the array has %d blocks of %d bytes, want 3", meta.blocks(), meta.BlockSize)
	}

	cut := startV1CutServer(t, a.name, file, meta.NBytes, held)
	r := first.run(t, cdir, "pull", cut.addr, a.name, "--as", as)
	if r.code != 1 {
		t.Fatalf("%s client, pull cut after %d bytes: exit %d, want 1 (stdout %q, stderr %q)", first.name, held, r.code, r.stdout, r.stderr)
	}
	if froms := cut.froms(); !slices.Equal(froms, []int64{0}) {
		t.Fatalf("the %s client asked for data from offsets %v, want [0]", first.name, froms)
	}
	if _, err := os.Stat(compatPath(cdir, as)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the %s client published a cut pull: %v", first.name, err)
	}

	srv := startCompatServer(t, server, sdir, "--token-file", token)
	out := second.must(t, cdir, "pull", srv.addr, a.name, "--as", as, "--token-file", token)
	checkCompatSummary(t, out, "pulled", a.name, srv.addr, as, meta.NBytes-held, held)
	compatSameFile(t, compatPath(cdir, as), compatPath(sdir, a.name))
	checkCompatVerify(t, second, cdir, as, meta)
	compatOnlyArrays(t, cdir, as)
	srv.stop(t)
}

// compatFileArrays are created by one version and read by the other: every
// dtype, both orders, attrs, a 0-d, an empty and a multi-block array.
var compatFileArrays = []compatArray{
	{"b1", "bool", "3,4,5", "C", "random", 1, nil},
	{"i1", "int8", "3,4,5", "F", "arange", 0, nil},
	{"i2", "int16", "7,11", "C", "random", 2, nil},
	{"i4", "int32", "7,11", "F", "arange", 0, []string{"units=counts"}},
	{"i8", "int64", "7,11", "C", "arange", 0, nil},
	{"u1", "uint8", "256", "C", "arange", 0, nil},
	{"u2", "uint16", "7,11", "F", "random", 3, nil},
	{"u4", "uint32", "7,11", "C", "random", 4, nil},
	{"u8", "uint64", "7,11", "F", "random", 5, nil},
	{"f2", "float16", "7,11", "C", "arange", 0, nil},
	{"bf16", "bfloat16", "7,11", "F", "arange", 0, nil},
	{"f4", "float32", "7,11", "C", "random", 6, nil},
	{"f8", "float64", "7,11", "F", "random", 7, []string{"units=K", "note=a=b,c", "名前=温度"}},
	{"c8", "complex64", "7,11", "C", "arange", 0, nil},
	{"c16", "complex128", "7,11", "F", "random", 8, nil},
	{"scalar", "float64", "", "C", "ones", 0, []string{"kind=0-d"}},
	{"empty", "int32", "0,7", "F", "zeros", 0, nil},
	// 10,000,000 bytes: three blocks.
	{"deep/er/big", "float32", "2500,1000", "F", "random", 9, []string{"units=m/s"}},
}

// compatNpyScript writes .npy files for `arrayx import`: format versions 1
// to 3, C and Fortran order, big-endian, 0-d and empty.
const compatNpyScript = `
import sys, numpy as np
w = sys.argv[1]
def save(name, a, version=None):
    with open(w + '/' + name + '.npy', 'wb') as f:
        np.lib.format.write_array(f, a, version=version)
save('f8c', np.linspace(-1, 1, 2000).reshape(40, 50))
save('i2f', np.asfortranarray(np.arange(60, dtype='<i2').reshape(3, 4, 5)), (2, 0))
save('f4be', (np.arange(100, dtype='<f4') / 3).astype('>f4'))
save('c16s', np.array(1.5 - 2j), (3, 0))
save('b1', np.array([[True, False, True], [False, False, True]]))
save('empty', np.zeros((0, 3), dtype='<u4'))
`

// compatFiles: writer creates and imports arrays in a store; reader
// verifies each, and prints the same ls --json, info and cat as the writer
// (JSON compared on the keys the old version prints).
func compatFiles(t *testing.T, writer, reader, old *compatCLI) {
	dir := testutil.ShmOrTempDir(t) // no fsync per create: the same files, sooner
	var names []string
	for _, a := range compatFileArrays {
		writer.must(t, dir, a.createArgs()...)
		names = append(names, a.name)
	}
	if err := exec.Command(testutil.Python, "-c", "import numpy").Run(); err != nil {
		if testutil.CI() {
			t.Fatalf("%s with numpy is required for the .npy imports (apt-get install python3-numpy): %v", testutil.Python, err)
		}
		t.Logf("not importing .npy files: %s with numpy is not available (%v)", testutil.Python, err)
	} else {
		work := t.TempDir()
		if out, err := exec.Command(testutil.Python, "-c", compatNpyScript, work).CombinedOutput(); err != nil {
			t.Fatalf("writing .npy files: %v\n%s", err, out)
		}
		for _, n := range []string{"f8c", "i2f", "f4be", "c16s", "b1", "empty"} {
			writer.must(t, dir, "import", filepath.Join(work, n+".npy"), "npy/"+n, "--attr", "source=numpy")
			names = append(names, "npy/"+n)
		}
	}

	// subset compares the writer's and the reader's JSON on old's keys.
	subset := func(what, w, r string) {
		t.Helper()
		if writer == old {
			compatJSONSubset(t, what, w, r)
		} else {
			compatJSONSubset(t, what, r, w)
		}
	}
	// ls --json prints, for every array, the object info --json prints.
	wls, rls := writer.must(t, dir, "ls", "--json"), reader.must(t, dir, "ls", "--json")
	subset("ls --json", wls, rls)
	var written, listed []compatMeta
	if err := json.Unmarshal([]byte(wls), &written); err != nil {
		t.Fatalf("%s ls --json: %v\n%s", writer.name, err, wls)
	}
	if err := json.Unmarshal([]byte(rls), &listed); err != nil {
		t.Fatalf("%s ls --json: %v\n%s", reader.name, err, rls)
	}
	var listedNames []string
	for _, m := range listed {
		listedNames = append(listedNames, m.Name)
	}
	if want := slices.Sorted(slices.Values(names)); !slices.Equal(listedNames, want) {
		t.Fatalf("%s ls --json lists %v, want %v", reader.name, listedNames, want)
	}

	for _, meta := range written {
		n := meta.Name
		checkCompatVerify(t, reader, dir, n, meta)
		for _, args := range [][]string{{"info", n}, {"cat", n, "--limit", "40"}} {
			w, r := writer.must(t, dir, args...), reader.must(t, dir, args...)
			if w != r {
				t.Errorf("arrayx %s: the %s writer prints\n%s\nthe %s reader prints\n%s",
					strings.Join(args, " "), writer.name, w, reader.name, r)
			}
		}
	}
}

// compatCLI is one version of the arrayx command.
type compatCLI struct {
	name string // "old" or "new"
	path string
	env  []string // added to the environment
}

// force is the flag that lets push and pull replace an array: the old CLI
// replaced without one, and does not know it.
func (c *compatCLI) force() []string {
	if c.name == "old" {
		return nil
	}
	return []string{"--force"}
}

// run runs the command with --store dir before args.
func (c *compatCLI) run(t testing.TB, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, append([]string{"--store", dir}, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("%s arrayx %s: %v (stderr %q)", c.name, strings.Join(args, " "), err, stderr.String())
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// must runs a command that must succeed and returns its stdout.
func (c *compatCLI) must(t testing.TB, dir string, args ...string) string {
	t.Helper()
	r := c.run(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("%s arrayx %s: exit %d, stderr %q", c.name, strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// newCompatCLI is this test binary acting as the command, or the binary
// that $ARRAYX_COMPAT_NEW names.
func newCompatCLI(t *testing.T) *compatCLI {
	if p := os.Getenv(compatNewEnv); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s=%s: not an executable file (%v)", compatNewEnv, p, err)
		}
		t.Logf("new: %s (from $%s)", p, compatNewEnv)
		return &compatCLI{name: "new", path: p}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Built with -race, the binary would sleep a second at every exit
	// (GORACE atexit_sleep_ms defaults to 1000): over 200 runs, minutes.
	return &compatCLI{name: "new", path: exe, env: []string{cliEnv + "=1", testutil.NoExitSleep()}}
}

// oldCompatCLI returns the CLI of compatBase, built from git into the user's
// cache the first time.
func oldCompatCLI(t *testing.T) *compatCLI {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		testutil.Unavailable(t, "the compatibility test cannot run: "+format, args...)
	}
	git := func(dir string, args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := testutil.LookTool("git"); err != nil {
		unavailable("git is not installed: the old CLI is built from commit %s", compatBase)
	}
	top, err := git(".", "rev-parse", "--show-toplevel")
	if err != nil {
		unavailable("this is not a git checkout (%v): the old CLI is built from commit %s", err, compatBase)
	}
	commit, err := git(top, "rev-parse", "--verify", "--quiet", compatBase+"^{commit}")
	if err != nil {
		how := ""
		if s, _ := git(top, "rev-parse", "--is-shallow-repository"); s == "true" {
			how = " (a shallow clone: git fetch --unshallow)"
		}
		unavailable("commit %s is not in %s%s", compatBase, top, how)
	}

	dir := ""
	if cache, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(cache, "arrayx-compat", commit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("not caching the old CLI: %v", err)
			dir = ""
		}
	}
	if dir == "" {
		dir = t.TempDir()
	}
	c := &compatCLI{name: "old", path: filepath.Join(dir, "arrayx")}
	if out, err := exec.Command(c.path, "help").Output(); err == nil && strings.HasPrefix(string(out), "usage: arrayx") {
		t.Logf("old: %s (cached, commit %s)", c.path, commit)
		return c
	}

	start := time.Now()
	src, err := os.MkdirTemp("", "arrayx-compat-src-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	archive := exec.Command("git", "-C", top, "archive", "--format=tar", commit)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	archive.Stderr = &stderr
	if err := archive.Start(); err != nil {
		t.Fatal(err)
	}
	xerr := compatUntar(pipe, src)
	io.Copy(io.Discard, pipe)
	if err := errors.Join(xerr, archive.Wait()); err != nil {
		t.Fatalf("git archive %s: %v %s", commit, err, stderr.String())
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the old CLI needs the go command: %v", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", c.path, os.Getpid())
	defer os.Remove(tmp)
	build := exec.Command(goTool, "build", "-o", tmp, "./cmd/arrayx")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the CLI of commit %s: %v\n%s", commit, err, out)
	}
	if err := os.Rename(tmp, c.path); err != nil { // atomic: a concurrent run sees all of it or nothing
		t.Fatal(err)
	}
	t.Logf("old: built %s from commit %s in %.1f s", c.path, commit, time.Since(start).Seconds())
	return c
}

// compatUntar extracts a git archive into dir.
func compatUntar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader { // git's pax header with the commit id
			continue
		}
		name := filepath.FromSlash(strings.TrimSuffix(h.Name, "/"))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, h.FileInfo().Mode().Perm()|0o600); err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			err = errors.Join(err, f.Close())
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			err = os.Symlink(h.Linkname, p)
		}
		if err != nil {
			return err
		}
	}
}

// compatServer is `arrayx serve` of one version in its own process.
type compatServer struct {
	cli    *compatCLI
	addr   string
	cmd    *exec.Cmd
	stdout compatFirstLine
	stderr testutil.Buffer
	done   chan struct{}
	err    error // from Wait, once done is closed
}

// startCompatServer serves dir on a free loopback port until stop, or until
// the test ends (killed then).
func startCompatServer(t *testing.T, c *compatCLI, dir string, args ...string) *compatServer {
	t.Helper()
	s := &compatServer{cli: c, done: make(chan struct{})}
	s.stdout.line = make(chan string, 1)
	s.cmd = exec.Command(c.path, append([]string{"--store", dir, "serve", "--listen", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = append(os.Environ(), c.env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case line := <-s.stdout.line:
		m := regexp.MustCompile(` on (\S+)$`).FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			t.Fatalf("%s serve printed %q", c.name, line)
		}
		s.addr = m[1]
	case <-s.done:
		t.Fatalf("%s serve exited: %v; stderr:\n%s", c.name, s.err, s.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s serve did not say where it listens; stderr:\n%s", c.name, s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and waits: the server must exit 0.
func (s *compatServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s serve did not stop on SIGTERM; stderr:\n%s", s.cli.name, s.stderr.String())
	}
	if s.err != nil {
		t.Errorf("%s serve after SIGTERM: %v; stderr:\n%s", s.cli.name, s.err, s.stderr.String())
	}
}

// compatFirstLine keeps what is written and sends the first line on line.
type compatFirstLine struct {
	testutil.Buffer
	line chan string
	sent bool
}

func (f *compatFirstLine) Write(p []byte) (int, error) {
	n, err := f.Buffer.Write(p)
	if s := f.Buffer.String(); !f.sent && strings.Contains(s, "\n") {
		f.sent = true
		f.line <- s[:strings.IndexByte(s, '\n')]
	}
	return n, err
}

// compatInfo reads an array's `info --json` with the given version.
func compatInfo(t *testing.T, c *compatCLI, dir, name string) compatMeta {
	t.Helper()
	out := c.must(t, dir, "info", name, "--json")
	var m compatMeta
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%s info --json %s: %v\n%s", c.name, name, err, out)
	}
	if m.Name != name || m.BlockSize <= 0 || m.NBytes < 0 {
		t.Fatalf("%s info --json %s: %+v", c.name, name, m)
	}
	return m
}

// compatWriteNpy writes a C-order .npy file (format 1.0) of the given
// numpy dtype, shape and raw data.
func compatWriteNpy(t *testing.T, path, descr string, shape []int64, data []byte) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	// Magic, version, header length, dict, spaces and "\n": 64-byte aligned.
	pad := (64 - (10+len(dict)+1)%64) % 64
	header := dict + strings.Repeat(" ", pad) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	b = append(append(b, header...), data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func compatPath(dir, name string) string {
	return filepath.Join(dir, filepath.FromSlash(name)+".arx")
}

// compatToken reads a token file as the CLI does.
func compatToken(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// compatSameFile checks that two ARRAYX files are byte for byte the same.
func compatSameFile(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Error(err)
		return
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		i := 0
		for i < min(len(g), len(w)) && g[i] == w[i] {
			i++
		}
		t.Errorf("%s (%d bytes) differs from %s (%d bytes) from byte %d on", got, len(g), want, len(w), i)
	}
}

// checkCompatSummary checks a transfer's one line: verb, names, address,
// the data bytes moved (unless moved < 0) and, when resumed > 0, where it
// resumed (nothing is said of resuming when resumed is 0; anything when
// it is negative).
func checkCompatSummary(t *testing.T, out, verb, name, addr, as string, moved, resumed int64) {
	t.Helper()
	prep := "to"
	if verb == "pulled" {
		prep = "from"
	}
	re := regexp.MustCompile(`^` + verb + ` (\S+) ` + prep + ` (\S+) as (\S+): (\d+) bytes in [0-9.]+ s, [0-9.]+ GB/s, zero-copy: ([^\n]*)\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("summary %q does not match %s", out, re)
		return
	}
	if m[1] != name || m[2] != addr || m[3] != as {
		t.Errorf("summary %q: want %s %s %s as %s", out, name, prep, addr, as)
	}
	if n, _ := strconv.ParseInt(m[4], 10, 64); moved >= 0 && n != moved {
		t.Errorf("summary %q: %d bytes moved, want %d", out, n, moved)
	}
	if r := fmt.Sprintf(", resumed after %d bytes", resumed); resumed > 0 && !strings.Contains(m[5], r) {
		t.Errorf("summary %q does not say %q", out, r)
	} else if resumed == 0 && strings.Contains(m[5], "resumed") {
		t.Errorf("summary %q: a fresh transfer says it resumed", out)
	}
}

// checkCompatVerify runs verify with the given version: ok, with the
// array's number of blocks.
func checkCompatVerify(t *testing.T, c *compatCLI, dir, name string, meta compatMeta) {
	t.Helper()
	out := c.must(t, dir, "verify", name)
	m := regexp.MustCompile(`: ok \((\d+) blocks?, `).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.FormatInt(meta.blocks(), 10) {
		t.Errorf("%s verify %s: %q, want ok with %d blocks", c.name, name, out, meta.blocks())
	}
}

// compatOnlyArrays checks that the store holds exactly the named arrays
// and no other file: no partial or temporary file is left behind.
func compatOnlyArrays(t *testing.T, dir string, names ...string) {
	t.Helper()
	var got, want []string
	for _, n := range names {
		want = append(want, filepath.FromSlash(n)+".arx")
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		got = append(got, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("store %s holds %q, want %q", dir, got, want)
	}
}

// compatJSONSubset checks that the new version's JSON has every value the
// old version's has (it may add keys).
func compatJSONSubset(t *testing.T, what, oldOut, newOut string) {
	t.Helper()
	var o, n any
	if err := json.Unmarshal([]byte(oldOut), &o); err != nil {
		t.Fatalf("old %s: %v\n%s", what, err, oldOut)
	}
	if err := json.Unmarshal([]byte(newOut), &n); err != nil {
		t.Fatalf("new %s: %v\n%s", what, err, newOut)
	}
	if path, ok := compatSubset(o, n, ""); !ok {
		t.Errorf("%s: the new version's %s differs from the old one's\nold:\n%snew:\n%s", what, path, oldOut, newOut)
	}
}

// compatSubset reports whether n has everything o has: the same values,
// with at least o's keys in every object. It returns the first path where
// they differ.
func compatSubset(o, n any, path string) (string, bool) {
	switch o := o.(type) {
	case map[string]any:
		nm, ok := n.(map[string]any)
		if !ok {
			return path, false
		}
		for k, v := range o {
			if p, ok := compatSubset(v, nm[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		ns, ok := n.([]any)
		if !ok || len(ns) != len(o) {
			return path, false
		}
		for i := range o {
			if p, ok := compatSubset(o[i], ns[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	return path, reflect.DeepEqual(o, n)
}

// A version 1 peer, written from docs/PROTOCOL.md and independent of
// netlink, so that it stays version 1 whatever netlink becomes.

var v1Magic = [8]byte{0x89, 'A', 'R', 'X', 'N', 'E', 'T', '\n'}

const (
	v1Hello = 1
	v1Auth  = 2
	v1Reply = 3
	v1Put   = 10
	v1Get   = 11
	v1From  = 12
	v1Stat  = 13
)

// v1Body holds the message keys this peer uses.
type v1Body struct {
	Version  int    `msgpack:"version,omitempty"`
	Software string `msgpack:"software,omitempty"`
	Nonce    []byte `msgpack:"nonce,omitempty"`
	MAC      []byte `msgpack:"mac,omitempty"`
	Name     string `msgpack:"name,omitempty"`
	Header   []byte `msgpack:"header,omitempty"`
	Offset   int64  `msgpack:"offset,omitempty"`
	Cancel   bool   `msgpack:"cancel,omitempty"`
	Status   int    `msgpack:"status,omitempty"`
	Message  string `msgpack:"message,omitempty"`
	Method   string `msgpack:"method,omitempty"`
}

func v1Write(w io.Writer, kind byte, b *v1Body) error {
	payload, err := msgpack.Marshal(b)
	if err != nil {
		return err
	}
	msg := make([]byte, 8, 8+len(payload))
	msg[0], msg[1] = 1, kind
	binary.LittleEndian.PutUint32(msg[4:], uint32(len(payload)))
	_, err = w.Write(append(msg, payload...))
	return err
}

// v1Read reads one message as a version 1 peer must: frame version 1, flags
// 0, a bounded body.
func v1Read(r io.Reader) (byte, *v1Body, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(pre[4:])
	switch {
	case pre[0] != 1:
		return 0, nil, fmt.Errorf("frame version %d, want 1", pre[0])
	case binary.LittleEndian.Uint16(pre[2:]) != 0:
		return 0, nil, fmt.Errorf("flags %#x, want 0", pre[2:4])
	case n > 1<<20+64<<10:
		return 0, nil, fmt.Errorf("body of %d bytes", n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return 0, nil, err
	}
	var b v1Body
	if err := msgpack.Unmarshal(raw, &b); err != nil {
		return 0, nil, err
	}
	return pre[1], &b, nil
}

// v1HeaderBytes returns an ARRAYX file's prefix and header, what PUT and
// GET carry.
func v1HeaderBytes(t *testing.T, file []byte) []byte {
	t.Helper()
	if len(file) < 16 {
		t.Fatalf("an ARRAYX file of %d bytes", len(file))
	}
	h := int(binary.LittleEndian.Uint32(file[12:16]))
	if h > len(file)-16 {
		t.Fatalf("header length %d in a file of %d bytes", h, len(file))
	}
	return file[:16+h]
}

// v1DamagedPush pushes file as name as a version 1 client, with one byte of
// the last block flipped. The server must answer the PUT with offset 0 and
// the data with 422.
func v1DamagedPush(t *testing.T, addr string, token []byte, name string, file []byte, meta compatMeta) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	reply := func(what string) *v1Body {
		t.Helper()
		kind, b, err := v1Read(conn)
		if err != nil {
			t.Fatalf("v1 client, %s: %v", what, err)
		}
		if kind != v1Reply {
			t.Fatalf("v1 client, %s: message kind %d, want REPLY", what, kind)
		}
		return b
	}
	if _, err := conn.Write(v1Magic[:]); err != nil {
		t.Fatal(err)
	}
	if err := v1Write(conn, v1Hello, &v1Body{Version: 1, Software: "arrayx-compat-test"}); err != nil {
		t.Fatal(err)
	}
	var magic [8]byte
	if _, err := io.ReadFull(conn, magic[:]); err != nil || magic != v1Magic {
		t.Fatalf("v1 client: server magic % x, %v", magic, err)
	}
	kind, hello, err := v1Read(conn)
	if err != nil || kind != v1Hello {
		t.Fatalf("v1 client: server HELLO: kind %d, %+v, %v", kind, hello, err)
	}
	if len(hello.Nonce) > 0 {
		m := hmac.New(sha256.New, token)
		m.Write([]byte("arrayx-auth-v1"))
		m.Write(hello.Nonce)
		if err := v1Write(conn, v1Auth, &v1Body{MAC: m.Sum(nil)}); err != nil {
			t.Fatal(err)
		}
		if r := reply("AUTH"); r.Status != 200 {
			t.Fatalf("v1 client: AUTH answered %d %s", r.Status, r.Message)
		}
	}
	if err := v1Write(conn, v1Put, &v1Body{Name: name, Header: v1HeaderBytes(t, file)}); err != nil {
		t.Fatal(err)
	}
	if r := reply("PUT"); r.Status != 200 || r.Offset != 0 {
		t.Fatalf("v1 client: PUT answered %d %q offset %d, want 200 offset 0", r.Status, r.Message, r.Offset)
	}
	data := bytes.Clone(file[int64(len(file))-meta.NBytes:])
	data[(meta.blocks()-1)*meta.BlockSize] ^= 0xff
	werr := make(chan error, 1)
	go func() { _, err := conn.Write(data); werr <- err }()
	if r := reply("damaged data"); r.Status != 422 {
		t.Fatalf("v1 client: damaged data answered %d %q, want 422", r.Status, r.Message)
	} else {
		t.Logf("v1 client: damaged data answered 422 %q", r.Message)
	}
	if err := <-werr; err != nil {
		t.Logf("v1 client: sending the data: %v", err) // the server may hang up once it has replied
	}
}

// v1CutServer is a version 1 server of one array that hangs up after
// sending the first cut data bytes of a GET.
type v1CutServer struct {
	addr string
	mu   sync.Mutex
	from []int64 // the offsets clients asked for
}

func (s *v1CutServer) froms() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.from)
}

func startV1CutServer(t *testing.T, name string, file []byte, nbytes, cut int64) *v1CutServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &v1CutServer{addr: l.Addr().String()}
	header := v1HeaderBytes(t, file)
	data := file[int64(len(file))-nbytes:]
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	serve := func(conn net.Conn) {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		var magic [8]byte
		if _, err := io.ReadFull(conn, magic[:]); err != nil || magic != v1Magic {
			return
		}
		kind, hello, err := v1Read(conn)
		if err != nil || kind != v1Hello {
			return
		}
		conn.Write(v1Magic[:])
		if v1Write(conn, v1Hello, &v1Body{Version: 1, Software: "arrayx-compat-test"}) != nil {
			return
		}
		if hello.Version != 1 {
			v1Write(conn, v1Reply, &v1Body{Status: 400, Message: fmt.Sprintf("client speaks version %d, server 1", hello.Version)})
			return
		}
		for {
			kind, b, err := v1Read(conn)
			if err != nil {
				return
			}
			if (kind == v1Stat || kind == v1Get) && b.Name != name {
				if v1Write(conn, v1Reply, &v1Body{Status: 404, Message: "no such file or directory"}) != nil {
					return
				}
				continue
			}
			switch kind {
			case v1Stat:
				if v1Write(conn, v1Reply, &v1Body{Status: 200, Header: header}) != nil {
					return
				}
			case v1Get:
				if v1Write(conn, v1Reply, &v1Body{Status: 200, Header: header, Method: "write"}) != nil {
					return
				}
				kind, from, err := v1Read(conn)
				if err != nil || kind != v1From {
					return
				}
				if from.Cancel {
					continue
				}
				s.mu.Lock()
				s.from = append(s.from, from.Offset)
				s.mu.Unlock()
				if from.Offset >= 0 && from.Offset < cut {
					conn.Write(data[from.Offset:cut])
				}
				return // hang up mid-transfer
			default:
				v1Write(conn, v1Reply, &v1Body{Status: 400, Message: fmt.Sprintf("message kind %d is not a request", kind)})
				return
			}
		}
	}
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serve(conn) })
		}
	})
	return s
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaseTable checks the table's invariants: unique IDs, exactly one
// timed process and one receiver per case, every role and script present,
// one arrayx reference per group.
func TestCaseTable(t *testing.T) {
	ids := map[string]bool{}
	refs := map[Group]int{}
	for _, c := range cases {
		if c.ID == "" || ids[c.ID] {
			t.Errorf("case %q: empty or duplicate ID", c.ID)
		}
		ids[c.ID] = true
		if c.Ref {
			refs[c.Group]++
		}
		timed, receivers := 0, 0
		for _, p := range c.procs() {
			if p.Timed {
				timed++
			}
			if p.Side == Receiver {
				receivers++
			}
			kinds := 0
			if p.Role != "" {
				kinds++
				if roles[p.Role] == nil {
					t.Errorf("case %s: no role %q", c.ID, p.Role)
				}
			}
			if p.Python != "" {
				kinds++
				if _, err := pythonFS.ReadFile("python/" + p.Python); err != nil {
					t.Errorf("case %s: %v", c.ID, err)
				}
			}
			if p.Argv != nil {
				kinds++
			}
			if kinds != 1 {
				t.Errorf("case %s: a process must be exactly one of role, script, command", c.ID)
			}
		}
		if timed != 1 || receivers != 1 {
			t.Errorf("case %s: %d timed processes and %d receivers, want 1 and 1", c.ID, timed, receivers)
		}
	}
	for _, g := range []Group{Handoff, Network} {
		if refs[g] != 1 {
			t.Errorf("group %s has %d arrayx references, want 1", g, refs[g])
		}
	}
}

// TestNpyHeader checks the header against the format and against numpy.
func TestNpyHeader(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1 << 27} {
		h := npyHeader(n)
		if len(h)%64 != 0 || !bytes.HasPrefix(h, []byte("\x93NUMPY\x01\x00")) || h[len(h)-1] != '\n' {
			t.Errorf("n=%d: bad header %q", n, h)
		}
		if hl := int(h[8]) | int(h[9])<<8; hl != len(h)-10 {
			t.Errorf("n=%d: header length field %d, want %d", n, hl, len(h)-10)
		}
	}
	if _, err := checkPython(); err != nil {
		t.Fatal(err) // loudly: the harness needs it
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	data := make([]byte, 3*8)
	data[8+6], data[8+7] = 0xf0, 0x3f // 1.0
	if err := writeNpy(path, data, 3); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", "import numpy, sys; a = numpy.load(sys.argv[1], mmap_mode='r'); print(a.dtype, a.shape, a.tolist())", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "float64 (3,) [0.0, 1.0, 0.0]" {
		t.Errorf("numpy read %q", got)
	}
}

// TestExternalProc runs a one-process case made of an external command (the
// shape of the file-copy cases to come), timed by the harness and verified
// by the case's Check.
func TestExternalProc(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Fatal(err)
	}
	c := Case{ID: "external-cp", Name: "cp", Group: "copy",
		Client: Proc{Side: Receiver, Timed: true, Argv: func(p Params) []string {
			return []string{"cp", p.ArxPath, filepath.Join(p.Scratch, "copy.arx")}
		}},
		Check: func(p Params) error {
			a, err := os.ReadFile(p.ArxPath)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(p.Scratch, "copy.arx"))
			if err != nil {
				return err
			}
			if !bytes.Equal(a, b) {
				return os.ErrInvalid
			}
			return nil
		}}
	res, err := run(t.Context(), options{Sizes: []int64{1 << 20}, Runs: 1, Dir: "/dev/shm", FlightRows: 1 << 10}, []Case{c})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Sizes[0].Cases[0].Runs[0]
	if !r.ok() || r.GBps <= 0 || r.Receiver == nil || r.Receiver.Window.Lang != "external" {
		t.Fatalf("run %+v", r)
	}
	var md bytes.Buffer
	renderMarkdown(&md, res)
	if !strings.Contains(md.String(), "## "+Copy.title()) || !strings.Contains(md.String(), "| cp |") {
		t.Errorf("the new group is missing from the tables:\n%s", md.String())
	}
}

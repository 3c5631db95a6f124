package docs

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
)

// snippet is one fenced code block of README.md.
type snippet struct {
	lang, body string
	line       int // of the opening fence
}

func readmeSnippets(t *testing.T) []snippet {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("README.md:%d: unterminated code block", start+1)
		}
		out = append(out, snippet{lang: strings.TrimSpace(lang), body: strings.Join(body, "\n") + "\n", line: start + 1})
	}
	return out
}

// readmeWorld is what the README's snippets talk about, made real: a store
// holding sim/temperature (float64, 1000x1000), a second store, the token
// file "secret", servers on free ports, and the arrayx command on PATH.
type readmeWorld struct {
	dir, store, store2 string
	env                []string
	replacer           *strings.Replacer
	hosts              []string // host1:7070, host2:7070, host3:7070
}

func newReadmeWorld(t *testing.T) *readmeWorld {
	t.Helper()
	w := &readmeWorld{dir: t.TempDir()}
	w.store, w.store2 = filepath.Join(w.dir, "store"), filepath.Join(w.dir, "store2")
	bin := filepath.Join(w.dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "arrayx"), "../cmd/arrayx")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building arrayx: %v\n%s", err, out)
	}
	for _, dir := range []string{w.store, w.store2} {
		st, err := mmapstore.OpenStore(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		wr, err := st.Create("sim/temperature", arrayx.Float64, arrayx.Shape{1000, 1000}, arrayx.OrderC,
			&mmapstore.CreateOptions{Attrs: map[string]any{"units": "K"}})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := arrayx.Data[float64](wr)
		for i := range x {
			x[i] = 273.15 + float64(i%1000)/100
		}
		a, err := wr.Seal()
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		st.Close()
	}
	// The README's python3 is Debian's, with numpy; its ./python is a copy
	// of the package's sources (pip writes build files next to them).
	if err := os.Symlink(testutil.Python, filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(w.dir, "python"), os.DirFS(absPath(t, "../python"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "secret"), []byte("s3cret-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "ARRAYX_STORE="+w.store,
		"PYTHONPATH="+absPath(t, "../python"))
	bin7070, bin8080 := freeAddr(t), freeAddr(t)
	w.hosts = []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	w.replacer = strings.NewReplacer(
		"0.0.0.0:7070", bin7070, "otherhost:7070", bin7070, "127.0.0.1:7070", bin7070,
		"host1:7070", w.hosts[0], "host2:7070", w.hosts[1], "host3:7070", w.hosts[2],
		"127.0.0.1:8080", bin8080,
		"/dev/shm/arrayx", w.store,
		"/tmp/", w.dir+"/",
	)
	return w
}

func absPath(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// shellScript turns a sh snippet into a script: addresses and paths are
// made real, servers (arrayx serve ...) start in the background and are
// waited for, and everything stops at the end.
func (w *readmeWorld) shellScript(body string) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n")
	for _, line := range strings.Split(w.replacer.Replace(body), "\n") {
		cmd := strings.TrimSpace(line)
		if i := strings.Index(cmd, "  #"); i >= 0 {
			cmd = strings.TrimSpace(cmd[:i])
		}
		if strings.HasPrefix(cmd, "arrayx serve") {
			// A snippet naming host1:7070 and its kin means a server on each
			// host, each with a store of its own; else one server.
			servers := map[string]string{"serve": cmd}
			if strings.Contains(body, "host1:7070") {
				servers = map[string]string{}
				bind := w.replacer.Replace("0.0.0.0:7070")
				for i, addr := range w.hosts {
					host := fmt.Sprintf("host%d", i+1)
					servers[host] = strings.Replace(cmd, bind, addr, 1) + " --store " + filepath.Join(w.dir, host)
				}
			}
			for out, cmd := range servers {
				fmt.Fprintf(&b, "%s > %s.out 2> %s.err &\n", cmd, out, out)
				fmt.Fprintf(&b, "for i in $(seq 100); do grep -q serving %s.out 2>/dev/null && break; sleep 0.05; done\n", out)
			}
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// serveHTTP runs `arrayx serve --http` on the README's HTTP address, with
// the token, until the test ends.
func (w *readmeWorld) serveHTTP(t *testing.T) {
	t.Helper()
	w.serve(t, "--listen", "", "--http", w.replacer.Replace("127.0.0.1:8080"), "--token-file", "secret")
}

// serve runs arrayx serve with args, on the world's store, until the test
// ends.
func (w *readmeWorld) serve(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(w.dir, "bin", "arrayx"), append([]string{"serve"}, args...)...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "serving") {
		t.Fatalf("arrayx serve %v: %q %v (stderr %s)", args, line, err, stderr.String())
	}
}

func (w *readmeWorld) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

// codeOnly trims a Go line's indentation and trailing comment.
func codeOnly(l string) string {
	if i := strings.Index(l, "//"); i >= 0 && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t') {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

// goSnippetSources holds the test files' lines: each line of a Go snippet must appear, verbatim
// but for indentation, in a test file that runs: the README shows abridged
// copies of examples that the suite executes.
func goSnippetSources(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, glob := range []string{"../*/*_test.go", "../bench/*/*_test.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				all.WriteString(codeOnly(l) + "\n")
			}
		}
	}
	return all.String()
}

// TestReadmeSnippets runs every code block in README.md: sh and python
// blocks against a real store and real servers, Go blocks by finding each
// of their lines in an example that the suite runs. Blocks without a
// language are program output and are not run.
func TestReadmeSnippets(t *testing.T) {
	snips := readmeSnippets(t)
	w := newReadmeWorld(t)
	var goSources string
	quickStart := regexp.MustCompile(`^go run \./cmd/arrayx demo +#.*\ngo test \./\.\.\. +#.*\n$`)
	ran := 0
	for _, s := range snips {
		name := fmt.Sprintf("README.md:%d:%s", s.line, s.lang)
		switch s.lang {
		case "":
			continue
		case "sh":
			if strings.HasPrefix(s.body, "go run ./cmd/arrayx demo") {
				// The quick start is what CI runs itself (.ci/run); here its
				// wording is pinned.
				if !quickStart.MatchString(s.body) {
					t.Errorf("%s: the quick start must stay the two commands go run ./cmd/arrayx demo and go test ./...:\n%s", name, s.body)
				}
				continue
			}
			t.Run(name, func(t *testing.T) {
				if strings.Contains(s.body, "python3 -m venv") {
					if out, err := exec.Command(testutil.Python, "-c", "import ensurepip").CombinedOutput(); err != nil {
						testutil.Unavailable(t, "this example needs python3 -m venv (apt-get install python3-venv): %s", out)
					}
				}
				for _, tool := range []string{"openssl", "curl"} {
					if regexp.MustCompile(`(?m)^` + tool + ` `).MatchString(s.body) {
						if _, err := exec.LookPath(tool); err != nil {
							testutil.Unavailable(t, "this example needs %s (apt-get install %s)", tool, tool)
						}
					}
				}
				w.run(t, "bash", "-c", w.shellScript(s.body))
			})
		case "python":
			t.Run(name, func(t *testing.T) {
				if strings.Contains(s.body, "http://127.0.0.1:8080") {
					// As the README says: the server of the sh block above runs.
					w.serveHTTP(t)
				}
				body := w.replacer.Replace(s.body)
				if strings.Contains(s.body, "arrayx.Client(") {
					// A port of its own, taken now: the world's was chosen
					// long ago, and another test may hold it meanwhile.
					addr := freeAddr(t)
					body = strings.ReplaceAll(body, w.replacer.Replace("otherhost:7070"), addr)
					w.serve(t, "--listen", addr, "--token-file", "secret")
				}
				w.run(t, testutil.Python, "-c", body)
			})
		case "go":
			if goSources == "" {
				goSources = goSnippetSources(t)
			}
			t.Run(name, func(t *testing.T) {
				for _, l := range strings.Split(s.body, "\n") {
					l = codeOnly(l)
					if l == "" || l == "}" || l == ")" {
						continue
					}
					if !strings.Contains(goSources, l+"\n") {
						t.Errorf("line %q is in no test file: the README's Go must be copied from an example that runs", l)
					}
				}
			})
		default:
			t.Errorf("%s: unknown snippet language %q (sh, python, go, or none for output)", name, s.lang)
			continue
		}
		ran++
	}
	if ran < 5 {
		t.Errorf("only %d snippets ran: the README lost its examples?", ran)
	}
}

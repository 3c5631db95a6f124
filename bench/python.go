package main

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Python children run Debian's interpreter with Debian's numpy, never
// whatever python3 comes first on PATH.
const python = "/usr/bin/python3"

//go:embed python/*.py
var pythonFS embed.FS

// pythonPackageDir holds the repository's Python package (python/arrayx),
// which the Python client cases import: beside this module's directory.
var pythonPackageDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "python")
}()

// writePython copies the embedded scripts into dir, so the harness runs from
// any directory and tracebacks name real files.
func writePython(dir string) error {
	ents, err := pythonFS.ReadDir("python")
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := pythonFS.ReadFile("python/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkPython fails loudly when the interpreter or numpy is missing, and
// returns their versions.
func checkPython() (string, error) {
	out, err := exec.Command(python, "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bench: %s with numpy is required (apt-get install python3-numpy): %v: %s", python, err, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", fmt.Errorf("bench: unexpected output from %s: %q", python, out)
	}
	return "Python " + f[0] + ", numpy " + f[1], nil
}

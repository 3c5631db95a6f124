package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommandTable holds README.md's command table to the code: every
// verb has a row, and every flag a row shows is one the verb takes.
func TestReadmeCommandTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "\n## Command line\n")
	if !ok {
		t.Fatal("README.md has no Command line section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `arrayx ([a-z]+)([^`]*)` \\|")
	flag := regexp.MustCompile(`(?:^|[\s\[|])(--[a-z][a-z-]*)`)
	rows := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		name, synopsis := m[1], m[2]
		rows[name] = true
		mk, ok := verbs[name]
		if !ok || name == demoConsumerVerb {
			t.Errorf("README row for arrayx %s: no such command", name)
			continue
		}
		fs := verbFlags(name, mk(), &env{})
		for _, f := range flag.FindAllStringSubmatch(synopsis, -1) {
			if fs.Lookup(strings.TrimPrefix(f[1], "--")) == nil {
				t.Errorf("README row for arrayx %s shows %s, which it does not take", name, f[1])
			}
		}
	}
	for name := range verbs {
		if name != demoConsumerVerb && !rows[name] {
			t.Errorf("README's command table has no row for arrayx %s", name)
		}
	}
}

package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestHelpVerb: arrayx help VERB prints what VERB --help does, for every
// verb; a verb that does not exist is a usage error.
func TestHelpVerb(t *testing.T) {
	for name := range verbs {
		if name == demoConsumerVerb {
			continue
		}
		help, flag := runRaw(t, "help", name), runRaw(t, name, "--help")
		if help.code != 0 || help.stdout != flag.stdout || !strings.HasPrefix(help.stdout, "usage: arrayx "+name+" ") {
			t.Errorf("help %s: exit %d, stdout %q; want %s --help's %q", name, help.code, help.stdout, name, flag.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"help", "nope"}, `help: unknown command "nope"`},
		{[]string{"help", demoConsumerVerb}, "help: unknown command"},
		{[]string{"help", "ls", "rm"}, "help: want one COMMAND, got 2 arguments"},
	} {
		if r := runRaw(t, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runRaw(t, "--version")
	// A test binary has no module version: "devel", with the commit when
	// the build recorded one.
	if r.code != 0 || !regexp.MustCompile(`^arrayx (v\S+|devel( \([0-9a-f]+(, modified)?\))?)\n$`).MatchString(r.stdout) {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
	if got := runRaw(t, "help").stdout; !strings.Contains(got, "arrayx help COMMAND") || !strings.Contains(got, "arrayx --version") {
		t.Errorf("the usage does not mention help COMMAND and --version:\n%s", got)
	}
}

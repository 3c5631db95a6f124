// Command arrayx creates, inspects and exchanges ARRAYX arrays. It is a thin
// layer over packages arrayx and mmapstore: one file per verb, each with an
// options struct that registers its flags and a run method.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// verb is one subcommand.
type verb interface {
	// usage is the argument synopsis after the verb's name, summary one line.
	usage() (args, summary string)
	addFlags(fs *pflag.FlagSet)
	run(ctx context.Context, e *env, args []string) error
}

// verbs maps names to constructors, so each run starts from fresh options.
var verbs = map[string]func() verb{
	"create": func() verb { return &createCmd{} },
	"info":   func() verb { return &infoCmd{} },
	"ls":     func() verb { return &lsCmd{} },
	"verify": func() verb { return &verifyCmd{} },
	"rm":     func() verb { return &rmCmd{} },
	"cp":     func() verb { return &cpCmd{} },
	"cat":    func() verb { return &catCmd{} },
	"clean":  func() verb { return &cleanCmd{} },
	"demo":   func() verb { return &demoCmd{} },
	"serve":  func() verb { return &serveCmd{} },
	"push":   func() verb { return &pushCmd{} },
	"pull":   func() verb { return &pullCmd{} },
	"sync":   func() verb { return &syncCmd{} },
	"import": func() verb { return &importCmd{} },
	"export": func() verb { return &exportCmd{} },
	"wait":   func() verb { return &waitCmd{} },
	// Internal: the consumer process that demo starts.
	demoConsumerVerb: func() verb { return &demoConsumerCmd{} },
}

// env is what every verb gets: the global options and the output streams.
type env struct {
	stdin          io.Reader // import - reads it
	stdout, stderr io.Writer
	storeDir       string
	quiet          bool
	// tty says whether stderr is a terminal (progress bars go there).
	tty bool
	// flagsSeen: the global flags were registered once, so their values
	// (even an empty --store) are the user's, not defaults to fill in.
	flagsSeen bool
}

// openStore opens the store selected by --store (or the default).
func (e *env) openStore() (*mmapstore.Store, error) {
	return mmapstore.OpenStore(e.storeDir, nil)
}

// namedStore checks that args is a single valid array name and opens the
// store, which must exist; the caller closes it.
func (e *env) namedStore(args []string) (*mmapstore.Store, string, error) {
	name, err := arrayName(args)
	if err != nil {
		return nil, "", err
	}
	st, err := e.openExistingStore()
	if err != nil {
		return nil, "", err
	}
	return st, name, nil
}

// openArray maps the array named by args, the verb's single argument: a
// NAME in the store, or a file path ending in .arx. The store is closed
// again at once: open arrays do not need it.
func (e *env) openArray(args []string) (*mmapstore.Array, error) {
	if len(args) == 1 && isFilePath(args[0]) {
		return openFile(args[0])
	}
	st, name, err := e.namedStore(args)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	a, err := st.Open(name)
	if err != nil {
		return nil, arrayError(st, name, err)
	}
	return a, nil
}

// usageError marks a command-line mistake: exit code 2, not 1.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code: 0 success, 1 a
// runtime error, 2 a usage error, 130 (143 for SIGTERM) interrupted. Errors
// are one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// runIO is run with stdin given.
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		e.tty = term.IsTerminal(int(f.Fd()))
	}
	global := pflag.NewFlagSet("arrayx", pflag.ContinueOnError)
	global.SetOutput(io.Discard)
	addGlobalFlags(global, e)
	global.SetInterspersed(false)
	version := global.Bool("version", false, "print the version and exit")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		return fail(e, usagef("%v", err))
	}
	rest := global.Args()
	if *version {
		fmt.Fprintf(stdout, "arrayx %s\n", buildVersion())
		return 0
	}
	if len(rest) > 0 && rest[0] == "help" {
		return helpVerb(e, rest[1:])
	}
	if len(rest) == 0 || rest[0] == "-h" {
		printUsage(stdout)
		if len(rest) == 0 {
			return 2
		}
		return 0
	}
	mk, ok := verbs[rest[0]]
	if !ok {
		return fail(e, usagef("unknown command %q (run 'arrayx help')", rest[0]))
	}
	v := mk()
	fs := verbFlags(rest[0], v, e)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printVerbUsage(stdout, rest[0], v, fs)
			return 0
		}
		return fail(e, usagef("%s: %v", rest[0], err))
	}
	if e.storeDir == "" {
		return fail(e, usagef("--store: empty directory name"))
	}
	if w, ok := v.(interface{ setWarn(io.Writer) }); ok {
		w.setWarn(e.stderr)
	}
	if err := v.run(ctx, e, fs.Args()); err != nil {
		if ctx.Err() != nil {
			return interrupted(e, rest[0], v, ctx)
		}
		var u *usageError
		if errors.As(err, &u) {
			a, _ := v.usage()
			return fail(e, usagef("%s: %v (usage: arrayx %s %s)", rest[0], u.msg, rest[0], a))
		}
		return fail(e, err)
	}
	return 0
}

// addGlobalFlags registers the global flags on fs. Defining a flag stores its
// default in the variable, so the verb's flag set, defined after the global
// ones were parsed, takes their current values as defaults.
func addGlobalFlags(fs *pflag.FlagSet, e *env) {
	if !e.flagsSeen {
		e.storeDir, e.flagsSeen = mmapstore.DefaultDir(), true
	}
	fs.StringVar(&e.storeDir, "store", e.storeDir, "store directory (default: $ARRAYX_STORE, else /dev/shm/arrayx)")
	fs.BoolVarP(&e.quiet, "quiet", "q", e.quiet, "errors only: no progress bars or lines saying what was done (cat, info, ls still print)")
}

func fail(e *env, err error) int {
	fmt.Fprintf(e.stderr, "arrayx: %v\n", err)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: arrayx [--store DIR] COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		if n != demoConsumerVerb {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		_, s := verbs[n]().usage()
		fmt.Fprintf(w, "  %-8s %s\n", n, s)
	}
	fmt.Fprintln(w, "\nRun 'arrayx help COMMAND' (or 'arrayx COMMAND --help') for a command's flags, 'arrayx --version' for the version.")
}

// verbFlags is the flag set of verb v: its own flags and the global ones,
// which are accepted after the verb too.
func verbFlags(name string, v verb, e *env) *pflag.FlagSet {
	fs := pflag.NewFlagSet("arrayx "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, e)
	v.addFlags(fs)
	return fs
}

func printVerbUsage(w io.Writer, name string, v verb, fs *pflag.FlagSet) {
	a, s := v.usage()
	fmt.Fprintf(w, "usage: arrayx %s %s\n  %s\n\nflags:\n%s", name, a, s, fs.FlagUsages())
}

// helpVerb is arrayx help [VERB]: the general usage, or what arrayx VERB
// --help prints.
func helpVerb(e *env, args []string) int {
	fs := pflag.NewFlagSet("arrayx help", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, e) // accepted, as after any verb
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, pflag.ErrHelp) {
		return fail(e, usagef("help: %v", err))
	}
	args = fs.Args()
	if len(args) == 0 || err != nil {
		printUsage(e.stdout)
		return 0
	}
	if len(args) != 1 {
		return fail(e, usagef("help: want one COMMAND, got %d arguments", len(args)))
	}
	mk, ok := verbs[args[0]]
	if !ok || args[0] == demoConsumerVerb {
		return fail(e, usagef("help: unknown command %q (run 'arrayx help')", args[0]))
	}
	v := mk()
	printVerbUsage(e.stdout, args[0], v, verbFlags(args[0], v, e))
	return 0
}

// buildVersion is the module version the binary was built at ("v1.2.0"
// from go install ...@v1.2.0), or "devel" with the commit when built from a
// checkout.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return fmt.Sprintf("devel (%.12s%s)", rev, modified)
}

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
	"os/signal"
	"sort"
	"syscall"

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
	// Internal: the consumer process that demo starts.
	demoConsumerVerb: func() verb { return &demoConsumerCmd{} },
}

// env is what every verb gets: the global options and the output streams.
type env struct {
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

// openArray maps the array named by args, the verb's single argument. The
// store is closed again at once: open arrays do not need it.
func (e *env) openArray(args []string) (*mmapstore.Array, error) {
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code: 0 success, 1 a
// runtime error, 2 a usage error. Errors are one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		e.tty = term.IsTerminal(int(f.Fd()))
	}
	global := pflag.NewFlagSet("arrayx", pflag.ContinueOnError)
	global.SetOutput(io.Discard)
	addGlobalFlags(global, e)
	global.SetInterspersed(false)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		return fail(e, usagef("%v", err))
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" {
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
	fs := pflag.NewFlagSet("arrayx "+rest[0], pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, e) // global flags are accepted after the verb too
	v.addFlags(fs)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			a, s := v.usage()
			fmt.Fprintf(stdout, "usage: arrayx %s %s\n  %s\n\nflags:\n%s", rest[0], a, s, fs.FlagUsages())
			return 0
		}
		return fail(e, usagef("%s: %v", rest[0], err))
	}
	if e.storeDir == "" {
		return fail(e, usagef("--store: empty directory name"))
	}
	if err := v.run(ctx, e, fs.Args()); err != nil {
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
	fs.BoolVarP(&e.quiet, "quiet", "q", e.quiet, "no progress bars")
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
	fmt.Fprintln(w, "\nRun 'arrayx COMMAND --help' for a command's flags.")
}

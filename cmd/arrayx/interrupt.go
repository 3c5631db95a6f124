package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signalExit is the cause of the command's context when a signal ended
// it: the shell's exit code for a process the signal killed, 128+N.
type signalExit struct {
	sig  os.Signal
	code int
}

func (s *signalExit) Error() string { return s.sig.String() + " signal received" }

// signalContext is a context that ends, with a *signalExit cause, at the
// first SIGINT or SIGTERM; stop releases the signals.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			code := 130 // 128 + SIGINT
			if s == syscall.SIGTERM {
				code = 143
			}
			cancel(&signalExit{sig: s, code: code})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// resumer is a verb whose interrupted transfer the same command resumes:
// the receiver keeps the verified blocks of a partial array.
type resumer interface{ resumes() }

func (*pushCmd) resumes() {}
func (*pullCmd) resumes() {}
func (*syncCmd) resumes() {}

// interrupted reports a command that a signal (or its context) stopped in
// one line, and returns the exit code: 128 + the signal's number, 130 when
// the context ended some other way.
func interrupted(e *env, name string, v verb, ctx context.Context) int {
	msg := name + " interrupted"
	if _, ok := v.(resumer); ok {
		msg += "; run the same command again to resume the transfer where it stopped"
	}
	fmt.Fprintf(e.stderr, "arrayx: %s\n", msg)
	if s := (*signalExit)(nil); errors.As(context.Cause(ctx), &s) {
		return s.code
	}
	return 130
}

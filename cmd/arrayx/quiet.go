package main

import "io"

// status is where a command reports what it did ("created x: ...",
// "pushed ..."): stdout, or nowhere with -q, which leaves errors only.
// What a command was asked to print (cat, info, ls, export -) is no status
// and goes to stdout regardless.
func (e *env) status() io.Writer {
	if e.quiet {
		return io.Discard
	}
	return e.stdout
}

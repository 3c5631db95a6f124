package main

import "errors"

// Sentinel errors of the command line; test with errors.Is.
var (
	// errExists means a command that writes an array found the name taken
	// and was not given --force.
	errExists = errors.New("already exists")

	// errWaitTimeout ends a wait that ran out of its --timeout.
	errWaitTimeout = errors.New("wait timed out")
)

package testnet

import "errors"

// ErrUnavailable is wrapped by every error of Available, and so of Setup
// on a machine that cannot build a network: New tells "cannot run here"
// (skip) from "broke while running" (fail) with errors.Is.
var ErrUnavailable = errors.New("testnet: cannot build a test network here")

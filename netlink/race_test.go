//go:build race

package netlink

// raceEnabled says the tests run under the race detector, whose shadow
// memory inflates a process's RSS (TestLoad's bound allows for it).
const raceEnabled = true

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"
)

// The harness re-executes its own binary for every Go process of a case:
// $ARRAYX_BENCH_ROLE names the role (a key of roles) and $ARRAYX_BENCH_PARAMS
// carries Params as JSON. Python children read the same variable.
const (
	envRole   = "ARRAYX_BENCH_ROLE"
	envParams = "ARRAYX_BENCH_PARAMS"
)

// Params is everything a child process needs to know about its run.
type Params struct {
	N      int64 `json:"n"`      // float64 elements
	NBytes int64 `json:"nbytes"` // 8 x N
	// Shift is what every element must read above its index: element i of
	// the data is i, so it is 0 in real runs; the tests set 1 to prove that
	// every case's verification catches wrong data.
	Shift      int64  `json:"shift"`
	SrcStore   string `json:"src_store"`   // store holding the sealed source array "x"
	ArxPath    string `json:"arx_path"`    // that array's file
	DataOffset int64  `json:"data_offset"` // where its data starts in the file
	NpyPath    string `json:"npy_path"`    // the same data as .npy
	ArrowPath  string `json:"arrow_path"`  // the same data as an Arrow IPC file (one record batch)
	Scratch    string `json:"scratch"`     // an empty directory for this run, removed afterwards
	Addr       string `json:"addr"`        // the server's "host:port", for clients
	Opt        string `json:"opt"`         // the process's option from the case table
	FlightRows int64  `json:"flight_rows"` // rows per Arrow Flight record batch
	// Host is the IPv4 address a server listens on: 127.0.0.1 on loopback,
	// its host's address inside a namespace (where.go).
	Host string `json:"host"`
	// SocketBuffer is the SO_SNDBUF/SO_RCVBUF size, in bytes, that the
	// cases with the option "sockbuf" ask for (--sockbuf).
	SocketBuffer int `json:"socket_buffer"`
	// Hosts are the destinations, "host:port", of a fan-out source.
	Hosts []string `json:"hosts,omitempty"`
}

// listenHost is the address servers listen on.
func (p *Params) listenHost() string {
	if p.Host == "" {
		return "127.0.0.1"
	}
	return p.Host
}

// Usage is a getrusage(2) reading, or the difference of two.
type Usage struct {
	User   float64 `json:"user_s"`
	Sys    float64 `json:"sys_s"`
	Vcsw   int64   `json:"vcsw"`         // voluntary context switches
	Ivcsw  int64   `json:"ivcsw"`        // involuntary context switches
	MaxRSS int64   `json:"maxrss_bytes"` // peak resident set size so far
}

func usageOf(ru *syscall.Rusage) Usage {
	return Usage{
		User:   time.Duration(ru.Utime.Nano()).Seconds(),
		Sys:    time.Duration(ru.Stime.Nano()).Seconds(),
		Vcsw:   ru.Nvcsw,
		Ivcsw:  ru.Nivcsw,
		MaxRSS: ru.Maxrss * 1024, // Linux reports KiB
	}
}

// Report is what a child prints as the last line of its standard output.
// The usage is measured over the child's window (begin to end): the transfer
// or the handoff, without interpreter start-up, imports or data set-up.
type Report struct {
	Lang     string             `json:"lang"` // "go" or "python"
	OK       bool               `json:"ok"`
	Error    string             `json:"error,omitempty"`
	Verified string             `json:"verified,omitempty"` // what the child checked
	Method   string             `json:"method,omitempty"`   // e.g. arrayx's Stats.Method
	Seconds  float64            `json:"seconds"`            // the window's length (monotonic clock)
	Phases   map[string]float64 `json:"phases,omitempty"`   // seconds from begin to each named point
	Usage                       // over the window; MaxRSS is the peak at its end
	// Go children only: bytes allocated on the heap during the window, and
	// the heap's size (HeapSys) at its end.
	GoHeapAlloc *int64 `json:"go_heap_alloc_bytes,omitempty"`
	GoHeapSys   *int64 `json:"go_heap_sys_bytes,omitempty"`
	// Streams is, for an arrayx client, the connections its Stats say
	// carried the transfer.
	Streams int `json:"streams,omitempty"`
	// Conns are the process's TCP connections at the end of its window
	// (Go children only; tcpinfo.go).
	Conns []TCPStats `json:"tcp_conns,omitempty"`
	// Fanout is, for a fan-out source, how each destination fared.
	Fanout []HostRun `json:"fanout,omitempty"`
}

// child is the running child process's side of the harness.
type child struct {
	Params
	rep    Report
	t0     time.Time
	ru0    syscall.Rusage
	alloc0 uint64
	begun  bool
	ended  bool
	stop   chan struct{} // closed when the harness closes our standard input
}

// childMain runs the role named by $ARRAYX_BENCH_ROLE and returns the exit
// code; ok is false when this process is not a child.
func childMain() (code int, ok bool) {
	role := os.Getenv(envRole)
	if role == "" {
		return 0, false
	}
	c := &child{rep: Report{Lang: "go"}, stop: make(chan struct{})}
	err := json.Unmarshal([]byte(os.Getenv(envParams)), &c.Params)
	if err == nil {
		fn, found := roles[role]
		if !found {
			err = fmt.Errorf("bench: unknown role %q", role)
		} else {
			go func() {
				io.Copy(io.Discard, os.Stdin)
				close(c.stop)
			}()
			err = fn(c)
		}
	}
	if err == nil && !c.ended {
		err = fmt.Errorf("bench: role %q never closed its measurement window", role)
	}
	c.rep.OK = err == nil
	if err != nil {
		c.rep.Error = err.Error()
	}
	out, _ := json.Marshal(c.rep)
	fmt.Printf("%s\n", out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
		return 1, true
	}
	return 0, true
}

// ready tells the harness the server is listening at addr and set up; the
// harness starts the client only then.
func (c *child) ready(addr string) { fmt.Printf("ready %s\n", addr) }

// begin opens the measurement window.
func (c *child) begin() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.alloc0 = ms.TotalAlloc
	syscall.Getrusage(syscall.RUSAGE_SELF, &c.ru0)
	c.t0 = time.Now()
	c.begun = true
}

// phase records the time since begin under name.
func (c *child) phase(name string) {
	if c.rep.Phases == nil {
		c.rep.Phases = map[string]float64{}
	}
	c.rep.Phases[name] = time.Since(c.t0).Seconds()
}

// end closes the measurement window; what follows (verification, clean-up)
// is not measured.
func (c *child) end() {
	if !c.begun || c.ended {
		return
	}
	c.rep.Seconds = time.Since(c.t0).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u, u0 := usageOf(&ru), usageOf(&c.ru0)
	c.rep.Usage = Usage{
		User:   u.User - u0.User,
		Sys:    u.Sys - u0.Sys,
		Vcsw:   u.Vcsw - u0.Vcsw,
		Ivcsw:  u.Ivcsw - u0.Ivcsw,
		MaxRSS: peakRSS(u.MaxRSS),
	}
	alloc, sys := int64(ms.TotalAlloc-c.alloc0), int64(ms.HeapSys)
	c.rep.GoHeapAlloc, c.rep.GoHeapSys = &alloc, &sys
	c.ended = true
}

// peakRSS returns this process's peak resident set size: VmHWM, which
// belongs to the address space exec created. ru_maxrss (the fallback) also
// counts the parent's memory at the fork, as Linux carries the peak across
// exec.
func peakRSS(fallback int64) int64 {
	var kb int64
	if _, err := fmt.Sscanf(procField("/proc/self/status", "VmHWM"), "%d kB", &kb); err != nil {
		return fallback
	}
	return kb * 1024
}

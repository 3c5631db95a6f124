package mmapstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
)

// TestWatch reports publications, replacements and removals, in new
// subdirectories too, a burst in one call, and never a writer's
// temporary file.
func TestWatch(t *testing.T) {
	s := newStore(t)
	create(t, s, "before", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan []string, 16)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 50*time.Millisecond, func(names []string) { calls <- names }) }()
	next := func(what string, want ...string) {
		t.Helper()
		select {
		case got := <-calls:
			if !slices.Equal(got, want) {
				t.Fatalf("%s: Watch reported %q, want %q", what, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Watch reported nothing in 10 s", what)
		}
	}
	time.Sleep(100 * time.Millisecond) // its first scan has the old state

	create(t, s, "a", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	next("a publication", "a")

	// A writer in progress is invisible; two seals in a new subdirectory,
	// close together, come in one call.
	w, err := s.Create("sub/deep/x", arrayx.Float32, arrayx.Shape{4}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-calls:
		t.Fatalf("a writer's temporary file was reported: %q", got)
	case <-time.After(300 * time.Millisecond):
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	create(t, s, "sub/deep/y", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	next("two seals", "sub/deep/x", "sub/deep/y")

	// A replacement (a new file under the old name), then a removal.
	if err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	create(t, s, "a", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	next("a replacement", "a")
	if err := s.Remove("before"); err != nil {
		t.Fatal(err)
	}
	next("a removal", "before")

	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Watch ended with %v, want its context's cause", err)
	}
}

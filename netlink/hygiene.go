package netlink

import (
	"time"
)

// DefaultCleanEvery is Config.CleanEvery's default.
const DefaultCleanEvery = 10 * time.Minute

// startCleaning cleans the store once, before the first connection, and
// then every Config.CleanEvery until Shutdown or Close (not for a
// read-only server, which removes nothing).
func (s *Server) startCleaning() {
	s.clean()
	if s.cfg.ReadOnly {
		return
	}
	if n := s.store.MaxBytes(); n > 0 {
		s.cfg.Logger.Info("store limit", "max_store_bytes", n) // PUTs past it get 507
	}
	if s.cfg.CleanEvery < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	stop := make(chan struct{})
	s.cleanStop = stop
	go func() {
		tick := time.NewTicker(s.cfg.CleanEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.clean()
			}
		}
	}()
}

// stopCleaning ends the periodic cleaning; s.mu is held.
func (s *Server) stopCleaning() {
	if s.cleanStop != nil {
		close(s.cleanStop)
		s.cleanStop = nil
	}
}

// closePartial releases a received array's partial once no connection
// carries the transfer. It is kept for a resume, unless a block failed
// every attempt: the sender's copy is damaged, the same transfer fails the
// same way again, and the partial would only take space (RAM, on a
// memory-backed store) until the cleaner's age limit.
func (t *recvTransfer) closePartial() {
	t.mu.Lock()
	damaged := t.damaged
	t.mu.Unlock()
	if damaged {
		t.p.Discard()
		return
	}
	t.p.Close()
}

package scheduler

import (
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// TestSignal is a test signal of the engine (testsignal.go).
type TestSignal = testSignal

func (s *testSignal) init() { s.ch = make(chan struct{}, 1) }

// Count is how many times the signal fired.
func (s *testSignal) Count() int64 { return s.n.Load() }

// WaitUntil waits until cond holds, checking it first and again each time
// the signal fires; it reports false if deadline passes first.
func (s *testSignal) WaitUntil(deadline time.Time, cond func() bool) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !cond() {
		select {
		case <-s.ch:
		case <-timer.C:
			return cond()
		}
	}
	return true
}

// WaitFor waits until cond holds, as WaitUntil, and fails t if it does not
// within timeout.
func (s *testSignal) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !s.WaitUntil(time.Now().Add(timeout), cond) {
		t.Fatalf("%s: not within %v", what, timeout)
	}
}

// Next waits for the signal to fire once (a wake-up from before the call
// counts), or for timeout; it reports whether it fired.
func (s *testSignal) Next(timeout time.Duration) bool {
	select {
	case <-s.ch:
		return true
	case <-time.After(timeout):
		return false
	}
}

// TestSignals are the engine's test signals, for the package's external
// tests.
type TestSignals struct {
	Claimed, Done, Scanned, Workers, Woken *TestSignal
}

// InitTestSignals turns e's test signals on; call it before Run, ScanOnce
// or anything else that starts the engine's background work.
func InitTestSignals(e *Engine) TestSignals {
	s := &e.signals
	for _, x := range []*testSignal{&s.claimed, &s.done, &s.scanned, &s.workers, &s.woken} {
		x.init()
	}
	return TestSignals{Claimed: &s.claimed, Done: &s.done, Scanned: &s.scanned, Workers: &s.workers, Woken: &s.woken}
}

// PendingClaims counts the claims made and not yet processed.
func PendingClaims(e *Engine) int64 { return e.pending.Load() }

// SoleTicks is the signal of e's sole-sender lease ticks; call it before Run.
func SoleTicks(e *Engine) *TestSignal {
	e.sole.tick.init()
	return &e.sole.tick
}

// SoleState is e's view of the sole-sender lease, and whether it ticked.
func SoleState(e *Engine) (store.SoleState, bool) {
	e.sole.mu.Lock()
	defer e.sole.mu.Unlock()
	return e.sole.state, e.sole.active
}

// Test signals (River's rivershared/testsignal): the engine and the job
// runner say when background work has happened, so that tests wait for it
// instead of sleeping. A signal's zero value does nothing, and production
// never initialises one (export_test.go does, for tests); signalling never
// blocks and waits on nothing.

package scheduler

import "sync/atomic"

// testSignal counts an event and wakes a waiter. Several events may wake
// one wait: a waiter checks its condition again on each wake-up.
type testSignal struct {
	ch chan struct{} // nil in production: signal does nothing
	n  atomic.Int64
}

func (s *testSignal) signal() {
	if s.ch == nil {
		return
	}
	s.n.Add(1)
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// engineSignals are the engine's test signals.
type engineSignals struct {
	claimed testSignal // a batch of claims committed and dispatched
	done    testSignal // a claim processed: recorded, its user unlocked, no longer pending
	scanned testSignal // a scan (ScanOnce holding scanMu) ended
	workers testSignal // a worker went idle or ended
	woken   testSignal // a scan was asked for (Wake, now or by its timer)
}

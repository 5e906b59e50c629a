// Package storetest is the conformance suite of store drivers: every
// operation of store.Store and every invariant the engine relies on,
// against a driver passed in. internal/db runs it on SQLite; a new driver
// runs it before anything else.
package storetest

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// Open returns a new, empty store for one test; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the whole suite against the driver open returns.
func Run(t *testing.T, open Open) {
	t.Run("reminders", func(t *testing.T) { reminderTests(t, open) }) // reminders.go
	t.Run("engine", func(t *testing.T) { engineTests(t, open) })      // engine.go
}

// fresh opens a store for one test and closes it when the test ends.
func fresh(t *testing.T, open Open) store.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

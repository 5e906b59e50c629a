// Package storetest is the conformance suite of store drivers: every
// operation of store.Store and every invariant the engine relies on,
// against a driver passed in. internal/db runs it on SQLite and
// internal/db/postgres on PostgreSQL; a new driver runs it before
// anything else.
//
// The suite has two halves, which a driver may pass one at a time while
// it is being written: Reminders (store.ReminderStore: what the API and
// the services ask) and Engine (store.EngineStore: what the scheduler
// asks). Run runs both.
package storetest

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// Open returns a new, empty store for one test; the suite closes it.
type Open[S Closer] func(t *testing.T) S

// Closer is a store the suite can close.
type Closer interface{ Close() error }

// ReminderDriver is a driver of the reminders half.
type ReminderDriver interface {
	store.ReminderStore
	Closer
}

// EngineDriver is a driver of the engine half.
type EngineDriver interface {
	store.EngineStore
	Closer
}

// Run runs the whole suite against the driver open returns.
func Run(t *testing.T, open Open[store.Store]) {
	t.Run("reminders", func(t *testing.T) {
		Reminders(t, func(t *testing.T) ReminderDriver { return open(t) })
	})
	t.Run("engine", func(t *testing.T) {
		Engine(t, func(t *testing.T) EngineDriver { return open(t) })
	})
	t.Run("events", func(t *testing.T) { Events(t, open) })
	t.Run("ledger apps", func(t *testing.T) { LedgerApps(t, open) })
	t.Run("webhooks", func(t *testing.T) {
		Webhooks(t, func(t *testing.T) WebhookDriver { return open(t) })
	})
}

// Reminders runs the reminders half (reminders.go, consents.go).
func Reminders(t *testing.T, open Open[ReminderDriver]) { reminderTests(t, open) }

// Engine runs the engine half (engine*.go).
func Engine(t *testing.T, open Open[EngineDriver]) { engineTests(t, open) }

// fresh opens a store for one test and closes it when the test ends.
func fresh[S Closer](t *testing.T, open Open[S]) S {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

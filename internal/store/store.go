// Package store is the boundary between reminderd and its database. It
// holds the domain values the engine and the API work with (a Reminder
// with time.Time instants, the typed vocabulary of vocab.go), the errors a
// store returns, and Store: the operations, named for what they do, that a
// driver implements. Every operation runs in a transaction of its own,
// which the driver opens, commits and retries; callers never see a
// transaction, a pool or a row type.
//
// Five files: store.go (this, the errors, Store), vocab.go (the typed
// vocabulary), model.go (the values: Reminder, Delivery, Consent, …),
// reminders.go (ReminderStore: what the API and the services ask, with its
// parameters) and engine.go (EngineStore: what the scheduler asks: claims,
// outcomes, rescue, pauses, push events, with theirs).
//
// internal/db is the SQLite driver, internal/db/postgres the PostgreSQL
// one. internal/store/storetest is the conformance suite every driver
// passes: each operation, and each invariant the engine relies on.
//
// It imports no other internal package.
package store

import "errors"

// Errors a store returns, matched with errors.Is.
var (
	// ErrNotFound: no such row (or not the caller's to see).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row's state does not allow the change (a
	// compare-and-set lost, a duplicate key).
	ErrConflict = errors.New("conflict")
	// ErrFull: the database refused a write for want of space. Reads go on;
	// writes succeed again once space is freed.
	ErrFull = errors.New("database full")
)

// Store is everything reminderd asks of its database. The operations are
// grouped by who calls them; a driver implements them all.
type Store interface {
	ReminderStore // reminders.go: what the API and the services do
	EngineStore   // engine.go: what the scheduler does
	WebhookStore  // webhooks.go: the webhook outbox
	// Close releases the database.
	Close() error
}

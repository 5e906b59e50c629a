package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ReminderStore is what the JSON API, the admin API and the services ask
// of the store: reminders, consents, sessions, the store's health. Each
// operation is one transaction (or one consistent read); not-found is
// ErrNotFound, a refused change ErrConflict (a *StateError when a
// reminder's status refused it), a full disk ErrFull.
type ReminderStore interface {
	ReminderCreator // create.go
	Reminders
	Consents    // consents.go
	Sessions    // sessions.go
	Deliveries  // deliveries.go
	HealthStore // health.go
}

// ErrLimit: a create would take the user past their limit of scheduled
// reminders (CreateOptions.MaxScheduled).
var ErrLimit = errors.New("limit of scheduled reminders reached")

// StateError is a compare-and-set on a reminder's status that lost: the
// reminder exists but is in Status, which does not allow the change. It
// matches ErrConflict.
type StateError struct {
	ID     string
	Status Status
}

func (e *StateError) Error() string { return fmt.Sprintf("reminder %s is %s", e.ID, e.Status) }

func (e *StateError) Unwrap() error { return ErrConflict }

// Reminders are the operations on reminders apart from the engine's.
type Reminders interface {
	// CreateReminderIdempotent is the API's create: in one transaction it
	// looks up r.IdempotencyKey (when set) among r.OpenID's reminders,
	// counts the user's scheduled reminders against opt.MaxScheduled, and
	// inserts r. A key seen with the same RequestHash returns that reminder
	// (Replayed); with another hash it is ErrConflict. Past the limit it is
	// ErrLimit. A concurrent create with the same key that commits first is
	// answered as if it had been seen.
	CreateReminderIdempotent(ctx context.Context, r NewReminder, opt CreateOptions) (Created, error)
	// ReminderByIdempotencyKey returns openID's reminder created with key.
	ReminderByIdempotencyKey(ctx context.Context, openID, key string) (Reminder, error)
	// GetReminder returns reminder id.
	GetReminder(ctx context.Context, id string) (Reminder, error)
	// ListReminders returns one page of the reminders q matches, in
	// (FireAt, ID) order.
	ListReminders(ctx context.Context, q ListQuery) (Page, error)
	// UpdateScheduled changes a reminder while it is scheduled (a new
	// FireAt is a new occurrence: an unknown outcome and a delivery report
	// of the old one are forgotten); a *StateError when it is not.
	UpdateScheduled(ctx context.Context, u ReminderUpdate, now time.Time) error
	// CancelReminder cancels a scheduled reminder; a *StateError when it
	// is in another status.
	CancelReminder(ctx context.Context, id string, now time.Time) error
	// RetryReminder schedules a failed or skipped reminder again at now, as
	// a new occurrence (its window moves with it, its attempts are kept); a
	// *StateError when it is in another status.
	RetryReminder(ctx context.Context, id string, now time.Time) error
	// CancelReminders cancels the scheduled ones among ids, in one
	// transaction.
	CancelReminders(ctx context.Context, ids []string, now time.Time) (CancelCounts, error)
	// RetryReminders retries, in one transaction, the failed and skipped
	// ones among ids whose reason a retry can fix (Reason.Permanent ones
	// are counted, not retried).
	RetryReminders(ctx context.Context, ids []string, now time.Time) (RetryCounts, error)
	// CountReminders counts the reminders by status and the scheduled ones
	// due at now.
	CountReminders(ctx context.Context, now time.Time) (Counts, error)
	// CountAhead counts the pending reminders of r's user and template
	// that come before r in (FireAt, ID) order and still need a credit
	// from the ledger (a claim holding one does not).
	CountAhead(ctx context.Context, r Reminder) (int64, error)
}

// CreateOptions tune CreateReminderIdempotent.
type CreateOptions struct {
	// MaxScheduled bounds the user's scheduled reminders (0: no bound).
	MaxScheduled int
}

// Created is what CreateReminderIdempotent did.
type Created struct {
	Reminder Reminder
	// Replayed: the key was seen with the same request; Reminder is the
	// one it created then, and nothing was written.
	Replayed bool
	// Consent and Ahead are the ledger's row for the reminder's user and
	// template (the zero Consent when none) and CountAhead's count, read
	// in the create's transaction for the answer's coverage (Ahead only
	// when the row has credits and no long-term grant, else 0).
	Consent Consent
	Ahead   int64
}

// ReminderUpdate is a change to a scheduled reminder: its new values.
type ReminderUpdate struct {
	ID         string
	FireAt     time.Time
	ExpiresAt  time.Time
	Window     time.Duration
	HasWindow  bool
	Data, Page string
}

// CancelCounts is what a bulk cancel did, per outcome.
type CancelCounts struct{ Matched, Canceled, Conflict, NotFound int }

// RetryCounts is what a bulk retry did, per outcome; Permanent counts the
// reminders left alone because a retry cannot fix their reason.
type RetryCounts struct{ Matched, Retried, Conflict, Permanent, NotFound int }

// Counts is what CountReminders found.
type Counts struct {
	// ByStatus holds the statuses that have reminders.
	ByStatus map[Status]int64
	// DueBacklog counts the scheduled reminders due; OldestDueAt is the
	// earliest DueAt among them (zero when none).
	DueBacklog  int64
	OldestDueAt time.Time
}

package store

import (
	"context"
	"time"
)

// NewReminder is a reminder to create: what a request (or a test's
// fixture) gives; the store adds its status (scheduled), attempts and
// instants of change.
type NewReminder struct {
	ID, OpenID, TemplateID     string
	FireAt, DueAt, ExpiresAt   time.Time
	Window                     time.Duration
	HasWindow                  bool
	Recurrence, Timezone, Data string
	Page, IdempotencyKey       string
	RequestHash                string
	CreatedAt                  time.Time
}

// ReminderCreator creates reminders.
type ReminderCreator interface {
	// CreateReminder stores r, scheduled, and returns it as stored. A
	// duplicate id or idempotency key is ErrConflict.
	CreateReminder(ctx context.Context, r NewReminder) (Reminder, error)
}

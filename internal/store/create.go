package store

import (
	"context"
	"time"
)

// NewReminder is a reminder to create, scheduled. Zero instants and
// durations mean "none", as in Reminder.
type NewReminder struct {
	ID, OpenID, TemplateID                                        string
	FireAt, DueAt, ExpiresAt                                      time.Time
	Window                                                        time.Duration
	HasWindow                                                     bool
	Recurrence, Timezone, Data, Page, IdempotencyKey, RequestHash string
	CreatedAt                                                     time.Time
}

// ReminderCreator creates reminders.
type ReminderCreator interface {
	// CreateReminder stores r as a scheduled reminder and returns it as
	// stored; ErrConflict on a duplicate id or idempotency key.
	CreateReminder(ctx context.Context, r NewReminder) (Reminder, error)
}

package store

import (
	"context"
	"sync/atomic"
	"time"
)

// EngineStore is what the scheduler asks of the store: claims, outcomes,
// the rescue of expired leases, pauses, unknown outcomes, periodic jobs.
type EngineStore interface {
	ReminderCreator

	// ClaimDue claims up to p.Max due reminders, in due order, for p.Owner
	// until p.LeaseUntil (engine_claim.go). Two claims never return the same
	// reminder, and a claimed reminder is not claimed again until it is
	// recorded or its lease is rescued.
	ClaimDue(ctx context.Context, p ClaimParams) ([]Claim, error)
	// RecordOutcome writes what the engine decided of one claim
	// (engine_outcome.go) as a compare-and-set on the claim, in one
	// transaction, and reports what was written. Concurrent calls may share
	// one commit; each gets its own result and error.
	RecordOutcome(ctx context.Context, o Outcome) (Recorded, error)
	// ExpectOutcomes is the record wait: a commit of outcomes lingers up to
	// linger while inFlight is above zero (sends still at WeChat), so that
	// their records share it. An Outcome with Counted set was counted in
	// inFlight: the store takes it off as the outcome joins the commit's
	// queue. A linger ≤ 0 or a nil inFlight turns the wait off. A store
	// that commits each outcome alone may ignore it.
	ExpectOutcomes(linger time.Duration, inFlight *atomic.Int64)
	// RescueExpiredLeases returns the reminders whose lease ran out before
	// now to scheduled, each as an attempt of unknown outcome (an abandoned
	// delivery, its held credit counted used), due once unknownWait since
	// its claim is over. It returns how many it rescued.
	RescueExpiredLeases(ctx context.Context, now time.Time, unknownWait time.Duration) (int, error)
	// NextDueAt is the earliest due instant of a scheduled reminder (zero:
	// none).
	NextDueAt(ctx context.Context) (time.Time, error)

	// Pauses (engine_pause.go).
	SetPause(ctx context.Context, p Pause) error
	ClearPause(ctx context.Context, name string) error
	// Pause returns the pause named name, or ErrNotFound.
	Pause(ctx context.Context, name string) (Pause, error)

	// Unknown outcomes (engine_unknown.go): what a claim of an occurrence
	// with an attempt of unknown outcome looks at.
	//
	// OccurrenceSent reports whether the occurrence (the reminder's fire_at
	// at) has a delivery recorded sent.
	OccurrenceSent(ctx context.Context, reminderID string, occurrence time.Time) (bool, error)
	// PendingSentEvent is the earliest sent event parked for the user and
	// template received at or after since, or ErrNotFound.
	PendingSentEvent(ctx context.Context, openID, templateID string, since time.Time) (SentEvent, error)
	// LastUnknownAttempt is when the occurrence's latest attempt of unknown
	// outcome started (zero: none).
	LastUnknownAttempt(ctx context.Context, reminderID string, occurrence time.Time) (time.Time, error)
	// OccurrenceFirstAttempt is the first attempt number recorded for the
	// occurrence (0: none yet).
	OccurrenceFirstAttempt(ctx context.Context, reminderID string, occurrence time.Time) (int64, error)

	// Periodic jobs (engine_jobs.go).
	//
	// Retain deletes what is past its use (Retention's cutoffs).
	Retain(ctx context.Context, r Retention) error
	// Templates returns the templates of the last sync, in its order.
	Templates(ctx context.Context) ([]Template, error)
	// SyncTemplates replaces the templates with list, synced at at: one
	// change, which readers see whole.
	SyncTemplates(ctx context.Context, list []Template, at time.Time) error
	// LoadToken returns the stored access token, or ErrNotFound.
	LoadToken(ctx context.Context) (Token, error)
	// SaveToken stores the access token, replacing the last.
	SaveToken(ctx context.Context, t Token, at time.Time) error

	// ApplyPushEvent applies one message push event, in one transaction
	// with the record of the pushes applied (engine_push.go).
	ApplyPushEvent(ctx context.Context, e PushEvent) (PushApplied, error)
}

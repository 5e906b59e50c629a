package store

import "time"

// TemplateKind is how a user's accept of a template may be used (the
// templates.kind column).
type TemplateKind string

const (
	// KindOneTime: one send per accept; a claim reserves a credit.
	KindOneTime TemplateKind = "one_time"
	// KindLongTerm: any number of sends after one accept.
	KindLongTerm TemplateKind = "long_term"
)

// ClaimParams are a due scan's claim.
type ClaimParams struct {
	// Now is the claim's instant: reminders due at or before it are claimed.
	Now time.Time
	// LeaseUntil ends the claims' lease; Owner names the claiming process.
	LeaseUntil time.Time
	Owner      string
	// Max bounds the claim.
	Max int
	// Kind says a template's kind; false: not a known template (the claim
	// is then not covered, and the send fails it).
	Kind func(templateID string) (TemplateKind, bool)
	// Abort, if set, is asked just before the claim commits: true rolls it
	// back and ClaimDue returns no claims (sending was paused meanwhile).
	Abort func() bool
}

// Claim is a reminder claimed for a send: status sending, one more
// attempt, the lease (Reminder.LeaseUntil, LeaseOwner) and, for a one-time
// template, a reserved credit (Reminder.CreditHeld).
type Claim struct {
	Reminder  Reminder
	ClaimedAt time.Time // the claim's instant: the delivery's started_at
	// Covered: a consent covered the send when claimed (a held credit, the
	// long-term grant, or the credit an earlier attempt of unknown outcome
	// used).
	Covered bool
}

package store

import "time"

// Reminder is one reminder: a message to one user through one template at
// an instant, once or on a recurrence. Zero instants and durations mean
// "none" (an unset column).
type Reminder struct {
	ID         string
	OpenID     string
	TemplateID string
	Status     Status
	Reason     Reason // set exactly when Status is failed or skipped
	// FireAt is the (current occurrence's) instant; DueAt when it is next
	// looked at (FireAt, or a retry's instant).
	FireAt time.Time
	DueAt  time.Time
	// ExpiresAt ends the current occurrence's window; Window is its width,
	// kept for each occurrence of a series (HasWindow false: the default).
	ExpiresAt  time.Time
	Window     time.Duration
	HasWindow  bool
	Recurrence string // a recurrence spec; "" for a one-off
	Timezone   string
	Data       string // the keyword values, a JSON object
	Page       string
	Attempts   int64
	// LeaseUntil and LeaseOwner are set exactly while Status is sending.
	LeaseUntil     time.Time
	LeaseOwner     string
	IdempotencyKey string
	RequestHash    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// CreditHeld: the claim reserved a one-time credit for this send.
	CreditHeld bool
	// UnknownAt: the last attempt's outcome is unknown (the engine waits
	// for a sent event before it sends again).
	UnknownAt time.Time
	Delivery  Report // WeChat's sent event, when one arrived
}

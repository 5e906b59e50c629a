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
	ReminderCreator
	Reminders
	Consents
	ConsentSettings
	Sessions
	Deliveries
	Apps
	HealthStore
	Events
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

// NewReminder is a reminder to create, scheduled. Zero instants and
// durations mean "none", as in Reminder.
type NewReminder struct {
	ID, AppID, OpenID, TemplateID                                 string
	FireAt, DueAt, ExpiresAt                                      time.Time
	Window                                                        time.Duration
	HasWindow                                                     bool
	Recurrence, Timezone, Data, Page, IdempotencyKey, RequestHash string
	CreatedAt                                                     time.Time
	// EventID, Lead and Alternatives as in Reminder.
	EventID, Lead string
	Alternatives  []Alternative
	// ExternalRef is the service API's reference ("" for none).
	ExternalRef string
}

// ReminderCreator creates reminders.
type ReminderCreator interface {
	// CreateReminder stores r as a scheduled reminder and returns it as
	// stored; ErrConflict on a duplicate id or idempotency key.
	CreateReminder(ctx context.Context, r NewReminder) (Reminder, error)
}

// ListQuery selects reminders for a listing: every filter left empty (or
// zero) matches everything.
type ListQuery struct {
	// AppID limits the listing to one mini-program's reminders.
	AppID      string
	OpenID     string
	Status     Status
	TemplateID string
	// Text is found inside the data JSON, as the data is stored.
	Text string
	// Delivery filters by WeChat's sent-event report.
	Delivery Report
	// From and To bound FireAt: From ≤ FireAt < To.
	From, To time.Time
	// After is where the page starts (nil: at the beginning).
	After *Cursor
	// Limit is the page's size (at least 1).
	Limit int
	// ExternalRef selects the reminders of one external reference (the
	// service API's filter); with it only OpenID and Status filter too.
	ExternalRef string
}

// Cursor is a place in (FireAt, ID) order.
type Cursor struct {
	FireAt time.Time
	ID     string
}

// Page is one page of a listing.
type Page struct {
	Reminders []Reminder
	// Next is where the next page starts; nil on the last page. A page
	// filtered by template or text without a user may stop short of Limit
	// after reading WalkLimit entries and still have a Next.
	Next *Cursor
	// WalkLimit is the most entries such a page reads.
	WalkLimit int64
}

// HealthStore is what readiness asks of the store.
type HealthStore interface {
	// Ping reports whether the store answers reads.
	Ping(ctx context.Context) error
	// Schema returns the schema's version and the latest this build
	// knows: they differ until every migration is applied.
	Schema(ctx context.Context) (version, latest int, err error)
	// Writable reports whether the store accepts writes (nil, or why not:
	// ErrFull for want of space). A driver may cache the answer briefly.
	Writable(ctx context.Context) error
	// NoteWriteError tells the store of a write's failure: after ErrFull,
	// Writable fails until a write succeeds again.
	NoteWriteError(err error)
	// Integrity is what the check of the store's files at open found.
	Integrity() Integrity
}

// Integrity is the verdict of an integrity check at open.
type Integrity int

const (
	// IntegrityNotRun: the store was opened without a check.
	IntegrityNotRun Integrity = iota
	// IntegrityOK: the check finished and found nothing.
	IntegrityOK
	// IntegrityUnfinished: the check was cut short at its deadline; the
	// store was opened without a verdict.
	IntegrityUnfinished
)

// Deliveries are the reads of the delivery records.
type Deliveries interface {
	// ListDeliveries returns a reminder's deliveries, oldest first.
	ListDeliveries(ctx context.Context, reminderID string) ([]Delivery, error)
	// DeliveriesPerHour counts the deliveries that ended (or started)
	// since, per hour and status, in hour then status order. slack is the
	// longest a delivery's end may follow its start by (a lease): a driver
	// may read by record order from that much before since.
	DeliveriesPerHour(ctx context.Context, since time.Time, slack time.Duration) ([]TrendBucket, error)
}

// Consents are the operations on the consent ledger. The ledger is per
// app: every operation names the app (appID) whose user openID is, and
// never reads or writes another app's rows, though the openid be the same.
type Consents interface {
	// RecordAccept records one accept of (openID, templateID) in appID
	// reported by source. An accept of the other source within PairWindow
	// not yet paired, of the same app, describes the same accept: the two
	// are paired and nothing is added. Otherwise one credit is added
	// (one-time) or the template granted (longTerm). It reports whether the
	// accept added to the ledger.
	RecordAccept(ctx context.Context, appID, openID, templateID string, longTerm bool, source GrantSource, now time.Time) (counted bool, err error)
	// SetConsentStatus records a reject, ban or filter answer: the status
	// changes, the credits stay.
	SetConsentStatus(ctx context.Context, appID, openID, templateID string, status ConsentStatus, now time.Time) error
	// GetConsent returns the user's row for a template; ErrNotFound when
	// the user never answered for it in appID.
	GetConsent(ctx context.Context, appID, openID, templateID string) (Consent, error)
	// ListConsents returns the user's rows in appID, by template id.
	ListConsents(ctx context.Context, appID, openID string) ([]Consent, error)
	// ListPrompted returns up to max of the user's pending reminders of
	// appID that hold no credit, most urgent (FireAt, then ID) first.
	ListPrompted(ctx context.Context, appID, openID string, max int) ([]Prompted, error)
}

// Sessions are the operations on sessions.
type Sessions interface {
	// CreateSession stores s; ErrConflict when its hash is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session of tokenHash unless it has expired at
	// now (ErrNotFound then, as for an unknown hash).
	GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error)
}

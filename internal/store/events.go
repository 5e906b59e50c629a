package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event is a meeting with several reminders (its leads): each lead is one
// reminder of the event, due at StartAt − lead, sent through the first of
// Templates the user holds a credit for. Zero instants mean "none".
type Event struct {
	ID, OpenID string
	// AppID is the mini-program of the event's user; its reminders are
	// the same app's.
	AppID       string
	Title       string
	Location    string
	StartAt     time.Time
	EndAt       time.Time
	ExpiresAt   time.Time
	Timezone    string
	Page        string
	ExternalRef string
	// Leads are the ISO 8601 durations as given, in the order given.
	Leads []string
	// Templates are the alternatives in order, their data as given (with
	// the placeholders {title}, {location}, {start}, {end}).
	Templates []EventTemplate
	// CanceledAt is when the event was canceled (zero: it was not).
	CanceledAt     time.Time
	IdempotencyKey string
	RequestHash    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Pending: some reminder of the event is scheduled or sending (read
	// with the event).
	Pending bool
}

// EventStatus is an event's status, derived: canceled once canceled,
// scheduled while a reminder of it is pending, done when every reminder of
// it ended.
func (e Event) Status() string {
	switch {
	case !e.CanceledAt.IsZero():
		return "canceled"
	case e.Pending:
		return "scheduled"
	}
	return "done"
}

// EventTemplate is one of an event's templates, its data a JSON object of
// keyword → value, placeholders unrendered.
type EventTemplate struct {
	TemplateID string          `json:"template_id"`
	Data       json.RawMessage `json:"data"`
}

// Alternative is one template a reminder may be sent through, with the
// data rendered for it (a JSON object).
type Alternative struct {
	TemplateID string `json:"template_id"`
	Data       string `json:"data"`
}

// AlternativeIDs lists the template ids of alts, in order.
func AlternativeIDs(alts []Alternative) []string {
	ids := make([]string, len(alts))
	for i, a := range alts {
		ids[i] = a.TemplateID
	}
	return ids
}

// EncodeAlternatives is the stored form of alts ("" for none).
func EncodeAlternatives(alts []Alternative) string {
	if len(alts) == 0 {
		return ""
	}
	b, _ := json.Marshal(alts) // strings only: cannot fail
	return string(b)
}

// DecodeAlternatives reads the stored form of alternatives.
func DecodeAlternatives(s string) ([]Alternative, error) {
	if s == "" {
		return nil, nil
	}
	var alts []Alternative
	if err := json.Unmarshal([]byte(s), &alts); err != nil {
		return nil, fmt.Errorf("stored alternatives: %w", err)
	}
	return alts, nil
}

// Events are the operations on events. Each is one transaction.
type Events interface {
	// CreateEvent stores e with its reminders rems (each with EventID
	// e.ID) in one transaction, after e.IdempotencyKey (as
	// CreateReminderIdempotent: the same RequestHash replays, another is
	// ErrConflict) and the user's limit of scheduled reminders (ErrLimit
	// when rems would take the user past opt.MaxScheduled).
	CreateEvent(ctx context.Context, e Event, rems []NewReminder, opt CreateOptions) (EventCreated, error)
	// CreateEvents is CreateEvent for several events (one per attendee)
	// in one transaction: all are written, or none when one is refused
	// (ErrLimit, ErrConflict); the answer is in the order of evs.
	CreateEvents(ctx context.Context, evs []NewEvent, opt CreateOptions) ([]EventCreated, error)
	// EventByIdempotencyKey returns openID's event created with key.
	EventByIdempotencyKey(ctx context.Context, openID, key string) (Event, error)
	// GetEvent returns event id.
	GetEvent(ctx context.Context, id string) (Event, error)
	// EventReminders returns the reminders of event id, in (FireAt, ID)
	// order.
	EventReminders(ctx context.Context, id string) ([]Reminder, error)
	// ListEvents returns one page of the events q matches, in (StartAt,
	// ID) order.
	ListEvents(ctx context.Context, q EventQuery) (EventPage, error)
	// ReplanEvent reads event id and its reminders and, in the same
	// transaction, writes what plan makes of them: the event's new values,
	// its reminders changed, created and canceled. plan may run more than
	// once (a retried transaction); an error from it rolls back and is
	// returned as is. A reminder to change or cancel that is no longer
	// scheduled is a *StateError.
	ReplanEvent(ctx context.Context, id string, now time.Time, plan func(Event, []Reminder) (EventPlan, error)) (Event, error)
	// CancelEvent marks event id canceled and cancels its scheduled
	// reminders, in one transaction; it returns how many it canceled. An
	// event canceled already is ErrConflict.
	CancelEvent(ctx context.Context, id string, now time.Time) (int, error)
	// EventIDsByExternalRef lists, in id order, the events of app appID
	// not canceled whose external_ref is ref (every attendee's event of
	// one reference of the app's backend).
	EventIDsByExternalRef(ctx context.Context, appID, ref string) ([]string, error)
}

// NewEvent is an event to create with its reminders.
type NewEvent struct {
	Event     Event
	Reminders []NewReminder
}

// EventCreated is what CreateEvent did.
type EventCreated struct {
	Event Event
	// Replayed: the key was seen with the same request; nothing was
	// written.
	Replayed bool
}

// EventQuery selects events for a listing ("" OpenID: everyone's; ""
// AppID: every app's).
type EventQuery struct {
	OpenID string
	AppID  string
	// After is where the page starts (nil: the beginning); its FireAt is
	// an event's StartAt.
	After *Cursor
	Limit int
}

// EventPage is one page of events; Next is nil on the last page.
type EventPage struct {
	Events []Event
	Next   *Cursor
}

// EventPlan is what a re-plan writes: the event's new values (its ID,
// OpenID, CreatedAt and idempotency are kept) and its reminders' changes.
type EventPlan struct {
	Event  Event
	Update []EventReminderUpdate
	Create []NewReminder
	Cancel []string
	// MaxScheduled, if positive, is the user's limit of scheduled
	// reminders: a plan that creates more than it cancels past it is
	// ErrLimit, as CreateEvent.
	MaxScheduled int
}

// EventPlanOverLimit is the ErrLimit of a plan that would take its user
// from scheduled (their scheduled reminders now) past p.MaxScheduled, or
// nil. Both drivers ask it in the re-plan's transaction.
func EventPlanOverLimit(p EventPlan, scheduled int64) error {
	grow := int64(len(p.Create) - len(p.Cancel))
	if p.MaxScheduled <= 0 || grow <= 0 || scheduled+grow <= int64(p.MaxScheduled) {
		return nil
	}
	return fmt.Errorf("re-plan event %s for %s: %d scheduled, %d more: %w", p.Event.ID, p.Event.OpenID, scheduled, grow, ErrLimit)
}

// EventReminderUpdate is a scheduled reminder of an event re-planned: its
// new instant, window, lead, template, data and alternatives.
type EventReminderUpdate struct {
	ID           string
	Lead         string
	FireAt       time.Time
	ExpiresAt    time.Time
	TemplateID   string
	Data, Page   string
	Alternatives []Alternative
}

package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strconv"
	"time"
)

// WebhookApps says whose events the outbox keeps.
type WebhookApps struct {
	// Default is the app of an event whose own app is unknown: a reminder
	// written before apps existed, a consent of a template no app lists.
	Default string
	// On reports whether app's events are kept (its webhook is
	// configured); nil: Default's only.
	On func(appID string) bool
}

// App is the app an event of app (a reminder's, "" unknown) goes to, and
// whether the outbox keeps it.
func (h WebhookApps) App(app string) (string, bool) {
	if app == "" {
		app = h.Default
	}
	if h.On == nil {
		return app, app != "" && app == h.Default
	}
	return app, app != "" && h.On(app)
}

// WebhookStore is the durable outbox of webhook events (docs/webhooks.md).
// A driver with webhooks enabled writes an event's row in the transaction
// of the change it reports: an outcome (RecordOutcome), a push event
// (ApplyPushEvent), a consent change (RecordAccept, SetConsentStatus). The
// dispatcher leases due rows, posts them and records each result.
type WebhookStore interface {
	// EnableWebhooks turns the outbox on for the apps hooks names (those
	// whose webhook URL is configured); until it is called nothing is
	// written to it, so the send path costs nothing without webhooks. Each
	// row carries its own app: a reminder's, or a consent's (the app whose
	// ledger changed; Default for a row written before apps existed).
	EnableWebhooks(hooks WebhookApps)
	// ClaimWebhooks leases up to max rows due at now to owner until
	// leaseUntil, in due order. A leased row is not claimed again before
	// its lease ends, by this process or another.
	ClaimWebhooks(ctx context.Context, now time.Time, owner string, leaseUntil time.Time, max int) ([]Webhook, error)
	// FinishWebhook records one post's result, a compare-and-set on the
	// lease (ErrConflict when the lease was lost).
	FinishWebhook(ctx context.Context, r WebhookResult) error
	// GetWebhook returns outbox row id, or ErrNotFound.
	GetWebhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks lists the rows in state (every state when empty),
	// newest first, one page.
	ListWebhooks(ctx context.Context, q WebhookQuery) (WebhookPage, error)
	// RetryWebhook makes a failing or dead row due at now (the admin's
	// retry); ErrNotFound, or ErrConflict for a row in another state.
	RetryWebhook(ctx context.Context, id string, now time.Time) error
	// WebhookDepth counts the rows not yet delivered nor dead.
	WebhookDepth(ctx context.Context) (int64, error)
}

// WebhookState is an outbox row's state: pending (not yet posted),
// failing (posted, refused or unanswered, a retry due at NextAt),
// delivered (a 2xx answer), dead (still failing a day after it was
// written: kept, visible, retried only by an admin).
type WebhookState string

const (
	WebhookPending   WebhookState = "pending"
	WebhookFailing   WebhookState = "failing"
	WebhookDelivered WebhookState = "delivered"
	WebhookDead      WebhookState = "dead"
)

// WebhookStates is the vocabulary of webhook_outbox.state, in the schema's
// order.
func WebhookStates() []WebhookState {
	return []WebhookState{WebhookPending, WebhookFailing, WebhookDelivered, WebhookDead}
}

// Webhook event types (webhook_outbox.type).
const (
	EventReminderSent        = "reminder.sent"
	EventReminderDelivered   = "reminder.delivered"
	EventReminderUndelivered = "reminder.undelivered"
	EventReminderFailed      = "reminder.failed"
	EventReminderSkipped     = "reminder.skipped"
	EventConsentChanged      = "consent.changed"
)

// WebhookTypes is the vocabulary of webhook_outbox.type, in the schema's
// order.
func WebhookTypes() []string {
	return []string{EventReminderSent, EventReminderDelivered, EventReminderUndelivered, EventReminderFailed,
		EventReminderSkipped, EventConsentChanged}
}

// Webhook is one outbox row.
type Webhook struct {
	ID, AppID, Type    string
	ReminderID, OpenID string // ReminderID "" for consent.changed
	// Payload is the event's facts as of its change (WebhookPayload, JSON).
	Payload string
	// Body is the request body as first posted ("" before): every retry
	// posts these bytes.
	Body        string
	State       WebhookState
	Attempts    int64
	NextAt      time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	LastStatus  int64 // the last answer's HTTP status (0: none came)
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeliveredAt time.Time
}

// WebhookResult is one post's outcome, as FinishWebhook records it.
type WebhookResult struct {
	ID, Owner  string
	At         time.Time
	Body       string
	State      WebhookState // delivered, failing or dead
	NextAt     time.Time    // failing: the next attempt
	LastStatus int64
	LastError  string
}

// WebhookQuery selects a page of the outbox, newest first.
type WebhookQuery struct {
	State WebhookState
	// Before is where the page starts (nil: at the newest).
	Before *WebhookCursor
	Limit  int
}

// WebhookCursor is a place in (CreatedAt, ID) order.
type WebhookCursor struct {
	CreatedAt time.Time
	ID        string
}

// WebhookPage is one page of the outbox; Next is nil on the last.
type WebhookPage struct {
	Webhooks []Webhook
	Next     *WebhookCursor
}

// WebhookPayload is what an outbox row keeps of its event, as of the
// change: the delivery of a reminder event, or the consent of a
// consent.changed event (with what changed it). The dispatcher adds the
// reminder as it renders the body.
type WebhookPayload struct {
	Delivery *WebhookDelivery `json:"delivery,omitempty"`
	OpenID   string           `json:"openid,omitempty"`
	Consent  *WebhookConsent  `json:"consent,omitempty"`
	// Cause of a consent change: report, popup, unsubscribe, refused
	// (WeChat's 43101), admin.
	Cause string `json:"cause,omitempty"`
}

// WebhookDelivery is a delivery record as a webhook carries it: the shape
// of the API's deliveries (instants in UTC).
type WebhookDelivery struct {
	Attempt           int64   `json:"attempt"`
	Status            string  `json:"status"`
	Errcode           *int64  `json:"errcode"`
	Errmsg            string  `json:"errmsg"`
	MsgID             *string `json:"msgid"`
	At                string  `json:"at"`
	Delivered         *bool   `json:"delivered"`
	OccurrenceAt      string  `json:"occurrence_at"`
	LatencyMS         *int64  `json:"latency_ms"`
	PossibleDuplicate bool    `json:"possible_duplicate"`
	// EventStatus is WeChat's ErrorStatus of a sent event, when one came.
	EventStatus string `json:"event_status,omitempty"`
}

// WebhookConsent is a ledger row as a webhook carries it: the shape of the
// API's consents.
type WebhookConsent struct {
	TemplateID string `json:"template_id"`
	Credits    int64  `json:"credits"`
	Status     string `json:"status"`
	LongTerm   bool   `json:"long_term"`
	UpdatedAt  string `json:"updated_at"`
}

// webhookLayout renders a payload's instants (UTC, milliseconds when not
// zero), as the API renders instants.
const webhookLayout = "2006-01-02T15:04:05.999Z07:00"

var webhookIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewWebhookID returns "evt_" and 20 characters: 48 bits of the instant in
// milliseconds, then 52 random bits (ids written together sort together).
// The id is the event's: stable across the retries of its post.
func NewWebhookID(now time.Time) string {
	var b [15]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return "evt_" + webhookIDEncoding.EncodeToString(b[:])[:20]
}

// NewDeliveryPayload is the payload of a reminder event about d.
func NewDeliveryPayload(d Delivery) string {
	w := &WebhookDelivery{Attempt: d.Attempt, Status: string(d.Status), Errmsg: d.ErrMsg,
		At: d.StartedAt.UTC().Format(webhookLayout), OccurrenceAt: d.OccurrenceAt.UTC().Format(webhookLayout),
		PossibleDuplicate: d.PossibleDuplicate, EventStatus: d.EventStatus}
	if d.HasErrCode {
		w.Errcode = &d.ErrCode
	}
	if d.HasMsgID {
		v := strconv.FormatInt(d.MsgID, 10)
		w.MsgID = &v
	}
	if d.HasDelivered {
		w.Delivered = &d.Delivered
	}
	if d.HasLatency {
		ms := d.Latency.Milliseconds()
		w.LatencyMS = &ms
	}
	b, _ := json.Marshal(WebhookPayload{Delivery: w})
	return string(b)
}

// NewConsentPayload is the payload of a consent.changed event: the ledger
// row after the change, and its cause.
func NewConsentPayload(c Consent, cause string) string {
	b, _ := json.Marshal(WebhookPayload{OpenID: c.OpenID, Cause: cause, Consent: &WebhookConsent{TemplateID: c.TemplateID,
		Credits: c.Credits, Status: string(c.Status), LongTerm: c.LongTerm, UpdatedAt: c.UpdatedAt.UTC().Format(webhookLayout)}})
	return string(b)
}

// Causes of a consent change (WebhookPayload.Cause).
const (
	CauseReport      = "report"
	CausePopup       = "popup"
	CauseUnsubscribe = "unsubscribe"
	CauseRefused     = "refused"
	CauseAdmin       = "admin"
)

// OutcomeWebhook is the event a recorded outcome reports, if any: a send
// WeChat accepted (rec.Status sent, or an attempt of unknown outcome
// settled as sent) is reminder.sent; an occurrence that failed or was
// skipped is reminder.failed or reminder.skipped. Retries, deferrals and
// unknown outcomes report nothing (they are not outcomes yet). The
// delivery is the one the record wrote. A settle refused because its
// event was another send's (rec.EventGone) was written as a deferral:
// nothing to report.
func OutcomeWebhook(o Outcome, rec Recorded) (typ string, d Delivery, ok bool) {
	if rec.EventGone {
		return "", d, false
	}
	r := o.Claim.Reminder
	if o.Delivery != nil {
		d = *o.Delivery
		d.ReminderID, d.OccurrenceAt, d.Attempt = r.ID, r.FireAt, r.Attempts
		d.StartedAt, d.FinishedAt = o.Claim.ClaimedAt, o.At
		if rec.Status != "" {
			d.Status = rec.Status
		}
	}
	switch {
	case o.Settle != nil && !rec.Unsettled:
		d = Delivery{ReminderID: r.ID, OccurrenceAt: r.FireAt, Attempt: r.Attempts, Status: DeliverySent,
			ErrMsg: o.Settle.ErrMsg, StartedAt: o.Claim.ClaimedAt, FinishedAt: o.At}
		if o.Settle.HasEvent {
			d.MsgID, d.HasMsgID = o.Settle.Event.MsgID, true
			d.Delivered, d.HasDelivered, d.EventStatus = o.Settle.Event.Delivered, true, o.Settle.Event.Status
		}
		return EventReminderSent, d, true
	case o.Delivery == nil:
		return "", d, false
	case d.Status == DeliverySent:
		return EventReminderSent, d, true
	case d.Status == DeliveryFailed:
		return EventReminderFailed, d, true
	case d.Status == DeliverySkipped:
		return EventReminderSkipped, d, true
	}
	return "", d, false
}

// SentEventWebhook is the event a sent event applied to delivery d reports.
func SentEventWebhook(d Delivery) string {
	if d.Delivered {
		return EventReminderDelivered
	}
	return EventReminderUndelivered
}

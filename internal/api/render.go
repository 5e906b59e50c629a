package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

type reminderJSON struct {
	ID         string          `json:"id"`
	AppID      string          `json:"appid"`
	OpenID     string          `json:"openid"`
	TemplateID string          `json:"template_id"`
	Status     string          `json:"status"`
	Reason     *string         `json:"reason"`
	FireAt     string          `json:"fire_at"`
	ExpiresAt  *string         `json:"expires_at"`
	Recurrence *string         `json:"recurrence"`
	Timezone   string          `json:"timezone"`
	Data       json.RawMessage `json:"data"`
	Page       string          `json:"page"`
	Attempts   int64           `json:"attempts"`
	// Delivery is what WeChat's sent event said of the send: "delivered",
	// "failed" (WeChat accepted it but could not deliver it), or "unknown"
	// (its window closed with the send's outcome unknown); absent before.
	Delivery   string          `json:"delivery,omitempty"`
	Consent    consentCoverage `json:"consent"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
	Deliveries *[]deliveryJSON `json:"deliveries,omitempty"`
	// EventID and Lead say which event and lead a reminder is of (absent
	// for an ordinary reminder); Alternatives are the templates it may be
	// sent through, in order (template_id is the one it was or will be
	// sent through).
	EventID      *string  `json:"event_id,omitempty"`
	Lead         string   `json:"lead,omitempty"`
	Alternatives []string `json:"alternatives,omitempty"`
	// ExternalRef is the app backend's reference of a reminder it created
	// through the service API; absent for none.
	ExternalRef string `json:"external_ref,omitempty"`
}

// consentCoverage says whether the ledger covers a pending reminder:
// credits is the user's current balance for the template; covered is true
// when the reminders due before this one leave a credit for it (or the
// template is long-term and granted).
type consentCoverage struct {
	Credits int64 `json:"credits"`
	Covered bool  `json:"covered"`
}

type deliveryJSON struct {
	Attempt      int64   `json:"attempt"`
	Status       string  `json:"status"`
	Errcode      *int64  `json:"errcode"`
	Errmsg       string  `json:"errmsg"`
	MsgID        *string `json:"msgid"` // a string: msgids exceed 2^53, JavaScript's exact range
	At           string  `json:"at"`
	Delivered    *bool   `json:"delivered"`
	OccurrenceAt string  `json:"occurrence_at"`
	LatencyMS    *int64  `json:"latency_ms"`
	// PossibleDuplicate: sent after an attempt of unknown outcome of the
	// same occurrence, which WeChat may have delivered too.
	PossibleDuplicate bool `json:"possible_duplicate"`
}

// Every instant an answer carries follows one rule: an instant of a
// reminder (fire_at, expires_at, created_at, updated_at, and its deliveries'
// at and occurrence_at) is rendered in the reminder's timezone; every other
// instant (a session's expires_at, a consent's updated_at, the jobs, the
// stats) in UTC, with Z. Both are RFC 3339 with the milliseconds when they
// are not zero, so an answer names exactly the instant that was given
// (instants are stored in milliseconds).
const instantLayout = "2006-01-02T15:04:05.999Z07:00"

// formatInstant renders t in loc by the rule above.
func formatInstant(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(instantLayout)
}

// formatUTC renders an instant that belongs to no reminder.
func formatUTC(t time.Time) string { return formatInstant(t, time.UTC) }

// zones caches the zones reminders name: time.LoadLocation reads the
// embedded database each time. Only zones that load are kept, so it holds
// at most the database's 598 names.
var zones sync.Map // string → *time.Location

// reminderZone is the zone a reminder's instants are rendered in: its
// timezone, loaded as it was validated (recur.LoadZone, the embedded IANA
// database, whatever the host has), or UTC for a name that no longer loads.
func reminderZone(name string) *time.Location {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := recur.LoadZone(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// optString is nil for "" (a column the schema leaves NULL).
func optString[T ~string](v T) *string {
	if v == "" {
		return nil
	}
	s := string(v)
	return &s
}

func (s *Server) renderReminder(ctx context.Context, cc *service.Coverage, r store.Reminder) (reminderJSON, error) {
	loc := reminderZone(r.Timezone)
	out := reminderJSON{
		ID: r.ID, AppID: r.AppID, OpenID: r.OpenID, TemplateID: r.TemplateID, Status: string(r.Status), Reason: optString(r.Reason),
		FireAt: formatInstant(r.FireAt, loc), Recurrence: optString(r.Recurrence), Timezone: r.Timezone,
		Data: json.RawMessage(r.Data), Page: r.Page, Attempts: r.Attempts, Delivery: string(r.Delivery), ExternalRef: r.ExternalRef,
		CreatedAt: formatInstant(r.CreatedAt, loc), UpdatedAt: formatInstant(r.UpdatedAt, loc),
	}
	if !r.ExpiresAt.IsZero() {
		v := formatInstant(r.ExpiresAt, loc)
		out.ExpiresAt = &v
	}
	eventFields(&out, r)
	credits, covered, err := cc.Of(ctx, r)
	if err != nil {
		return out, err
	}
	out.Consent = consentCoverage{Credits: credits, Covered: covered}
	return out, nil
}

// writeReminder reads a reminder back and writes it, with its deliveries
// when detail is set.
func (s *Server) writeReminder(w http.ResponseWriter, r *http.Request, id string, status int, detail bool) {
	ctx := r.Context()
	// The read pool sees every committed write (WAL): the single writer
	// connection stays free for writes.
	rem, err := s.store.GetReminder(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.renderReminder(ctx, s.consents.Coverage(), rem)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if detail {
		rows, err := s.store.ListDeliveries(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		loc := reminderZone(rem.Timezone)
		ds := make([]deliveryJSON, 0, len(rows))
		for _, d := range rows {
			dj := deliveryJSON{Attempt: d.Attempt, Status: string(d.Status), Errmsg: d.ErrMsg,
				At: formatInstant(d.StartedAt, loc), OccurrenceAt: formatInstant(d.OccurrenceAt, loc),
				PossibleDuplicate: d.PossibleDuplicate}
			if d.HasErrCode {
				dj.Errcode = &d.ErrCode
			}
			if d.HasMsgID {
				v := strconv.FormatInt(d.MsgID, 10)
				dj.MsgID = &v
			}
			if d.HasDelivered {
				dj.Delivered = &d.Delivered
			}
			if d.HasLatency {
				ms := d.Latency.Milliseconds()
				dj.LatencyMS = &ms
			}
			ds = append(ds, dj)
		}
		out.Deliveries = &ds
	}
	encode(w, status, out)
}

package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

// eventJSON is an event as the API answers it.
type eventJSON struct {
	ID          string                `json:"id"`
	AppID       string                `json:"appid"`
	OpenID      string                `json:"openid"`
	Status      string                `json:"status"`
	Title       string                `json:"title"`
	Location    string                `json:"location"`
	StartAt     string                `json:"start_at"`
	EndAt       *string               `json:"end_at"`
	ExpiresAt   *string               `json:"expires_at"`
	Timezone    string                `json:"timezone"`
	Page        string                `json:"page"`
	ExternalRef string                `json:"external_ref"`
	Leads       []string              `json:"leads"`
	Templates   []store.EventTemplate `json:"templates"`
	// LeadsSkipped are the leads that have no reminder to send: past when
	// the event was created or re-planned (a canceled event's are none).
	LeadsSkipped []string       `json:"leads_skipped"`
	Reminders    []reminderJSON `json:"reminders"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
}

// renderEvent renders e with its reminders, in the event's zone.
func (s *Server) renderEvent(ctx context.Context, cc *service.Coverage, e store.Event) (eventJSON, error) {
	loc := reminderZone(e.Timezone)
	out := eventJSON{ID: e.ID, AppID: e.AppID, OpenID: e.OpenID, Status: e.Status(), Title: e.Title, Location: e.Location,
		StartAt: formatInstant(e.StartAt, loc), Timezone: e.Timezone, Page: e.Page, ExternalRef: e.ExternalRef,
		Leads: e.Leads, Templates: e.Templates, LeadsSkipped: []string{}, Reminders: []reminderJSON{},
		CreatedAt: formatInstant(e.CreatedAt, loc), UpdatedAt: formatInstant(e.UpdatedAt, loc)}
	if out.Leads == nil {
		out.Leads = []string{}
	}
	if out.Templates == nil {
		out.Templates = []store.EventTemplate{}
	}
	if !e.EndAt.IsZero() {
		v := formatInstant(e.EndAt, loc)
		out.EndAt = &v
	}
	if !e.ExpiresAt.IsZero() {
		v := formatInstant(e.ExpiresAt, loc)
		out.ExpiresAt = &v
	}
	rems, err := s.store.EventReminders(ctx, e.ID)
	if err != nil {
		return out, err
	}
	planned := map[string]bool{}
	for _, r := range rems {
		rj, err := s.renderReminder(ctx, cc, r)
		if err != nil {
			return out, err
		}
		out.Reminders = append(out.Reminders, rj)
		if r.Status != store.StatusCanceled {
			planned[r.Lead] = true
		}
	}
	if e.CanceledAt.IsZero() {
		for _, l := range e.Leads {
			if !planned[l] && !slices.Contains(out.LeadsSkipped, l) {
				out.LeadsSkipped = append(out.LeadsSkipped, l)
			}
		}
	}
	return out, nil
}

// writeEvent reads event id back and writes it with its reminders.
func (s *Server) writeEvent(w http.ResponseWriter, r *http.Request, id string, status int) {
	ctx := r.Context()
	e, err := s.store.GetEvent(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.renderEvent(ctx, s.consents.Coverage(), e)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, status, out)
}

// eventFields are what a reminder of an event adds to its JSON.
func eventFields(rj *reminderJSON, r store.Reminder) {
	if r.EventID == "" {
		return
	}
	id := r.EventID
	rj.EventID, rj.Lead = &id, r.Lead
	if len(r.Alternatives) > 0 {
		rj.Alternatives = store.AlternativeIDs(r.Alternatives)
	}
}

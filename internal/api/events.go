package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/store"
)

// Events: a meeting with several reminders (docs/events.md). The handlers
// take the owner's openid, so that another surface (the service API) can
// serve the same operations for any user of its app.

// newEventID is "evt_" and 20 characters, ordered by creation time as a
// reminder's id is.
func newEventID(now time.Time) string { return "evt_" + strings.TrimPrefix(newReminderID(now), "rem_") }

// eventRequestHash identifies a create request for idempotency.
func eventRequestHash(req *eventRequest) string {
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Server) handleCreateEvent(w http.ResponseWriter, r *http.Request) {
	var req eventRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.createEvent(w, r, openID(r.Context()), &req)
}

// createEvent creates an event of owner from req and answers it: 201, or
// 200 with the event a repeated Idempotency-Key created.
func (s *Server) createEvent(w http.ResponseWriter, r *http.Request, owner string, req *eventRequest) {
	ctx := r.Context()
	key := r.Header.Get("Idempotency-Key")
	var hash string
	if key != "" {
		if len(key) > maxIdempotencyKeyLen || strings.IndexFunc(key, unicode.IsControl) >= 0 {
			s.writeError(w, r, fieldErrors{"Idempotency-Key": fmt.Sprintf("must be at most %d printable characters", maxIdempotencyKeyLen)}.err())
			return
		}
		hash = eventRequestHash(req)
		prev, err := s.store.EventByIdempotencyKey(ctx, owner, key)
		switch {
		case err == nil && prev.RequestHash != hash:
			s.writeError(w, r, idempotencyConflict(key))
			return
		case err == nil:
			s.writeEvent(w, r, prev.ID, http.StatusOK)
			return
		case !errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, err)
			return
		}
	}
	now := s.now()
	spec, err := s.validateEvent(ctx, req, now, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e := &spec.event
	e.ID, e.OpenID, e.IdempotencyKey, e.RequestHash, e.CreatedAt = newEventID(now), owner, key, hash, now
	e.AppID = appID(ctx)
	var rems []store.NewReminder
	for i, due := range spec.dues {
		if !due.Before(now) {
			rems = append(rems, spec.reminderFor(i, newReminderID(now), now))
		}
	}
	if len(rems) == 0 {
		s.writeError(w, r, fieldErrors{"leads": "every lead is already past (start_at minus each lead is before now): nothing would be sent"}.err())
		return
	}
	created, err := s.store.CreateEvent(ctx, *e, rems, store.CreateOptions{MaxScheduled: s.maxSched})
	switch {
	case errors.Is(err, store.ErrLimit):
		s.writeError(w, r, s.rateLimitedScheduled())
		return
	case key != "" && errors.Is(err, store.ErrConflict):
		s.writeError(w, r, idempotencyConflict(key))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	case created.Replayed:
		s.writeEvent(w, r, created.Event.ID, http.StatusOK)
		return
	}
	s.engine.Wake(earliest(rems))
	w.Header().Set("Location", "/v1/events/"+e.ID)
	s.writeEvent(w, r, e.ID, http.StatusCreated)
}

// earliest is the first fire_at among rems.
func earliest(rems []store.NewReminder) time.Time {
	t := rems[0].FireAt
	for _, r := range rems[1:] {
		if r.FireAt.Before(t) {
			t = r.FireAt
		}
	}
	return t
}

// ownEvent loads event id of owner ("": anyone's) in the request's app (a
// session's or the service token's; the admin's requests have none and
// reach every app's); anyone else's event, or another app's, is not found,
// as one that does not exist.
func (s *Server) ownEvent(ctx context.Context, id, owner string) (store.Event, error) {
	e, err := s.store.GetEvent(ctx, id)
	if err == nil && ((owner != "" && e.OpenID != owner) || (inApp(ctx, owner) && e.AppID != appID(ctx))) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Event{}, notFound("event " + id)
	}
	return e, err
}

// inApp reports whether a request of owner is confined to its app: a
// session's (owner given) or a service token's (an app, no owner); the
// admin's is not.
func inApp(ctx context.Context, owner string) bool { return owner != "" || appID(ctx) != "" }

func (s *Server) handleGetOwnEvent(w http.ResponseWriter, r *http.Request) {
	s.getEvent(w, r, openID(r.Context()))
}

// getEvent answers event {id} of owner ("": the admin's, anyone's).
func (s *Server) getEvent(w http.ResponseWriter, r *http.Request, owner string) {
	id := chi.URLParam(r, "id")
	if _, err := s.ownEvent(r.Context(), id, owner); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeEvent(w, r, id, http.StatusOK)
}

func (s *Server) handleListOwnEvents(w http.ResponseWriter, r *http.Request) {
	s.listEvents(w, r, openID(r.Context()), false)
}

type eventListResponse struct {
	Events     []eventJSON `json:"events"`
	NextCursor *string     `json:"next_cursor"`
}

// listEvents answers a page of owner's events (admin: anyone's, or the
// openid filter's).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, owner string, admin bool) {
	q := r.URL.Query()
	fe := fieldErrors{}
	eq := store.EventQuery{OpenID: owner, Limit: defaultLimit}
	if inApp(r.Context(), owner) {
		eq.AppID = appID(r.Context())
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			fe.add("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxLimit))
		}
		eq.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, ok := decodeCursor(v)
		if !ok {
			fe.add("cursor", "is not a cursor this API returned")
		}
		eq.After = &c
	}
	if admin {
		eq.OpenID = q.Get("openid")
		eq.AppID = adminAppFilter(r, fe)
	} else if q.Has("openid") {
		fe.add("openid", "is an admin filter; the mini-program API lists the caller's own events")
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.store.ListEvents(r.Context(), eq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := eventListResponse{Events: make([]eventJSON, 0, len(page.Events))}
	if page.Next != nil {
		c := encodeCursor(*page.Next)
		out.NextCursor = &c
	}
	cc := s.consents.Coverage()
	for _, e := range page.Events {
		ej, err := s.renderEvent(r.Context(), cc, e)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Events = append(out.Events, ej)
	}
	encode(w, http.StatusOK, out)
}

// eventPatch is the body of PATCH /v1/events/{id}: each field given
// replaces the event's (end_at and expires_at may be null: none).
type eventPatch struct {
	Title       *string              `json:"title"`
	StartAt     *string              `json:"start_at"`
	EndAt       json.RawMessage      `json:"end_at"`
	ExpiresAt   json.RawMessage      `json:"expires_at"`
	Location    *string              `json:"location"`
	Page        *string              `json:"page"`
	ExternalRef *string              `json:"external_ref"`
	Leads       []string             `json:"leads"`
	Templates   *[]eventTemplateJSON `json:"templates"`
	ValuePolicy string               `json:"value_policy"`
}

func (s *Server) handlePatchEvent(w http.ResponseWriter, r *http.Request) {
	var req eventPatch
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.patchEvent(w, r, openID(r.Context()), &req)
}

// patchEvent re-plans event {id} of owner with the patch and answers it.
func (s *Server) patchEvent(w http.ResponseWriter, r *http.Request, owner string, p *eventPatch) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	if _, err := s.ownEvent(ctx, id, owner); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	endAt, endSet := nullableInstant(fe, "end_at", p.EndAt)
	expiresAt, expSet := nullableInstant(fe, "expires_at", p.ExpiresAt)
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	var wake time.Time
	_, err := s.store.ReplanEvent(ctx, id, now, func(cur store.Event, rems []store.Reminder) (store.EventPlan, error) {
		if !cur.CanceledAt.IsZero() {
			return store.EventPlan{}, conflict("event %s is canceled; it cannot be changed", id)
		}
		req := mergeEvent(cur, p)
		if endSet {
			req.EndAt = endAt
		}
		if expSet {
			req.ExpiresAt = expiresAt
		}
		spec, err := s.validateEvent(ctx, &req, now, p.StartAt != nil)
		if err != nil {
			return store.EventPlan{}, err
		}
		plan, err := replan(cur, spec, rems, now)
		wake = plan.wake
		plan.MaxScheduled = s.maxSched
		return plan.EventPlan, err
	})
	var se *store.StateError
	switch {
	case errors.Is(err, store.ErrLimit):
		s.writeError(w, r, s.rateLimitedScheduled())
		return
	case errors.As(err, &se):
		s.writeError(w, r, conflict("reminder %s of event %s started sending meanwhile; try again in a moment", se.ID, id))
		return
	case errors.Is(err, store.ErrNotFound):
		s.writeError(w, r, notFound("event "+id))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	if !wake.IsZero() {
		s.engine.Wake(wake)
	}
	s.writeEvent(w, r, id, http.StatusOK)
}

// nullableInstant parses an instant that may be null: set reports whether
// the field was given, v is nil for null.
func nullableInstant(fe fieldErrors, path string, raw json.RawMessage) (v *string, set bool) {
	if raw == nil {
		return nil, false
	}
	if json.Unmarshal(raw, &v) != nil {
		fe.add(path, "must be an RFC 3339 instant with an offset, or null")
	}
	return v, true
}

// mergeEvent is the request that describes cur with p's fields applied.
func mergeEvent(cur store.Event, p *eventPatch) eventRequest {
	loc := reminderZone(cur.Timezone)
	start := formatInstant(cur.StartAt, loc)
	tz := cur.Timezone
	req := eventRequest{Title: cur.Title, StartAt: &start, Location: cur.Location, Timezone: &tz, Page: cur.Page,
		ExternalRef: cur.ExternalRef, Leads: cur.Leads, ValuePolicy: p.ValuePolicy}
	if !cur.EndAt.IsZero() {
		v := formatInstant(cur.EndAt, loc)
		req.EndAt = &v
	}
	if !cur.ExpiresAt.IsZero() {
		v := formatInstant(cur.ExpiresAt, loc)
		req.ExpiresAt = &v
	}
	for _, t := range cur.Templates {
		var data map[string]json.RawMessage
		_ = json.Unmarshal(t.Data, &data)
		req.Templates = append(req.Templates, eventTemplateJSON{TemplateID: t.TemplateID, Data: data})
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&req.Title, p.Title)
	set(&req.Location, p.Location)
	set(&req.Page, p.Page)
	set(&req.ExternalRef, p.ExternalRef)
	if p.StartAt != nil {
		req.StartAt = p.StartAt
	}
	if p.Leads != nil {
		req.Leads = p.Leads
	}
	if p.Templates != nil {
		req.Templates = *p.Templates
	}
	return req
}

// eventReplan is a re-plan and the earliest instant it schedules.
type eventReplan struct {
	store.EventPlan
	wake time.Time
}

// replan plans the event's reminders for spec: a scheduled reminder of a
// lead still there and not past is moved and re-rendered, one of a lead
// gone (or now past) is canceled, a lead without a reminder gets one if it
// is not past; a reminder that is sending or sent keeps its lead as it is.
// One that ended unsent (skipped, failed) stays as its record, and its lead
// is planned afresh: moved to a time still ahead, it gets a new reminder
// (the contract re-plans every reminder not yet sent).
func replan(cur store.Event, spec eventSpec, rems []store.Reminder, now time.Time) (eventReplan, error) {
	e := spec.event
	e.ID, e.AppID, e.OpenID, e.CreatedAt, e.IdempotencyKey, e.RequestHash = cur.ID, cur.AppID, cur.OpenID, cur.CreatedAt, cur.IdempotencyKey, cur.RequestHash
	spec.event = e
	p := eventReplan{EventPlan: store.EventPlan{Event: e}}
	note := func(t time.Time) {
		if p.wake.IsZero() || t.Before(p.wake) {
			p.wake = t
		}
	}
	planned := map[string]bool{}
	kept := 0
	for _, r := range rems {
		i := slices.Index(e.Leads, r.Lead)
		switch {
		case r.Status == store.StatusCanceled:
		case r.Status == store.StatusSending || r.Status == store.StatusSent:
			planned[r.Lead] = true // it stays, and its lead is done
			kept++
		case r.Status != store.StatusScheduled:
			kept++ // skipped or failed: it stays as the lead's record; the lead is planned below
		case i < 0 || planned[r.Lead] || spec.dues[i].Before(now):
			p.Cancel = append(p.Cancel, r.ID)
		default:
			planned[r.Lead] = true
			n := spec.reminderFor(i, r.ID, now)
			p.Update = append(p.Update, store.EventReminderUpdate{ID: r.ID, Lead: n.Lead, FireAt: n.FireAt,
				ExpiresAt: n.ExpiresAt, TemplateID: n.TemplateID, Data: n.Data, Page: n.Page, Alternatives: n.Alternatives})
			note(n.FireAt)
		}
	}
	for i, l := range e.Leads {
		if planned[l] || spec.dues[i].Before(now) {
			continue
		}
		planned[l] = true
		n := spec.reminderFor(i, newReminderID(now), now)
		p.Create = append(p.Create, n)
		note(n.FireAt)
	}
	if len(p.Update)+len(p.Create)+kept == 0 {
		return p, fieldErrors{"leads": "every lead is already past (start_at minus each lead is before now): nothing would be sent"}.err()
	}
	return p, nil
}

func (s *Server) handleCancelOwnEvent(w http.ResponseWriter, r *http.Request) {
	s.cancelEvent(w, r, openID(r.Context()))
}

// cancelEvent cancels event {id} of owner and answers it.
func (s *Server) cancelEvent(w http.ResponseWriter, r *http.Request, owner string) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	if _, err := s.ownEvent(ctx, id, owner); err != nil {
		s.writeError(w, r, err)
		return
	}
	_, err := s.store.CancelEvent(ctx, id, s.now())
	switch {
	case errors.Is(err, store.ErrConflict):
		s.writeError(w, r, conflict("event %s is canceled already", id))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	s.writeEvent(w, r, id, http.StatusOK)
}

func (s *Server) handleAdminListEvents(w http.ResponseWriter, r *http.Request) {
	s.listEvents(w, r, "", true)
}

func (s *Server) handleAdminGetEvent(w http.ResponseWriter, r *http.Request) { s.getEvent(w, r, "") }

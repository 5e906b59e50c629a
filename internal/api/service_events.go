package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/reminderd/reminderd/internal/store"
)

// The service API's events: the app's backend creates one meeting for
// several attendees (one event each, every one that user's own), and
// reads, changes or cancels them as the mini-program API does, for any
// user of its app.

// maxAttendees bounds the openids of one create (one transaction).
const maxAttendees = 100

// serviceEventRequest is POST /service/v1/events: the mini-program's event
// plus its attendees.
type serviceEventRequest struct {
	eventRequest
	OpenIDs []string `json:"openids"`
}

// serviceEventJSON is one attendee's event with its coverage.
type serviceEventJSON struct {
	eventJSON
	Coverage eventCoverage `json:"coverage"`
}

// eventCoverage counts an event's pending reminders the user's ledger
// covers now (a credit left for one of its templates) and those it does
// not: the backend sees whom to ask for consent.
type eventCoverage struct {
	Covered   int `json:"covered"`
	Uncovered int `json:"uncovered"`
}

type serviceEventsResponse struct {
	Events []serviceEventJSON `json:"events"`
}

// checkAttendees says what is wrong with the openids of a create.
func checkAttendees(fe fieldErrors, ids []string) {
	if len(ids) == 0 || len(ids) > maxAttendees {
		fe.add("openids", fmt.Sprintf("is required: 1 to %d openids of the app's users, one event each", maxAttendees))
		return
	}
	seen := map[string]bool{}
	for i, id := range ids {
		path := fmt.Sprintf("openids[%d]", i)
		if p := checkOpenID(id); p != "" {
			fe.add(path, p)
		} else if seen[id] {
			fe.add(path, "is listed twice: each attendee gets one event")
		}
		seen[id] = true
	}
}

// handleServiceCreateEvents creates one event per attendee, all in one
// transaction: a request the validation refuses, or one attendee past the
// limit of scheduled reminders, creates none. The event is validated once
// (its values do not depend on the user). A repeated Idempotency-Key with
// the same request answers the same events (200).
func (s *Server) handleServiceCreateEvents(w http.ResponseWriter, r *http.Request) {
	var req serviceEventRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	key := r.Header.Get("Idempotency-Key")
	fe := fieldErrors{}
	if key != "" && (len(key) > maxIdempotencyKeyLen || strings.IndexFunc(key, unicode.IsControl) >= 0) {
		fe.add("Idempotency-Key", fmt.Sprintf("must be at most %d printable characters", maxIdempotencyKeyLen))
	}
	checkAttendees(fe, req.OpenIDs)
	now := s.now()
	spec, err := s.validateEvent(ctx, &req.eventRequest, now, true)
	var ve *Error
	if errors.As(err, &ve) && ve.Fields != nil {
		for k, v := range ve.Fields {
			fe.add(k, v)
		}
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash := ""
	if key != "" {
		hash = requestHash(&req)
	}
	evs := make([]store.NewEvent, 0, len(req.OpenIDs))
	for _, oid := range req.OpenIDs {
		one := spec
		e := &one.event
		e.ID, e.AppID, e.OpenID, e.IdempotencyKey, e.RequestHash, e.CreatedAt = newEventID(now), appID(ctx), oid, key, hash, now
		var rems []store.NewReminder
		for i, due := range one.dues {
			if !due.Before(now) {
				rems = append(rems, one.reminderFor(i, newReminderID(now), now))
			}
		}
		if len(rems) == 0 {
			s.writeError(w, r, fieldErrors{"leads": "every lead is already past (start_at minus each lead is before now): nothing would be sent"}.err())
			return
		}
		evs = append(evs, store.NewEvent{Event: *e, Reminders: rems})
	}
	created, err := s.store.CreateEvents(ctx, evs, store.CreateOptions{MaxScheduled: s.maxSched})
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
	}
	status, ids := http.StatusOK, make([]string, len(created))
	for i, c := range created {
		ids[i] = c.Event.ID
		if !c.Replayed {
			status = http.StatusCreated
			s.engine.Wake(earliest(evs[i].Reminders))
		}
	}
	s.writeServiceEvents(w, r, ids, status)
}

// writeServiceEvents reads the events ids back and answers them, each with
// its coverage.
func (s *Server) writeServiceEvents(w http.ResponseWriter, r *http.Request, ids []string, status int) {
	ctx := r.Context()
	cc := s.consents.Coverage()
	out := serviceEventsResponse{Events: make([]serviceEventJSON, 0, len(ids))}
	for _, id := range ids {
		e, err := s.store.GetEvent(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ej, err := s.renderEvent(ctx, cc, e)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Events = append(out.Events, serviceEventJSON{eventJSON: ej, Coverage: coverageOf(ej)})
	}
	encode(w, status, out)
}

// coverageOf counts the pending reminders of an event the ledger covers.
func coverageOf(ej eventJSON) eventCoverage {
	var c eventCoverage
	for _, rj := range ej.Reminders {
		if rj.Status != string(store.StatusScheduled) {
			continue
		}
		if rj.Consent.Covered {
			c.Covered++
		} else {
			c.Uncovered++
		}
	}
	return c
}

func (s *Server) handleServiceGetEvent(w http.ResponseWriter, r *http.Request) { s.getEvent(w, r, "") }

func (s *Server) handleServicePatchEvent(w http.ResponseWriter, r *http.Request) {
	var req eventPatch
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.patchEvent(w, r, "", &req)
}

func (s *Server) handleServiceCancelEvent(w http.ResponseWriter, r *http.Request) {
	s.cancelEvent(w, r, "")
}

// handleServiceCancelEvents cancels every attendee's event of one
// external_ref (of the token's app), each in its own transaction, and
// answers them as they are after. One canceled meanwhile is answered as
// it is; none with the reference is an empty list.
func (s *Server) handleServiceCancelEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.URL.Query().Get("external_ref")
	if p := checkExternalRef(ref); p != "" {
		s.writeError(w, r, fieldErrors{"external_ref": "is required: " + p}.err())
		return
	}
	ids, err := s.store.EventIDsByExternalRef(ctx, appID(ctx), ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	for _, id := range ids {
		if _, err := s.store.CancelEvent(ctx, id, now); err != nil && !errors.Is(err, store.ErrConflict) {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeServiceEvents(w, r, ids, http.StatusOK)
}

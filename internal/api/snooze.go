package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/isodur"
	"github.com/reminderd/reminderd/internal/service"
)

// maxSnooze bounds how far ahead a snooze may move a reminder.
const maxSnooze = 366 * 24 * time.Hour

// snoozeRequest is POST /v1/reminders/{id}/snooze: exactly one of In (an
// ISO 8601 duration from now) and Until (an instant), and optionally the
// object wx.requestSubscribeMessage resolved with at the snooze's tap.
type snoozeRequest struct {
	In      *string                    `json:"in,omitempty"`
	Until   *string                    `json:"until,omitempty"`
	Consent map[string]json.RawMessage `json:"consent,omitempty"`
}

// handleSnoozeReminder makes a sent, skipped or scheduled reminder of the
// caller due again (service.Reminders.Snooze) and answers it.
func (s *Server) handleSnoozeReminder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	oid := openID(ctx)
	var req snoozeRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKeyLen || strings.IndexFunc(key, unicode.IsControl) >= 0 {
		s.writeError(w, r, fieldErrors{"Idempotency-Key": fmt.Sprintf("must be at most %d printable characters", maxIdempotencyKeyLen)}.err())
		return
	}
	// Ownership first: someone else's reminder, or another app's, is not
	// found, whatever the body.
	if _, err := s.ownReminder(ctx, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash := ""
	if key != "" {
		b, _ := json.Marshal(&req) // map keys sorted, each RawMessage compacted
		sum := sha256.Sum256(b)
		hash = hex.EncodeToString(sum[:])
		// A repeat answers before validation: its "in" would name another
		// instant now, its "until" may have passed.
		if done := s.replaySnooze(w, r, id, oid, key, hash); done {
			return
		}
	}
	now := s.now()
	fe := fieldErrors{}
	at, field := snoozeAt(fe, &req, now)
	answers := s.parseResults(r, req.Consent, "consent", fe)
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.reminders.Snooze(ctx, service.SnoozeRequest{ID: id, AppID: appID(ctx), OpenID: oid, At: at, Answers: storeAnswers(answers), Key: key, Hash: hash})
	if errors.Is(err, service.ErrSnoozePastSeries) {
		err = fieldErrors{field: fmt.Sprintf("must come before the series' next occurrence (%s): a snooze adds one occurrence before it and leaves the series as it is",
			formatUTC(res.SeriesAt))}.err()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !res.Replayed {
		s.grantInSandbox(r, oid, answers)
	}
	s.writeReminder(w, r, id, http.StatusOK, true)
}

// replaySnooze answers a snooze whose Idempotency-Key was seen: the
// reminder as it is, or a conflict for another request.
func (s *Server) replaySnooze(w http.ResponseWriter, r *http.Request, id, oid, key, hash string) bool {
	seen, err := s.reminders.SnoozeSeen(r.Context(), service.SnoozeRequest{ID: id, AppID: appID(r.Context()), OpenID: oid, Key: key, Hash: hash})
	switch {
	case err != nil:
		s.writeError(w, r, err)
	case seen:
		s.writeReminder(w, r, id, http.StatusOK, true)
	}
	return seen || err != nil
}

// snoozeAt is the instant a snooze asks for, and the field that gave it:
// exactly one of "in" (a positive ISO 8601 duration) and "until" (an
// instant after now), at most maxSnooze ahead.
func snoozeAt(fe fieldErrors, req *snoozeRequest, now time.Time) (time.Time, string) {
	switch {
	case req.In != nil && req.Until != nil:
		fe.add("until", `give either "in" or "until", not both`)
		return time.Time{}, "until"
	case req.In != nil:
		d, err := isodur.Parse(*req.In)
		switch {
		case err != nil:
			fe.add("in", "must be an ISO 8601 duration such as PT10M, PT1H or P1D")
		case d <= 0:
			fe.add("in", "must be a positive duration")
		case d > maxSnooze:
			fe.add("in", "must be at most P366D")
		}
		return now.Add(d), "in"
	case req.Until != nil:
		t, ok := parseInstant(fe, "until", *req.Until)
		switch {
		case !ok:
		case !t.After(now):
			fe.add("until", "must be in the future")
		case t.Sub(now) > maxSnooze:
			fe.add("until", "must be at most 366 days ahead")
		}
		return t, "until"
	}
	fe.add("in", `required: "in" (an ISO 8601 duration such as PT10M) or "until" (an RFC 3339 instant)`)
	return time.Time{}, "in"
}

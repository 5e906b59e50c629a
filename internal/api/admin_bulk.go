package api

import (
	"net/http"
	"strings"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

// Bulk actions and the admin pause, for the JSON admin API and the page.

type bulkFilter struct {
	Status     string `json:"status"`
	OpenID     string `json:"openid"`
	TemplateID string `json:"template_id"`
	From       string `json:"from"`
	To         string `json:"to"`
	Q          string `json:"q"`
}

type bulkRequest struct {
	IDs    []string    `json:"ids"`
	Filter *bulkFilter `json:"filter"`
}

// cancelCounts is a bulk cancel's answer (service.CancelCounts).
type cancelCounts struct {
	Matched  int `json:"matched"`
	Canceled int `json:"canceled"`
	Conflict int `json:"conflict"`
	NotFound int `json:"not_found"`
}

// retryCounts is a bulk retry's answer (service.RetryCounts).
type retryCounts struct {
	Matched   int `json:"matched"`
	Retried   int `json:"retried"`
	Conflict  int `json:"conflict"`
	Permanent int `json:"permanent"`
	NotFound  int `json:"not_found"`
}

// bulkIDs resolves a bulk request: its ids, or the reminders its filter
// matches (at most service.MaxBulk; more is a 422 naming the filter).
func (s *Server) bulkIDs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	var req bulkRequest
	if err := decodeMax(w, r, &req, MaxBulkBodyBytes); err != nil {
		return nil, err
	}
	fe := fieldErrors{}
	switch {
	case req.IDs != nil && req.Filter != nil:
		fe.add("ids", "give ids or filter, not both")
	case req.IDs == nil && req.Filter == nil:
		fe.add("ids", "is required unless filter is given")
	case req.IDs != nil:
		if len(req.IDs) == 0 || len(req.IDs) > service.MaxBulk {
			fe.add("ids", "must hold 1 to 5000 reminder ids")
		}
		for _, id := range req.IDs {
			if id == "" {
				fe.add("ids", "must not hold an empty id")
				break
			}
		}
		if len(fe) > 0 {
			return nil, fe.err()
		}
		return dedupe(req.IDs), nil
	}
	if len(fe) > 0 {
		return nil, fe.err()
	}
	f := req.Filter
	p := store.ListQuery{OpenID: f.OpenID, TemplateID: f.TemplateID, Text: searchText(strings.TrimSpace(f.Q))}
	if f.Status != "" {
		if !contains(statuses, f.Status) {
			fe.add("filter.status", "must be one of "+strings.Join(statuses, ", "))
		}
		p.Status = store.Status(f.Status)
	}
	if f.From != "" {
		if t, ok := parseInstant(fe, "filter.from", f.From); ok {
			p.From = t
		}
	}
	if f.To != "" {
		if t, ok := parseInstant(fe, "filter.to", f.To); ok {
			p.To = t
		}
	}
	if len(fe) > 0 {
		return nil, fe.err()
	}
	ids, more, err := s.reminders.Select(r.Context(), p, service.MaxBulk)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, fieldErrors{"filter": "matches more than 5000 reminders; narrow it"}.err()
	}
	return ids, nil
}

func (s *Server) handleAdminBulkCancel(w http.ResponseWriter, r *http.Request) {
	ids, err := s.bulkIDs(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.reminders.CancelMany(r.Context(), ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, cancelCounts(c))
}

func (s *Server) handleAdminBulkRetry(w http.ResponseWriter, r *http.Request) {
	ids, err := s.bulkIDs(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.reminders.RetryMany(r.Context(), ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, retryCounts(c))
}

// maxPauseReason bounds the reason an admin gives for a pause (characters).
const maxPauseReason = 200

type pauseRequest struct {
	Reason string `json:"reason"`
}

type pauseJSON struct {
	Paused bool    `json:"paused"`
	Since  *string `json:"since"`
	Reason *string `json:"reason"`
}

func (s *Server) pauseState() pauseJSON {
	since, reason, paused := s.engine.AdminPaused()
	out := pauseJSON{Paused: paused}
	if paused {
		out.Since = optTime(since)
		out.Reason = &reason
	}
	return out
}

// handleAdminPause stops sending until resumed; the body ({"reason"}) is
// optional.
func (s *Server) handleAdminPause(w http.ResponseWriter, r *http.Request) {
	var req pauseRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if len([]rune(req.Reason)) > maxPauseReason {
		s.writeError(w, r, fieldErrors{"reason": "at most 200 characters"}.err())
		return
	}
	if err := s.engine.Pause(r.Context(), strings.TrimSpace(req.Reason)); err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, s.pauseState())
}

func (s *Server) handleAdminResume(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Resume(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, s.pauseState())
}

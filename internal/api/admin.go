package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

func (s *Server) handleAdminListReminders(w http.ResponseWriter, r *http.Request) { s.list(w, r, true) }

func (s *Server) handleAdminGetReminder(w http.ResponseWriter, r *http.Request) {
	s.writeReminder(w, r, chi.URLParam(r, "id"), http.StatusOK, true)
}

func (s *Server) handleAdminCancel(w http.ResponseWriter, r *http.Request) { s.cancel(w, r, "") }

// handleAdminRetry schedules a failed or skipped reminder again, now.
func (s *Server) handleAdminRetry(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.reminders.Retry(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeReminder(w, r, id, http.StatusOK, false)
}

type jobJSON struct {
	Name      string  `json:"name"`
	Schedule  string  `json:"schedule"`
	LastRunAt *string `json:"last_run_at"`
	NextRunAt *string `json:"next_run_at"`
	LastError *string `json:"last_error"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := formatUTC(t)
	return &v
}

func (s *Server) handleAdminJobs(w http.ResponseWriter, r *http.Request) {
	jobs := s.engine.Jobs()
	out := make([]jobJSON, 0, len(jobs))
	for _, j := range jobs {
		jj := jobJSON{Name: j.Name, Schedule: j.Schedule, LastRunAt: optTime(j.LastRunAt), NextRunAt: optTime(j.NextRunAt)}
		if j.LastError != "" {
			e := j.LastError
			jj.LastError = &e
		}
		out = append(out, jj)
	}
	encode(w, http.StatusOK, map[string]any{"jobs": out})
}

type statsJSON struct {
	Reminders           map[string]int64 `json:"reminders"`
	DueBacklog          int64            `json:"due_backlog"`
	OldestDueAgeSeconds float64          `json:"oldest_due_age_seconds"`
	Breaker             string           `json:"breaker"`
	TokenExpiresAt      *string          `json:"token_expires_at"`
	QuotaPausedUntil    *string          `json:"quota_paused_until"`
	// The admin pause (POST /admin/v1/pause): paused_since and
	// paused_reason are null when not paused.
	Paused       bool    `json:"paused"`
	PausedSince  *string `json:"paused_since"`
	PausedReason *string `json:"paused_reason"`
}

func (s *Server) handleAdminStats(w http.ResponseWriter, r *http.Request) {
	fe := fieldErrors{}
	app := adminAppFilter(r, fe)
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.reminders.Stats(r.Context())
	if app != "" {
		st, err = s.reminders.AppStats(r.Context(), app)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := st.At
	out := statsJSON{Reminders: make(map[string]int64, len(st.ByStatus)), DueBacklog: st.DueBacklog, Breaker: s.engine.Breaker()}
	for status, n := range st.ByStatus {
		out.Reminders[string(status)] = n
	}
	if st.DueBacklog > 0 {
		// In the stored milliseconds, as the backlog was counted.
		out.OldestDueAgeSeconds = float64(now.UnixMilli()-st.OldestDueAt.UnixMilli()) / 1000
	}
	if s.token != nil {
		if exp, ok := s.token.TokenState(); ok {
			out.TokenExpiresAt = optTime(exp)
		}
	}
	if until := s.engine.QuotaPausedUntil(); until.After(now) {
		out.QuotaPausedUntil = optTime(until)
	}
	ps := s.pauseState()
	out.Paused, out.PausedSince, out.PausedReason = ps.Paused, ps.Since, ps.Reason
	encode(w, http.StatusOK, out)
}

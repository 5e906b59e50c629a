package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/reminderd/reminderd/internal/store"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 once the database is usable with every migration
// applied and can write, and the templates are known.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if err := s.store.Ping(r.Context()); err != nil {
		problems = append(problems, "database unreachable")
	} else if v, latest, err := s.store.Schema(r.Context()); err != nil || v != latest {
		problems = append(problems, "database migrations not applied")
	}
	// A cheap write probe (the driver caches its result briefly).
	if err := s.store.Writable(r.Context()); err != nil {
		if errors.Is(err, store.ErrFull) {
			problems = append(problems, "database cannot write: its disk is full")
		} else {
			s.logFor(r.Context()).Warn("readiness: the database cannot write", "error", err)
			problems = append(problems, "database cannot write (see the log)")
		}
	}
	if !s.catalog.Ready() {
		problems = append(problems, "templates not synced from WeChat yet")
	}
	if len(problems) > 0 {
		s.writeError(w, r, errf(http.StatusServiceUnavailable, "unavailable", "not ready: %s", strings.Join(problems, "; ")))
		return
	}
	encode(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handleMetrics serves the Prometheus text format. Like /healthz it needs no
// token: bind REMINDERD_ADDR to a private address (the default is loopback).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		s.writeError(w, r, notFound("metrics"))
		return
	}
	s.metrics.ServeHTTP(w, r)
}

package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"
)

// RequestIDHeader carries a request's id both ways: a client (or its proxy)
// may send one, and every answer names the id its log lines carry.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id.
const maxRequestIDLen = 128

// saneRequestID reports whether an incoming request id may be adopted: 1 to
// 128 characters of letters, digits and - _ . : / + = @. Anything else (a
// space, a quote, a control character) would make log lines ambiguous, so
// the request gets a fresh id instead.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestID gives every request an id: the client's X-Request-Id when it is
// sane, else a new one. The id is set on the answer's X-Request-Id before the
// handler runs, so every answer carries it (errors, redirects, /metrics), and
// kept where middleware.GetReqID finds it for the log lines.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), middleware.RequestIDKey, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// logFor is the server's logger with the id of the request whose context
// ctx is: every line written about one request names it.
func (s *Server) logFor(ctx context.Context) *slog.Logger {
	if id := middleware.GetReqID(ctx); id != "" {
		return s.log.With("request_id", id)
	}
	return s.log
}

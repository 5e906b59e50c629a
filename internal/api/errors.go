package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

// Error is an error with its place in the contract: an HTTP status, a code
// and a message that is safe to show. Fields name invalid request fields.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return errf(http.StatusNotFound, "not_found", "%s not found", what)
}

func conflict(format string, args ...any) *Error {
	return errf(http.StatusConflict, "conflict", format, args...)
}

// fieldErrors collects validation problems by JSON path.
type fieldErrors map[string]string

func (f fieldErrors) add(path, problem string) {
	if _, dup := f[path]; !dup {
		f[path] = problem
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	msg := "invalid request: " + strings.Join(sortedStrings(names), ", ")
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: msg, Fields: f}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeError maps err to the contract's error shape: the one place a
// refusal of the services or the store becomes an HTTP status. Anything
// that is not an *Error, a *service.Error or a known store error is a 500
// whose details go to the log only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	var se *service.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &se) && errors.Is(se.Kind, store.ErrNotFound):
		ae = errf(http.StatusNotFound, "not_found", "%s", se.Message)
	case errors.As(err, &se) && errors.Is(se.Kind, store.ErrConflict):
		ae = conflict("%s", se.Message)
	case errors.Is(err, store.ErrNotFound):
		ae = notFound("resource")
	case errors.Is(err, store.ErrConflict):
		ae = conflict("the resource changed; try again")
	case errors.Is(err, store.ErrFull):
		// Writes fail while reads go on; readiness fails until a write
		// succeeds again (Writable), and nothing needs a restart.
		s.store.NoteWriteError(err)
		s.log.Error("write refused: the database's disk is full", "method", r.Method, "path", r.URL.Path,
			"request_id", middleware.GetReqID(r.Context()), "error", err)
		ae = errf(http.StatusServiceUnavailable, "unavailable", "the database's disk is full: writes are refused until space is freed (reads still work); try again later")
	case errors.Is(err, context.DeadlineExceeded):
		ae = errf(http.StatusServiceUnavailable, "unavailable", "the request took too long; try again")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", middleware.GetReqID(r.Context()), "error", err)
		ae = errf(http.StatusInternalServerError, "internal", "internal error (request %s)", middleware.GetReqID(r.Context()))
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reminderd"`)
	}
	encode(w, ae.Status, errorBody{Error: errorJSON{Code: ae.Code, Message: ae.Message, Fields: ae.Fields}})
}

// MaxBodyBytes bounds every request body but a bulk action's.
const MaxBodyBytes = 64 << 10

// MaxBulkBodyBytes bounds the body of a bulk action (POST
// /admin/v1/reminders/cancel and /retry): room for its 5,000 ids (27 bytes
// each as JSON, with their quotes and comma), which 64 KiB is not.
const MaxBulkBodyBytes = 512 << 10

// decode reads one JSON object into v: size-limited (413); a body that is
// not one JSON object (malformed, empty, trailing data) or has an unknown
// field is 400 invalid_json; a field of the wrong JSON type is 422
// validation_failed naming the field by its JSON path.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeMax(w, r, v, MaxBodyBytes)
}

// decodeMax is decode with a body of up to limit bytes.
func decodeMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return errf(http.StatusBadRequest, "invalid_json", "request body must be a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		mbe  *http.MaxBytesError
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		text = err.Error()
	)
	switch {
	case errors.As(err, &mbe):
		return errf(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errf(http.StatusBadRequest, "invalid_json", "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errf(http.StatusBadRequest, "invalid_json", "request body is truncated JSON")
	case errors.As(err, &syn):
		return errf(http.StatusBadRequest, "invalid_json", "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errf(http.StatusBadRequest, "invalid_json", "request body must be a JSON object, not %s", typ.Value)
		}
		// The body is JSON, and an object: a field of the wrong type is a
		// validation problem of that field, named by its JSON path.
		return fieldErrors{field: fmt.Sprintf("must be %s, not %s", jsonType(typ.Type.Kind().String()), jsonValue(typ.Value))}.err()
	case strings.HasPrefix(text, "json: unknown field "):
		return errf(http.StatusBadRequest, "invalid_json", "unknown field %s", strings.TrimPrefix(text, "json: unknown field "))
	}
	return errf(http.StatusBadRequest, "invalid_json", "invalid JSON: %s", text)
}

// jsonValue names the JSON value a json.UnmarshalTypeError saw ("number",
// "number -1" for an integer out of range, "string", "bool", "array",
// "object").
func jsonValue(v string) string {
	switch {
	case v == "array", v == "object":
		return "an " + v
	case v == "bool":
		return "a boolean"
	case v == "string":
		return "a string"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return strings.TrimPrefix(v, "number ")
	}
	return v
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "float32", "float64":
		return "a number"
	}
	return "an integer" // the int and uint kinds
}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// requestTimeout bounds every request's context; work cut short answers
// 503 unavailable through writeError.
func requestTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// recoverer turns a panic into the contract's 500 and keeps the process up.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request (never the Authorization header or
// query strings, which may carry credentials), with what the handler noted
// about it (noteLog), and reports the request to the metrics hook by its
// route pattern, never by its path: the label values stay bounded.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := s.now()
		notes := &logNotes{}
		r = r.WithContext(context.WithValue(r.Context(), logNotesKey, notes))
		next.ServeHTTP(ww, r)
		d := s.now().Sub(start)
		status := ww.Status()
		route := routePattern(r)
		attrs := append([]slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", status), slog.Int64("duration_ms", d.Milliseconds()),
			slog.String("request_id", middleware.GetReqID(r.Context())),
		}, notes.attrs...)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http", attrs...)
		if s.observeHTTP != nil {
			s.observeHTTP(r.Method, route, status, d)
		}
	})
}

// UnmatchedRoute is the route of a request no route matched (404, 405).
const UnmatchedRoute = "unmatched"

// routePattern is the chi pattern that served r ("/v1/reminders/{id}"), or
// UnmatchedRoute when the router answered 404 or 405 itself (markUnmatched).
func routePattern(r *http.Request) string {
	if n, ok := r.Context().Value(logNotesKey).(*logNotes); ok && n.unmatched {
		return UnmatchedRoute
	}
	rc := chi.RouteContext(r.Context())
	if rc == nil || rc.RoutePattern() == "" {
		return UnmatchedRoute
	}
	return rc.RoutePattern()
}

// markUnmatched says that no route served the request of ctx.
func markUnmatched(ctx context.Context) {
	if n, ok := ctx.Value(logNotesKey).(*logNotes); ok {
		n.unmatched = true
	}
}

type logNotesKey_ struct{}

var logNotesKey logNotesKey_

// logNotes are attributes a handler adds to its request's access log line.
type logNotes struct {
	attrs     []slog.Attr
	unmatched bool
}

// noteLog adds attributes to the access log line of the request whose
// context ctx is (a handler runs on one goroutine: no lock).
func noteLog(ctx context.Context, attrs ...slog.Attr) {
	if n, ok := ctx.Value(logNotesKey).(*logNotes); ok {
		n.attrs = append(n.attrs, attrs...)
	}
}

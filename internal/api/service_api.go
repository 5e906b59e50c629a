package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/store"
)

// The service API (/service/v1): the app's own backend acts for any openid
// of its app, with the objects and rules of the mini-program API.

// ServiceAuth maps a service bearer token to the app it belongs to:
// Config.Service, else the served apps' own tokens (App.ServiceToken).
type ServiceAuth interface {
	// App returns the app of token, or false for a token of no app.
	App(token string) (appID string, ok bool)
}

// serviceAuth is what admits the service API's tokens now (the apps'
// change on SIGHUP); nil: the service API is disabled.
func (s *Server) serviceAuth() ServiceAuth {
	if s.service != nil {
		return s.service
	}
	if s.apps.serviceEnabled() {
		return s.apps
	}
	return nil
}

// requireService admits a request with the service token of an app: a
// session token, an admin token or nothing is 401. Failures count against
// the client's address as failed admin attempts do.
func (s *Server) requireService(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := s.serviceAuth()
		if auth == nil {
			s.writeError(w, r, errf(http.StatusForbidden, "forbidden", "the service API is disabled: set REMINDERD_SERVICE_TOKEN, or service_token_env of an app in the apps file"))
			return
		}
		tok := bearer(r)
		if tok != "" && s.adminLimited(w, r) {
			return
		}
		if app, ok := auth.App(tok); ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), appIDKey, app)))
			return
		}
		if tok != "" {
			s.adminFailures.fail(s.clientAddr(r))
		}
		s.writeError(w, r, errf(http.StatusUnauthorized, "unauthorized", "the service token is required (Authorization: Bearer <REMINDERD_SERVICE_TOKEN>)"))
	})
}

// serviceCreateRequest is a create for a user: the mini-program's body
// plus whose it is and the backend's own reference.
type serviceCreateRequest struct {
	createRequest
	OpenID      string  `json:"openid"`
	ExternalRef *string `json:"external_ref"`
}

// maxOpenIDLen bounds an openid the backend gives (an external_ref is
// bounded as an event's, maxExternalRefLen).
const maxOpenIDLen = 128

// checkOpenID says what is wrong with an openid given by the backend ("" if
// nothing).
func checkOpenID(v string) string {
	switch {
	case v == "":
		return "is required: the user the reminder is for"
	case len(v) > maxOpenIDLen || !printable(v):
		return fmt.Sprintf("must be an openid: at most %d printable characters", maxOpenIDLen)
	}
	return ""
}

// checkExternalRef says what is wrong with an external_ref ("" if nothing).
func checkExternalRef(v string) string {
	if v == "" || len(v) > maxExternalRefLen || !printable(v) {
		return fmt.Sprintf("must be 1 to %d printable characters", maxExternalRefLen)
	}
	return ""
}

func printable(v string) bool {
	return utf8.ValidString(v) && strings.IndexFunc(v, unicode.IsControl) < 0
}

func (s *Server) handleServiceCreateReminder(w http.ResponseWriter, r *http.Request) {
	var req serviceCreateRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	if p := checkOpenID(req.OpenID); p != "" {
		fe.add("openid", p)
	}
	ref := ""
	if req.ExternalRef != nil {
		ref = *req.ExternalRef
		if p := checkExternalRef(ref); p != "" {
			fe.add("external_ref", p)
		}
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.createReminder(w, r, createInput{openID: req.OpenID, externalRef: ref, req: &req.createRequest, hashed: &req,
		location: "/service/v1/reminders/"})
}

// handleServiceListReminders lists the app's reminders: the admin's
// filters, plus external_ref (with which only openid and status apply).
func (s *Server) handleServiceListReminders(w http.ResponseWriter, r *http.Request) {
	lq, err := s.parseList(r, true)
	fe := fieldErrors{}
	var ve *Error
	if errors.As(err, &ve) && ve.Fields != nil {
		for k, v := range ve.Fields {
			fe.add(k, v)
		}
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	if q.Has("external_ref") {
		lq.ExternalRef = q.Get("external_ref")
		if p := checkExternalRef(lq.ExternalRef); p != "" {
			fe.add("external_ref", p)
		}
		for _, k := range []string{"template_id", "from", "to", "delivery"} {
			if q.Has(k) {
				fe.add(k, "cannot be combined with external_ref (openid and status can)")
			}
		}
	}
	if v := q.Get("openid"); v != "" {
		if p := checkOpenID(v); p != "" {
			fe.add("openid", p)
		}
	}
	// The token's app's reminders only.
	if q.Has("appid") && q.Get("appid") != appID(r.Context()) {
		fe.add("appid", "is the service token's own app: a token lists its app's reminders only")
	}
	lq.AppID = appID(r.Context())
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, lq)
}

// reminderOf loads reminder id of owner in the request's app; owner "" is
// the service API's caller, to whom every reminder of its app is visible.
// Anyone else's, or another app's, is not found, as one that does not exist.
func (s *Server) reminderOf(ctx context.Context, id, owner string) (store.Reminder, error) {
	if owner != "" {
		return s.reminders.OwnIn(ctx, id, appID(ctx), owner)
	}
	rem, err := s.store.GetReminder(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rem.AppID != appID(ctx)) {
		return store.Reminder{}, errf(http.StatusNotFound, "not_found", "reminder %s not found", id)
	}
	return rem, err
}

func (s *Server) handleServiceGetReminder(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.reminderOf(r.Context(), id, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeReminder(w, r, id, http.StatusOK, true)
}

func (s *Server) handleServicePatchReminder(w http.ResponseWriter, r *http.Request) {
	s.patch(w, r, "")
}

func (s *Server) handleServiceCancelReminder(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.reminderOf(r.Context(), id, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.cancel(w, r, "")
}

// handleServiceConsents answers one user's ledger (openid required).
func (s *Server) handleServiceConsents(w http.ResponseWriter, r *http.Request) {
	oid := r.URL.Query().Get("openid")
	if p := checkOpenID(oid); p != "" {
		s.writeError(w, r, fieldErrors{"openid": p}.err())
		return
	}
	s.writeConsents(w, r, oid)
}

// RenderReminder renders reminder id as the API answers it (without its
// deliveries): a webhook's data.reminder.
func (s *Server) RenderReminder(ctx context.Context, id string) (json.RawMessage, error) {
	rem, err := s.store.GetReminder(ctx, id)
	if err != nil {
		return nil, err
	}
	out, err := s.renderReminder(ctx, s.consents.Coverage(), rem)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

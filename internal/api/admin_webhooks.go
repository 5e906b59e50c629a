package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/store"
)

// The webhook outbox as admins see it: the deliveries that fail or died,
// and their retry (GET /admin/v1/webhooks, POST …/{id}/retry, the page
// /admin/webhooks).

// webhookJSON is an outbox row as the admin API answers it (the body
// itself is left out: it holds the user's data, and is the receiver's).
type webhookJSON struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	AppID       string  `json:"appid"`
	State       string  `json:"state"`
	ReminderID  *string `json:"reminder_id"`
	OpenID      string  `json:"openid"`
	Attempts    int64   `json:"attempts"`
	CreatedAt   string  `json:"created_at"`
	NextAt      *string `json:"next_attempt_at"`
	LastStatus  *int64  `json:"last_status"`
	LastError   string  `json:"last_error"`
	DeliveredAt *string `json:"delivered_at"`
}

func renderWebhook(w store.Webhook) webhookJSON {
	out := webhookJSON{ID: w.ID, Type: w.Type, AppID: w.AppID, State: string(w.State), ReminderID: optString(w.ReminderID),
		OpenID: w.OpenID, Attempts: w.Attempts, CreatedAt: formatUTC(w.CreatedAt), LastError: w.LastError}
	if w.State == store.WebhookPending || w.State == store.WebhookFailing {
		v := formatUTC(w.NextAt)
		out.NextAt = &v
	}
	if w.LastStatus != 0 {
		out.LastStatus = &w.LastStatus
	}
	if !w.DeliveredAt.IsZero() {
		v := formatUTC(w.DeliveredAt)
		out.DeliveredAt = &v
	}
	return out
}

var webhookStates = store.Strings(store.WebhookStates())

// parseWebhookList parses ?state=&limit=&cursor=.
func parseWebhookList(r *http.Request) (store.WebhookQuery, error) {
	q := r.URL.Query()
	fe := fieldErrors{}
	wq := store.WebhookQuery{Limit: defaultLimit}
	if v := q.Get("state"); v != "" {
		if !contains(webhookStates, v) {
			fe.add("state", "must be one of "+strings.Join(webhookStates, ", "))
		}
		wq.State = store.WebhookState(v)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			fe.add("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxLimit))
		}
		wq.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, ok := decodeWebhookCursor(v)
		if !ok {
			fe.add("cursor", "is not a cursor this API returned")
		}
		wq.Before = &c
	}
	return wq, fe.err()
}

// A webhook cursor is "created_at|id" (unix milliseconds), base64url.
func encodeWebhookCursor(c store.WebhookCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "|" + c.ID))
}

func decodeWebhookCursor(v string) (store.WebhookCursor, bool) {
	c, ok := decodeCursor(v)
	return store.WebhookCursor{CreatedAt: c.FireAt, ID: c.ID}, ok
}

func (s *Server) handleAdminListWebhooks(w http.ResponseWriter, r *http.Request) {
	wq, err := parseWebhookList(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Webhooks   []webhookJSON `json:"webhooks"`
		NextCursor *string       `json:"next_cursor"`
	}{Webhooks: []webhookJSON{}}
	if outbox := s.outbox(); outbox != nil {
		page, err := outbox.ListWebhooks(r.Context(), wq)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, wh := range page.Webhooks {
			out.Webhooks = append(out.Webhooks, renderWebhook(wh))
		}
		if page.Next != nil {
			c := encodeWebhookCursor(*page.Next)
			out.NextCursor = &c
		}
	}
	encode(w, http.StatusOK, out)
}

func (s *Server) handleAdminGetWebhook(w http.ResponseWriter, r *http.Request) {
	s.writeWebhook(w, r, chi.URLParam(r, "id"))
}

func (s *Server) writeWebhook(w http.ResponseWriter, r *http.Request, id string) {
	outbox := s.outbox()
	if outbox == nil {
		s.writeError(w, r, notFound("webhook "+id))
		return
	}
	wh, err := outbox.GetWebhook(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, notFound("webhook "+id))
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, renderWebhook(wh))
}

// retryWebhook makes a failing or dead delivery due now and wakes the
// dispatcher; a refusal says why.
func (s *Server) retryWebhook(r *http.Request, id string) error {
	outbox := s.outbox()
	if outbox == nil {
		return notFound("webhook " + id)
	}
	err := outbox.RetryWebhook(r.Context(), id, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("webhook " + id)
	case errors.Is(err, store.ErrConflict):
		return conflict("webhook %s is not failing nor dead; only those can be retried", id)
	case err != nil:
		return err
	}
	if s.webhookWake != nil {
		s.webhookWake()
	}
	return nil
}

func (s *Server) handleAdminRetryWebhook(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.retryWebhook(r, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeWebhook(w, r, id)
}

// outbox is the webhook outbox while webhooks are on, else nil.
func (s *Server) outbox() store.WebhookStore {
	if s.webhooksOn != nil && !s.webhooksOn() {
		return nil
	}
	return s.webhooks
}

// webWebhook is an outbox row as the page shows it.
type webWebhook struct {
	webhookJSON
	Created, Next string
}

// handleWebWebhooks is the page of the failing (default) or dead
// deliveries, each with its retry button.
func (s *Server) handleWebWebhooks(w http.ResponseWriter, r *http.Request, pd pageData) {
	state := store.WebhookFailing
	if v := r.URL.Query().Get("state"); contains(webhookStates, v) {
		state = store.WebhookState(v)
	}
	var list []webWebhook
	outbox := s.outbox()
	if outbox != nil {
		page, err := outbox.ListWebhooks(r.Context(), store.WebhookQuery{State: state, Limit: maxLimit})
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		for _, wh := range page.Webhooks {
			ww := webWebhook{webhookJSON: renderWebhook(wh), Created: wh.CreatedAt.In(s.zone).Format(webTime)}
			if ww.NextAt != nil {
				ww.Next = wh.NextAt.In(s.zone).Format(webTime)
			}
			list = append(list, ww)
		}
	}
	pd.Title, pd.Nav = pd.L.T("webhooks.title"), "webhooks"
	if r.URL.Query().Get("done") == "retried" {
		pd.Flash = pd.L.T("webhooks.retried")
	}
	s.renderPage(w, r, "webhooks", http.StatusOK, struct {
		pageData
		State    string
		States   []string
		Enabled  bool
		Webhooks []webWebhook
	}{pd, string(state), webhookStates, outbox != nil, list})
}

// webTime is how the admin page shows an instant.
const webTime = "2006-01-02 15:04:05 -07:00"

func (s *Server) handleWebRetryWebhook(w http.ResponseWriter, r *http.Request, pd pageData) {
	id := chi.URLParam(r, "id")
	if err := s.retryWebhook(r, id); err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusConflict) {
			s.webConflict(w, r, pd, e.Message)
			return
		}
		s.webError(w, r, pd, err)
		return
	}
	http.Redirect(w, r, "/admin/webhooks?state="+url.QueryEscape(r.PostForm.Get("state"))+"&done=retried", http.StatusSeeOther)
}

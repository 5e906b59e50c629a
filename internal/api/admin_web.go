package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

// The admin web page: server-rendered html/template pages over the same
// store as the admin API. Sign-in exchanges the admin token for an HttpOnly,
// SameSite=Strict cookie (the token never travels in a URL); every form
// carries a CSRF token bound to that cookie, and POSTs from another origin
// are refused.

//go:embed web/*.html
var webFS embed.FS

//go:embed web/static
var staticFS embed.FS

const (
	adminCookie     = "reminderd_admin"
	adminSessionTTL = 12 * time.Hour
)

var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"login", "reminders", "detail", "engine", "consents", "confirm", "events", "webhooks"} {
		out[p] = template.Must(template.ParseFS(webFS, "web/layout.html", "web/"+p+".html"))
	}
	return out
}()

func (s *Server) adminMAC(parts ...string) string {
	m := hmac.New(sha256.New, []byte(s.adminToken))
	m.Write([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(m.Sum(nil))
}

// webSession returns the valid admin session cookie value, or "".
func (s *Server) webSession(r *http.Request) string {
	if s.adminToken == "" {
		return ""
	}
	c, err := r.Cookie(adminCookie)
	if err != nil {
		return ""
	}
	exp, mac, ok := strings.Cut(c.Value, ".")
	n, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || s.now().Unix() >= n {
		return ""
	}
	if !hmac.Equal([]byte(mac), []byte(s.adminMAC("session", exp))) {
		return ""
	}
	return c.Value
}

func (s *Server) csrfToken(session string) string { return s.adminMAC("csrf", session) }

// sameOrigin refuses a cross-site POST (the cookie is SameSite=Strict too).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

type pageData struct {
	Title, Nav, Flash, Error, CSRF string
	SignedIn                       bool
	// L is the page's language (admin_i18n.go).
	L lang
	// Here is this page's path and query, for the switches to come back to.
	Here string
	// Refresh: the page reloads itself every refreshSeconds (lists and the
	// engine page), unless the admin turned it off (RefreshOff).
	Refresh, RefreshOff bool
	// The admin pause, shown as a banner on every page.
	Paused                    bool
	PausedSince, PausedReason string
}

// refreshSeconds is the period of the lists' and the engine page's reload.
const refreshSeconds = 30

func (pd pageData) RefreshSeconds() int { return refreshSeconds }

func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, name string, status int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages[name].ExecuteTemplate(w, "layout", data); err != nil {
		s.log.Error("render admin page", "page", name, "error", err)
	}
}

// basePage is what every page knows of its request: its language, where it
// is, whether auto-refresh is turned off.
func basePage(r *http.Request) pageData {
	pd := pageData{L: pickLang(r), Here: r.URL.RequestURI()}
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value == "off" {
		pd.RefreshOff = true
	}
	return pd
}

// requireWebAdmin guards the pages: without a session it shows the sign-in
// page; POSTs must carry the CSRF token and come from this origin.
func (s *Server) requireWebAdmin(next func(http.ResponseWriter, *http.Request, pageData)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pd := basePage(r)
		if s.adminToken == "" {
			pd.Title, pd.Error = pd.L.T("disabled.title"), pd.L.T("disabled.text")
			s.renderPage(w, r, "login", http.StatusForbidden, pd)
			return
		}
		sess := s.webSession(r)
		if sess == "" {
			pd.Title = pd.L.T("signin.title")
			if r.Method != http.MethodGet {
				pd.Error = pd.L.T("signin.ended")
				s.renderPage(w, r, "login", http.StatusUnauthorized, pd)
				return
			}
			s.renderPage(w, r, "login", http.StatusOK, pd)
			return
		}
		pd.SignedIn, pd.CSRF = true, s.csrfToken(sess)
		pd.Flash = flash(pd.L, r.URL.Query())
		if since, reason, paused := s.engine.AdminPaused(); paused {
			pd.Paused, pd.PausedReason = true, reason
			pd.PausedSince = since.In(s.zone).Format("2006-01-02 15:04:05")
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || !sameOrigin(r) ||
				subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(pd.CSRF)) != 1 {
				pd.Title, pd.Error = pd.L.T("refused.title"), pd.L.T("refused.form")
				s.renderPage(w, r, "login", http.StatusForbidden, pd)
				return
			}
		}
		next(w, r, pd)
	}
}

// flash is the sentence for ?done=… after an action (redirect after POST).
func flash(l lang, q url.Values) string {
	switch d := q.Get("done"); d {
	case "canceled", "retried", "paused", "resumed":
		return l.T("done." + d)
	case "bulk-cancel", "bulk-retry":
		var n []any
		for _, k := range []string{"ok", "conflict", "permanent", "missing"} {
			if d == "bulk-cancel" && k == "permanent" {
				continue
			}
			v, _ := strconv.Atoi(q.Get(k))
			n = append(n, v)
		}
		return l.F("done.bulk."+strings.TrimPrefix(d, "bulk-"), n...)
	}
	return ""
}

func (s *Server) handleWebLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if s.adminToken != "" && s.adminLimited(w, r) {
		return
	}
	if s.adminToken == "" || r.ParseForm() != nil || !sameOrigin(r) || !s.isAdmin(r.PostForm.Get("token")) {
		if s.adminToken != "" {
			s.adminFailures.fail(s.clientAddr(r))
		}
		pd := basePage(r)
		pd.Title, pd.Error = pd.L.T("signin.title"), pd.L.T("signin.wrong")
		s.renderPage(w, r, "login", http.StatusUnauthorized, pd)
		return
	}
	exp := strconv.FormatInt(s.now().Add(adminSessionTTL).Unix(), 10)
	// Secure when the browser's connection is TLS: reminderd's own, or a
	// trusted proxy's (X-Forwarded-Proto: https from REMINDERD_TRUSTED_PROXIES).
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: exp + "." + s.adminMAC("session", exp), Path: "/admin",
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(adminSessionTTL / time.Second)})
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

func (s *Server) handleWebLogout(w http.ResponseWriter, r *http.Request, _ pageData) {
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "", Path: "/admin", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "web/static")
	return http.StripPrefix("/admin/static/", http.FileServer(http.FS(sub)))
}

type webReminder struct {
	ID, OpenID, TemplateID, TemplateTitle, Status, Reason string
	FireAt, ExpiresAt, Recurrence, Timezone, Page         string
	CreatedAt, UpdatedAt                                  string
	Attempts, Credits                                     int64
	Pending, Covered                                      bool
	Data                                                  []webField
	// Retry: what a retry of this reminder can do ("" when it is not
	// failed or skipped): "ok", "consent" (the user has no credit now, or
	// no long-term grant for a long-term template: it would be skipped
	// again) or "permanent" (a retry cannot fix its reason).
	Retry string
}

type webField struct{ Key, Label, Value string }

func (s *Server) webReminder(r *http.Request, cc *service.Coverage, rem store.Reminder) (webReminder, error) {
	rj, err := s.renderReminder(r.Context(), cc, rem)
	if err != nil {
		return webReminder{}, err
	}
	out := webReminder{ID: rj.ID, OpenID: rj.OpenID, TemplateID: rj.TemplateID, TemplateTitle: rj.TemplateID, Status: rj.Status,
		FireAt: humanTime(rj.FireAt), Timezone: rj.Timezone, Page: rj.Page, Attempts: rj.Attempts, Credits: rj.Consent.Credits,
		Covered: rj.Consent.Covered, Pending: store.Status(rj.Status).Pending(),
		CreatedAt: humanTime(rj.CreatedAt), UpdatedAt: humanTime(rj.UpdatedAt)}
	if rj.Reason != nil {
		out.Reason = *rj.Reason
	}
	outlook, err := cc.RetryOutlook(r.Context(), rem)
	if err != nil {
		return webReminder{}, err
	}
	out.Retry = string(outlook)
	if rj.ExpiresAt != nil {
		out.ExpiresAt = humanTime(*rj.ExpiresAt)
	}
	if rj.Recurrence != nil {
		out.Recurrence = *rj.Recurrence
	}
	var data map[string]string
	_ = json.Unmarshal(rj.Data, &data)
	t, known := s.catalogOf(rem.AppID).Get(rem.TemplateID)
	if known {
		out.TemplateTitle = t.Title
		for _, k := range t.Keywords {
			if v, ok := data[k.Key]; ok {
				out.Data = append(out.Data, webField{k.Key, k.Label, v})
				delete(data, k.Key)
			}
		}
	}
	for _, k := range sortedStrings(mapKeys(data)) {
		out.Data = append(out.Data, webField{k, "", data[k]})
	}
	return out, nil
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// humanTime shows an RFC 3339 instant as "2006-01-02 15:04:05 -07:00".
func humanTime(v string) string {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v
	}
	return t.Format("2006-01-02 15:04:05 -07:00")
}

// The list page is in admin_web_list.go.

type webDelivery struct {
	Attempt                                                              int64
	OccurrenceAt, At, Status, Errcode, Errmsg, MsgID, Latency, Delivered string
	PossibleDuplicate                                                    bool
}

func (s *Server) handleWebDetail(w http.ResponseWriter, r *http.Request, pd pageData) {
	id := chi.URLParam(r, "id")
	rem, err := s.store.GetReminder(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		pd.Title, pd.Error = pd.L.T("notfound.title"), pd.L.F("notfound.text", id)
		s.renderPage(w, r, "login", http.StatusNotFound, pd)
		return
	}
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	wr, err := s.webReminder(r, s.consents.Coverage(), rem)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	rows, err := s.store.ListDeliveries(r.Context(), id)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	loc, err := time.LoadLocation(rem.Timezone)
	if err != nil {
		loc = time.UTC
	}
	var ds []webDelivery
	for _, d := range rows {
		wd := webDelivery{Attempt: d.Attempt, Status: string(d.Status), Errmsg: d.ErrMsg,
			OccurrenceAt: humanTime(formatInstant(d.OccurrenceAt, loc)), At: humanTime(formatInstant(d.StartedAt, loc))}
		if d.HasErrCode {
			wd.Errcode = strconv.FormatInt(d.ErrCode, 10)
		}
		if d.HasMsgID {
			wd.MsgID = strconv.FormatInt(d.MsgID, 10)
		}
		if d.HasLatency {
			wd.Latency = fmt.Sprintf("%d ms", d.Latency.Milliseconds())
		}
		if d.HasDelivered {
			wd.Delivered = pd.L.T(map[bool]string{false: "no", true: "yes"}[d.Delivered])
		}
		ds = append(ds, wd)
	}
	pd.Title, pd.Nav = pd.L.F("detail.title", id), "reminders"
	s.renderPage(w, r, "detail", http.StatusOK, struct {
		pageData
		R          webReminder
		Deliveries []webDelivery
	}{pd, wr, ds})
}

// handleWebCancel asks first: a form without confirm=1 answers a page that
// says what will happen, with the form that does it (no script needed).
func (s *Server) handleWebCancel(w http.ResponseWriter, r *http.Request, pd pageData) {
	id := chi.URLParam(r, "id")
	if r.PostForm.Get("confirm") != "1" {
		s.renderConfirm(w, r, pd, confirmPage{Action: "/admin/reminders/" + url.PathEscape(id) + "/cancel",
			Question: pd.L.F("confirm.cancel.one", id), Yes: pd.L.T("confirm.yes.cancel"), Danger: true,
			Back: "/admin/reminders/" + url.PathEscape(id)})
		return
	}
	if err := s.reminders.Cancel(r.Context(), id, ""); refused(err) {
		s.webConflict(w, r, pd, pd.L.F("conflict.cancel", id))
		return
	} else if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	http.Redirect(w, r, "/admin/reminders/"+url.PathEscape(id)+"?done=canceled", http.StatusSeeOther)
}

func (s *Server) handleWebRetry(w http.ResponseWriter, r *http.Request, pd pageData) {
	id := chi.URLParam(r, "id")
	if err := s.reminders.Retry(r.Context(), id); refused(err) {
		s.webConflict(w, r, pd, pd.L.F("conflict.retry", id))
		return
	} else if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	http.Redirect(w, r, "/admin/reminders/"+url.PathEscape(id)+"?done=retried", http.StatusSeeOther)
}

// refused reports whether err is the service refusing an action (a
// reminder not found, or not in a state that allows it): the page answers
// it with its own sentence, as a conflict.
func refused(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict)
}

func (s *Server) webConflict(w http.ResponseWriter, r *http.Request, pd pageData, msg string) {
	pd.Title, pd.Error = pd.L.T("refused.title"), msg
	s.renderPage(w, r, "login", http.StatusConflict, pd)
}

func (s *Server) webError(w http.ResponseWriter, r *http.Request, pd pageData, err error) {
	s.log.Error("admin page failed", "path", r.URL.Path, "error", err)
	pd.Title, pd.Error = pd.L.T("error.title"), pd.L.T("error.text")
	s.renderPage(w, r, "login", http.StatusInternalServerError, pd)
}

type webJob struct{ Name, Schedule, LastRunAt, NextRunAt, LastError string }

func (s *Server) handleWebEngine(w http.ResponseWriter, r *http.Request, pd pageData) {
	st, err := s.reminders.Stats(r.Context())
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	now := st.At
	fmtTime := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(s.zone).Format("2006-01-02 15:04:05 -07:00")
	}
	var jobs []webJob
	for _, j := range s.engine.Jobs() {
		jobs = append(jobs, webJob{j.Name, j.Schedule, fmtTime(j.LastRunAt), fmtTime(j.NextRunAt), j.LastError})
	}
	type count struct {
		Status string
		N      int64
	}
	var cs []count
	for _, status := range store.Statuses() {
		cs = append(cs, count{string(status), st.ByStatus[status]})
	}
	data := struct {
		pageData
		Breaker, TokenExpiresAt, QuotaPausedUntil, OldestDueAge string
		DueBacklog                                              int64
		Counts                                                  []count
		Jobs                                                    []webJob
		Chart                                                   trendChart
		Fleet                                                   string
	}{pageData: pd, Breaker: s.engine.Breaker(), DueBacklog: st.DueBacklog, Counts: cs, Jobs: jobs,
		Fleet: s.webFleet(r, pd.L)}
	data.Title, data.Nav, data.Refresh = pd.L.T("engine.title"), "engine", true
	if data.Chart, err = s.trend(r.Context(), now, st.DueBacklog); err != nil {
		s.webError(w, r, pd, err)
		return
	}
	if s.token != nil {
		if exp, ok := s.token.TokenState(); ok {
			data.TokenExpiresAt = fmtTime(exp)
		}
	}
	if until := s.engine.QuotaPausedUntil(); until.After(now) {
		data.QuotaPausedUntil = fmtTime(until)
	}
	if st.DueBacklog > 0 {
		data.OldestDueAge = st.OldestDueAge().Round(time.Second).String()
	}
	s.renderPage(w, r, "engine", http.StatusOK, data)
}

type webConsent struct {
	TemplateID, Title, Status, UpdatedAt string
	Credits                              int64
	LongTerm                             bool
}

// consentsApp is the app whose ledger the consents page shows: the one
// named, else the first served (each app has its own ledger).
func (s *Server) consentsApp(named string) string {
	if list := s.apps.List(); named == "" && len(list) > 0 {
		return list[0].AppID
	}
	return named
}

func (s *Server) handleWebConsents(w http.ResponseWriter, r *http.Request, pd pageData) {
	oid := r.URL.Query().Get("openid")
	app := s.consentsApp(r.URL.Query().Get("appid"))
	var list []webConsent
	if oid != "" {
		rows, err := s.consents.List(r.Context(), app, oid)
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		for _, c := range rows {
			title := c.TemplateID
			if t, ok := s.catalogOf(app).Get(c.TemplateID); ok {
				title = t.Title
			}
			list = append(list, webConsent{TemplateID: c.TemplateID, Title: title, Status: string(c.Status), Credits: c.Credits,
				LongTerm: c.LongTerm, UpdatedAt: c.UpdatedAt.In(s.zone).Format("2006-01-02 15:04:05 -07:00")})
		}
	}
	pd.Title, pd.Nav = pd.L.T("consents.title"), "consents"
	s.renderPage(w, r, "consents", http.StatusOK, struct {
		pageData
		OpenID   string
		AppID    string
		Consents []webConsent
	}{pd, oid, app, list})
}

package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
)

// listFilter is the admin listing's filter, as the page's form and the bulk
// API give it. Q is a reminder id (the page then opens it) or a text to
// find in the reminders' data.
type listFilter struct{ Status, OpenID, TemplateID, From, To, Q string }

func filterFromQuery(q url.Values) listFilter {
	return listFilter{Status: q.Get("status"), OpenID: strings.TrimSpace(q.Get("openid")), TemplateID: q.Get("template_id"),
		From: q.Get("from"), To: q.Get("to"), Q: strings.TrimSpace(q.Get("q"))}
}

// values is the filter as query parameters, empty ones left out.
func (f listFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "openid": f.OpenID, "template_id": f.TemplateID, "from": f.From, "to": f.To, "q": f.Q} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// Fields is the filter as hidden form fields (name, value), in a fixed order.
func (f listFilter) Fields() [][2]string {
	var out [][2]string
	for _, kv := range [][2]string{{"status", f.Status}, {"openid", f.OpenID}, {"template_id", f.TemplateID}, {"from", f.From}, {"to", f.To}, {"q", f.Q}} {
		if kv[1] != "" {
			out = append(out, kv)
		}
	}
	return out
}

// searchText is how q appears inside a reminder's stored data: the values
// are stored as encoding/json writes them (HTML characters escaped), so the
// search looks for the same encoding.
func searchText(q string) string {
	if q == "" {
		return ""
	}
	b, _ := json.Marshal(q)
	return string(b[1 : len(b)-1])
}

// webParams turns the page's filter into the listing's parameters; times
// are the form's datetime-local values in the server's zone.
func (s *Server) webParams(f listFilter) (store.ListQuery, []string) {
	p := store.ListQuery{OpenID: f.OpenID, TemplateID: f.TemplateID, Text: searchText(f.Q)}
	if contains(statuses, f.Status) {
		p.Status = store.Status(f.Status)
	}
	var problems []string
	parseLocal := func(name, v string, dst *time.Time) {
		if v == "" {
			return
		}
		t, err := time.ParseInLocation("2006-01-02T15:04", v, s.zone)
		if err != nil {
			problems = append(problems, name+" is not a date and time")
			return
		}
		*dst = t
	}
	parseLocal("from", f.From, &p.From)
	parseLocal("to", f.To, &p.To)
	return p, problems
}

// The previous pages: the list's links carry back, the cursors of the pages
// before this one ("~" for the first), joined with "."; a bounded trail.
const (
	firstPage = "~"
	maxBack   = 30
)

type statusTab struct {
	Status, Link string
	N            int64
	Current      bool
}

func (s *Server) handleWebList(w http.ResponseWriter, r *http.Request, pd pageData) {
	ctx := r.Context()
	q := r.URL.Query()
	f := filterFromQuery(q)
	// A reminder id in the search box opens the reminder.
	if strings.HasPrefix(f.Q, "rem_") && !strings.ContainsAny(f.Q, " \t") {
		if _, err := s.store.GetReminder(ctx, f.Q); err == nil {
			http.Redirect(w, r, "/admin/reminders/"+url.PathEscape(f.Q), http.StatusSeeOther)
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			s.webError(w, r, pd, err)
			return
		}
	}
	p, problems := s.webParams(f)
	p.Limit = defaultLimit
	cursor := q.Get("cursor")
	if cursor != "" {
		c, ok := decodeCursor(cursor)
		if !ok {
			problems = append(problems, "the page link is not valid")
		}
		p.After = &c
	}
	page, err := s.store.ListReminders(ctx, p)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	var back []string
	if b := q.Get("back"); b != "" {
		back = strings.Split(b, ".")
	}
	link := func(cursor string, back []string) string {
		v := f.values()
		if cursor != "" && cursor != firstPage {
			v.Set("cursor", cursor)
		}
		if len(back) > 0 {
			v.Set("back", strings.Join(back, "."))
		}
		if len(v) == 0 {
			return "/admin/"
		}
		return "/admin/?" + v.Encode()
	}
	var next, prev, first string
	if page.Next != nil {
		here := cursor
		if here == "" {
			here = firstPage
		}
		trail := append(append([]string(nil), back...), here)
		if len(trail) > maxBack {
			trail = trail[len(trail)-maxBack:]
		}
		next = link(encodeCursor(*page.Next), trail)
	}
	if cursor != "" {
		first = link("", nil)
		if len(back) > 0 {
			prev = link(back[len(back)-1], back[:len(back)-1])
		}
	}
	cc := s.consents.Coverage()
	list := make([]webReminder, 0, len(page.Reminders))
	for _, rem := range page.Reminders {
		wr, err := s.webReminder(r, cc, rem)
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		list = append(list, wr)
	}
	st, err := s.reminders.Stats(ctx)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	tabFilter := f
	tabFilter.Status = ""
	tabLink := func(st string) string {
		v := tabFilter.values()
		if st != "" {
			v.Set("status", st)
		}
		if len(v) == 0 {
			return "/admin/"
		}
		return "/admin/?" + v.Encode()
	}
	tabs := []statusTab{{Status: "", Link: tabLink(""), N: st.Total, Current: p.Status == ""}}
	for _, status := range store.Statuses() {
		v := string(status)
		tabs = append(tabs, statusTab{Status: v, Link: tabLink(v), N: st.ByStatus[status], Current: p.Status == status})
	}
	pd.Title, pd.Nav, pd.Refresh = pd.L.T("list.title"), "reminders", true
	if len(problems) > 0 {
		pd.Error = strings.Join(problems, "; ")
	}
	type tmpl struct{ ID, Title string }
	var ts []tmpl
	for _, t := range s.catalog.List() {
		ts = append(ts, tmpl{t.ID, t.Title})
	}
	s.renderPage(w, r, "reminders", http.StatusOK, struct {
		pageData
		Filter            listFilter
		Statuses          []string
		Tabs              []statusTab
		Templates         []tmpl
		Reminders         []webReminder
		Next, Prev, First string
		Zone              string
		MaxWalk           int64
	}{pd, f, statuses, tabs, ts, list, next, prev, first, s.zone.String(), page.WalkLimit})
}

// confirmPage asks before an action; Fields are the form's hidden fields
// (beside csrf and confirm=1).
type confirmPage struct {
	Action, Question, Yes, Back string
	Danger                      bool
	Count                       int
	Fields                      [][2]string
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, pd pageData, c confirmPage) {
	pd.Title = pd.L.T("confirm.title")
	s.renderPage(w, r, "confirm", http.StatusOK, struct {
		pageData
		C confirmPage
	}{pd, c})
}

// handleWebBulk cancels or retries the selected reminders, or all those
// matching the filter (all=1), after a confirmation page that shows how
// many.
func (s *Server) handleWebBulk(w http.ResponseWriter, r *http.Request, pd pageData) {
	ctx := r.Context()
	form := r.PostForm
	action := form.Get("action")
	if action != "cancel" && action != "retry" {
		s.webConflict(w, r, pd, "unknown action")
		return
	}
	f := filterFromQuery(form)
	back := "/admin/"
	if v := f.values(); len(v) > 0 {
		back += "?" + v.Encode()
	}
	var ids []string
	var fields [][2]string
	if form.Get("all") == "1" {
		p, problems := s.webParams(f)
		if len(problems) > 0 {
			s.webConflict(w, r, pd, strings.Join(problems, "; "))
			return
		}
		var more bool
		var err error
		if ids, more, err = s.reminders.Select(ctx, p, service.MaxBulk); err != nil {
			s.webError(w, r, pd, err)
			return
		}
		if more {
			s.webConflict(w, r, pd, pd.L.F("bulk.toomany", service.MaxBulk))
			return
		}
		fields = append(f.Fields(), [2]string{"all", "1"})
	} else {
		ids = dedupe(form["id"])
		if len(ids) > service.MaxBulk {
			s.webConflict(w, r, pd, pd.L.F("bulk.toomany", service.MaxBulk))
			return
		}
		fields = f.Fields()
		for _, id := range ids {
			fields = append(fields, [2]string{"id", id})
		}
	}
	if len(ids) == 0 {
		s.webConflict(w, r, pd, pd.L.T("bulk.none"))
		return
	}
	if form.Get("confirm") != "1" {
		fields = append(fields, [2]string{"action", action})
		s.renderConfirm(w, r, pd, confirmPage{Action: "/admin/bulk", Question: pd.L.F("confirm."+action, len(ids)),
			Yes: pd.L.T("confirm.yes." + action), Danger: action == "cancel", Count: len(ids), Fields: fields, Back: back})
		return
	}
	done := f.values()
	if action == "cancel" {
		c, err := s.reminders.CancelMany(ctx, ids)
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		done.Set("done", "bulk-cancel")
		done.Set("ok", strconv.Itoa(c.Canceled))
		done.Set("conflict", strconv.Itoa(c.Conflict))
		done.Set("missing", strconv.Itoa(c.NotFound))
	} else {
		c, err := s.reminders.RetryMany(ctx, ids)
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		done.Set("done", "bulk-retry")
		done.Set("ok", strconv.Itoa(c.Retried))
		done.Set("conflict", strconv.Itoa(c.Conflict))
		done.Set("permanent", strconv.Itoa(c.Permanent))
		done.Set("missing", strconv.Itoa(c.NotFound))
	}
	http.Redirect(w, r, "/admin/?"+done.Encode(), http.StatusSeeOther)
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// The preferences: language and auto-refresh, each a cookie; the switch
// comes back to the page it was used on.
const refreshCookie = "reminderd_refresh"

func (s *Server) handleWebPrefs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	set := func(name, v string) {
		http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/admin", HttpOnly: true, Secure: s.secure(r),
			SameSite: http.SameSiteStrictMode, MaxAge: 365 * 24 * 3600})
	}
	switch q.Get("lang") {
	case "en", "zh":
		set(langCookie, q.Get("lang"))
	}
	switch q.Get("refresh") {
	case "on", "off":
		set(refreshCookie, q.Get("refresh"))
	}
	back := q.Get("back")
	// Only a path of this page: never another site (//host, /\host).
	if !strings.HasPrefix(back, "/admin") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = "/admin/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *Server) handleWebPause(w http.ResponseWriter, r *http.Request, pd pageData) {
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if len([]rune(reason)) > maxPauseReason {
		reason = string([]rune(reason)[:maxPauseReason])
	}
	if err := s.engine.Pause(r.Context(), reason); err != nil {
		s.webError(w, r, pd, err)
		return
	}
	http.Redirect(w, r, "/admin/engine?done=paused", http.StatusSeeOther)
}

func (s *Server) handleWebResume(w http.ResponseWriter, r *http.Request, pd pageData) {
	if err := s.engine.Resume(r.Context()); err != nil {
		s.webError(w, r, pd, err)
		return
	}
	http.Redirect(w, r, "/admin/engine?done=resumed", http.StatusSeeOther)
}

package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/store"
)

// The admin page's events: each event with its leads, and for each lead
// the reminder's status and the template it was (or will be) sent
// through, among the event's alternatives.

type webEvent struct {
	ID, OpenID, Title, Location, Status, StartAt, ExternalRef string
	Templates                                                 []string
	Leads                                                     []webLead
}

type webLead struct {
	Lead, ReminderID, Status, Reason, FireAt, TemplateID, TemplateTitle string
	// Choice is the template's place among the event's alternatives (1:
	// the first).
	Choice int
}

// webEventOf renders one event with its reminders for the page.
func (s *Server) webEventOf(r *http.Request, e store.Event) (webEvent, error) {
	loc := reminderZone(e.Timezone)
	we := webEvent{ID: e.ID, OpenID: e.OpenID, Title: e.Title, Location: e.Location, Status: e.Status(),
		StartAt: e.StartAt.In(loc).Format("2006-01-02 15:04 -07:00"), ExternalRef: e.ExternalRef}
	for _, t := range e.Templates {
		we.Templates = append(we.Templates, s.templateTitle(e.AppID, t.TemplateID))
	}
	rems, err := s.store.EventReminders(r.Context(), e.ID)
	if err != nil {
		return we, err
	}
	for _, rem := range rems {
		l := webLead{Lead: rem.Lead, ReminderID: rem.ID, Status: string(rem.Status), Reason: string(rem.Reason),
			FireAt: rem.FireAt.In(loc).Format("2006-01-02 15:04"), TemplateID: rem.TemplateID, TemplateTitle: s.templateTitle(rem.AppID, rem.TemplateID)}
		for i, a := range rem.Alternatives {
			if a.TemplateID == rem.TemplateID {
				l.Choice = i + 1
			}
		}
		we.Leads = append(we.Leads, l)
	}
	return we, nil
}

// templateTitle is the title of app's template id, or the id when it is not
// known.
func (s *Server) templateTitle(app, id string) string {
	if t, ok := s.catalogOf(app).Get(id); ok {
		return t.Title
	}
	return id
}

func (s *Server) handleWebEvents(w http.ResponseWriter, r *http.Request, pd pageData) {
	q := r.URL.Query()
	eq := store.EventQuery{OpenID: q.Get("openid"), Limit: defaultLimit}
	if c, ok := decodeCursor(q.Get("cursor")); ok {
		eq.After = &c
	}
	page, err := s.store.ListEvents(r.Context(), eq)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	var list []webEvent
	for _, e := range page.Events {
		we, err := s.webEventOf(r, e)
		if err != nil {
			s.webError(w, r, pd, err)
			return
		}
		list = append(list, we)
	}
	next := ""
	if page.Next != nil {
		next = "/admin/events?openid=" + eq.OpenID + "&cursor=" + encodeCursor(*page.Next)
	}
	pd.Title, pd.Nav, pd.Refresh = pd.L.T("events.title"), "events", true
	s.renderPage(w, r, "events", http.StatusOK, struct {
		pageData
		OpenID string
		Events []webEvent
		Next   string
	}{pd, eq.OpenID, list, next})
}

func (s *Server) handleWebEvent(w http.ResponseWriter, r *http.Request, pd pageData) {
	id := chi.URLParam(r, "id")
	e, err := s.store.GetEvent(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		pd.Title, pd.Error = pd.L.T("notfound.title"), pd.L.F("notfound.text", id)
		s.renderPage(w, r, "login", http.StatusNotFound, pd)
		return
	}
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	we, err := s.webEventOf(r, e)
	if err != nil {
		s.webError(w, r, pd, err)
		return
	}
	pd.Title, pd.Nav = pd.L.T("events.title")+" "+e.ID, "events"
	s.renderPage(w, r, "events", http.StatusOK, struct {
		pageData
		OpenID string
		Events []webEvent
		Next   string
	}{pd, e.OpenID, []webEvent{we}, ""})
}

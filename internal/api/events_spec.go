package api

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// The limits of an event's fields.
const (
	maxLeads          = 5
	maxEventTemplates = 3
	maxEventTextLen   = 200
	maxExternalRefLen = 255
	// maxLead bounds a lead: a reminder more than a year ahead of its
	// meeting is not a lead.
	maxLead = 366 * 24 * time.Hour
	// leadGrace is the least window an event's reminder gets when the
	// default (expiring at start_at) would leave less: a lead of PT0S is
	// sent as the meeting starts, not skipped as expired at once.
	leadGrace = 10 * time.Minute
)

// eventRequest is the body of POST /v1/events, and what a PATCH merges
// into the stored event before it is validated the same way.
type eventRequest struct {
	Title       string              `json:"title"`
	StartAt     *string             `json:"start_at"`
	EndAt       *string             `json:"end_at"`
	ExpiresAt   *string             `json:"expires_at"`
	Location    string              `json:"location"`
	Timezone    *string             `json:"timezone"`
	Page        string              `json:"page"`
	ExternalRef string              `json:"external_ref"`
	Leads       []string            `json:"leads"`
	Templates   []eventTemplateJSON `json:"templates"`
	ValuePolicy string              `json:"value_policy"` // "reject" (default) or "fit", as for reminders
}

type eventTemplateJSON struct {
	TemplateID string                     `json:"template_id"`
	Data       map[string]json.RawMessage `json:"data"`
}

// eventSpec is a validated event: what to store, and each lead's instant.
type eventSpec struct {
	event store.Event
	// cat is the templates of the request's app.
	cat  *catalog.Catalog
	zone *time.Location
	// dues are the leads' due instants, by the index of event.Leads.
	dues []time.Time
	// alts are the templates with their data rendered, in order.
	alts []store.Alternative
}

// leadPattern is the ISO 8601 durations a lead may be: weeks, days (the
// calendar's, in the event's zone), hours, minutes, seconds.
var leadPattern = regexp.MustCompile(`^P(?:(\d{1,4})W)?(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,8})S)?)?$`)

// leadDue is the instant lead l before start, in zone: ok false when l is
// not such a duration.
func leadDue(l string, start time.Time, zone *time.Location) (time.Time, bool) {
	m := leadPattern.FindStringSubmatch(l)
	if m == nil || l == "P" || strings.HasSuffix(l, "T") {
		return time.Time{}, false
	}
	n := make([]int, 6)
	for i := 1; i < len(m); i++ {
		if m[i] != "" {
			n[i], _ = strconv.Atoi(m[i])
		}
	}
	due := start.In(zone).AddDate(0, 0, -(7*n[1] + n[2]))
	due = due.Add(-(time.Duration(n[3])*time.Hour + time.Duration(n[4])*time.Minute + time.Duration(n[5])*time.Second))
	return due, true
}

// placeholderPattern finds the placeholders of a value.
var placeholderPattern = regexp.MustCompile(`\{[a-z_]+\}`)

// renderValue replaces the placeholders of v by the event's values,
// formatted for kw's type in zone: {start} and {end} as the keyword's
// instant layout for time and date keywords, else as "2006-01-02 15:04".
func renderValue(v string, kw wechat.Keyword, e store.Event, zone *time.Location) (string, error) {
	var bad error
	out := placeholderPattern.ReplaceAllStringFunc(v, func(p string) string {
		switch p {
		case "{title}":
			return e.Title
		case "{location}":
			return e.Location
		case "{start}":
			return renderInstant(kw, e.StartAt.In(zone))
		case "{end}":
			if e.EndAt.IsZero() {
				bad = fmt.Errorf("uses {end}, but the event has no end_at")
				return p
			}
			return renderInstant(kw, e.EndAt.In(zone))
		}
		bad = fmt.Errorf("has an unknown placeholder %s: use {title}, {location}, {start} or {end}", p)
		return p
	})
	return out, bad
}

func renderInstant(kw wechat.Keyword, t time.Time) string {
	if s, err := wechat.FormatInstant(kw.Type, t); err == nil {
		return s
	}
	return t.Format("2006-01-02 15:04")
}

// validateEvent turns an event request into a spec, collecting every
// problem; now is the instant the leads are judged against. A start_at
// in the past is refused when the request sets it (a create, or a PATCH
// that moves the meeting), not when a PATCH of a meeting under way keeps it.
func (s *Server) validateEvent(ctx context.Context, req *eventRequest, now time.Time, startGiven bool) (eventSpec, error) {
	fe := fieldErrors{}
	spec := eventSpec{cat: s.catalogFor(ctx)}
	e := &spec.event
	switch req.ValuePolicy {
	case "", "reject", "fit":
	default:
		fe.add("value_policy", "must be reject or fit")
	}
	spec.zone = s.zone
	if req.Timezone != nil {
		if loc, err := recur.LoadZone(*req.Timezone); err != nil {
			fe.add("timezone", err.Error())
		} else {
			spec.zone = loc
		}
	}
	e.Timezone = spec.zone.String()
	e.Title, e.Location, e.ExternalRef = req.Title, req.Location, req.ExternalRef
	checkText(fe, "title", req.Title, maxEventTextLen)
	checkText(fe, "location", req.Location, maxEventTextLen)
	checkText(fe, "external_ref", req.ExternalRef, maxExternalRefLen)
	if !validPage(req.Page) {
		fe.add("page", fmt.Sprintf("must be a mini-program page path such as pages/meeting/detail?id=42 (no leading /, no spaces, at most %d bytes)", maxPageLen))
	}
	e.Page = req.Page
	if req.StartAt == nil {
		fe.add("start_at", "is required: the meeting's start, an RFC 3339 instant")
	} else if t, ok := parseInstant(fe, "start_at", *req.StartAt); ok {
		if startGiven && t.Before(now) {
			fe.add("start_at", "is in the past")
		}
		e.StartAt = t
	}
	if req.EndAt != nil {
		if t, ok := parseInstant(fe, "end_at", *req.EndAt); ok {
			if !e.StartAt.IsZero() && t.Before(e.StartAt) {
				fe.add("end_at", "must not be before start_at")
			}
			e.EndAt = t
		}
	}
	if req.ExpiresAt != nil {
		if t, ok := parseInstant(fe, "expires_at", *req.ExpiresAt); ok {
			e.ExpiresAt = t
		}
	}
	s.validateLeads(fe, req.Leads, &spec, now)
	s.validateEventTemplates(fe, req, &spec)
	return spec, fe.err()
}

// checkText refuses a text field that is too long or holds control
// characters.
func checkText(fe fieldErrors, path, v string, max int) {
	if len([]rune(v)) > max {
		fe.add(path, fmt.Sprintf("must be at most %d characters", max))
	} else if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		fe.add(path, "must not hold control characters")
	}
}

// validateLeads checks the leads and computes their due instants (zero
// ones when start_at is not valid).
func (s *Server) validateLeads(fe fieldErrors, leads []string, spec *eventSpec, now time.Time) {
	e := &spec.event
	switch {
	case leads == nil:
		fe.add("leads", fmt.Sprintf("is required: 1 to %d ISO 8601 durations before start_at, such as [\"P1D\",\"PT15M\"]", maxLeads))
		return
	case len(leads) == 0 || len(leads) > maxLeads:
		fe.add("leads", fmt.Sprintf("must hold 1 to %d leads, not %d", maxLeads, len(leads)))
		return
	}
	e.Leads = leads
	spec.dues = make([]time.Time, len(leads))
	seen := map[int64]int{}
	for i, l := range leads {
		path := fmt.Sprintf("leads[%d]", i)
		start := e.StartAt
		if start.IsZero() {
			start = now // to check the lead's form alone
		}
		due, ok := leadDue(l, start, spec.zone)
		switch {
		case !ok:
			fe.add(path, "must be an ISO 8601 duration of weeks, days, hours, minutes and seconds, such as P1D, PT15M, P1DT2H or PT0S")
		case start.Sub(due) > maxLead:
			fe.add(path, "must be at most a year before start_at")
		default:
			if j, dup := seen[due.UnixMilli()]; dup {
				fe.add(path, fmt.Sprintf("is the same instant as leads[%d]: each lead must be distinct", j))
			}
			seen[due.UnixMilli()] = i
			if !e.StartAt.IsZero() {
				spec.dues[i] = due
				if !e.ExpiresAt.IsZero() && e.ExpiresAt.Before(due) {
					fe.add("expires_at", fmt.Sprintf("is before leads[%d]'s instant (%s): every lead must be due before it", i, due.Format(time.RFC3339)))
				}
			}
		}
	}
}

// validateEventTemplates checks the templates and renders each one's data
// for the event (after the event's own fields are known).
func (s *Server) validateEventTemplates(fe fieldErrors, req *eventRequest, spec *eventSpec) {
	switch {
	case req.Templates == nil:
		fe.add("templates", fmt.Sprintf("is required: 1 to %d templates, each {\"template_id\",\"data\"}, tried in order at each lead", maxEventTemplates))
		return
	case len(req.Templates) == 0 || len(req.Templates) > maxEventTemplates:
		fe.add("templates", fmt.Sprintf("must hold 1 to %d templates, not %d", maxEventTemplates, len(req.Templates)))
		return
	}
	seen := map[string]int{}
	for i, tj := range req.Templates {
		prefix := fmt.Sprintf("templates[%d].", i)
		t, ok := spec.cat.Get(tj.TemplateID)
		switch {
		case tj.TemplateID == "":
			fe.add(prefix+"template_id", "is required")
			continue
		case !ok:
			fe.add(prefix+"template_id", "unknown template: GET /v1/templates lists the known ones")
			continue
		}
		if j, dup := seen[t.ID]; dup {
			fe.add(prefix+"template_id", fmt.Sprintf("is templates[%d]'s template already", j))
			continue
		}
		seen[t.ID] = i
		given, _ := json.Marshal(tj.Data)
		spec.event.Templates = append(spec.event.Templates, store.EventTemplate{TemplateID: t.ID, Data: given})
		if tj.Data == nil {
			fe.add(prefix+"data", "is required: an object mapping each template field to its value, placeholders allowed")
			continue
		}
		rendered := s.renderEventData(fe, prefix, t, tj.Data, spec)
		sub := fieldErrors{}
		data := validateData(sub, t, rendered, req.ValuePolicy, spec.zone)
		for path, problem := range sub {
			fe.add(prefix+path, problem)
		}
		b, _ := json.Marshal(data)
		spec.alts = append(spec.alts, store.Alternative{TemplateID: t.ID, Data: string(b)})
	}
}

// renderEventData replaces the placeholders of each value of data (a value
// that is not a string is left for validateData to name).
func (s *Server) renderEventData(fe fieldErrors, prefix string, t *wechat.Template, data map[string]json.RawMessage, spec *eventSpec) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(data))
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := data[k]
		var v string
		kw, known := t.Keyword(k)
		if !known || json.Unmarshal(raw, &v) != nil {
			out[k] = raw
			continue
		}
		r, err := renderValue(v, kw, spec.event, spec.zone)
		if err != nil {
			fe.add(prefix+"data."+k, err.Error())
		}
		out[k], _ = json.Marshal(r)
	}
	return out
}

// window is the expiry of the reminder of a lead due at due: the event's
// expires_at, else its start_at, but never less than leadGrace after due
// unless expires_at says so.
func (spec *eventSpec) expiry(due time.Time) time.Time {
	e := spec.event
	if !e.ExpiresAt.IsZero() {
		return e.ExpiresAt
	}
	if end := due.Add(leadGrace); e.StartAt.Before(end) {
		return end
	}
	return e.StartAt
}

// reminderFor is the new reminder of lead i.
func (spec *eventSpec) reminderFor(i int, id string, now time.Time) store.NewReminder {
	e, due := spec.event, spec.dues[i]
	exp := spec.expiry(due)
	return store.NewReminder{ID: id, AppID: e.AppID, OpenID: e.OpenID, TemplateID: spec.alts[0].TemplateID, FireAt: due,
		ExpiresAt: exp, Window: exp.Sub(due), HasWindow: true, Timezone: e.Timezone, Data: spec.alts[0].Data,
		Page: e.Page, CreatedAt: now, EventID: e.ID, Lead: e.Leads[i], Alternatives: spec.alts}
}

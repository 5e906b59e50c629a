package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Reminder statuses (as the filters take them) and the limits of a
// reminder's fields.
var statuses = store.Strings(store.Statuses())

const (
	maxPageLen           = 512
	maxIdempotencyKeyLen = 255
	defaultLimit         = 50
	maxLimit             = 200
)

type createRequest struct {
	TemplateID  string                     `json:"template_id"`
	FireAt      *string                    `json:"fire_at"`
	Data        map[string]json.RawMessage `json:"data"`
	Page        string                     `json:"page"`
	ExpiresAt   *string                    `json:"expires_at"`
	Recurrence  *string                    `json:"recurrence"`
	Timezone    *string                    `json:"timezone"`
	ValuePolicy string                     `json:"value_policy"` // "reject" (default) or "fit"
}

// reminderSpec is a validated reminder, ready to store.
type reminderSpec struct {
	templateID string
	fireAt     time.Time
	expiresAt  *time.Time
	recurrence string
	zone       *time.Location
	data       map[string]string
	page       string
}

// window is the reminder's window: the width from fire_at to expires_at,
// kept for each occurrence of a series (ok false: the default).
func (p reminderSpec) window() (expiresAt time.Time, width time.Duration, ok bool) {
	if p.expiresAt == nil {
		return time.Time{}, 0, false
	}
	return *p.expiresAt, p.expiresAt.Sub(p.fireAt), true
}

// maxOffset bounds an instant's UTC offset: time.Parse accepts up to
// ±23:59 (and minutes past 59, +18:60 being read as +19:00).
const maxOffset = 18 * time.Hour

func parseInstant(fe fieldErrors, path, v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fe.add(path, "must be an RFC 3339 instant with an offset, such as 2026-12-01T13:45:00+08:00")
		return time.Time{}, false
	}
	_, off := t.Zone()
	if d := time.Duration(off) * time.Second; d > maxOffset || d < -maxOffset || !validOffsetMinutes(v) {
		fe.add(path, "has an offset beyond ±18:00 (or minutes past 59): use an offset from -18:00 to +18:00")
		return time.Time{}, false
	}
	return t, true
}

// validOffsetMinutes reports whether an RFC 3339 instant that time.Parse
// accepted ends in Z or in an offset whose minutes are 00 to 59.
func validOffsetMinutes(v string) bool {
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") || len(v) < 6 {
		return true
	}
	mm := v[len(v)-2:]
	return mm[0] >= '0' && mm[0] <= '5'
}

// checkOccurrence refuses a fire_at that is not an occurrence of the
// reminder's recurrence in its zone.
func checkOccurrence(fe fieldErrors, sched *recur.Schedule, t time.Time) {
	if sched.IsOccurrence(t) {
		return
	}
	msg := fmt.Sprintf("is not an occurrence of recurrence %q in %s", sched.String(), sched.Location())
	if n := sched.Next(t); !n.IsZero() {
		msg += "; the next one after it is " + n.In(sched.Location()).Format(time.RFC3339)
	}
	fe.add("fire_at", msg)
}

// rateLimitedScheduled is the answer to a create beyond the per-user limit.
func (s *Server) rateLimitedScheduled() *Error {
	return errf(http.StatusTooManyRequests, "rate_limited",
		"at most %d reminders per user may be scheduled (REMINDERD_MAX_SCHEDULED_PER_USER); cancel some or wait until they are sent", s.maxSched)
}

// validateData checks every value against its keyword's WeChat rule. With
// policy "fit", values are first made valid where that is meaningful.
func validateData(fe fieldErrors, t *wechat.Template, raw map[string]json.RawMessage, policy string, zone *time.Location) map[string]string {
	if raw == nil {
		fe.add("data", "is required: an object mapping each template field to its value")
		return nil
	}
	out := make(map[string]string, len(raw))
	for key, rv := range raw {
		path := "data." + key
		kw, ok := t.Keyword(key)
		if !ok {
			fe.add(path, fmt.Sprintf("is not a field of template %s", t.ID))
			continue
		}
		var v string
		if err := json.Unmarshal(rv, &v); err != nil || jsonKind(rv) == "null" {
			fe.add(path, valueTypeProblem(rv))
			continue
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD: refuse it
		// rather than store something the user did not send.
		if !utf8.Valid(rv) {
			fe.add(path, "must be valid UTF-8")
			continue
		}
		if policy == "fit" {
			v = fitValue(kw, v, zone)
		}
		if err := kw.Validate(v); err != nil {
			fe.add(path, err.Error())
			continue
		}
		out[key] = v
	}
	for _, kw := range t.Keywords {
		if _, ok := raw[kw.Key]; !ok {
			fe.add("data."+kw.Key, fmt.Sprintf("is required (%s, a %s field)", kw.Label, kw.Type))
		}
	}
	return out
}

// valueTypeProblem says what is wrong with a data value that is not a JSON
// string. WeChat's own send body wraps each value ({"thing1":{"value":"…"}}):
// a client that copied that shape is told to give the value itself.
func valueTypeProblem(raw json.RawMessage) string {
	var wrapped map[string]json.RawMessage
	if json.Unmarshal(raw, &wrapped) == nil {
		if inner, ok := wrapped["value"]; ok {
			var v string
			if len(wrapped) == 1 && json.Unmarshal(inner, &v) == nil {
				b, _ := json.Marshal(v)
				return fmt.Sprintf(`give the value itself (%s), not WeChat's {"value":…} object`, b)
			}
			return `give the value itself, a string, not WeChat's {"value":…} object`
		}
	}
	return "must be a string, not " + jsonKind(raw)
}

// jsonKind names the JSON type of a valid JSON value.
func jsonKind(raw json.RawMessage) string {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "an object"
		case '[':
			return "an array"
		case '"':
			return "a string"
		case 't', 'f':
			return "a boolean"
		case 'n':
			return "null"
		}
		return "a number"
	}
	return "nothing"
}

// fitValue applies the fit policy: an RFC 3339 instant given for a time or
// date field is rendered in the reminder's zone; anything else goes through
// wechat.FitValue.
func fitValue(kw wechat.Keyword, v string, zone *time.Location) string {
	if kw.Type == "time" || kw.Type == "date" {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(v)); err == nil {
			if s, err := wechat.FormatInstant(kw.Type, t.In(zone)); err == nil {
				return s
			}
		}
	}
	return wechat.FitValue(kw.Type, v)
}

func validPage(p string) bool {
	if len(p) > maxPageLen || strings.HasPrefix(p, "/") {
		return false
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// validateCreate turns a create request into a reminder spec, collecting
// every problem.
func (s *Server) validateCreate(req *createRequest) (reminderSpec, error) {
	return s.validateCreateIn(s.catalog, req)
}

// validateCreateIn is validateCreate against one app's templates.
func (s *Server) validateCreateIn(cat *catalog.Catalog, req *createRequest) (reminderSpec, error) {
	fe := fieldErrors{}
	now := s.now()
	var spec reminderSpec
	switch req.ValuePolicy {
	case "", "reject", "fit":
	default:
		fe.add("value_policy", "must be reject or fit")
	}
	spec.zone = s.zone
	if req.Timezone != nil {
		loc, err := recur.LoadZone(*req.Timezone)
		if err != nil {
			fe.add("timezone", err.Error())
		} else {
			spec.zone = loc
		}
	}
	t, ok := cat.Get(req.TemplateID)
	switch {
	case req.TemplateID == "":
		fe.add("template_id", "is required")
	case !ok:
		fe.add("template_id", "unknown template: GET /v1/templates lists the known ones")
	default:
		spec.templateID = t.ID
		spec.data = validateData(fe, t, req.Data, req.ValuePolicy, spec.zone)
	}
	if req.TemplateID == "" && req.Data == nil {
		fe.add("data", "is required")
	}
	if !validPage(req.Page) {
		fe.add("page", fmt.Sprintf("must be a mini-program page path such as pages/meeting/detail?id=42 (no leading /, no spaces, at most %d bytes)", maxPageLen))
	}
	spec.page = req.Page
	var sched *recur.Schedule
	if req.Recurrence != nil {
		sc, err := recur.Parse(*req.Recurrence, spec.zone)
		if err == nil {
			err = sc.CheckInterval(s.minGap)
		}
		if err != nil {
			fe.add("recurrence", err.Error())
		} else {
			sched, spec.recurrence = sc, sc.String()
		}
	}
	switch {
	case req.FireAt != nil:
		if t, ok := parseInstant(fe, "fire_at", *req.FireAt); ok {
			if t.Before(now) {
				fe.add("fire_at", "is in the past")
			}
			if _, badZone := fe["timezone"]; sched != nil && !badZone {
				checkOccurrence(fe, sched, t)
			}
			spec.fireAt = t
		}
	case sched != nil:
		spec.fireAt = sched.Next(now)
	case req.Recurrence == nil:
		fe.add("fire_at", "is required unless recurrence is given")
	}
	if req.ExpiresAt != nil {
		if t, ok := parseInstant(fe, "expires_at", *req.ExpiresAt); ok {
			if !spec.fireAt.IsZero() && t.Before(spec.fireAt) {
				fe.add("expires_at", "must not be before fire_at")
			}
			spec.expiresAt = &t
		}
	}
	return spec, fe.err()
}

// requestHash identifies a create request for idempotency: the same key with
// the same body returns the same reminder.
func requestHash(req any) string {
	b, _ := json.Marshal(req) // map keys sorted; Marshal compacts each RawMessage
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newReminderID returns "rem_" and 20 characters: 48 bits of the creation
// time in milliseconds, then 52 random bits. Ids created together sort
// together, so inserts append to the same leaf pages of the primary-key
// index instead of dirtying a random page each (fewer WAL writes per commit).
func newReminderID(now time.Time) string {
	var b [15]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return "rem_" + idEncoding.EncodeToString(b[:])[:20]
}

func (s *Server) handleCreateReminder(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.createReminder(w, r, createInput{openID: openID(r.Context()), req: &req, hashed: &req, location: "/v1/reminders/"})
}

// createInput is one create, from the mini-program API or the service API.
type createInput struct {
	openID, externalRef string
	req                 *createRequest
	// hashed is the whole request as the idempotency hash covers it.
	hashed any
	// location is the path prefix of the answer's Location.
	location string
}

// createReminder creates the reminder of in.req for in.openID, after its
// Idempotency-Key, and answers it.
func (s *Server) createReminder(w http.ResponseWriter, r *http.Request, in createInput) {
	ctx := r.Context()
	oid, req := in.openID, in.req
	key := r.Header.Get("Idempotency-Key")
	var hash string
	if key != "" {
		if len(key) > maxIdempotencyKeyLen || strings.IndexFunc(key, unicode.IsControl) >= 0 {
			s.writeError(w, r, fieldErrors{"Idempotency-Key": fmt.Sprintf("must be at most %d printable characters", maxIdempotencyKeyLen)}.err())
			return
		}
		hash = requestHash(in.hashed)
		if done, err := s.replayIdempotent(w, r, oid, key, hash); done || err != nil {
			if err != nil {
				s.writeError(w, r, err)
			}
			return
		}
	}
	spec, err := s.validateCreateIn(s.catalogFor(ctx), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, _ := json.Marshal(spec.data)
	now := s.now()
	nr := store.NewReminder{ID: newReminderID(now), AppID: appID(ctx), OpenID: oid, TemplateID: spec.templateID, FireAt: spec.fireAt,
		Recurrence: spec.recurrence, Timezone: spec.zone.String(), Data: string(data), Page: spec.page,
		IdempotencyKey: key, RequestHash: hash, CreatedAt: now, ExternalRef: in.externalRef}
	nr.ExpiresAt, nr.Window, nr.HasWindow = spec.window()
	created, err := s.store.CreateReminderIdempotent(ctx, nr, store.CreateOptions{MaxScheduled: s.maxSched})
	switch {
	case errors.Is(err, store.ErrLimit):
		s.writeError(w, r, s.rateLimitedScheduled())
		return
	case key != "" && errors.Is(err, store.ErrConflict):
		s.writeError(w, r, idempotencyConflict(key))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	case created.Replayed:
		// A concurrent request with the same key won the race.
		s.writeReminder(w, r, created.Reminder.ID, http.StatusOK, false)
		return
	}
	s.engine.Wake(spec.fireAt)
	cc := s.consents.Coverage()
	cc.Prefill(created)
	out, err := s.renderReminder(ctx, cc, created.Reminder)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", in.location+nr.ID)
	encode(w, http.StatusCreated, out)
}

// idempotencyConflict is the answer to a key used with another body.
func idempotencyConflict(key string) *Error {
	return conflict("Idempotency-Key %q was used with a different request body", key)
}

// replayIdempotent answers a request whose Idempotency-Key was seen before:
// before validation, so that the same request answers the same reminder
// even once it would no longer validate (its fire_at has passed). The
// create itself looks the key up again, in its transaction.
func (s *Server) replayIdempotent(w http.ResponseWriter, r *http.Request, oid, key, hash string) (bool, error) {
	prev, err := s.store.ReminderByIdempotencyKey(r.Context(), oid, key)
	if err == nil && prev.AppID != appID(r.Context()) {
		// Keys are unique per openid, and an openid is one app's: another
		// app's reminder is not the caller's to replay.
		return false, conflict("the Idempotency-Key %q is taken", key)
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if prev.RequestHash != hash {
		return false, idempotencyConflict(key)
	}
	s.writeReminder(w, r, prev.ID, http.StatusOK, false)
	return true, nil
}

func (s *Server) handleGetOwnReminder(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.ownReminder(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeReminder(w, r, id, http.StatusOK, true)
}

type patchRequest struct {
	FireAt    json.RawMessage            `json:"fire_at"`
	Data      map[string]json.RawMessage `json:"data"`
	Page      *string                    `json:"page"`
	ExpiresAt json.RawMessage            `json:"expires_at"`
}

func (s *Server) handlePatchReminder(w http.ResponseWriter, r *http.Request) {
	s.patch(w, r, openID(r.Context()))
}

// patch changes reminder {id} of owner ("" for the service API: any of
// the app's) and answers it.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, owner string) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	var req patchRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	rem, err := s.reminderOf(ctx, id, owner)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rem.Status != store.StatusScheduled {
		s.writeError(w, r, conflict("reminder %s is %s; only a scheduled reminder can be changed", id, rem.Status))
		return
	}
	fe := fieldErrors{}
	zone, err := recur.LoadZone(rem.Timezone)
	if err != nil {
		zone = s.zone
	}
	fireAt := rem.FireAt
	if req.FireAt != nil {
		var v string
		if json.Unmarshal(req.FireAt, &v) != nil {
			fe.add("fire_at", "must be an RFC 3339 instant with an offset")
		} else if t, ok := parseInstant(fe, "fire_at", v); ok {
			if t.Before(s.now()) {
				fe.add("fire_at", "is in the past")
			}
			if rem.Recurrence != "" {
				// A stored series parses (it was checked at creation); the
				// minimum interval is not re-checked for it.
				if sched, err := recur.Parse(rem.Recurrence, zone); err == nil {
					checkOccurrence(fe, sched, t)
				}
			}
			fireAt = t
		}
	}
	var expiresAt *time.Time
	if rem.HasWindow {
		t := fireAt.Add(rem.Window)
		expiresAt = &t
	}
	if req.ExpiresAt != nil {
		var v *string
		if json.Unmarshal(req.ExpiresAt, &v) != nil {
			fe.add("expires_at", "must be an RFC 3339 instant with an offset, or null")
		} else if v == nil {
			expiresAt = nil
		} else if t, ok := parseInstant(fe, "expires_at", *v); ok {
			expiresAt = &t
		}
	}
	if expiresAt != nil && expiresAt.Before(fireAt) {
		fe.add("expires_at", "must not be before fire_at")
	}
	var stored map[string]string
	if err := json.Unmarshal([]byte(rem.Data), &stored); err != nil {
		s.writeError(w, r, fmt.Errorf("reminder %s: stored data: %w", id, err))
		return
	}
	data := stored
	if req.Data != nil {
		t, ok := s.catalogOf(rem.AppID).Get(rem.TemplateID)
		if !ok {
			fe.add("data", "the reminder's template is no longer known; its data cannot be changed")
		} else {
			merged := make(map[string]json.RawMessage, len(stored)+len(req.Data))
			for k, v := range stored {
				b, _ := json.Marshal(v)
				merged[k] = b
			}
			for k, v := range req.Data {
				merged[k] = v
			}
			data = validateData(fe, t, merged, "reject", zone)
		}
	}
	page := rem.Page
	if req.Page != nil {
		if !validPage(*req.Page) {
			fe.add("page", "must be a mini-program page path such as pages/meeting/detail?id=42")
		}
		page = *req.Page
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := reminderSpec{fireAt: fireAt, expiresAt: expiresAt}
	b, _ := json.Marshal(data)
	u := store.ReminderUpdate{ID: id, FireAt: fireAt, Data: string(b), Page: page}
	u.ExpiresAt, u.Window, u.HasWindow = spec.window()
	if err := s.reminders.Update(ctx, u); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeReminder(w, r, id, http.StatusOK, false)
}

func (s *Server) handleCancelOwnReminder(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.ownReminder(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.cancel(w, r, openID(r.Context()))
}

// cancel cancels reminder {id} of owner ("" for the admin: anyone's) and
// answers it.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, owner string) {
	id := chi.URLParam(r, "id")
	if err := s.reminders.Cancel(r.Context(), id, owner); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeReminder(w, r, id, http.StatusOK, false)
}

// parseList parses a listing request into the store's query.
func (s *Server) parseList(r *http.Request, admin bool) (store.ListQuery, error) {
	q := r.URL.Query()
	fe := fieldErrors{}
	lq := store.ListQuery{Limit: defaultLimit}
	if v := q.Get("status"); v != "" {
		if !contains(statuses, v) {
			fe.add("status", "must be one of "+strings.Join(statuses, ", "))
		}
		lq.Status = store.Status(v)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			fe.add("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxLimit))
		}
		lq.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, ok := decodeCursor(v)
		if !ok {
			fe.add("cursor", "is not a cursor this API returned")
		}
		lq.After = &c
	}
	if admin {
		lq.OpenID = q.Get("openid")
		lq.TemplateID = q.Get("template_id")
		lq.AppID = adminAppFilter(r, fe)
		if v := q.Get("delivery"); v != "" {
			if !contains(deliveryReports, v) {
				fe.add("delivery", "must be one of "+strings.Join(deliveryReports, ", "))
			}
			lq.Delivery = store.Report(v)
		}
		if v := q.Get("from"); v != "" {
			if t, ok := parseInstant(fe, "from", v); ok {
				lq.From = t
			}
		}
		if v := q.Get("to"); v != "" {
			if t, ok := parseInstant(fe, "to", v); ok {
				lq.To = t
			}
		}
	} else {
		for _, k := range []string{"openid", "template_id", "from", "to", "delivery", "appid"} {
			if q.Has(k) {
				fe.add(k, "is an admin filter; the mini-program API lists the caller's own reminders")
			}
		}
		lq.OpenID = openID(r.Context())
		lq.AppID = appID(r.Context())
	}
	return lq, fe.err()
}

// deliveryReports are the values of a reminder's delivery report.
var deliveryReports = store.Strings(store.Reports())

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// A cursor is "fire_at|id" (fire_at in unix milliseconds), base64url.
func encodeCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.FireAt.UnixMilli(), 10) + "|" + c.ID))
}

func decodeCursor(v string) (store.Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return store.Cursor{}, false
	}
	f, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(f, 10, 64)
	if !ok || err != nil || id == "" {
		return store.Cursor{}, false
	}
	return store.Cursor{FireAt: time.UnixMilli(n), ID: id}, true
}

type listResponse struct {
	Reminders  []reminderJSON `json:"reminders"`
	NextCursor *string        `json:"next_cursor"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, admin bool) {
	lq, err := s.parseList(r, admin)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, lq)
}

// writeList answers the page lq selects.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, lq store.ListQuery) {
	page, err := s.store.ListReminders(r.Context(), lq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listResponse{Reminders: make([]reminderJSON, 0, len(page.Reminders))}
	if page.Next != nil {
		c := encodeCursor(*page.Next)
		out.NextCursor = &c
	}
	cc := s.consents.Coverage()
	for _, rem := range page.Reminders {
		rj, err := s.renderReminder(r.Context(), cc, rem)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Reminders = append(out.Reminders, rj)
	}
	encode(w, http.StatusOK, out)
}

func (s *Server) handleListOwnReminders(w http.ResponseWriter, r *http.Request) { s.list(w, r, false) }

package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// App is one mini-program the API serves: its AppID and its own WeChat
// login (and token state; nil: none known).
type App struct {
	AppID string
	Login Login
	Token TokenState
	// Catalog is the app's templates (nil: Config.Catalog).
	Catalog *catalog.Catalog
	// SandboxGrant is Config.SandboxGrant for this app's fake WeChat.
	SandboxGrant func(openID, templateID string) (granted bool, err error)
	// Push receives the app's message push at /wechat/push/{appid} (and
	// /wechat/push when it is the only app); nil: none.
	Push *wechat.Receiver
	// ServiceToken admits the app's own backend to the service API
	// (/service/v1) for this app's users ("": none).
	ServiceToken string
}

// Apps is the set of mini-programs the API serves, in the configured order
// (the first is the default). Set replaces it while serving (SIGHUP): a
// session of an app no longer in the set is refused, its data kept.
type Apps struct {
	p atomic.Pointer[[]App]
	// firstByDefault: a login or push that names no app is the first
	// app's, even among several (the sandbox's fakes).
	firstByDefault atomic.Bool
}

// FirstByDefault makes the first app the one a login or push without an
// appid goes to, however many are served (the sandbox, so that its
// single-app tour keeps working beside its second fake app).
func (a *Apps) FirstByDefault() { a.firstByDefault.Store(true) }

// NewApps is the set of apps.
func NewApps(apps ...App) *Apps {
	a := &Apps{}
	a.Set(apps)
	return a
}

// Set replaces the set.
func (a *Apps) Set(apps []App) {
	cp := slices.Clone(apps)
	a.p.Store(&cp)
}

// List is the current set.
func (a *Apps) List() []App { return *a.p.Load() }

// Get returns the app appID serves. A set of one app without an AppID (a
// server wired without apps) serves every appid: there is nothing to
// tell apart.
func (a *Apps) Get(appID string) (App, bool) {
	list := a.List()
	if len(list) == 1 && list[0].AppID == "" {
		return list[0], true
	}
	for _, app := range list {
		if app.AppID == appID {
			return app, true
		}
	}
	return App{}, false
}

// ids are the served AppIDs, for messages.
func (a *Apps) ids() string {
	var out []string
	for _, app := range a.List() {
		out = append(out, app.AppID)
	}
	return strings.Join(out, ", ")
}

// loginApp is the app a POST /v1/session logs into: the one named, or the
// only one. Several apps need "appid"; an unknown one is a 422 naming it.
func (s *Server) loginApp(appID string) (App, error) {
	list := s.apps.List()
	if appID == "" {
		if len(list) == 1 || (len(list) > 1 && s.apps.firstByDefault.Load()) {
			return list[0], nil
		}
		return App{}, fieldErrors{"appid": "is required: this service serves several mini-programs (" + s.apps.ids() + ")"}.err()
	}
	if len(appID) > 64 {
		return App{}, fieldErrors{"appid": "is not an AppID"}.err()
	}
	app, ok := s.apps.Get(appID)
	if !ok {
		return App{}, fieldErrors{"appid": "is not a mini-program this service serves"}.err()
	}
	return app, nil
}

const appIDKey ctxKey = 2

// appID returns the mini-program of a /v1 request's session ("" outside
// one).
func appID(ctx context.Context) string {
	v, _ := ctx.Value(appIDKey).(string)
	return v
}

// withUser is ctx with the session's user and app.
func withUser(ctx context.Context, oid, app string) context.Context {
	return context.WithValue(context.WithValue(ctx, openIDKey, oid), appIDKey, app)
}

// ownReminder loads the caller's reminder id: another user's, or another
// app's, is not found.
func (s *Server) ownReminder(ctx context.Context, id string) (store.Reminder, error) {
	return s.reminders.OwnIn(ctx, id, appID(ctx), openID(ctx))
}

// appJSON is one app of GET /admin/v1/apps.
type appJSON struct {
	AppID string `json:"appid"`
	// State is "serving" (configured) or "removed" (its data is in the
	// database but the app is no longer configured: nothing is sent for it,
	// its sessions and pushes are refused).
	State            string           `json:"state"`
	Breaker          string           `json:"breaker"`
	TokenExpiresAt   *string          `json:"token_expires_at"`
	QuotaPausedUntil *string          `json:"quota_paused_until"`
	Reminders        map[string]int64 `json:"reminders"`
}

// handleAdminApps lists the configured apps, then the apps only the data
// still names, each with its reminders by status.
func (s *Server) handleAdminApps(w http.ResponseWriter, r *http.Request) {
	counts, err := s.store.CountRemindersByApp(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	out := []appJSON{}
	seen := map[string]bool{}
	for _, app := range s.apps.List() {
		seen[app.AppID] = true
		a := appJSON{AppID: app.AppID, State: "serving", Breaker: s.breakerOf(app.AppID), Reminders: statusCounts(counts[app.AppID])}
		if app.Token != nil {
			if exp, ok := app.Token.TokenState(); ok {
				a.TokenExpiresAt = optTime(exp)
			}
		}
		if until := s.quotaPausedUntilOf(app.AppID); until.After(now) {
			a.QuotaPausedUntil = optTime(until)
		}
		out = append(out, a)
	}
	var removed []string
	for id := range counts {
		if !seen[id] && id != "" {
			removed = append(removed, id)
		}
	}
	sort.Strings(removed)
	for _, id := range removed {
		out = append(out, appJSON{AppID: id, State: "removed", Breaker: "closed", Reminders: statusCounts(counts[id])})
	}
	encode(w, http.StatusOK, map[string]any{"apps": out})
}

// statusCounts is every status's count, zero included.
func statusCounts(by map[store.Status]int64) map[string]int64 {
	out := make(map[string]int64, len(store.Statuses()))
	for _, st := range store.Statuses() {
		out[string(st)] = by[st]
	}
	return out
}

// adminAppFilter is ?appid= of an admin listing or the stats: "" for every
// app; one the data does not know is simply empty.
func adminAppFilter(r *http.Request, fe fieldErrors) string {
	v := r.URL.Query().Get("appid")
	if len(v) > 64 {
		fe.add("appid", "is not an AppID")
	}
	return v
}

// receiver is the push receiver of a request: /wechat/push/{appid} is that
// app's (a removed or unknown app's is not found), /wechat/push the only
// app's (Config.Push, else that app's own).
func (s *Server) receiver(r *http.Request) (*wechat.Receiver, error) {
	none := notFound("message push (set the app's push token)")
	if id := chi.URLParam(r, "appid"); id != "" {
		app, ok := s.apps.Get(id)
		switch {
		case !ok:
			return nil, notFound("message push of app " + id)
		case app.Push != nil:
			return app.Push, nil
		case app.AppID == "" && s.push != nil: // a server wired without apps
			return s.push, nil
		}
		return nil, none
	}
	list := s.apps.List()
	if len(list) > 1 && s.apps.firstByDefault.Load() {
		if list[0].Push == nil {
			return nil, none
		}
		return list[0].Push, nil
	}
	if len(list) > 1 {
		return nil, notFound("message push: this service serves several mini-programs; WeChat pushes to /wechat/push/{appid}")
	}
	if s.push != nil {
		return s.push, nil
	}
	if len(list) == 1 && list[0].Push != nil {
		return list[0].Push, nil
	}
	return nil, notFound("message push (set REMINDERD_WECHAT_PUSH_TOKEN)")
}

// catalogFor is the templates of the request's app (its session's, or its
// push's).
func (s *Server) catalogFor(ctx context.Context) *catalog.Catalog { return s.catalogOf(appID(ctx)) }

// appTemplates looks templates up in their app's catalog (the services'
// service.Templates).
type appTemplates struct{ s *Server }

func (t appTemplates) GetIn(appID, id string) (*wechat.Template, bool) {
	return t.s.catalogOf(appID).Get(id)
}

// catalogOf is app appID's templates; Config.Catalog when the app has
// none of its own.
func (s *Server) catalogOf(appID string) *catalog.Catalog {
	if app, ok := s.apps.Get(appID); ok && app.Catalog != nil {
		return app.Catalog
	}
	return s.catalog
}

// pushApp is the app a push request is for: the URL's, or the only one.
func (s *Server) pushApp(r *http.Request) string {
	if id := chi.URLParam(r, "appid"); id != "" {
		return id
	}
	if list := s.apps.List(); len(list) == 1 || (len(list) > 1 && s.apps.firstByDefault.Load()) {
		return list[0].AppID
	}
	return ""
}

// App implements ServiceAuth over the served apps' service tokens: each
// one admits its app only. Every token is compared, in constant time, so
// that the answer's timing tells nothing of which app's token is near.
func (a *Apps) App(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	appID, found := "", false
	for _, app := range a.List() {
		if app.ServiceToken == "" {
			continue
		}
		want := sha256.Sum256([]byte(app.ServiceToken))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			appID, found = app.AppID, true
		}
	}
	return appID, found
}

// serviceEnabled reports whether some served app has a service token.
func (a *Apps) serviceEnabled() bool {
	for _, app := range a.List() {
		if app.ServiceToken != "" {
			return true
		}
	}
	return false
}

// appBreakers is an engine with a breaker per app.
type appBreakers interface{ BreakerOf(appID string) string }

// breakerOf is app appID's breaker state; the engine's when it has one
// breaker for all.
func (s *Server) breakerOf(appID string) string {
	if b, ok := s.engine.(appBreakers); ok {
		return b.BreakerOf(appID)
	}
	return s.engine.Breaker()
}

// appQuotas is an engine with a quota pause per app.
type appQuotas interface {
	QuotaPausedUntilOf(appID string) time.Time
}

// quotaPausedUntilOf is app appID's quota pause; the engine's when it has
// one for all.
func (s *Server) quotaPausedUntilOf(appID string) time.Time {
	if q, ok := s.engine.(appQuotas); ok {
		return q.QuotaPausedUntilOf(appID)
	}
	return s.engine.QuotaPausedUntil()
}

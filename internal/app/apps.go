package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat"
)

// adoptRows gives the configured app the sessions and reminders written
// before apps existed (migrations 12 and 13 leave them without an AppID),
// and each consent ledger row of that time to its user's app (appID for a
// user known to no app), so that an upgraded deployment's users keep their
// sessions, reminders and credits.
func adoptRows(ctx context.Context, s store.Apps, appID string, log *slog.Logger) error {
	if appID == "" {
		return nil
	}
	n, err := s.AdoptRows(ctx, appID)
	if err != nil {
		return fmt.Errorf("give the rows written before apps existed to app %s: %w", appID, err)
	}
	if n > 0 {
		log.Info("rows written before apps existed now belong to an app: the ledger's to its users' apps, the rest to the first", "appid", appID, "rows", n)
	}
	return nil
}

// AppConfig is one mini-program's settings: its WeChat client (New sets
// its Now, Logger, TokenStore and OnToken) and its message push (no token:
// none).
type AppConfig struct {
	WeChat            wechat.Config
	PushToken, AESKey string
	// ServiceToken admits the app's backend to the service API ("": none);
	// Webhook is where the app's webhook events go (no URL: none).
	ServiceToken string
	Webhook      webhook.Target
	// SandboxGrant is the sandbox's grant at this app's fake WeChat
	// (api.Config.SandboxGrant); nil in production.
	SandboxGrant func(openID, templateID string) (bool, error)
}

// appParts is what one served app runs on: its client (its own access
// token, in its row of the database), its templates and its push receiver.
type appParts struct {
	cfg     AppConfig
	client  *wechat.Client
	catalog *catalog.Catalog
	push    *wechat.Receiver
}

// appSet is the served apps, in the configured order; replaced whole on
// SIGHUP, read without a lock.
type appSet struct{ p atomic.Pointer[[]*appParts] }

func (s *appSet) list() []*appParts {
	if l := s.p.Load(); l != nil {
		return *l
	}
	return nil
}

// get is app appID's parts. With a single app, every reminder is its own
// (one written without an app included).
func (s *appSet) get(appID string) (*appParts, bool) {
	l := s.list()
	if len(l) == 1 && appID == "" {
		return l[0], true
	}
	for _, p := range l {
		if p.cfg.WeChat.AppID == appID {
			return p, true
		}
	}
	return nil, false
}

func (s *appSet) serves(appID string) bool { _, ok := s.get(appID); return ok }

// ids are the served AppIDs.
func (s *appSet) ids() []string {
	var out []string
	for _, p := range s.list() {
		out = append(out, p.cfg.WeChat.AppID)
	}
	return out
}

// appSender sends each message through its reminder's app's client.
type appSender struct{ set *appSet }

func (r appSender) Send(ctx context.Context, req wechat.SendRequest) (wechat.SendResult, error) {
	p, ok := r.set.get(req.AppID)
	if !ok {
		// The engine defers such a reminder before sending (Serves); an app
		// removed since then ends here, before anything reaches WeChat.
		return wechat.SendResult{}, fmt.Errorf("app %s is not served", req.AppID)
	}
	return p.client.Send(ctx, req)
}

// appTemplates looks a template up in the apps' catalogs: GetIn in its
// app's (a template id is one account's, and two apps may give the same id
// to templates of different kinds), Get in each, in order.
type appTemplates struct{ set *appSet }

func (t appTemplates) Get(id string) (*wechat.Template, bool) {
	for _, p := range t.set.list() {
		if tpl, ok := p.catalog.Get(id); ok {
			return tpl, true
		}
	}
	return nil, false
}

// GetIn is app appID's template id; an app not served has none.
func (t appTemplates) GetIn(appID, id string) (*wechat.Template, bool) {
	p, ok := t.set.get(appID)
	if !ok {
		return nil, false
	}
	return p.catalog.Get(id)
}

// buildApp makes an app's client, catalog (loaded, and synced if due) and
// receiver.
func (a *App) buildApp(ctx context.Context, ac AppConfig) (*appParts, error) {
	now, log := a.now, a.log
	wcfg := ac.WeChat
	id := wcfg.AppID
	wcfg.Now = now
	wcfg.Logger = log.With("component", "wechat", "appid", id)
	wcfg.TokenStore = tokenStore{a.Store.AppTokens(id)}
	wcfg.OnToken = func(e wechat.TokenEvent) { a.Metrics.TokenEvent(id, e.Kind) }
	client, err := wechat.New(wcfg)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", id, err)
	}
	cat := catalog.New(a.Store.AppTemplates(id), client, now, log.With("component", "catalog", "appid", id))
	if err := cat.Load(ctx); err != nil {
		return nil, fmt.Errorf("app %s: %w", id, err)
	}
	if err := cat.SyncIfDue(ctx); err != nil {
		log.Warn("template sync at start-up failed; serving the last known templates and retrying", "appid", id, "error", err)
	}
	p := &appParts{cfg: ac, client: client, catalog: cat}
	if ac.PushToken != "" {
		p.push, err = wechat.NewReceiver(wechat.PushConfig{Token: ac.PushToken, AESKey: ac.AESKey, AppID: id, Now: now})
		if err != nil {
			return nil, fmt.Errorf("app %s: message push: %w", id, err)
		}
	}
	return p, nil
}

// apiApps is the served apps as the API sees them.
func apiApps(parts []*appParts) []api.App {
	out := make([]api.App, len(parts))
	for i, p := range parts {
		out[i] = api.App{AppID: p.cfg.WeChat.AppID, Login: p.client, Token: p.client, Push: p.push, Catalog: p.catalog, SandboxGrant: p.cfg.SandboxGrant,
			ServiceToken: p.cfg.ServiceToken}
	}
	return out
}

// SetApps serves apps from now on (SIGHUP): an added app is built (its
// client, templates and push) and starts serving and sending; a removed one
// stops (its reminders are deferred, its sessions and pushes refused, its
// data kept); a kept app with the same settings keeps running as it is. An
// app that cannot be built leaves the running set unchanged.
func (a *App) SetApps(ctx context.Context, apps []AppConfig) (added, removed []string, err error) {
	a.setMu.Lock()
	defer a.setMu.Unlock()
	old := map[string]*appParts{}
	for _, p := range a.apps.list() {
		old[p.cfg.WeChat.AppID] = p
	}
	next := make([]*appParts, 0, len(apps))
	for _, ac := range apps {
		id := ac.WeChat.AppID
		if p, ok := old[id]; ok && sameApp(p.cfg, ac) {
			// The same client, templates and push; the new service token
			// and webhook.
			kept := *p
			kept.cfg = ac
			next = append(next, &kept)
			delete(old, id)
			continue
		}
		p, err := a.buildApp(ctx, ac)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := old[id]; !ok {
			added = append(added, id)
		}
		delete(old, id)
		next = append(next, p)
	}
	for id := range old {
		removed = append(removed, id)
	}
	a.apps.p.Store(&next)
	a.Apps.Set(apiApps(next))
	// An app's webhook added, changed or removed counts from its next
	// event (appTargets reads the set just stored); the first one turns
	// webhooks on.
	a.switchWebhooks(next)
	return added, removed, nil
}

// sameApp reports whether two settings of one app run the same client,
// templates and push (its service token and webhook are read at each
// request and post).
func sameApp(a, b AppConfig) bool {
	x, y := a.WeChat, b.WeChat
	return x.AppID == y.AppID && x.Secret == y.Secret && x.BaseURL == y.BaseURL && x.MiniprogramState == y.MiniprogramState &&
		x.Lang == y.Lang && a.PushToken == b.PushToken && a.AESKey == b.AESKey
}

// eachApp runs fn for every served app, joining the errors (named by app).
func (a *App) eachApp(ctx context.Context, fn func(context.Context, *appParts) error) error {
	var errs []error
	for _, p := range a.apps.list() {
		if err := fn(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", p.cfg.WeChat.AppID, err))
		}
	}
	return errors.Join(errs...)
}

// appTargets are the served apps' webhook targets, as configured now.
type appTargets struct{ set *appSet }

func (t appTargets) Target(appID string) (webhook.Target, bool) {
	p, ok := t.set.get(appID)
	if !ok || p.cfg.Webhook.URL == "" {
		return webhook.Target{}, false
	}
	return p.cfg.Webhook, true
}

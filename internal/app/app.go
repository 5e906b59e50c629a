// Package app builds reminderd's application from its settings: the
// database, the WeChat client (its token kept in the database), the
// template catalog, the engine with its periodic jobs, the metrics, message
// push and the HTTP API.
//
// New is the one constructor: `reminderd serve` (and so the demo, which
// runs serve) and `reminderd bench` build the application through it, so
// that what the bench measures is what serve runs. Listening, the sandbox's
// fake WeChat and the command line stay in cmd/reminderd.
package app

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/metrics"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Config is the application's settings, parsed and validated by the caller.
type Config struct {
	// DB is the database: a postgres:// or postgresql:// URL selects
	// PostgreSQL (opened with Postgres), anything else is the SQLite file
	// (opened with DBOptions, whose Sync PostgreSQL ignores).
	DB        string
	DBOptions db.Options
	Postgres  postgres.Options
	// WeChat configures the client. New sets its Now, Logger, TokenStore
	// (the database) and OnToken (the metrics).
	WeChat wechat.Config
	// Apps are several mini-programs, the first the default; empty: the
	// one of WeChat, PushToken and AESKey. The rows written before apps
	// existed go to the first.
	Apps []AppConfig
	// PushToken and AESKey configure message push; without a token there
	// is none (/wechat/push answers 404).
	PushToken, AESKey string
	// Engine configures the scheduler. New sets its Store, Sender, Templates,
	// Now, Logger and OnRescue; Engine.Observer, if set, is told of each
	// outcome after the metrics.
	Engine scheduler.Config
	// API configures the HTTP API. New sets its DB, Catalog, Login, Engine,
	// Token, Push, Metrics, ObserveHTTP, Webhooks, WebhookWake, WebhooksOn, Now and
	// Logger.
	API api.Config
	// Webhooks, when set, are where each app's events go instead of its
	// AppConfig.Webhook. Webhooks are off (no outbox row, no scan) until
	// an app has a target, at start or on SetApps (webhooks.go).
	Webhooks webhook.Targets
	// Owner names this process in the webhook outbox's leases (default a
	// random name).
	Owner string
}

// Deps are what the application takes from its surroundings.
type Deps struct {
	Now    func() time.Time // time.Now
	Logger *slog.Logger     // discard
}

// App is the built application. Run its Engine and serve its Handler; Close
// closes the database, after the engine has stopped.
type App struct {
	// Store is the database, SQLite or PostgreSQL: everything is wired to
	// it.
	Store store.Store
	// DB is the SQLite store (the same as Store), nil on PostgreSQL: for
	// what only SQLite has (the bench's reads, the WAL's state).
	DB      *db.DB
	WeChat  *wechat.Client
	Catalog *catalog.Catalog
	Engine  *scheduler.Engine
	Metrics *metrics.Metrics
	// Apps are the mini-programs the API serves; SetApps replaces them
	// (SIGHUP).
	Apps *api.Apps

	apps  appSet     // what each served app runs on (apps.go)
	setMu sync.Mutex // one SetApps at a time
	now   func() time.Time
	log   *slog.Logger
	// Handler is the HTTP API (mini-program, admin, message push, health,
	// metrics).
	Handler http.Handler
	// Webhooks posts the webhook outbox; run it beside the engine with
	// RunWebhooks (which waits until an app has a webhook), and stop it
	// before Close.
	Webhooks *webhook.Dispatcher

	hooks webhookSwitch // webhooks.go
}

// New opens the database and builds everything on it. The catalog is
// loaded from the database and synced from WeChat if due; a failed sync is
// logged, and the last known templates are served meanwhile (Catalog.Synced
// tells). The periodic jobs template_sync, token_refresh and retention are
// added to the engine's.
func New(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	now, log := deps.Now, deps.Logger
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	database, sqlite, err := OpenStore(ctx, cfg, now, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			database.Close()
		}
	}()
	a := &App{Store: database, DB: sqlite}
	adopter := cfg.WeChat.AppID
	if len(cfg.Apps) > 0 {
		adopter = cfg.Apps[0].WeChat.AppID
	}
	if err := adoptRows(ctx, database, adopter, log); err != nil {
		return nil, err
	}
	// The metrics read the engine's state at each scrape, the reminder
	// counts from the service every surface reads them from.
	reminders := service.NewReminders(database, wakeLater{a}, now)
	a.Metrics = metrics.New(func(ctx context.Context) (metrics.State, error) {
		return engineState(ctx, reminders, database, a.Engine, a.apps.ids())
	}, log.With("component", "metrics"))

	a.now, a.log = now, log
	appCfgs := cfg.Apps
	if len(appCfgs) == 0 {
		appCfgs = []AppConfig{{WeChat: cfg.WeChat, PushToken: cfg.PushToken, AESKey: cfg.AESKey}}
	}
	parts := make([]*appParts, 0, len(appCfgs))
	for _, ac := range appCfgs {
		p, err := a.buildApp(ctx, ac)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	a.apps.p.Store(&parts)
	// The first app is the default: what a single-app caller reads.
	first := parts[0]
	a.WeChat, a.Catalog = first.client, first.catalog
	client, rcv := first.client, first.push

	ecfg := cfg.Engine
	ecfg.Store, ecfg.Sender, ecfg.Templates, ecfg.Now = database, appSender{&a.apps}, appTemplates{&a.apps}, now
	ecfg.Serves = a.apps.serves
	ecfg.Apps = a.apps.ids
	ecfg.Logger = log.With("component", "scheduler")
	observer, m := cfg.Engine.Observer, a.Metrics
	ecfg.Observer = func(o scheduler.Outcome) {
		m.ObserveSend(o.AppID, o.Status, o.Reason, o.ErrCode, o.Sent, o.Latency, o.Lateness)
		m.ObserveTruth(o.AppID, o.Late, o.PossibleDuplicate, o.Settled, o.InvalidAnswer)
		if observer != nil {
			observer(o)
		}
	}
	ecfg.OnRescue = m.Rescued
	if a.Engine, err = scheduler.New(ecfg); err != nil {
		return nil, err
	}
	jobs := a.Engine.Jobs()
	if err := jobs.Add("template_sync", "@every 1m", func(ctx context.Context) error {
		return a.eachApp(ctx, func(ctx context.Context, p *appParts) error { return p.catalog.SyncIfDue(ctx) })
	}); err != nil {
		return nil, err
	}
	// The leader syncs; every process reads what it stored, so that a
	// template added at WeChat is known to the whole fleet within minutes.
	if err := jobs.AddEveryProcess("template_reload", "@every 1m", func(ctx context.Context) error {
		return a.eachApp(ctx, func(ctx context.Context, p *appParts) error { return p.catalog.Reload(ctx) })
	}); err != nil {
		return nil, err
	}
	if err := jobs.Add("token_refresh", "@every 1m", func(ctx context.Context) error {
		return a.eachApp(ctx, func(ctx context.Context, p *appParts) error {
			_, err := p.client.AccessToken(ctx) // replaces the token when under 5 minutes remain
			return err
		})
	}); err != nil {
		return nil, err
	}
	if err := jobs.Add("retention", "@every 1h", func(ctx context.Context) error { return Retain(ctx, database, now()) }); err != nil {
		return nil, err
	}

	acfg := cfg.API
	acfg.DB, acfg.Catalog, acfg.Login, acfg.Engine, acfg.Token = database, a.Catalog, client, engine{a.Engine}, client
	acfg.Push, acfg.Metrics, acfg.ObserveHTTP, acfg.Now = rcv, m.Handler(), m.ObserveHTTP, now
	a.Apps = api.NewApps(apiApps(parts)...)
	acfg.Apps = a.Apps
	acfg.Logger = log.With("component", "api")
	targets := cfg.Webhooks
	if targets == nil {
		targets = appTargets{&a.apps}
	}
	a.hooks.init(database, first.cfg.WeChat.AppID, targets)
	acfg.Webhooks, acfg.WebhooksOn = database, a.WebhooksOn
	acfg.WebhookWake = func() { a.Webhooks.Wake() }
	srv := api.New(acfg)
	a.Handler = srv
	owner := cfg.Owner
	if owner == "" {
		owner = "proc-" + store.NewWebhookID(now())
	}
	// Built whatever the configuration, so that a SIGHUP that gives an app
	// its first webhook has a dispatcher to start (switchWebhooks).
	a.Webhooks = webhook.New(webhook.Config{Store: database, Targets: targets, Owner: owner,
		Render: srv.RenderReminder, Now: now, Observe: a.hooks.observe, Logger: log.With("component", "webhooks")})
	// Before anything runs: every event from now on is in the outbox.
	a.switchWebhooks(parts)
	return a, nil
}

// hookedApps names the apps with a webhook target and the host each posts
// to, for the log (a URL's path or query may hold a secret).
func hookedApps(parts []*appParts, targets webhook.Targets) []string {
	var out []string
	for _, p := range parts {
		id := p.cfg.WeChat.AppID
		if t, ok := targets.Target(id); ok {
			out = append(out, id+" → "+urlHost(t.URL))
		}
	}
	return out
}

// urlHost is the host of a webhook URL.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}

// Close closes the database (SQLite: its checkpointer, statements and
// pools; PostgreSQL: its pool).
func (a *App) Close() error { return a.Store.Close() }

// tokenStore persists the WeChat access token in the store and shares it
// between the processes on one database (wechat.FleetTokenStore).
type tokenStore struct{ s store.TokenStore }

var _ wechat.FleetTokenStore = tokenStore{}

func (t tokenStore) LoadToken(ctx context.Context) (wechat.Token, error) {
	tok, err := t.s.LoadToken(ctx)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return wechat.Token{}, nil
		}
		return wechat.Token{}, err
	}
	return wechat.Token{Value: wechat.NewSecret(tok.Value), ExpiresAt: tok.ExpiresAt, Version: tok.Version}, nil
}

func (t tokenStore) SaveToken(ctx context.Context, tok wechat.Token) error {
	return t.s.SaveToken(ctx, store.Token{Value: tok.Value.Reveal(), ExpiresAt: tok.ExpiresAt}, time.Now())
}

func (t tokenStore) AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	return t.s.AcquireTokenFetch(ctx, holder, now, until)
}

func (t tokenStore) ReleaseTokenFetch(ctx context.Context, holder string) error {
	return t.s.ReleaseTokenFetch(ctx, holder)
}

func (t tokenStore) SaveFetchedToken(ctx context.Context, tok wechat.Token, holder string, now time.Time) (wechat.Token, error) {
	v, err := t.s.SaveFetchedToken(ctx, store.Token{Value: tok.Value.Reveal(), ExpiresAt: tok.ExpiresAt}, holder, now)
	if err != nil {
		return wechat.Token{}, err
	}
	tok.Version = v
	return tok, nil
}

func (t tokenStore) InvalidateToken(ctx context.Context, version int64, now time.Time) error {
	_, err := t.s.InvalidateToken(ctx, version, now)
	return err
}

// engine adapts the scheduler to what the API reports.
type engine struct{ *scheduler.Engine }

func (e engine) Jobs() []api.Job {
	var out []api.Job
	for _, j := range e.Engine.Jobs().Status() {
		out = append(out, api.Job{Name: j.Name, Schedule: j.Schedule, LastRunAt: j.LastRunAt, NextRunAt: j.NextRunAt, LastError: j.LastError})
	}
	return out
}

// wakeLater wakes the application's engine, which is built after the
// metrics that need the reminder service.
type wakeLater struct{ a *App }

func (w wakeLater) Wake(t time.Time) {
	if w.a.Engine != nil {
		w.a.Engine.Wake(t)
	}
}

// checkpointer is a store with a WAL checkpointed in the background
// (SQLite's *db.DB).
type checkpointer interface {
	CheckpointState() (walFrames, failures int64)
}

// engineState is what /metrics reads at each scrape: each app's reminder
// counts by status (one grouped count, the one GET /admin/v1/apps reads),
// each served app's due backlog (service.Reminders.AppStats, on the app
// index), breaker and quota pause, and the engine's and the database's own
// state.
func engineState(ctx context.Context, reminders *service.Reminders, d store.Store, eng *scheduler.Engine, served []string) (metrics.State, error) {
	st := metrics.State{Breaker: "closed"}
	counts, err := d.CountRemindersByApp(ctx)
	if err != nil {
		return st, err
	}
	for _, id := range served {
		stats, err := reminders.AppStats(ctx, id)
		if err != nil {
			return st, err
		}
		a := metrics.AppState{AppID: id, Served: true, RemindersByStatus: statusCounts(counts[id]), DueBacklog: stats.DueBacklog,
			OldestDueAge: stats.OldestDueAge(), Breaker: "closed"}
		if eng != nil {
			a.Breaker = eng.BreakerOf(id)
			a.QuotaPaused = !eng.QuotaPausedUntilOf(id).IsZero()
		}
		st.Apps = append(st.Apps, a)
		delete(counts, id)
	}
	// The apps only the data names: removed from the configuration, their
	// reminders kept and deferred.
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		st.Apps = append(st.Apps, metrics.AppState{AppID: id, RemindersByStatus: statusCounts(counts[id])})
	}
	if c, ok := d.(checkpointer); ok { // SQLite's WAL; PostgreSQL has none of its own to report
		st.WALFrames, st.CheckpointFailures = c.CheckpointState()
	}
	if eng != nil {
		st.Breaker = eng.Breaker()
		st.SoleSender = eng.SoleSender()
	}
	return st, nil
}

// statusCounts is every status's count, zero included, so that a status
// with no reminder reads 0 and not a gap.
func statusCounts(by map[store.Status]int64) map[string]int64 {
	out := make(map[string]int64, len(store.Statuses()))
	for _, s := range store.Statuses() {
		out[string(s)] = by[s]
	}
	return out
}

// Retention is how long delivery records of past sends are kept.
const Retention = 90 * 24 * time.Hour

// WebhookRetention is how long a delivered webhook event stays in the
// outbox (GET /admin/v1/webhooks?state=delivered).
const WebhookRetention = 7 * 24 * time.Hour

// Retain deletes what is past its use at t: expired sessions, accept
// reports too old to pair, delivery records past Retention, sent events
// parked for a send whose outcome never came (an outcome is recorded within
// a lease: minutes, not a day), the record of pushes applied, and webhook
// events delivered a week ago or dead for Retention. It is the hourly
// retention job.
func Retain(ctx context.Context, s store.EngineStore, t time.Time) error {
	return s.Retain(ctx, store.Retention{
		Sessions:   t,
		Grants:     t.Add(-24 * time.Hour),
		Deliveries: t.Add(-Retention),
		SentEvents: t.Add(-24 * time.Hour),
		// Pushes older than WeChat's timestamp skew are refused as stale
		// anyway; an hour keeps every retry's record.
		Pushes: t.Add(-time.Hour),
		// A delivered event is the receiver's; a dead one is kept as long
		// as the delivery records, for the admin to see or retry.
		WebhooksDelivered: t.Add(-WebhookRetention),
		WebhooksDead:      t.Add(-Retention),
	})
}

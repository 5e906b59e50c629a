// Package api is reminderd's HTTP API: the mini-program API under /v1, the
// admin API under /admin/v1, WeChat message push, and health checks, as
// described in docs/api.md and served as OpenAPI at GET /openapi.json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Login exchanges a wx.login code for the user's identity (a *wechat.Client).
type Login interface {
	Code2Session(ctx context.Context, code string) (wechat.Session, error)
}

// Engine is what the API needs of the scheduler. All methods must be cheap.
type Engine interface {
	// Wake tells the scheduler that a reminder is due at t.
	Wake(t time.Time)
	// Jobs lists the engine's periodic jobs.
	Jobs() []Job
	// Breaker is "closed", "open" or "half_open".
	Breaker() string
	// QuotaPausedUntil is when sending resumes after a 45009, or zero.
	QuotaPausedUntil() time.Time
	// Pause stops sending until Resume, durably (the admin pause).
	Pause(ctx context.Context, reason string) error
	// Resume ends the admin pause.
	Resume(ctx context.Context) error
	// AdminPaused reports the admin pause: since when, and why.
	AdminPaused() (since time.Time, reason string, paused bool)
}

// Job is one periodic job's state.
type Job struct {
	Name      string
	Schedule  string
	LastRunAt time.Time
	NextRunAt time.Time
	LastError string
}

// TokenState reports the cached access token's expiry (a *wechat.Client).
type TokenState interface {
	TokenState() (time.Time, bool)
}

// Store is what the API asks of the store: the reminders, consents,
// sessions and health of store.ReminderStore, and the application of
// WeChat's pushed events (push.go), one transaction with their record.
type Store interface {
	store.ReminderStore
	ApplyPushEvent(ctx context.Context, ev store.PushEvent) (store.PushApplied, error)
}

// Config wires a Server. DB, Catalog, Login and Now are required.
type Config struct {
	// DB is the store: what the API and the services ask of it, and
	// message push's event application.
	DB      Store
	Catalog *catalog.Catalog
	Login   Login
	// Apps are the mini-programs served (nil: one, through Login and
	// Token, whose sessions carry no AppID).
	Apps   *Apps
	Engine Engine     // nil: no wake-ups, no jobs, breaker "closed"
	Token  TokenState // nil: token_expires_at is null
	// Push receives /wechat/push; nil answers 404 there.
	Push *wechat.Receiver
	// Metrics serves /metrics; nil answers 404 there.
	Metrics http.Handler
	// AdminToken enables the admin API; empty disables it.
	AdminToken string
	// DefaultZone is used for reminders that name no timezone.
	DefaultZone *time.Location
	// SessionTTL is a session token's lifetime (default 30 days).
	SessionTTL time.Duration
	// MinInterval is the shortest gap a recurrence may have between two
	// occurrences (default recur.DefaultMinInterval, 1h).
	MinInterval time.Duration
	// MaxScheduledPerUser bounds a user's scheduled reminders: a create
	// beyond it answers 429 (default 500).
	MaxScheduledPerUser int
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (REMINDERD_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// ObserveHTTP is told of every answered request: its method, its chi
	// route pattern (UnmatchedRoute when none matched), its status and how
	// long it took. Nil: nothing is told.
	ObserveHTTP func(method, route string, status int, d time.Duration)
	// SandboxGrant is set only in sandbox mode, by serve: it grants at the
	// built-in fake WeChat an accept that a consent report (POST
	// /v1/consents) says the user gave, standing in for the popup a
	// developer cannot tap. It reports whether the fake counted it (false:
	// the fake's own popup already counted that accept). Nil in production:
	// reports go to the ledger only.
	SandboxGrant func(openID, templateID string) (granted bool, err error)
	// Service admits the service API's tokens (/service/v1); nil: each
	// app's App.ServiceToken, and with none the API is disabled (403).
	Service ServiceAuth
	// Webhooks is the webhook outbox the admin lists and retries; nil: no
	// webhook is configured (empty lists). WebhookWake is told of a retry.
	Webhooks    store.WebhookStore
	WebhookWake func()
	// WebhooksOn, when set, reports whether webhooks are on now (a SIGHUP
	// may give the first app its webhook): while it says no, Webhooks is
	// treated as nil.
	WebhooksOn func() bool
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultMaxScheduledPerUser is the default of Config.MaxScheduledPerUser.
const DefaultMaxScheduledPerUser = 500

// Server serves the API.
type Server struct {
	store      Store
	catalog    *catalog.Catalog
	login      Login
	apps       *Apps
	engine     Engine
	token      TokenState
	push       *wechat.Receiver
	metrics    http.Handler
	adminToken string
	zone       *time.Location
	sessionTTL time.Duration
	minGap     time.Duration
	maxSched   int
	now        func() time.Time
	log        *slog.Logger
	handler    http.Handler
	sessions   sessionCache

	observeHTTP  func(method, route string, status int, d time.Duration)
	sandboxGrant func(openID, templateID string) (bool, error)

	trustedProxies []netip.Prefix
	adminFailures  failureLimiter

	service     ServiceAuth
	webhooks    store.WebhookStore
	webhookWake func()
	webhooksOn  func() bool

	// The services every surface calls (internal/service).
	reminders *service.Reminders
	consents  *service.Consents
}

// New builds a Server.
func New(cfg Config) *Server {
	s := &Server{
		store:      cfg.DB,
		catalog:    cfg.Catalog,
		login:      cfg.Login,
		apps:       cfg.Apps,
		engine:     cfg.Engine,
		token:      cfg.Token,
		push:       cfg.Push,
		metrics:    cfg.Metrics,
		adminToken: cfg.AdminToken,
		zone:       cfg.DefaultZone,
		sessionTTL: cfg.SessionTTL,
		minGap:     cfg.MinInterval,
		maxSched:   cfg.MaxScheduledPerUser,
		now:        cfg.Now,
		log:        cfg.Logger,

		observeHTTP:  cfg.ObserveHTTP,
		sandboxGrant: cfg.SandboxGrant,

		trustedProxies: cfg.TrustedProxies,

		service:     cfg.Service,
		webhooks:    cfg.Webhooks,
		webhookWake: cfg.WebhookWake,
		webhooksOn:  cfg.WebhooksOn,
	}
	if s.engine == nil {
		s.engine = noEngine{}
	}
	if s.apps == nil {
		s.apps = NewApps(App{Login: cfg.Login, Token: cfg.Token})
	}
	if s.zone == nil {
		s.zone = time.UTC
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 30 * 24 * time.Hour
	}
	if s.minGap <= 0 {
		s.minGap = recur.DefaultMinInterval
	}
	if s.maxSched <= 0 {
		s.maxSched = DefaultMaxScheduledPerUser
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.adminFailures.now = s.now
	s.reminders = service.NewReminders(s.store, s.engine, s.now)
	s.consents = service.NewConsents(s.store, appTemplates{s})
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

type noEngine struct{}

func (noEngine) Wake(time.Time)              {}
func (noEngine) Jobs() []Job                 { return nil }
func (noEngine) Breaker() string             { return "closed" }
func (noEngine) QuotaPausedUntil() time.Time { return time.Time{} }
func (noEngine) Pause(context.Context, string) error {
	return errf(http.StatusServiceUnavailable, "unavailable", "no engine runs in this process")
}
func (noEngine) Resume(context.Context) error           { return nil }
func (noEngine) AdminPaused() (time.Time, string, bool) { return time.Time{}, "", false }

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/metrics"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// shutdownTimeout bounds how long in-flight requests get on SIGTERM.
const shutdownTimeout = 10 * time.Second

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newAESKey returns a random EncodingAESKey: 32 bytes in standard base64
// without its padding, 43 characters.
func newAESKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)[:43]
}

// tokenStore persists the WeChat access token in the database.
type tokenStore struct{ db *db.DB }

func (t tokenStore) LoadToken(ctx context.Context) (wechat.Token, error) {
	row, err := t.db.Read.LoadToken(ctx)
	if err != nil {
		if errors.Is(db.NotFound(err, "token"), db.ErrNotFound) {
			return wechat.Token{}, nil
		}
		return wechat.Token{}, err
	}
	return wechat.Token{Value: wechat.NewSecret(row.Value), ExpiresAt: time.UnixMilli(row.ExpiresAt)}, nil
}

func (t tokenStore) SaveToken(ctx context.Context, tok wechat.Token) error {
	return t.db.Write.SaveToken(ctx, db.SaveTokenParams{Value: tok.Value.Reveal(), ExpiresAt: tok.ExpiresAt.UnixMilli(), Now: time.Now().UnixMilli()})
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

// engineState is what /metrics reads at each scrape.
func engineState(ctx context.Context, d *db.DB, eng *scheduler.Engine, now time.Time) (metrics.State, error) {
	st := metrics.State{RemindersByStatus: map[string]int64{}, Breaker: "closed"}
	for _, s := range []string{"scheduled", "sending", "sent", "failed", "skipped", "canceled"} {
		st.RemindersByStatus[s] = 0
	}
	counts, err := d.Read.CountRemindersByStatus(ctx)
	if err != nil {
		return st, err
	}
	for _, c := range counts {
		st.RemindersByStatus[c.Status] = c.N
	}
	backlog, err := d.Read.DueBacklog(ctx, now.UnixMilli())
	if err != nil {
		return st, err
	}
	st.DueBacklog = backlog.N
	if backlog.N > 0 {
		st.OldestDueAge = now.Sub(time.UnixMilli(backlog.OldestDueAt))
	}
	st.WALFrames, st.CheckpointFailures = d.CheckpointState()
	if eng != nil {
		st.Breaker = eng.Breaker()
		st.QuotaPaused = !eng.QuotaPausedUntil().IsZero()
	}
	return st, nil
}

// retention is how long delivery records of past sends are kept.
const retention = 90 * 24 * time.Hour

// retain deletes what is past its use at t: expired sessions, accept
// reports too old to pair, delivery records past retention, sent events
// parked for a send whose outcome never came (an outcome is recorded within
// a lease: minutes, not a day), and the record of pushes applied.
func retain(ctx context.Context, d *db.DB, t time.Time) error {
	_, err1 := d.Write.DeleteExpiredSessions(ctx, t.UnixMilli())
	_, err2 := d.Write.DeleteOldGrants(ctx, t.Add(-24*time.Hour).UnixMilli())
	_, err3 := d.Write.DeleteOldDeliveries(ctx, t.Add(-retention).UnixMilli())
	_, err4 := d.Write.DeleteOldPendingSentEvents(ctx, t.Add(-24*time.Hour).UnixMilli())
	// Pushes older than WeChat's timestamp skew are refused as stale anyway;
	// an hour keeps every retry's record.
	_, err5 := d.Write.DeleteOldPushSeen(ctx, t.Add(-time.Hour).UnixMilli())
	return errors.Join(err1, err2, err3, err4, err5)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dbPath, rest, err := parseDBArgs("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("migrate: unexpected argument %q", rest[0])
	}
	// The integrity check runs first: a damaged file is not migrated.
	d, err := db.OpenWith(ctx, dbPath, db.Options{IntegrityTimeout: 10 * time.Second}) // OpenWith applies pending migrations
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at schema version %d\n", dbPath, v)
	return nil
}

func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dbPath, rest, err := parseDBArgs("backup", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("usage: reminderd backup [--db FILE] PATH (one destination path)")
	}
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("backup: database %s: %w", dbPath, err)
	}
	d, err := db.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", dbPath, rest[0])
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("reminderd serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	now := time.Now
	zone, _ := recur.LoadZone(cfg.Timezone) // validated by parseConfig

	wcfg := wechat.Config{
		BaseURL: cfg.BaseURL, AppID: cfg.AppID, Secret: cfg.Secret,
		MiniprogramState: cfg.MiniprogramState, Lang: cfg.Lang,
		HTTPClient: wechat.NewHTTPClient(cfg.wechatTimeout, cfg.concurrency), Now: now,
		Logger: log.With("component", "wechat"),
	}
	pushToken, aesKey, adminToken := cfg.PushToken, cfg.AESKey, cfg.AdminToken
	var fake *wechattest.Server
	if cfg.Sandbox() {
		log.Warn("sandbox mode: REMINDERD_WECHAT_APPID is not set, so reminderd talks to a built-in fake WeChat on loopback; nothing reaches real users")
		fake, err = wechattest.Start("127.0.0.1:0", wechattest.Options{Logger: log.With("component", "fake_wechat")})
		if err != nil {
			return err
		}
		defer fake.Close()
		for _, t := range wechattest.DemoTemplates() {
			fake.AddTemplate(t)
		}
		wcfg.BaseURL, wcfg.AppID, wcfg.Secret = fake.URL, fake.AppID(), fake.Secret()
		if pushToken == "" {
			pushToken, aesKey = randomToken(16), newAESKey()
		}
		if adminToken == "" {
			adminToken = randomToken(24)
		}
	} else {
		log.Info("production mode", "appid", cfg.AppID, "wechat_base_url", cfg.BaseURL)
	}

	database, err := db.OpenWith(ctx, cfg.DB, cfg.dbOptions())
	if err != nil {
		return err
	}
	defer database.Close()
	if database.Integrity() == db.IntegrityUnfinished {
		log.Warn("integrity check not finished within REMINDERD_INTEGRITY_TIMEOUT; starting without its verdict (run `sqlite3 FILE 'PRAGMA quick_check'` on a copy, or raise the timeout)",
			"db", cfg.DB, "timeout", cfg.integrityTimeout.String())
	}
	if cfg.Sync == string(db.SyncNormal) {
		log.Warn("REMINDERD_SYNC=normal: commits are not synced to disk, so writes answered 2xx may be lost in a power cut")
	}
	var eng *scheduler.Engine
	m := metrics.New(func(ctx context.Context) (metrics.State, error) {
		return engineState(ctx, database, eng, now())
	}, log.With("component", "metrics"))
	wcfg.TokenStore = tokenStore{database}
	wcfg.OnToken = func(e wechat.TokenEvent) { m.TokenEvent(e.Kind) }
	client, err := wechat.New(wcfg)
	if err != nil {
		return err
	}
	cat := catalog.New(database, client, now, log.With("component", "catalog"))
	if err := cat.Load(ctx); err != nil {
		return err
	}
	if err := cat.SyncIfDue(ctx); err != nil {
		log.Warn("template sync at start-up failed; serving the last known templates and retrying", "error", err)
	}
	var rcv *wechat.Receiver
	if pushToken != "" {
		rcv, err = wechat.NewReceiver(wechat.PushConfig{Token: pushToken, AESKey: aesKey, AppID: wcfg.AppID, Now: now})
		if err != nil {
			return fmt.Errorf("message push: %w", err)
		}
	}

	eng, err = scheduler.New(scheduler.Config{
		DB: database, Sender: client, Templates: cat, Now: now, Logger: log.With("component", "scheduler"),
		ScanEvery: cfg.scanEvery, Concurrency: cfg.concurrency, RateLimit: cfg.sendRate,
		// The send budget is shorter than the lease (validate).
		MaxAttempts: cfg.maxAttempts, DefaultLateness: cfg.defaultLateness, Lease: cfg.lease, SendBudget: sendBudget(cfg.wechatTimeout),
		UnknownWait: cfg.unknownWait, ClientTimeout: cfg.wechatTimeout, ResendWithoutPage: cfg.resendWithoutPage,
		Observer: func(o scheduler.Outcome) {
			m.ObserveSend(o.Status, o.Reason, o.ErrCode, o.Sent, o.Latency, o.Lateness)
			m.ObserveTruth(o.Late, o.PossibleDuplicate, o.Settled, o.InvalidAnswer)
		},
		OnRescue: m.Rescued,
	})
	if err != nil {
		return err
	}
	jobs := eng.Jobs()
	if err := jobs.Add("template_sync", "@every 1m", cat.SyncIfDue); err != nil {
		return err
	}
	if err := jobs.Add("token_refresh", "@every 1m", func(ctx context.Context) error {
		_, err := client.AccessToken(ctx) // replaces the token when under 5 minutes remain
		return err
	}); err != nil {
		return err
	}
	if err := jobs.Add("retention", "@every 1h", func(ctx context.Context) error { return retain(ctx, database, now()) }); err != nil {
		return err
	}

	apiCfg := api.Config{
		DB: database, Catalog: cat, Login: client, Engine: engine{eng}, Token: client, Push: rcv, Metrics: m.Handler(),
		AdminToken: adminToken, DefaultZone: zone, TrustedProxies: cfg.trustedProxies, Now: now, Logger: log.With("component", "api"),
		ObserveHTTP: m.ObserveHTTP,
		MinInterval: cfg.minInterval, MaxScheduledPerUser: cfg.maxScheduledPerUser,
	}
	if fake != nil {
		// The developer has no phone to tap the fake's popup: a consent
		// report grants the same accept at the fake (never in production).
		apiCfg.SandboxGrant = fake.ReportAccept
	}
	srv := api.New(apiCfg)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln = limitListener(ln, cfg.maxConns)
	httpSrv := newHTTPServer(srv, log)
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "reminderd listening on %s\n", base)
	log.Info("listening", "addr", ln.Addr().String())
	if fake != nil {
		if err := fake.SetPush(base+"/wechat/push", pushToken, aesKey, false); err != nil {
			return err
		}
		printSandboxBanner(stdout, base, fake, adminToken)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(ctx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	select {
	case err = <-serveErr:
		cancel()
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = httpSrv.Shutdown(sctx)
		scancel()
	}
	// The engine stops claiming, lets sends in flight finish and records
	// them; the database closes last (deferred above).
	<-engineDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// sandboxUser is the openid the sandbox's banner logs in.
const sandboxUser = "sandbox-user"

// printSandboxBanner prints what a developer needs to try the sandbox: the
// fake's URL, the admin page and its token, a login code, and the two curl
// lines that log in and grant consent, copy-pasteable against base.
func printSandboxBanner(w io.Writer, base string, fake *wechattest.Server, adminToken string) {
	code := fake.IssueCode(sandboxUser)
	fmt.Fprintf(w, "sandbox: fake WeChat at %s (pushes signed, encrypted events to %s/wechat/push)\n", fake.URL, base)
	fmt.Fprintf(w, "sandbox: admin page: %s/admin/ (sign in with the admin token)\n", base)
	fmt.Fprintf(w, "sandbox: admin token: %s\n", adminToken)
	fmt.Fprintf(w, "sandbox: a login code for openid %s (valid 5 minutes): %s\n", sandboxUser, code)
	fmt.Fprintf(w, "sandbox: log in: TOKEN=$(curl -s -d '{\"code\":\"%s\"}' %s/v1/session | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n", code, base)
	fmt.Fprintf(w, "sandbox: grant consent: curl -s -H \"Authorization: Bearer $TOKEN\" -d '{\"results\":{\"%s\":\"accept\"}}' %s/v1/consents\n",
		wechattest.MeetingTemplateID, base)
	fmt.Fprintf(w, "sandbox: (a consent report is granted at the fake WeChat too: it stands in for the popup you cannot tap)\n")
	fmt.Fprintf(w, "sandbox: more codes: curl -d '{\"openid\":\"%s\"}' %s/fake/login\n", sandboxUser, fake.URL)
}

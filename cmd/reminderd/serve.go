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
	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/postgres"
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

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dbPath, rest, err := parseDBArgs("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("migrate: unexpected argument %q", rest[0])
	}
	if app.IsPostgres(dbPath) {
		// Open applies the pending migrations under the driver's advisory
		// lock: processes migrating at once wait for each other.
		d, err := postgres.Open(ctx, dbPath, postgres.Options{})
		if err != nil {
			return app.ScrubError(err, dbPath) // never the password
		}
		defer d.Close()
		v, _, err := d.Schema(ctx)
		if err != nil {
			return app.ScrubError(err, dbPath) // never the password
		}
		fmt.Fprintf(stdout, "database %s is at schema version %d\n", app.RedactURL(dbPath), v)
		return nil
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
	if app.IsPostgres(dbPath) {
		return errors.New("backup: REMINDERD_DB is a PostgreSQL database: back it up with the server's own tools (pg_dump, a managed instance's snapshots); reminderd backup copies a SQLite file")
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
		HTTPClient: wechat.NewHTTPClient(cfg.wechatTimeout, cfg.concurrency),
	}
	pushToken, aesKey, adminToken := cfg.PushToken, cfg.AESKey, cfg.AdminToken
	if cfg.Apps != "" {
		zone = cfg.apps[0].Location()
	}
	var fake *wechattest.Server
	var extra []app.AppConfig // the sandbox's second fake app
	if cfg.Sandbox() {
		log.Warn("sandbox mode: REMINDERD_WECHAT_APPID is not set, so reminderd talks to a built-in fake WeChat on loopback; nothing reaches real users")
		fake, err = wechattest.Start("127.0.0.1:0", sandboxFakeOptions(log))
		if err != nil {
			return err
		}
		defer fake.Close()
		for _, t := range wechattest.SandboxTemplates() {
			fake.AddTemplate(t)
		}
		wcfg.BaseURL, wcfg.AppID, wcfg.Secret = fake.URL, fake.AppID(), fake.Secret()
		if pushToken == "" {
			pushToken, aesKey = randomToken(16), newAESKey()
		}
		extra = []app.AppConfig{sandboxSecondApp(fake, wcfg)}
		if adminToken == "" {
			adminToken = randomToken(24)
		}
	} else {
		log.Info("production mode", "appid", cfg.AppID, "wechat_base_url", cfg.BaseURL)
	}

	apiCfg := api.Config{
		AdminToken: adminToken, DefaultZone: zone, TrustedProxies: cfg.trustedProxies,
		MinInterval: cfg.minInterval, MaxScheduledPerUser: cfg.maxScheduledPerUser,
	}
	if fake != nil {
		// The developer has no phone to tap the fake's popup: a consent
		// report grants the same accept at the fake (never in production).
		apiCfg.SandboxGrant = fake.ReportAccept
	}
	appCfgs := appConfigs(cfg, wcfg)
	if fake != nil {
		// The sandbox's first fake app takes the single-app service token
		// and webhook.
		first := singleAppConfig(cfg, wcfg)
		first.PushToken, first.AESKey, first.SandboxGrant = pushToken, aesKey, fake.ReportAccept
		appCfgs = append([]app.AppConfig{first}, extra...)
	}
	a, err := app.New(ctx, app.Config{
		DB: cfg.DB, DBOptions: cfg.dbOptions(), WeChat: wcfg, PushToken: pushToken, AESKey: aesKey, Apps: appCfgs,
		Engine: scheduler.Config{
			ScanEvery: cfg.scanEvery, Concurrency: cfg.concurrency, RateLimit: cfg.sendRate,
			// The send budget is shorter than the lease (validate).
			MaxAttempts: cfg.maxAttempts, DefaultLateness: cfg.defaultLateness, Lease: cfg.lease, LeaderTTL: cfg.leaderTTL, Heartbeat: cfg.heartbeat, SendBudget: sendBudget(cfg.wechatTimeout),
			UnknownWait: cfg.unknownWait, ClientTimeout: cfg.wechatTimeout, ResendWithoutPage: cfg.resendWithoutPage, NoSoleSender: !cfg.soleSender,
		},
		API: apiCfg,
	}, app.Deps{Now: now, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln = limitListener(ln, cfg.maxConns)
	httpSrv := newHTTPServer(a.Handler, log)
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "reminderd listening on %s\n", base)
	log.Info("listening", "addr", ln.Addr().String())
	if fake != nil {
		a.Apps.FirstByDefault() // the single-app tour needs no appid
		if err := fake.SetPush(base+"/wechat/push", pushToken, aesKey, false); err != nil {
			return err
		}
		second := extra[0]
		if err := fake.App(second.WeChat.AppID).SetPush(base+"/wechat/push/"+second.WeChat.AppID, second.PushToken, second.AESKey, false); err != nil {
			return err
		}
		printSandboxBanner(stdout, base, fake, adminToken)
		printSecondAppBanner(stdout, fake, second.WeChat.AppID)
	}
	stopHUP := reloadAppsOnHUP(ctx, cfg, wcfg, a, getenv, log)
	defer stopHUP()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- a.Engine.Run(ctx) }()
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		a.RunWebhooks(ctx) // waits until an app has a webhook
	}()
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
	// them; the database closes last (a.Close, deferred above).
	<-engineDone
	<-hooksDone
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

// printSecondAppBanner tells how to try the sandbox's second mini-program:
// the same fake WeChat, its own account (codes, ledger, sends).
func printSecondAppBanner(w io.Writer, fake *wechattest.Server, appID string) {
	fmt.Fprintf(w, "sandbox: a second mini-program %s (its own account at the same fake WeChat): log in with {\"code\":…,\"appid\":\"%s\"}\n", appID, appID)
	fmt.Fprintf(w, "sandbox: its codes: curl -d '{\"openid\":\"%s\"}' '%s/fake/login?appid=%s'\n", sandboxUser, fake.URL, appID)
}

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/apps"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// sandboxSecondAppID is the sandbox's second fake mini-program.
const sandboxSecondAppID = "wxsandbox00000002"

// appConfigs are the apps serve runs: the apps file's, else the one of the
// single-app variables (wcfg, already filled from them).
func appConfigs(cfg config, wcfg wechat.Config) []app.AppConfig {
	if cfg.Apps == "" {
		return []app.AppConfig{singleAppConfig(cfg, wcfg)}
	}
	return fromSet(cfg.apps, wcfg)
}

// singleAppConfig is the app of the single-app variables.
func singleAppConfig(cfg config, wcfg wechat.Config) app.AppConfig {
	return app.AppConfig{WeChat: wcfg, PushToken: cfg.PushToken, AESKey: cfg.AESKey, ServiceToken: cfg.ServiceToken,
		Webhook: webhook.Target{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret}}
}

// fromSet turns configured apps into the application's, each with the
// process-wide client settings of base (WeChat's root, the HTTP client).
func fromSet(set apps.Set, base wechat.Config) []app.AppConfig {
	out := make([]app.AppConfig, 0, len(set))
	for _, a := range set {
		w := base
		w.AppID, w.Secret, w.MiniprogramState, w.Lang = a.AppID, a.Secret, a.MiniprogramState, a.Lang
		out = append(out, app.AppConfig{WeChat: w, PushToken: a.PushToken, AESKey: a.AESKey, ServiceToken: a.ServiceToken,
			Webhook: webhook.Target{URL: a.WebhookURL, Secret: a.WebhookSecret}})
	}
	return out
}

// sandboxFakeOptions are the sandbox's fake WeChat: one server with two
// accounts, the first app's (the defaults) and sandboxSecondAppID with its
// own secret, as one WeChat serves many mini-programs.
func sandboxFakeOptions(log *slog.Logger) wechattest.Options {
	return wechattest.Options{Logger: log.With("component", "fake_wechat"),
		Apps: []wechattest.AppOptions{{AppID: sandboxSecondAppID, Secret: randomToken(16)}}}
}

// sandboxSecondApp is the app of the fake's second account, with the demo
// templates: the first app's client settings (the same fake's URL), its own
// appid, secret, push token and key.
func sandboxSecondApp(fake *wechattest.Server, first wechat.Config) app.AppConfig {
	acct := fake.App(sandboxSecondAppID)
	for _, t := range wechattest.DemoTemplates() {
		acct.AddTemplate(t)
	}
	w := first
	w.AppID, w.Secret = acct.AppID(), acct.Secret()
	return app.AppConfig{WeChat: w, PushToken: randomToken(16), AESKey: newAESKey(), SandboxGrant: acct.ReportAccept}
}

// reloadAppsOnHUP re-reads the apps file on each SIGHUP: an app added
// starts serving and sending, an app removed stops (its data stays). A file
// that does not parse, names an unset variable, or an app that cannot be
// built, is refused with a log line, and the running apps stay as they are.
// Without an apps file SIGHUP changes nothing (and says so).
func reloadAppsOnHUP(ctx context.Context, cfg config, base wechat.Config, a *app.App, getenv func(string) string, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-hup:
				reloadApps(ctx, cfg, base, a, getenv, log)
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

// reloadApps is one SIGHUP's reload.
func reloadApps(ctx context.Context, cfg config, base wechat.Config, a *app.App, getenv func(string) string, log *slog.Logger) {
	if cfg.Apps == "" {
		log.Info("SIGHUP: no apps file (REMINDERD_APPS) to re-read; nothing changed")
		return
	}
	set, err := apps.Load(cfg.Apps, getenv, cfg.appDefaults())
	if err == nil {
		err = apps.CheckTokens(set, cfg.AdminToken, cfg.minServiceToken())
	}
	if err != nil {
		log.Error("SIGHUP: the apps file is refused; the running apps are kept", "file", cfg.Apps, "error", err)
		return
	}
	added, removed, err := a.SetApps(ctx, fromSet(set, base))
	if err != nil {
		log.Error("SIGHUP: an app of the apps file could not start; the running apps are kept", "file", cfg.Apps, "error", err)
		return
	}
	log.Info("SIGHUP: apps file re-read", "file", cfg.Apps, "apps", set.IDs(), "added", added, "removed", removed)
}

// Package apps is reminderd's set of mini-programs: the apps file
// (REMINDERD_APPS) or, without one, the single app the REMINDERD_WECHAT_*
// variables define. Secrets are never in the file: each app names the
// environment variables that hold them, and Load reads those.
package apps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/recur"
)

// App is one mini-program's settings, its secrets resolved.
type App struct {
	AppID string
	// Secret is the AppSecret; PushToken and AESKey configure its message
	// push (no token: its push is refused).
	Secret, PushToken, AESKey string
	// ServiceToken authenticates the app's own backend (the service API);
	// WebhookURL and WebhookSecret are where and how its outcomes are
	// posted. Empty: none.
	ServiceToken, WebhookURL, WebhookSecret string
	MiniprogramState, Lang, Timezone        string
}

// LogValue keeps every secret out of the logs.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", a.AppID), slog.Bool("push", a.PushToken != ""),
		slog.Bool("service_token", a.ServiceToken != ""), slog.String("webhook_url", a.WebhookURL),
		slog.String("miniprogram_state", a.MiniprogramState), slog.String("lang", a.Lang), slog.String("timezone", a.Timezone))
}

// String is LogValue's text, so that a %v never prints a secret.
func (a App) String() string { return "app " + a.AppID }

// GoString is String, for %#v.
func (a App) GoString() string { return a.String() }

// Set is the configured apps in the file's order; the first is the default
// (the one a session without "appid" logs into when it is the only one,
// and the one that adopts rows written before apps existed).
type Set []App

// Get returns the app appid.
func (s Set) Get(appid string) (App, bool) {
	for _, a := range s {
		if a.AppID == appid {
			return a, true
		}
	}
	return App{}, false
}

// IDs are the apps' appids, in order.
func (s Set) IDs() []string {
	out := make([]string, len(s))
	for i, a := range s {
		out[i] = a.AppID
	}
	return out
}

// Defaults fill what an app of the file leaves out.
type Defaults struct{ MiniprogramState, Lang, Timezone string }

// entry is one app as the file writes it.
type entry struct {
	AppID            string `json:"appid"`
	SecretEnv        string `json:"secret_env"`
	PushTokenEnv     string `json:"push_token_env"`
	AESKeyEnv        string `json:"aes_key_env"`
	ServiceTokenEnv  string `json:"service_token_env"`
	WebhookURL       string `json:"webhook_url"`
	WebhookSecretEnv string `json:"webhook_secret_env"`
	MiniprogramState string `json:"miniprogram_state"`
	Lang             string `json:"lang"`
	Timezone         string `json:"timezone"`
}

// file is the apps file.
type file struct {
	Apps []entry `json:"apps"`
}

// Load reads and checks the apps file at path; getenv resolves the secrets.
func Load(path string, getenv func(string) string, def Defaults) (Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apps file: %w", err)
	}
	s, err := Parse(b, getenv, def)
	if err != nil {
		return nil, fmt.Errorf("apps file %s: %w", path, err)
	}
	return s, nil
}

// appIDPattern is what a mini-program AppID looks like (wx and 16 hex
// digits); the fake WeChat's are alike.
var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// envPattern is an environment variable's name.
var envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Parse checks an apps file's content: every problem is reported, each
// naming its app and field.
func Parse(b []byte, getenv func(string) string, def Defaults) (Set, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not an apps file ({\"apps\":[…]}): %w", err)
	}
	if len(f.Apps) == 0 {
		return nil, errors.New(`"apps" must list at least one app`)
	}
	var errs []error
	seen := map[string]bool{}
	out := make(Set, 0, len(f.Apps))
	for i, e := range f.Apps {
		name := fmt.Sprintf("apps[%d]", i)
		if e.AppID != "" {
			name = fmt.Sprintf("apps[%d] (%s)", i, e.AppID)
		}
		fail := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", name, field, fmt.Sprintf(format, args...)))
		}
		switch {
		case e.AppID == "":
			fail("appid", "is required")
		case !appIDPattern.MatchString(e.AppID):
			fail("appid", "%q is not an AppID", e.AppID)
		case seen[e.AppID]:
			fail("appid", "%s is listed twice", e.AppID)
		}
		seen[e.AppID] = true
		secret := func(field, env string, required bool) string {
			if env == "" {
				if required {
					fail(field, "is required (the environment variable that holds the value)")
				}
				return ""
			}
			if !envPattern.MatchString(env) {
				fail(field, "%q is not an environment variable's name", env)
				return ""
			}
			v := getenv(env)
			if v == "" {
				fail(field, "the environment variable %s is not set", env)
			}
			return v
		}
		a := App{
			AppID:            e.AppID,
			Secret:           secret("secret_env", e.SecretEnv, true),
			PushToken:        secret("push_token_env", e.PushTokenEnv, false),
			AESKey:           secret("aes_key_env", e.AESKeyEnv, false),
			ServiceToken:     secret("service_token_env", e.ServiceTokenEnv, false),
			WebhookURL:       e.WebhookURL,
			WebhookSecret:    secret("webhook_secret_env", e.WebhookSecretEnv, false),
			MiniprogramState: or(e.MiniprogramState, def.MiniprogramState),
			Lang:             or(e.Lang, def.Lang),
			Timezone:         or(e.Timezone, def.Timezone),
		}
		for _, p := range Check(a) {
			fail(p.Field, "%s", p.Problem)
		}
		out = append(out, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Problem is one field of an app that is not right.
type Problem struct{ Field, Problem string }

// Check is the rules every app follows, from a file or the single-app
// variables; Field names the file's field.
func Check(a App) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{field, fmt.Sprintf(format, args...)})
	}
	if a.AESKey != "" && len(a.AESKey) != 43 {
		bad("aes_key_env", "the AES key must be 43 characters, got %d", len(a.AESKey))
	}
	if a.AESKey != "" && a.PushToken == "" {
		bad("push_token_env", "an AES key is set without a push token")
	}
	if a.PushToken != "" && a.AESKey == "" {
		bad("aes_key_env", "a push token without an AES key is plaintext push mode, which an apps file does not allow (its signature does not cover the body)")
	}
	if (a.WebhookURL == "") != (a.WebhookSecret == "") {
		bad("webhook_url", "webhook_url and webhook_secret_env go together")
	}
	if a.WebhookURL != "" {
		if u, err := url.Parse(a.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("webhook_url", "%q must be an http(s) URL", a.WebhookURL)
		}
	}
	switch a.MiniprogramState {
	case "developer", "trial", "formal":
	default:
		bad("miniprogram_state", "%q must be developer, trial or formal", a.MiniprogramState)
	}
	switch a.Lang {
	case "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		bad("lang", "%q must be zh_CN, en_US, zh_HK or zh_TW", a.Lang)
	}
	if _, err := recur.LoadZone(a.Timezone); err != nil {
		bad("timezone", "%s", err)
	}
	return ps
}

// Location is the app's default zone (Check accepted it).
func (a App) Location() *time.Location {
	loc, err := recur.LoadZone(a.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func or(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// CheckTokens is the rules the service tokens of a set follow: each one
// differs from the admin token (a service token never reaches the admin
// API) and from every other app's (a token names its app), and has at
// least minLen characters (0: any length, the sandbox).
func CheckTokens(s Set, adminToken string, minLen int) error {
	var errs []error
	seen := map[string]string{}
	for _, a := range s {
		t := a.ServiceToken
		if t == "" {
			continue
		}
		switch {
		case t == adminToken:
			errs = append(errs, fmt.Errorf("app %s: service_token_env: the service token must differ from the admin token: a service token never reaches the admin API", a.AppID))
		case seen[t] != "":
			errs = append(errs, fmt.Errorf("app %s: service_token_env: the same service token as app %s: a token names its app", a.AppID, seen[t]))
		case len(t) < minLen:
			errs = append(errs, fmt.Errorf("app %s: service_token_env: the service token has %d characters; at least %d are needed (openssl rand -base64 32)", a.AppID, len(t), minLen))
		}
		seen[t] = a.AppID
	}
	return errors.Join(errs...)
}

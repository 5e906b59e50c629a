package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/apps"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/recur"
)

// config is reminderd's configuration: built once from flags and the
// environment (a flag wins over its variable), validated once, never mutated.
type config struct {
	Addr             string
	DB               string
	AdminToken       string
	AppID            string
	Secret           string
	BaseURL          string
	PushToken        string
	AESKey           string
	MiniprogramState string
	Lang             string
	Timezone         string

	// The service API and webhooks (the contract's sections of those names).
	ServiceToken  string
	WebhookURL    string
	WebhookSecret string

	// Apps is the apps file (REMINDERD_APPS); apps is the configured set:
	// the file's, or the one app of the single-app variables (empty in the
	// sandbox, whose fake apps serve decides).
	Apps string
	apps apps.Set

	// Scheduler settings (extensions of the contract).
	ScanEvery       string
	Concurrency     string
	SendRate        string
	MaxAttempts     string
	DefaultLateness string
	Lease           string
	LeaderTTL       string
	Heartbeat       string

	// Durability and the database's health at start.
	Sync             string
	IntegrityTimeout string
	integrityTimeout time.Duration

	// The WeChat client's timeout per call (contract, "Delivery truth").
	WeChatTimeout string
	wechatTimeout time.Duration

	// Hardening: plaintext push, proxies, connections.
	AllowPlaintext string
	TrustedProxies string
	MaxConns       string
	allowPlaintext bool
	trustedProxies []netip.Prefix
	maxConns       int

	lease           time.Duration
	leaderTTL       time.Duration
	heartbeat       time.Duration
	scanEvery       time.Duration
	concurrency     int
	sendRate        float64
	maxAttempts     int
	defaultLateness time.Duration

	// Limits of what users may create (the contract's Recurrence rules and Limits).
	MinInterval         string
	MaxScheduledPerUser string

	minInterval         time.Duration
	maxScheduledPerUser int

	// Delivery truth (the contract's section of that name).
	UnknownWait       string
	ResendWithoutPage string
	SoleSender        string

	unknownWait       time.Duration
	resendWithoutPage bool
	soleSender        bool
}

// Sandbox reports whether reminderd runs against its built-in fake WeChat.
func (c config) Sandbox() bool { return c.AppID == "" && c.Apps == "" }

type setting struct {
	env, flag, def, usage string
	dst                   *string
	secret                bool
}

func (c *config) settings() []setting {
	return []setting{
		{"REMINDERD_ADDR", "addr", "127.0.0.1:8080", "listen address", &c.Addr, false},
		{"REMINDERD_DB", "db", "reminderd.db", "SQLite file, or a postgres:// (postgresql://) URL for PostgreSQL", &c.DB, false},
		{"REMINDERD_ADMIN_TOKEN", "admin-token", "", "bearer token for /admin (none: admin API disabled, except in sandbox)", &c.AdminToken, true},
		{"REMINDERD_WECHAT_APPID", "wechat-appid", "", "mini-program AppID (none: sandbox with a built-in fake WeChat)", &c.AppID, false},
		{"REMINDERD_WECHAT_SECRET", "wechat-secret", "", "AppSecret", &c.Secret, true},
		{"REMINDERD_WECHAT_BASE_URL", "wechat-base-url", "https://api.weixin.qq.com", "WeChat API root", &c.BaseURL, false},
		{"REMINDERD_WECHAT_PUSH_TOKEN", "wechat-push-token", "", "message-push Token", &c.PushToken, true},
		{"REMINDERD_WECHAT_AES_KEY", "wechat-aes-key", "", "message-push EncodingAESKey (43 characters; set = safe mode)", &c.AESKey, true},
		{"REMINDERD_MINIPROGRAM_STATE", "miniprogram-state", "formal", "developer, trial or formal", &c.MiniprogramState, false},
		{"REMINDERD_LANG", "lang", "zh_CN", "zh_CN, en_US, zh_HK or zh_TW", &c.Lang, false},
		{"REMINDERD_TIMEZONE", "timezone", "Asia/Shanghai", "default zone for recurrence and time rendering", &c.Timezone, false},
		{"REMINDERD_APPS", "apps", "", "JSON file of several mini-programs ({\"apps\":[…]}, secrets named by their variables); re-read on SIGHUP", &c.Apps, false},
		{"REMINDERD_SCAN_EVERY", "scan-every", "1s", "period of the due scan", &c.ScanEvery, false},
		{"REMINDERD_SEND_CONCURRENCY", "send-concurrency", "8", "subscribe messages in flight at once", &c.Concurrency, false},
		{"REMINDERD_SEND_RATE", "send-rate", "0", "maximum sends per second (0: no limit)", &c.SendRate, false},
		{"REMINDERD_MAX_ATTEMPTS", "max-attempts", "6", "attempts at one occurrence before failed/retries_exhausted", &c.MaxAttempts, false},
		{"REMINDERD_DEFAULT_LATENESS", "default-lateness", "15m", "how late a reminder without expires_at may still be sent", &c.DefaultLateness, false},
		{"REMINDERD_LEASE", "lease", "2m", "how long a claim holds a reminder before a crashed process's claim is rescued", &c.Lease, false},
		{"REMINDERD_LEADER_TTL", "leader-ttl", "15s", "how long the leader's lease (the periodic jobs) lasts unrenewed: a dead leader is replaced within it plus one heartbeat", &c.LeaderTTL, false},
		{"REMINDERD_HEARTBEAT", "heartbeat", "5s", "how often a process renews its instance row and, leading, its lease (at most half of REMINDERD_LEADER_TTL)", &c.Heartbeat, false},
		{"REMINDERD_MIN_INTERVAL", "min-interval", "1h", "shortest gap allowed between two occurrences of a recurrence (at least 1m)", &c.MinInterval, false},
		{"REMINDERD_MAX_SCHEDULED_PER_USER", "max-scheduled-per-user", "500", "reminders a user may have scheduled at once", &c.MaxScheduledPerUser, false},
		{"REMINDERD_UNKNOWN_WAIT", "unknown-wait", "2m", "how long a send of unknown outcome waits for WeChat's sent event before it is sent again", &c.UnknownWait, false},
		{"REMINDERD_RESEND_WITHOUT_PAGE", "resend-without-page", "false", "send again without its page a message whose page WeChat refuses (41030)", &c.ResendWithoutPage, false},
		{"REMINDERD_SOLE_SENDER", "sole-sender", "true", "on PostgreSQL, a process alone on the database sends without the per-send lease (false: this process never does, and still waits while another does; false on every process: a crash pauses no one)", &c.SoleSender, false},
		{"REMINDERD_SYNC", "sync", "full", "full: a write answered 2xx survives a power cut; normal: faster commits, the last ones may be lost in a power cut", &c.Sync, false},
		{"REMINDERD_WECHAT_TIMEOUT", "wechat-timeout", "10s", "client timeout of one WeChat call", &c.WeChatTimeout, false},
		{"REMINDERD_WECHAT_ALLOW_PLAINTEXT", "wechat-allow-plaintext", "false", "true: accept a push token without an AES key in production (plaintext pushes, whose signature does not cover the body)", &c.AllowPlaintext, false},
		{"REMINDERD_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed", &c.TrustedProxies, false},
		{"REMINDERD_MAX_CONNS", "max-conns", "1024", "HTTP connections served at once; more wait to be accepted", &c.MaxConns, false},
		{"REMINDERD_SERVICE_TOKEN", "service-token", "", "bearer token of the app's own backend for /service/v1 (none: service API disabled)", &c.ServiceToken, true},
		{"REMINDERD_WEBHOOK_URL", "webhook-url", "", "http(s) URL the app's webhook events are posted to (none: no webhooks)", &c.WebhookURL, false},
		{"REMINDERD_WEBHOOK_SECRET", "webhook-secret", "", "secret of the webhooks' Reminderd-Signature (HMAC-SHA256); required with REMINDERD_WEBHOOK_URL", &c.WebhookSecret, true},
		{"REMINDERD_INTEGRITY_TIMEOUT", "integrity-timeout", "10s", "longest PRAGMA quick_check at start-up (0: skip); a problem found refuses to start", &c.IntegrityTimeout, false},
	}
}

// parseConfig reads the environment, then the flags; no positional argument
// is allowed.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c, rest, err := parseConfigArgs(name, args, getenv, stderr)
	if err == nil && len(rest) > 0 {
		err = usageErrorf("unexpected argument %q", rest[0])
	}
	return c, err
}

// parseConfigArgs is parseConfig that returns the positional arguments.
func parseConfigArgs(name string, args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	c, fs := configFlags(name, getenv, stderr)
	if err := fs.Parse(args); err != nil {
		return *c, nil, flagError(err)
	}
	if err := c.validate(); err != nil {
		return *c, nil, err
	}
	if err := c.loadApps(getenv); err != nil {
		return *c, nil, err
	}
	return *c, fs.Args(), nil
}

// configFlags registers every setting as a flag whose default is its
// environment variable's value, else the setting's default.
func configFlags(name string, getenv func(string) string, output io.Writer) (*config, *flag.FlagSet) {
	c := new(config)
	fs := newFlagSet(name, output)
	for _, s := range c.settings() {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		v := &typedString{dst: s.dst, typ: settingType(s), redact: s.flag == "db"}
		if s.secret {
			// Registered with an empty default so that usage output can never
			// print a secret taken from the environment.
			fs.Var(v, s.flag, s.usage+" (env "+s.env+")")
			*s.dst = def
			continue
		}
		*s.dst = def
		fs.Var(v, s.flag, s.usage+" (env "+s.env+")")
	}
	return c, fs
}

// dbFlags is the one setting of the commands that only open the database
// (migrate, backup): --db, with its variable and default.
func dbFlags(name string, getenv func(string) string, output io.Writer) (*flag.FlagSet, *string) {
	c, fs := new(config), newFlagSet(name, output)
	for _, s := range c.settings() {
		if s.flag == "db" {
			def := s.def
			if v := getenv(s.env); v != "" {
				def = v
			}
			*s.dst = def
			fs.Var(&typedString{dst: s.dst, typ: "file", redact: true}, s.flag, s.usage+" (env "+s.env+")")
		}
	}
	return fs, &c.DB
}

// parseDBArgs parses the arguments of a command that only opens the
// database: the --db flag, then positional arguments.
func parseDBArgs(name string, args []string, getenv func(string) string, stderr io.Writer) (string, []string, error) {
	fs, dbPath := dbFlags(name, getenv, stderr)
	if err := fs.Parse(args); err != nil {
		return "", nil, flagError(err)
	}
	if *dbPath == "" {
		return "", nil, errors.New("REMINDERD_DB must not be empty")
	}
	if app.IsPostgres(*dbPath) {
		if err := app.CheckPostgresURL("REMINDERD_DB", *dbPath); err != nil {
			return "", nil, err
		}
	}
	return *dbPath, fs.Args(), nil
}

// newFlagSet is a flag set whose usage, on a mistake or -h, is the
// command's flags as "reminderd help NAME" prints them.
func newFlagSet(name string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("reminderd "+strings.TrimPrefix(name, "reminderd "), flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage of %s:\n", fs.Name())
		writeFlags(fs.Output(), fs)
	}
	return fs
}

// flagError marks a flag parse error as a usage error (exit 2) that the
// flag package has already printed.
func flagError(err error) error {
	return &usageError{err: err, reported: true}
}

// typedString is a string setting whose usage names the kind of value it
// takes (--lease duration); the value is converted and checked in parse.
type typedString struct {
	dst *string
	typ string
	// redact: the value is the database, whose PostgreSQL URL may carry a
	// password that usage output (the default shown) must not print.
	redact bool
}

func (t *typedString) String() string {
	if t == nil || t.dst == nil {
		return ""
	}
	if t.redact && app.IsPostgres(*t.dst) {
		return app.RedactURL(*t.dst)
	}
	return *t.dst
}
func (t *typedString) Set(v string) error { *t.dst = v; return nil }
func (t *typedString) Type() string       { return t.typ }

// floatSettings are the settings whose value is a number with a fraction
// (their defaults look like whole numbers).
var floatSettings = map[string]bool{"send-rate": true}

// settingType names the kind of value a setting takes, from its default:
// float, int, duration or string. TestSettingTypesMatchParsing checks every
// name against what validate accepts.
func settingType(s setting) string {
	if floatSettings[s.flag] {
		return "float"
	}
	if _, err := strconv.Atoi(s.def); err == nil {
		return "int"
	}
	if _, err := time.ParseDuration(s.def); err == nil {
		return "duration"
	}
	return "string"
}

// validate refuses a half-filled WeChat configuration, naming what is missing.
func (c *config) validate() error {
	errs := c.parse()
	if c.Addr == "" {
		errs = append(errs, errors.New("REMINDERD_ADDR must not be empty"))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("REMINDERD_DB must not be empty"))
	} else if app.IsPostgres(c.DB) {
		if err := app.CheckPostgresURL("REMINDERD_DB", c.DB); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Apps != "" {
		for _, s := range []struct{ v, name string }{{c.AppID, "REMINDERD_WECHAT_APPID"}, {c.Secret, "REMINDERD_WECHAT_SECRET"}, {c.PushToken, "REMINDERD_WECHAT_PUSH_TOKEN"}, {c.AESKey, "REMINDERD_WECHAT_AES_KEY"}} {
			if s.v != "" {
				errs = append(errs, fmt.Errorf("%s is set together with REMINDERD_APPS: the apps file names each app's settings; unset %s", s.name, s.name))
			}
		}
		if err := productionAdminToken(c.AdminToken); err != nil {
			errs = append(errs, err)
		}
	} else if c.Sandbox() {
		for _, s := range []struct{ v, name string }{{c.Secret, "REMINDERD_WECHAT_SECRET"}, {c.PushToken, "REMINDERD_WECHAT_PUSH_TOKEN"}, {c.AESKey, "REMINDERD_WECHAT_AES_KEY"}} {
			if s.v != "" {
				errs = append(errs, fmt.Errorf("%s is set but REMINDERD_WECHAT_APPID is missing: set the AppID for production, or unset %s for the sandbox", s.name, s.name))
			}
		}
	} else {
		if c.Secret == "" {
			errs = append(errs, errors.New("REMINDERD_WECHAT_APPID is set but REMINDERD_WECHAT_SECRET is missing"))
		}
		if c.AESKey != "" && c.PushToken == "" {
			errs = append(errs, errors.New("REMINDERD_WECHAT_AES_KEY is set but REMINDERD_WECHAT_PUSH_TOKEN is missing"))
		}
		if c.PushToken != "" && c.AESKey == "" && !c.allowPlaintext {
			errs = append(errs, errors.New("REMINDERD_WECHAT_PUSH_TOKEN is set without REMINDERD_WECHAT_AES_KEY: that is plaintext push mode, whose signature does not cover the body, so anyone who saw one signed URL could post events; set the AES key (safe mode), or set REMINDERD_WECHAT_ALLOW_PLAINTEXT=true to accept plaintext pushes knowingly"))
		}
		if err := productionAdminToken(c.AdminToken); err != nil {
			errs = append(errs, err)
		}
		if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
			errs = append(errs, fmt.Errorf("REMINDERD_WECHAT_BASE_URL %q must be an http(s) URL", c.BaseURL))
		}
	}
	errs = append(errs, c.serviceErrors()...)
	if c.AESKey != "" && len(c.AESKey) != 43 {
		errs = append(errs, fmt.Errorf("REMINDERD_WECHAT_AES_KEY must be 43 characters, got %d", len(c.AESKey)))
	}
	switch c.MiniprogramState {
	case "developer", "trial", "formal":
	default:
		errs = append(errs, fmt.Errorf("REMINDERD_MINIPROGRAM_STATE %q must be developer, trial or formal", c.MiniprogramState))
	}
	switch c.Lang {
	case "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		errs = append(errs, fmt.Errorf("REMINDERD_LANG %q must be zh_CN, en_US, zh_HK or zh_TW", c.Lang))
	}
	if _, err := recur.LoadZone(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("REMINDERD_TIMEZONE %s", err))
	}
	switch db.Sync(c.Sync) {
	case db.SyncFull, db.SyncNormal:
	default:
		errs = append(errs, fmt.Errorf("REMINDERD_SYNC %q must be full (a write answered 2xx survives a power cut) or normal (faster; the last writes may be lost in a power cut)", c.Sync))
	}
	return errors.Join(errs...)
}

// parse converts the scheduler settings; it runs inside validate.
func (c *config) parse() []error {
	var errs []error
	dur := func(name, v string, min time.Duration, dst *time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			errs = append(errs, fmt.Errorf("%s %q must be a duration of at least %s, such as 1s or 15m", name, v, min))
		}
		*dst = d
	}
	num := func(name, v string, min, max int, dst *int) {
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			errs = append(errs, fmt.Errorf("%s %q must be a whole number from %d to %d", name, v, min, max))
		}
		*dst = n
	}
	dur("REMINDERD_SCAN_EVERY", c.ScanEvery, 100*time.Millisecond, &c.scanEvery)
	dur("REMINDERD_DEFAULT_LATENESS", c.DefaultLateness, time.Second, &c.defaultLateness)
	dur("REMINDERD_LEASE", c.Lease, time.Second, &c.lease)
	dur("REMINDERD_LEADER_TTL", c.LeaderTTL, time.Second, &c.leaderTTL)
	dur("REMINDERD_HEARTBEAT", c.Heartbeat, 100*time.Millisecond, &c.heartbeat)
	if c.leaderTTL > 0 && c.heartbeat > 0 && c.leaderTTL < 2*c.heartbeat {
		errs = append(errs, fmt.Errorf("REMINDERD_LEADER_TTL %s must be at least twice REMINDERD_HEARTBEAT %s: a leader renews its lease each heartbeat, and one late renewal must not lose it", c.leaderTTL, c.heartbeat))
	}
	dur("REMINDERD_WECHAT_TIMEOUT", c.WeChatTimeout, 100*time.Millisecond, &c.wechatTimeout)
	if c.wechatTimeout > 0 && c.lease > 0 && c.lease <= sendBudget(c.wechatTimeout) {
		errs = append(errs, fmt.Errorf("REMINDERD_LEASE %s must be longer than the send budget %s (%d.5 × REMINDERD_WECHAT_TIMEOUT %s: a token fetch and a send, twice with the token retry, and half a call of margin): a send that takes its whole budget would outlive the lease, and the reminder would be rescued and sent again by a live process; raise REMINDERD_LEASE or lower REMINDERD_WECHAT_TIMEOUT",
			c.lease, sendBudget(c.wechatTimeout), callsPerSend, c.wechatTimeout))
	}
	if b, err := strconv.ParseBool(c.AllowPlaintext); err != nil {
		errs = append(errs, fmt.Errorf("REMINDERD_WECHAT_ALLOW_PLAINTEXT %q must be true or false", c.AllowPlaintext))
	} else {
		c.allowPlaintext = b
	}
	if ps, err := api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("REMINDERD_TRUSTED_PROXIES: %s", err))
	} else {
		c.trustedProxies = ps
	}
	num("REMINDERD_MAX_CONNS", c.MaxConns, 1, 1<<20, &c.maxConns)
	if c.IntegrityTimeout == "0" {
		c.integrityTimeout = 0
	} else {
		dur("REMINDERD_INTEGRITY_TIMEOUT", c.IntegrityTimeout, time.Millisecond, &c.integrityTimeout)
	}
	num("REMINDERD_SEND_CONCURRENCY", c.Concurrency, 1, 1024, &c.concurrency)
	num("REMINDERD_MAX_ATTEMPTS", c.MaxAttempts, 1, 100, &c.maxAttempts)
	r, err := strconv.ParseFloat(c.SendRate, 64)
	if err != nil || r < 0 {
		errs = append(errs, fmt.Errorf("REMINDERD_SEND_RATE %q must be a number of sends per second, 0 for no limit", c.SendRate))
	}
	c.sendRate = r
	dur("REMINDERD_MIN_INTERVAL", c.MinInterval, recur.MinMinInterval, &c.minInterval)
	num("REMINDERD_MAX_SCHEDULED_PER_USER", c.MaxScheduledPerUser, 1, 1_000_000, &c.maxScheduledPerUser)
	dur("REMINDERD_UNKNOWN_WAIT", c.UnknownWait, time.Second, &c.unknownWait)
	b, err := strconv.ParseBool(c.ResendWithoutPage)
	if err != nil {
		errs = append(errs, fmt.Errorf("REMINDERD_RESEND_WITHOUT_PAGE %q must be true or false", c.ResendWithoutPage))
	}
	c.resendWithoutPage = b
	if c.soleSender, err = strconv.ParseBool(c.SoleSender); err != nil {
		errs = append(errs, fmt.Errorf("REMINDERD_SOLE_SENDER %q must be true or false", c.SoleSender))
	}
	return errs
}

// dbOptions is how serve and migrate open the database.
func (c config) dbOptions() db.Options {
	return db.Options{Sync: db.Sync(c.Sync), IntegrityTimeout: c.integrityTimeout}
}

// The send budget is the longest one claim may spend in WeChat: a send
// (wechat.Client.Send) makes at most callsPerSend calls, each bounded by
// REMINDERD_WECHAT_TIMEOUT: an access-token fetch and the send, then, when
// WeChat rejects the token (40001/40014/42001), a second fetch and a second
// send (the client retries exactly once). A margin of half a call covers
// the rest of the claim (the breaker, recording the outcome on the single
// writer): 4 × 10 s + 5 s = 45 s by default. The
// scheduler sends only while at least this much of the lease is left, and
// the lease must be longer, or a live process's send could outlive its
// lease and the rescued reminder be sent again.
const callsPerSend = 4

func sendBudget(wechatTimeout time.Duration) time.Duration {
	return callsPerSend*wechatTimeout + wechatTimeout/2
}

// exampleAdminToken is deploy/reminderd.env's placeholder.
const exampleAdminToken = "change-me-to-a-long-random-string"

// minAdminToken is the shortest admin token production accepts.
const minAdminToken = 24

// productionAdminToken refuses a guessable admin token (empty disables the
// admin API and is allowed).
func productionAdminToken(tok string) error {
	switch {
	case tok == "":
		return nil
	case tok == exampleAdminToken || strings.HasPrefix(tok, "change-me"):
		return errors.New("REMINDERD_ADMIN_TOKEN is still the example file's placeholder: anyone who read deploy/reminderd.env could sign in; set a random one (openssl rand -base64 32)")
	case len(tok) < minAdminToken:
		return fmt.Errorf("REMINDERD_ADMIN_TOKEN has %d characters; production needs at least %d, so that it cannot be guessed (openssl rand -base64 32)", len(tok), minAdminToken)
	}
	return nil
}

// serviceErrors checks the service API's and the webhooks' settings: a
// webhook URL needs its secret and must be http(s); a service token must
// not be the admin token (one token would reach both APIs) and, in
// production, must be as hard to guess as an admin token.
func (c config) serviceErrors() []error {
	var errs []error
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("REMINDERD_WEBHOOK_URL must be an http(s) URL such as https://backend.example.com/reminderd/webhook"))
		}
		if c.WebhookSecret == "" {
			errs = append(errs, errors.New("REMINDERD_WEBHOOK_URL is set but REMINDERD_WEBHOOK_SECRET is missing: the receiver could not tell reminderd's posts from anyone's (openssl rand -base64 32)"))
		}
	} else if c.WebhookSecret != "" {
		errs = append(errs, errors.New("REMINDERD_WEBHOOK_SECRET is set but REMINDERD_WEBHOOK_URL is missing"))
	}
	if c.ServiceToken == "" {
		return errs
	}
	if c.ServiceToken == c.AdminToken {
		errs = append(errs, errors.New("REMINDERD_SERVICE_TOKEN must differ from REMINDERD_ADMIN_TOKEN: a service token never reaches the admin API"))
	}
	if !c.Sandbox() && len(c.ServiceToken) < minAdminToken {
		errs = append(errs, fmt.Errorf("REMINDERD_SERVICE_TOKEN has %d characters; production needs at least %d (openssl rand -base64 32)", len(c.ServiceToken), minAdminToken))
	}
	return errs
}

// minServiceToken is the least length of a service token: an admin
// token's in production, any in the sandbox.
func (c config) minServiceToken() int {
	if c.Sandbox() {
		return 0
	}
	return minAdminToken
}

// loadApps builds the configured apps: the apps file's, or else the one app
// the single-app variables define (none in the sandbox).
func (c *config) loadApps(getenv func(string) string) error {
	if c.Apps != "" {
		s, err := apps.Load(c.Apps, getenv, c.appDefaults())
		if err == nil {
			err = apps.CheckTokens(s, c.AdminToken, c.minServiceToken())
		}
		if err != nil {
			return fmt.Errorf("REMINDERD_APPS: %w", err)
		}
		c.apps = s
		return nil
	}
	if c.Sandbox() {
		return nil
	}
	c.apps = apps.Set{c.singleApp()}
	return nil
}

// appDefaults are what an app of the file leaves out: the process-wide
// settings.
func (c config) appDefaults() apps.Defaults {
	return apps.Defaults{MiniprogramState: c.MiniprogramState, Lang: c.Lang, Timezone: c.Timezone}
}

// singleApp is the app of the single-app variables, with the service token
// and webhook of REMINDERD_SERVICE_TOKEN, REMINDERD_WEBHOOK_URL and
// REMINDERD_WEBHOOK_SECRET.
func (c config) singleApp() apps.App {
	return apps.App{AppID: c.AppID, Secret: c.Secret, PushToken: c.PushToken, AESKey: c.AESKey,
		ServiceToken: c.ServiceToken, WebhookURL: c.WebhookURL, WebhookSecret: c.WebhookSecret,
		MiniprogramState: c.MiniprogramState, Lang: c.Lang, Timezone: c.Timezone}
}

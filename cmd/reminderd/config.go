package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

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

	// WeChat client settings.
	WechatTimeout string
	wechatTimeout time.Duration

	// Scheduler settings (extensions of the contract).
	ScanEvery       string
	Concurrency     string
	SendRate        string
	MaxAttempts     string
	DefaultLateness string
	Lease           string

	lease           time.Duration
	scanEvery       time.Duration
	concurrency     int
	sendRate        float64
	maxAttempts     int
	defaultLateness time.Duration
}

// Sandbox reports whether reminderd runs against its built-in fake WeChat.
func (c config) Sandbox() bool { return c.AppID == "" }

type setting struct {
	env, flag, def, usage string
	dst                   *string
	secret                bool
}

func (c *config) settings() []setting {
	return []setting{
		{"REMINDERD_ADDR", "addr", "127.0.0.1:8080", "listen address", &c.Addr, false},
		{"REMINDERD_DB", "db", "reminderd.db", "SQLite file", &c.DB, false},
		{"REMINDERD_ADMIN_TOKEN", "admin-token", "", "bearer token for /admin (none: admin API disabled, except in sandbox)", &c.AdminToken, true},
		{"REMINDERD_WECHAT_APPID", "wechat-appid", "", "mini-program AppID (none: sandbox with a built-in fake WeChat)", &c.AppID, false},
		{"REMINDERD_WECHAT_SECRET", "wechat-secret", "", "AppSecret", &c.Secret, true},
		{"REMINDERD_WECHAT_BASE_URL", "wechat-base-url", "https://api.weixin.qq.com", "WeChat API root", &c.BaseURL, false},
		{"REMINDERD_WECHAT_TIMEOUT", "wechat-timeout", "10s", "client timeout of one WeChat call", &c.WechatTimeout, false},
		{"REMINDERD_WECHAT_PUSH_TOKEN", "wechat-push-token", "", "message-push Token", &c.PushToken, true},
		{"REMINDERD_WECHAT_AES_KEY", "wechat-aes-key", "", "message-push EncodingAESKey (43 characters; set = safe mode)", &c.AESKey, true},
		{"REMINDERD_MINIPROGRAM_STATE", "miniprogram-state", "formal", "developer, trial or formal", &c.MiniprogramState, false},
		{"REMINDERD_LANG", "lang", "zh_CN", "zh_CN, en_US, zh_HK or zh_TW", &c.Lang, false},
		{"REMINDERD_TIMEZONE", "timezone", "Asia/Shanghai", "default zone for recurrence and time rendering", &c.Timezone, false},
		{"REMINDERD_SCAN_EVERY", "scan-every", "1s", "period of the due scan", &c.ScanEvery, false},
		{"REMINDERD_SEND_CONCURRENCY", "send-concurrency", "8", "subscribe messages in flight at once", &c.Concurrency, false},
		{"REMINDERD_SEND_RATE", "send-rate", "0", "maximum sends per second (0: no limit)", &c.SendRate, false},
		{"REMINDERD_MAX_ATTEMPTS", "max-attempts", "6", "attempts at one occurrence before failed/retries_exhausted", &c.MaxAttempts, false},
		{"REMINDERD_DEFAULT_LATENESS", "default-lateness", "15m", "how late a reminder without expires_at may still be sent", &c.DefaultLateness, false},
		{"REMINDERD_LEASE", "lease", "2m", "how long a claim holds a reminder before a crashed process's claim is rescued", &c.Lease, false},
	}
}

// parseConfig reads the environment, then the flags; no positional argument
// is allowed.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c, rest, err := parseConfigArgs(name, args, getenv, stderr)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return c, err
}

// parseConfigArgs is parseConfig that returns the positional arguments.
func parseConfigArgs(name string, args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range c.settings() {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		if s.secret {
			// Registered with an empty default so that usage output can never
			// print a secret taken from the environment.
			fs.StringVar(s.dst, s.flag, "", s.usage+" (env "+s.env+")")
			*s.dst = def
			continue
		}
		fs.StringVar(s.dst, s.flag, def, s.usage+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if err := c.validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}

// validate refuses a half-filled WeChat configuration, naming what is missing.
func (c *config) validate() error {
	errs := c.parse()
	if c.Addr == "" {
		errs = append(errs, errors.New("REMINDERD_ADDR must not be empty"))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("REMINDERD_DB must not be empty"))
	}
	if c.Sandbox() {
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
		if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
			errs = append(errs, fmt.Errorf("REMINDERD_WECHAT_BASE_URL %q must be an http(s) URL", c.BaseURL))
		}
	}
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
	if err := c.parseWechatTimeout(); err != nil {
		errs = append(errs, err)
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
	num("REMINDERD_SEND_CONCURRENCY", c.Concurrency, 1, 1024, &c.concurrency)
	num("REMINDERD_MAX_ATTEMPTS", c.MaxAttempts, 1, 100, &c.maxAttempts)
	r, err := strconv.ParseFloat(c.SendRate, 64)
	if err != nil || r < 0 {
		errs = append(errs, fmt.Errorf("REMINDERD_SEND_RATE %q must be a number of sends per second, 0 for no limit", c.SendRate))
	}
	c.sendRate = r
	return errs
}

// parseWechatTimeout converts REMINDERD_WECHAT_TIMEOUT, which must be a
// positive duration; it runs inside validate.
func (c *config) parseWechatTimeout() error {
	d, err := time.ParseDuration(c.WechatTimeout)
	if err != nil || d <= 0 {
		return fmt.Errorf("REMINDERD_WECHAT_TIMEOUT %q must be a positive duration, such as 10s", c.WechatTimeout)
	}
	c.wechatTimeout = d
	return nil
}

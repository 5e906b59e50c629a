package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultBaseURL is the root of WeChat's server API.
const DefaultBaseURL = "https://api.weixin.qq.com"

// TokenMode selects how access tokens are obtained.
type TokenMode int

const (
	// TokenStable uses POST /cgi-bin/stable_token in normal mode: repeated
	// calls return the same token, so several instances never invalidate
	// each other. The default.
	TokenStable TokenMode = iota
	// TokenLegacy uses GET /cgi-bin/token: each call invalidates the previous
	// token after a 5-minute overlap.
	TokenLegacy
)

// Config configures a Client. AppID, Secret and BaseURL are required.
type Config struct {
	BaseURL   string
	AppID     string
	Secret    string
	TokenMode TokenMode

	// HTTPClient must have a timeout; nil means NewHTTPClient(DefaultTimeout,
	// DefaultMaxConns).
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives debug lines for calls (never credentials); nil discards.
	Logger *slog.Logger
	// TokenStore persists the access token across restarts; nil keeps it in
	// memory only. A FleetTokenStore (internal/app's, over the database)
	// also shares it between processes: one fetch for all of them.
	TokenStore TokenStore
	// RefreshBefore is how long before expiry a token is replaced (default 5 min).
	RefreshBefore time.Duration
	// OnToken, if set, is told of every token fetch, reload and invalidation
	// (for metrics). It must not block.
	OnToken func(TokenEvent)
	// MiniprogramState and Lang are sent with every subscribe message whose
	// request leaves them empty (defaults "formal" and "zh_CN").
	MiniprogramState string
	Lang             string
}

// Validate names what is missing or wrong in c.
func (c Config) Validate() error {
	var missing []string
	if c.BaseURL == "" {
		missing = append(missing, "BaseURL")
	}
	if c.AppID == "" {
		missing = append(missing, "AppID")
	}
	if c.Secret == "" {
		missing = append(missing, "Secret")
	}
	if len(missing) > 0 {
		return fmt.Errorf("wechat config: missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("wechat config: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	if c.MiniprogramState != "" && !validState(c.MiniprogramState) {
		return fmt.Errorf("wechat config: miniprogram state %q is not developer, trial or formal", c.MiniprogramState)
	}
	if c.Lang != "" && !validLang(c.Lang) {
		return fmt.Errorf("wechat config: lang %q is not zh_CN, en_US, zh_HK or zh_TW", c.Lang)
	}
	return nil
}

func validState(s string) bool { return s == "developer" || s == "trial" || s == "formal" }
func validLang(s string) bool {
	return s == "zh_CN" || s == "en_US" || s == "zh_HK" || s == "zh_TW"
}

// Client calls WeChat's server API. It is safe for concurrent use.
type Client struct {
	base          string
	appID         string
	secret        Secret
	mode          TokenMode
	http          *http.Client
	now           func() time.Time
	log           *slog.Logger
	store         TokenStore
	refreshBefore time.Duration
	state, lang   string

	tokMu     sync.Mutex
	tok       Token
	tokLoaded bool // the store has been consulted
	flight    singleflight.Group
	onToken   func(TokenEvent)

	rejected   Secret        // the last token WeChat rejected (never reloaded from the store)
	holder     string        // this client's name on the fetch lease (FleetTokenStore)
	fetchLease time.Duration // how long the fetch lease is taken for
}

// New builds a Client from cfg.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		base:          strings.TrimRight(cfg.BaseURL, "/"),
		appID:         cfg.AppID,
		secret:        NewSecret(cfg.Secret),
		mode:          cfg.TokenMode,
		http:          cfg.HTTPClient,
		now:           cfg.Now,
		log:           cfg.Logger,
		store:         cfg.TokenStore,
		refreshBefore: cfg.RefreshBefore,
		onToken:       cfg.OnToken,
		state:         cfg.MiniprogramState,
		lang:          cfg.Lang,
	}
	if c.http == nil {
		c.http = NewHTTPClient(DefaultTimeout, DefaultMaxConns)
	}
	c.holder, c.fetchLease = newHolder(), max(fetchLeaseMin, 2*c.http.Timeout)
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.refreshBefore <= 0 {
		c.refreshBefore = 5 * time.Minute
	}
	if c.state == "" {
		c.state = "formal"
	}
	if c.lang == "" {
		c.lang = "zh_CN"
	}
	return c, nil
}

// Timeout returns the HTTP client's timeout for one WeChat call (0: none).
func (c *Client) Timeout() time.Duration { return c.http.Timeout }

// AppID returns the mini-program's AppID.
func (c *Client) AppID() string { return c.appID }

// maxResponse bounds what is read of any WeChat answer.
const maxResponse = 1 << 20

// errBody is the errcode/errmsg pair of WeChat's answers. Every answer
// embeds it; an answer that may omit errcode on success says so with
// impliesSuccess.
type errBody struct {
	ErrCode errCode `json:"errcode"`
	ErrMsg  string  `json:"errmsg"`
}

func (e *errBody) body() *errBody { return e }

// lossIsUnknown reports whether a lost or invalid answer leaves the outcome
// unknown (ErrOutcomeUnknown) rather than plainly failed. Only a send's does:
// WeChat may have delivered the message.
func (e *errBody) lossIsUnknown() bool { return false }

func (e *errBody) err() error {
	if e.ErrCode.n == 0 {
		return nil
	}
	return &APIError{Code: e.ErrCode.n, Msg: e.ErrMsg}
}

// errCode is an answer's errcode as WeChat wrote it.
type errCode struct {
	n       int
	present bool // the key is in the answer
	valid   bool // its value is a JSON integer that fits an int
}

// UnmarshalJSON accepts only an integer literal: "0", "-1", "40001". A
// string, a float ("0.0", "1e3"), null, true or an object leaves valid false.
func (c *errCode) UnmarshalJSON(b []byte) error {
	c.present, c.valid, c.n = true, false, 0
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	if i == len(b) || len(b)-i > 18 {
		return nil
	}
	n := 0
	for ; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return nil
		}
		n = n*10 + int(b[i]-'0')
	}
	if neg {
		n = -n
	}
	c.n, c.valid = n, true
	return nil
}

// answer is what every decoded WeChat answer provides.
type answer interface {
	body() *errBody
	lossIsUnknown() bool
	// impliesSuccess reports whether the answer, without an errcode, is a
	// success because of its other fields (token and code2session answers
	// omit errcode on success).
	impliesSuccess() bool
}

// decodeAnswer decodes a 200 answer's body into out. The body must be one
// JSON object; its errcode, when present, must be an integer, and it may be
// absent only when the answer's other fields imply success.
func decodeAnswer(data []byte, out answer) *answerError {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if len(t) == 0 {
			return &answerError{why: "answer is empty", invalid: true}
		}
		return &answerError{why: "answer is not a JSON object", invalid: true}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &answerError{why: "answer is not JSON (cut short?)", err: err, invalid: true}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &answerError{why: "answer has data after its JSON object", invalid: true}
	}
	code := out.body().ErrCode
	if code.present && !code.valid || !code.present && !out.impliesSuccess() {
		return &answerError{why: "answer has no integer errcode", invalid: true}
	}
	return nil
}

// do performs one HTTP exchange and decodes the JSON answer into out. The
// request URL holds credentials, so no error produced here contains it.
// When the request was written (httptrace's WroteRequest) and no valid
// answer came back, the error is also ErrOutcomeUnknown if out.lossIsUnknown.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body any, out answer) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("wechat %s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	// wrote is set once the whole request has been written on the
	// connection the transport is using; a retry on a fresh connection
	// (only ever before anything was written) starts it again.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { wrote.Store(false) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u, rd)
	if err != nil {
		return fmt.Errorf("wechat %s: build request for %s", op, path)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // drop the URL: it carries the token or secret
		}
		if wrote.Load() {
			err = &answerError{why: "answer lost after the request was written", err: err, unknown: out.lossIsUnknown()}
		}
		c.log.Debug("wechat call failed", "op", op, "path", path, "error", err)
		return &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode != http.StatusOK {
		c.log.Debug("wechat call failed", "op", op, "path", path, "status", resp.StatusCode)
		return &TransportError{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	if err != nil {
		aerr := &answerError{why: "answer lost while it was read", err: err, unknown: out.lossIsUnknown()}
		c.log.Debug("wechat call failed", "op", op, "path", path, "error", aerr)
		return &TransportError{Op: op, Err: aerr}
	}
	if aerr := decodeAnswer(data, out); aerr != nil {
		aerr.unknown = out.lossIsUnknown()
		c.log.Debug("wechat call failed", "op", op, "path", path, "error", aerr)
		return &TransportError{Op: op, Err: aerr}
	}
	c.log.Debug("wechat call", "op", op, "path", path, "latency_ms", c.now().Sub(start).Milliseconds())
	return nil
}

// doWithToken performs a call that needs an access token and decodes its
// answer into a fresh T. On a token errcode it invalidates the token that
// failed (only if it is still the cached one), fetches a fresh one and retries
// exactly once.
func doWithToken[T any, PT interface {
	*T
	answer
	err() error
}](ctx context.Context, c *Client, op, method, path string, body any) (*T, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		out := PT(new(T))
		q := url.Values{"access_token": {tok.Value.Reveal()}}
		if err := c.do(ctx, op, method, path, q, body, out); err != nil {
			return nil, err
		}
		err = out.err()
		if err == nil {
			return out, nil
		}
		if Classify(err) != ClassToken || attempt > 0 {
			return nil, err
		}
		c.log.Info("access token rejected; refreshing", "op", op, "errcode", err.(*APIError).Code)
		c.invalidate(ctx, tok)
	}
}

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
	"net/url"
	"strings"
	"sync"
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

	// HTTPClient must have a timeout; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives debug lines for calls (never credentials); nil discards.
	Logger *slog.Logger
	// TokenStore persists the access token across restarts; nil keeps it in
	// memory only.
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
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
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

// AppID returns the mini-program's AppID.
func (c *Client) AppID() string { return c.appID }

// maxResponse bounds what is read of any WeChat answer.
const maxResponse = 1 << 20

// errBody is the errcode/errmsg pair present in every WeChat answer.
type errBody struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (e errBody) err() error {
	if e.ErrCode == 0 {
		return nil
	}
	return &APIError{Code: e.ErrCode, Msg: e.ErrMsg}
}

// do performs one HTTP exchange and decodes the JSON answer into out. The
// request URL holds credentials, so no error produced here contains it.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body any, out any) error {
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
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
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
		c.log.Debug("wechat call failed", "op", op, "path", path, "error", err)
		return &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &TransportError{Op: op, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		c.log.Debug("wechat call failed", "op", op, "path", path, "status", resp.StatusCode)
		return &TransportError{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &TransportError{Op: op, Err: fmt.Errorf("answer is not JSON: %w", err)}
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
		c.invalidate(tok.Value)
	}
}

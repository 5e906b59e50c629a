package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Token is an access token and the instant it stops working.
type Token struct {
	Value     Secret
	ExpiresAt time.Time
}

// TokenStore persists the access token so that a restart reuses it instead of
// fetching a new one (the legacy endpoint invalidates the previous token, and
// both endpoints have daily limits). LoadToken returns the zero Token when
// nothing is stored.
type TokenStore interface {
	LoadToken(ctx context.Context) (Token, error)
	SaveToken(ctx context.Context, t Token) error
}

// TokenEvent reports a change of the cached token.
type TokenEvent struct {
	Kind      string // "fetched", "loaded", "invalidated", "fetch_failed"
	ExpiresAt time.Time
	Err       error
}

// AccessToken returns a token with more than RefreshBefore left, fetching one
// if needed. Concurrent callers share one in-flight fetch. If a fetch fails
// while the cached token has not expired yet, the cached token is returned.
func (c *Client) AccessToken(ctx context.Context) (Token, error) {
	c.tokMu.Lock()
	tok, loaded := c.tok, c.tokLoaded
	c.tokMu.Unlock()
	if loaded && c.fresh(tok) {
		return tok, nil
	}
	ch := c.flight.DoChan("token", func() (any, error) {
		// The fetch outlives a caller that gives up: others may be waiting.
		return c.refresh(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(Token), nil
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// TokenState returns the cached token's expiry, if a token is cached.
func (c *Client) TokenState() (expiresAt time.Time, ok bool) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok.Value.IsZero() {
		return time.Time{}, false
	}
	return c.tok.ExpiresAt, true
}

func (c *Client) fresh(t Token) bool {
	return !t.Value.IsZero() && c.now().Add(c.refreshBefore).Before(t.ExpiresAt)
}

func (c *Client) notify(e TokenEvent) {
	if c.onToken != nil {
		c.onToken(e)
	}
}

// refresh runs inside the single flight.
func (c *Client) refresh(ctx context.Context) (Token, error) {
	c.tokMu.Lock()
	loaded, cached := c.tokLoaded, c.tok
	c.tokMu.Unlock()
	if !loaded {
		if c.store != nil {
			stored, err := c.store.LoadToken(ctx)
			if err != nil {
				c.log.Warn("load stored access token", "error", err)
			} else if !stored.Value.IsZero() && c.now().Before(stored.ExpiresAt) {
				cached = stored
				c.notify(TokenEvent{Kind: "loaded", ExpiresAt: stored.ExpiresAt})
			}
		}
		c.tokMu.Lock()
		c.tok, c.tokLoaded = cached, true
		c.tokMu.Unlock()
		if c.fresh(cached) {
			return cached, nil
		}
	}
	tok, err := c.fetchToken(ctx)
	if err != nil {
		c.notify(TokenEvent{Kind: "fetch_failed", Err: err})
		if !cached.Value.IsZero() && c.now().Before(cached.ExpiresAt) {
			c.log.Warn("access token refresh failed; using the cached token until it expires",
				"error", err, "expires_at", cached.ExpiresAt)
			return cached, nil
		}
		return Token{}, err
	}
	c.tokMu.Lock()
	c.tok = tok
	c.tokMu.Unlock()
	c.notify(TokenEvent{Kind: "fetched", ExpiresAt: tok.ExpiresAt})
	c.log.Info("access token fetched", "expires_at", tok.ExpiresAt)
	if c.store != nil {
		if err := c.store.SaveToken(ctx, tok); err != nil {
			c.log.Warn("persist access token", "error", err)
		}
	}
	return tok, nil
}

// invalidate drops the cached token if it is the one that failed. A token
// that another caller has already replaced is left alone, so one stale
// failure cannot throw away a fresh token.
func (c *Client) invalidate(failed Secret) {
	c.tokMu.Lock()
	dropped := !c.tok.Value.IsZero() && c.tok.Value.Equal(failed)
	if dropped {
		c.tok = Token{}
	}
	c.tokMu.Unlock()
	if dropped {
		c.notify(TokenEvent{Kind: "invalidated"})
	}
}

type tokenAnswer struct {
	errBody
	AccessToken string      `json:"access_token"`
	ExpiresIn   json.Number `json:"expires_in"`
}

// A token answer omits errcode on success.
func (a *tokenAnswer) impliesSuccess() bool { return a.AccessToken != "" }

func (c *Client) fetchToken(ctx context.Context) (Token, error) {
	var ans tokenAnswer
	start := c.now()
	var err error
	switch c.mode {
	case TokenLegacy:
		q := url.Values{"grant_type": {"client_credential"}, "appid": {c.appID}, "secret": {c.secret.Reveal()}}
		err = c.do(ctx, "token", http.MethodGet, "/cgi-bin/token", q, nil, &ans)
	default:
		body := struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}{"client_credential", c.appID, c.secret.Reveal(), false}
		err = c.do(ctx, "stable_token", http.MethodPost, "/cgi-bin/stable_token", nil, body, &ans)
	}
	if err != nil {
		return Token{}, &TokenFetchError{Err: err}
	}
	if err := ans.err(); err != nil {
		return Token{}, &TokenFetchError{Err: err}
	}
	secs, err := ans.ExpiresIn.Int64()
	if ans.AccessToken == "" || err != nil || secs <= 0 {
		return Token{}, &TokenFetchError{Err: &TransportError{Op: "token", Err: errors.New("answer has no access_token or expires_in")}}
	}
	// Count from before the request: the token may be older than it looks.
	return Token{Value: NewSecret(ans.AccessToken), ExpiresAt: start.Add(time.Duration(secs) * time.Second)}, nil
}

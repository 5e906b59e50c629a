package wechat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Token is an access token and the instant it stops working. Version is
// the shared row's version it was read or saved at (FleetTokenStore; 0
// otherwise).
type Token struct {
	Value     Secret
	ExpiresAt time.Time
	Version   int64
}

// TokenStore persists the access token so that a restart reuses it instead of
// fetching a new one (the legacy endpoint invalidates the previous token, and
// both endpoints have daily limits). LoadToken returns the zero Token when
// nothing is stored.
type TokenStore interface {
	LoadToken(ctx context.Context) (Token, error)
	SaveToken(ctx context.Context, t Token) error
}

// FleetTokenStore shares the token between the processes on one database,
// so that it is fetched once for all of them. Fetching is a fleet-wide
// critical section held as a lease row, not a transaction (none is held
// across the call to WeChat): a client that needs a token reads the row;
// when it is not fresh, it takes the fetch lease, reads the row again
// (another process may just have saved one), fetches and saves with a new
// version, which releases the lease. A client that finds the lease taken
// polls the row with backoff, bounded by the lease, instead of fetching.
// On a token errcode the client invalidates the version it used, a
// compare-and-set: a token another process saved since is kept.
// LoadToken reports the version (Token.Version).
type FleetTokenStore interface {
	TokenStore
	// AcquireTokenFetch takes the fetch lease for holder until until,
	// unless another holder has it past now.
	AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error)
	// ReleaseTokenFetch gives holder's fetch lease up (a failed fetch).
	ReleaseTokenFetch(ctx context.Context, holder string) error
	// SaveFetchedToken stores t with a new version, releasing holder's
	// lease, and returns it with that version.
	SaveFetchedToken(ctx context.Context, t Token, holder string, now time.Time) (Token, error)
	// InvalidateToken drops the stored token if it is still at version.
	InvalidateToken(ctx context.Context, version int64, now time.Time) error
}

// Fetch lease timing: the lease outlasts a fetch (the HTTP client's
// timeout, at least fetchLeaseMin); a waiter polls from fetchPollMin,
// doubling up to fetchPollMax.
const (
	fetchLeaseMin = 30 * time.Second
	fetchPollMin  = 10 * time.Millisecond
	fetchPollMax  = 500 * time.Millisecond
)

func newHolder() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
	if fs, ok := c.store.(FleetTokenStore); ok {
		return c.fleetRefresh(ctx, fs, cached)
	}
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

// fleetRefresh gets a fresh token through a FleetTokenStore: the stored
// one if it is fresh, else the one this client fetches under the fetch
// lease, else the one the lease's holder saves. When the store fails, the
// client fetches on its own (a token for this process beats none).
func (c *Client) fleetRefresh(ctx context.Context, fs FleetTokenStore, cached Token) (Token, error) {
	wait := fetchPollMin
	// The real-time bound on waiting for another holder: past it (its
	// lease should have run out and been taken over by then) this client
	// fetches on its own.
	giveUp := time.Now().Add(c.fetchLease + time.Second)
	for {
		if t, ok := c.loadShared(ctx, fs); ok {
			return t, nil
		}
		now := c.now()
		got, err := fs.AcquireTokenFetch(ctx, c.holder, now, now.Add(c.fetchLease))
		if err != nil {
			c.log.Warn("take the token fetch lease; fetching without it", "error", err)
			return c.fetchShared(ctx, fs, cached, false)
		}
		if got {
			// Another process may have saved a token between the read and the lease.
			if t, ok := c.loadShared(ctx, fs); ok {
				if err := fs.ReleaseTokenFetch(ctx, c.holder); err != nil {
					c.log.Warn("release the token fetch lease", "error", err)
				}
				return t, nil
			}
			return c.fetchShared(ctx, fs, cached, true)
		}
		if !time.Now().Before(giveUp) {
			c.log.Warn("the token fetch lease stayed taken past its term; fetching without it")
			return c.fetchShared(ctx, fs, cached, false)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Token{}, ctx.Err()
		}
		wait = min(2*wait, fetchPollMax)
	}
}

// loadShared reads the stored token and, when it is fresh, caches it.
func (c *Client) loadShared(ctx context.Context, fs FleetTokenStore) (Token, bool) {
	t, err := fs.LoadToken(ctx)
	if err != nil {
		c.log.Warn("load stored access token", "error", err)
		return Token{}, false
	}
	if !c.fresh(t) {
		return Token{}, false
	}
	c.tokMu.Lock()
	rejected := c.rejected.Equal(t.Value)
	c.tokMu.Unlock()
	if rejected {
		// WeChat rejected it here, and the invalidation of the caller
		// that saw it first has not landed yet (or was lost): drop it
		// (the same compare-and-set) and get another.
		if err := fs.InvalidateToken(ctx, t.Version, c.now()); err != nil {
			c.log.Warn("invalidate the stored access token", "error", err)
		}
		return Token{}, false
	}
	c.tokMu.Lock()
	same := c.tok.Value.Equal(t.Value) && c.tok.Version == t.Version
	c.tok, c.tokLoaded = t, true
	c.tokMu.Unlock()
	if !same {
		c.notify(TokenEvent{Kind: "loaded", ExpiresAt: t.ExpiresAt})
	}
	return t, true
}

// fetchShared fetches a token and saves it for the fleet; held says
// whether this client holds the fetch lease (released if the fetch fails).
func (c *Client) fetchShared(ctx context.Context, fs FleetTokenStore, cached Token, held bool) (Token, error) {
	tok, err := c.fetchToken(ctx)
	if err != nil {
		if held {
			if rerr := fs.ReleaseTokenFetch(ctx, c.holder); rerr != nil {
				c.log.Warn("release the token fetch lease", "error", rerr)
			}
		}
		c.notify(TokenEvent{Kind: "fetch_failed", Err: err})
		if !cached.Value.IsZero() && c.now().Before(cached.ExpiresAt) {
			c.log.Warn("access token refresh failed; using the cached token until it expires",
				"error", err, "expires_at", cached.ExpiresAt)
			return cached, nil
		}
		return Token{}, err
	}
	if saved, err := fs.SaveFetchedToken(ctx, tok, c.holder, c.now()); err != nil {
		c.log.Warn("persist access token", "error", err)
		// The others would wait for the lease to run out; let them go (they
		// will fetch their own if they cannot read one either).
		if held {
			if rerr := fs.ReleaseTokenFetch(context.WithoutCancel(ctx), c.holder); rerr != nil {
				c.log.Warn("release the token fetch lease", "error", rerr)
			}
		}
	} else {
		tok = saved
	}
	c.tokMu.Lock()
	c.tok, c.tokLoaded = tok, true
	c.tokMu.Unlock()
	c.notify(TokenEvent{Kind: "fetched", ExpiresAt: tok.ExpiresAt})
	c.log.Info("access token fetched", "expires_at", tok.ExpiresAt)
	return tok, nil
}

// invalidate drops the cached token if it is the one that failed. A token
// that another caller has already replaced is left alone, so one stale
// failure cannot throw away a fresh token. With a FleetTokenStore the
// stored token is dropped too, if it is still at the failed one's version
// (a compare-and-set: a process that already replaced it keeps the new
// one).
func (c *Client) invalidate(ctx context.Context, failed Token) {
	c.tokMu.Lock()
	dropped := !c.tok.Value.IsZero() && c.tok.Value.Equal(failed.Value)
	if dropped {
		c.tok = Token{}
	}
	c.rejected = failed.Value
	c.tokMu.Unlock()
	if !dropped {
		return
	}
	c.notify(TokenEvent{Kind: "invalidated"})
	if fs, ok := c.store.(FleetTokenStore); ok && failed.Version > 0 {
		if err := fs.InvalidateToken(context.WithoutCancel(ctx), failed.Version, c.now()); err != nil {
			c.log.Warn("invalidate the stored access token", "error", err)
		}
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

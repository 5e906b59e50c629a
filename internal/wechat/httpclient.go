package wechat

import (
	"net"
	"net/http"
	"time"
)

// Defaults of NewHTTPClient's arguments.
const (
	// DefaultTimeout is the client timeout for one WeChat call
	// (REMINDERD_WECHAT_TIMEOUT).
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConns is the send concurrency the pool is sized for when
	// none is given (REMINDERD_SEND_CONCURRENCY's default).
	DefaultMaxConns = 8
)

// spareConns are the connections kept beside the sends for the other calls
// (token, code2session, gettemplate), so that a login does not take a
// send's connection or open a new one.
const spareConns = 4

// NewHTTPClient returns the *http.Client to give a Client: timeout bounds a
// whole call (0 or less means DefaultTimeout), and its pooled transport keeps
// a warm connection for each of maxConns sends in flight (0 or less means
// DefaultMaxConns). Go's default transport keeps only 2 idle connections per
// host, so with more sends in flight every burst would open, and then close,
// new TLS connections to WeChat.
//
// The transport takes its proxy from the environment (HTTPS_PROXY, NO_PROXY),
// keeps idle connections 90 s, bounds the connect and TLS handshake by the
// timeout (at most 10 s each) and the wait for the answer's headers by the
// timeout, and opens at most twice the pool's size at once (the excess waits
// for a connection, within the timeout, instead of opening thousands of
// sockets in a burst of logins).
func NewHTTPClient(timeout time.Duration, maxConns int) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	pool := maxConns + spareConns
	step := min(timeout, 10*time.Second)
	dialer := &net.Dialer{Timeout: step, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          pool,
		MaxIdleConnsPerHost:   pool,
		MaxConnsPerHost:       2 * pool,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   step,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Timeout: timeout, Transport: t}
}

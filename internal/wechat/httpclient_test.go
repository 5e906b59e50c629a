package wechat_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// roundsOfConcurrentSends sends rounds × n requests through hc, n at a time
// (the server answers a round only when all n are in), and returns how many
// connections the server saw opened.
func roundsOfConcurrentSends(t *testing.T, hc *http.Client, n, rounds int) int64 {
	t.Helper()
	var opened atomic.Int64
	var mu sync.Mutex
	arrived, release := 0, make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		ch := release
		if arrived++; arrived == n {
			close(release)
			arrived, release = 0, make(chan struct{})
		}
		mu.Unlock()
		<-ch
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","msgid":1}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := rawClient(t, srv.URL, hc)
	for range rounds {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := c.Send(context.Background(), sendReq()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	return opened.Load()
}

func TestHTTPClientReusesConnectionsAcrossConcurrentSends(t *testing.T) {
	const n, rounds = 16, 3
	if got := roundsOfConcurrentSends(t, wechat.NewHTTPClient(5*time.Second, n), n, rounds); got != n {
		t.Fatalf("%d rounds of %d concurrent sends opened %d connections, want %d (one per send in flight, reused)", rounds, n, got, n)
	}
	// The measure itself: Go's default transport keeps 2 idle connections
	// per host, so each later round opens n-2 new ones.
	def := &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if got := roundsOfConcurrentSends(t, def, n, rounds); got <= n {
		t.Fatalf("the default transport opened only %d connections: the test does not tell pooling apart", got)
	}
}

func TestNewHTTPClientDefaults(t *testing.T) {
	hc := wechat.NewHTTPClient(0, 0)
	tr := hc.Transport.(*http.Transport)
	if hc.Timeout != wechat.DefaultTimeout || tr.MaxIdleConnsPerHost < wechat.DefaultMaxConns || tr.MaxConnsPerHost < tr.MaxIdleConnsPerHost ||
		tr.IdleConnTimeout != 90*time.Second || tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout != wechat.DefaultTimeout ||
		tr.ExpectContinueTimeout <= 0 || tr.Proxy == nil {
		t.Fatalf("NewHTTPClient(0, 0) = timeout %v, transport %+v", hc.Timeout, tr)
	}
	c, err := wechat.New(wechat.Config{BaseURL: "http://127.0.0.1:1", AppID: "a", Secret: "s"})
	if err != nil || c.Timeout() != wechat.DefaultTimeout {
		t.Fatalf("a Client without an HTTPClient has timeout %v (%v), want %v", c.Timeout(), err, wechat.DefaultTimeout)
	}
}

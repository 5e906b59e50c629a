package wechat_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// storedToken is the access token the clients of these tests start with, so
// that a send is their first call.
const storedToken = "STORED_TOKEN_0123456789"

func storeWithToken() *memStore {
	return &memStore{tok: wechat.Token{Value: wechat.NewSecret(storedToken), ExpiresAt: time.Now().Add(2 * time.Hour)}}
}

// rawClient builds a client for base with a stored token and the given HTTP
// client.
func rawClient(t *testing.T, base string, hc *http.Client) *wechat.Client {
	t.Helper()
	c, err := wechat.New(wechat.Config{BaseURL: base, AppID: "wxapp", Secret: "app-secret-xyz",
		HTTPClient: hc, TokenStore: storeWithToken()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AccessToken(context.Background()); err != nil { // loads the stored token
		t.Fatal(err)
	}
	return c
}

func sendReq() wechat.SendRequest {
	return wechat.SendRequest{ToUser: "o1", TemplateID: "tmpl", Data: map[string]string{"thing1": "会议"}}
}

// hijack takes the connection of a request the handler has fully read.
func hijack(t *testing.T, w http.ResponseWriter, r *http.Request) net.Conn {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return nil
	}
	return conn
}

func TestSendOutcomeUnknown(t *testing.T) {
	body := func(b string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, b)
		}
	}
	const (
		lost    = "answer lost after the request was written"
		reading = "answer lost while it was read"
		noCode  = "answer has no integer errcode"
	)
	for _, tc := range []struct {
		name    string
		handler func(t *testing.T) http.HandlerFunc
		why     string
	}{
		{"closed without an answer", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(t, w, r); c != nil {
					c.Close()
				}
			}
		}, lost},
		{"connection reset", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(t, w, r); c != nil {
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
			}
		}, lost},
		{"hang past the client timeout", func(*testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				// Once the body is read, the server notices the client's close.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			}
		}, lost},
		{"body shorter than its Content-Length", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(t, w, r); c != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":17")
					c.Close()
				}
			}
		}, reading},
		{"body cut short by a close", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(t, w, r); c != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"errcode\":0,\"errmsg\":\"o")
					c.Close()
				}
			}
		}, "answer is not JSON"},
		{"{}", func(*testing.T) http.HandlerFunc { return body(`{}`) }, noCode},
		{"null", func(*testing.T) http.HandlerFunc { return body(`null`) }, "answer is not a JSON object"},
		{"[]", func(*testing.T) http.HandlerFunc { return body(`[]`) }, "answer is not a JSON object"},
		{"empty body", func(*testing.T) http.HandlerFunc { return body(``) }, "answer is empty"},
		{"html", func(*testing.T) http.HandlerFunc { return body(`<html>ok</html>`) }, "answer is not a JSON object"},
		{"errmsg only", func(*testing.T) http.HandlerFunc { return body(`{"errmsg":"ok","msgid":1}`) }, noCode},
		{"errcode as a string", func(*testing.T) http.HandlerFunc { return body(`{"errcode":"0","errmsg":"ok"}`) }, noCode},
		{"errcode as a float", func(*testing.T) http.HandlerFunc { return body(`{"errcode":0.0,"errmsg":"ok"}`) }, noCode},
		{"errcode with an exponent", func(*testing.T) http.HandlerFunc { return body(`{"errcode":0e0,"errmsg":"ok"}`) }, noCode},
		{"errcode null", func(*testing.T) http.HandlerFunc { return body(`{"errcode":null,"errmsg":"ok"}`) }, noCode},
		{"errcode true", func(*testing.T) http.HandlerFunc { return body(`{"errcode":true}`) }, noCode},
		{"data after the object", func(*testing.T) http.HandlerFunc { return body(`{"errcode":0}{"errcode":0}`) }, "answer has data after its JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler(t))
			defer srv.Close()
			c := rawClient(t, srv.URL, &http.Client{Timeout: 300 * time.Millisecond})
			_, err := c.Send(context.Background(), sendReq())
			var tErr *wechat.TransportError
			if !errors.Is(err, wechat.ErrOutcomeUnknown) || !errors.As(err, &tErr) || wechat.Classify(err) != wechat.ClassUnknown {
				t.Fatalf("err = %v (class %v), want a transport error with an unknown outcome", err, wechat.Classify(err))
			}
			if !strings.Contains(err.Error(), "outcome unknown: "+tc.why) || tErr.Op != "subscribe send" {
				t.Fatalf("err = %q, want it to say %q", err, tc.why)
			}
			if strings.Contains(err.Error(), storedToken) || strings.Contains(err.Error(), "access_token") {
				t.Fatalf("err = %q holds the token", err)
			}
			// An answer that arrived malformed is also an alarm (a wrong base
			// URL, a proxy); one that was lost is not.
			if arrived := tc.why != lost && tc.why != reading; errors.Is(err, wechat.ErrInvalidAnswer) != arrived {
				t.Fatalf("errors.Is(err, ErrInvalidAnswer) = %v for %q", !arrived, err)
			}
		})
	}
}

func TestSendAnswersThatAreNotUnknown(t *testing.T) {
	for _, tc := range []struct {
		body  string
		class wechat.Class
	}{
		{`{"errcode":0,"errmsg":"ok","msgid":1700000000000000001}`, wechat.ClassNone},
		{`{"errcode":0,"errmsg":"ok"}`, wechat.ClassNone},
		{` {"errcode":-1,"errmsg":"system error"}` + "\n", wechat.ClassTransient},
		{`{"errcode":43101,"errmsg":"user refuse to accept the msg"}`, wechat.ClassPermanent},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tc.body) }))
		c := rawClient(t, srv.URL, &http.Client{Timeout: time.Second})
		_, err := c.Send(context.Background(), sendReq())
		srv.Close()
		if got := wechat.Classify(err); got != tc.class || errors.Is(err, wechat.ErrOutcomeUnknown) {
			t.Errorf("answer %s: err %v, class %v, want %v", tc.body, err, got, tc.class)
		}
	}
	// An HTTP error status is WeChat (or its front) saying no: transient.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := rawClient(t, srv.URL, nil).Send(context.Background(), sendReq())
	if wechat.Classify(err) != wechat.ClassTransient || errors.Is(err, wechat.ErrOutcomeUnknown) {
		t.Fatalf("HTTP 502: %v, want transient", err)
	}
}

// Failures before the request could have reached WeChat are transient.
func TestSendFailuresBeforeTheWriteAreTransient(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request reached the server")
	}))
	defer plain.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	dnsTransport := http.DefaultTransport.(*http.Transport).Clone()
	dnsFail := &http.Client{Timeout: time.Second, Transport: dnsTransport}
	dnsTransport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "api.weixin.qq.com", IsNotFound: true}}
	}
	tlsTransport := http.DefaultTransport.(*http.Transport).Clone()
	tlsTransport.TLSClientConfig = &tls.Config{ServerName: "api.weixin.qq.com"}
	tlsClient := &http.Client{Timeout: time.Second, Transport: tlsTransport}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, tc := range []struct {
		name string
		base string
		hc   *http.Client
		ctx  context.Context
	}{
		{"connection refused", closedURL, nil, context.Background()},
		{"DNS", plain.URL, dnsFail, context.Background()},
		{"TLS handshake", strings.Replace(plain.URL, "http://", "https://", 1), tlsClient, context.Background()},
		{"context canceled before the write", plain.URL, nil, canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rawClient(t, tc.base, tc.hc).Send(tc.ctx, sendReq())
			var tErr *wechat.TransportError
			if !errors.As(err, &tErr) || errors.Is(err, wechat.ErrOutcomeUnknown) || wechat.Classify(err) != wechat.ClassTransient {
				t.Fatalf("err = %v (class %v), want a transient transport error", err, wechat.Classify(err))
			}
		})
	}
}

// The other calls are never "unknown", and may omit errcode only where
// their other fields say success.
func TestOtherCallsCheckErrcodeButAreNeverUnknown(t *testing.T) {
	answers := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, answers[r.URL.Path])
	}))
	defer srv.Close()
	newClient := func() *wechat.Client {
		c, err := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: "wxapp", Secret: "app-secret-xyz"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()

	answers["/cgi-bin/stable_token"] = `{"access_token":"T1","expires_in":7200}`
	answers["/sns/jscode2session"] = `{"openid":"o1","session_key":"k"}`
	answers["/wxaapi/newtmpl/gettemplate"] = `{"data":[]}`
	c := newClient()
	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatalf("token answer without errcode: %v", err)
	}
	if _, err := c.Code2Session(ctx, "code"); err != nil {
		t.Fatalf("code2session answer without errcode: %v", err)
	}
	if _, err := c.Templates(ctx); err != nil {
		t.Fatalf("gettemplate answer with data and no errcode: %v", err)
	}

	for path, bad := range map[string]string{
		"/cgi-bin/stable_token":       `{"errcode":"0","access_token":"T1","expires_in":7200}`,
		"/sns/jscode2session":         `{}`,
		"/wxaapi/newtmpl/gettemplate": `{"errmsg":"ok"}`,
	} {
		answers["/cgi-bin/stable_token"] = `{"access_token":"T1","expires_in":7200}`
		answers["/sns/jscode2session"] = `{"openid":"o1","session_key":"k"}`
		answers["/wxaapi/newtmpl/gettemplate"] = `{"errcode":0,"data":[]}`
		answers[path] = bad
		c := newClient()
		var err error
		switch path {
		case "/cgi-bin/stable_token":
			_, err = c.AccessToken(ctx)
		case "/sns/jscode2session":
			_, err = c.Code2Session(ctx, "code")
		default:
			_, err = c.Templates(ctx)
		}
		var tErr *wechat.TransportError
		if !errors.As(err, &tErr) || errors.Is(err, wechat.ErrOutcomeUnknown) || wechat.Classify(err) != wechat.ClassTransient ||
			!strings.Contains(err.Error(), "answer has no integer errcode") {
			t.Errorf("%s answering %s: err = %v (class %v), want a transient error naming the errcode", path, bad, err, wechat.Classify(err))
		}
	}
}

func TestClassifyUnknown(t *testing.T) {
	if wechat.ClassUnknown.String() != "unknown" {
		t.Fatal(wechat.ClassUnknown.String())
	}
	wrapped := fmt.Errorf("send reminder r1: %w", &wechat.TransportError{Op: "subscribe send", Err: fmt.Errorf("x: %w", wechat.ErrOutcomeUnknown)})
	if wechat.Classify(wrapped) != wechat.ClassUnknown {
		t.Fatal("Classify does not find ErrOutcomeUnknown through wrapping")
	}
}

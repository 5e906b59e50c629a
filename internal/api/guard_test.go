package api_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

func trustLoopback(c *api.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
}

func TestAdminFailuresAreRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t)
	for i := range api.AdminFailureBurst {
		h.want(h.do("GET", "/admin/v1/stats", "guess-"+string(rune('a'+i)), nil), http.StatusUnauthorized, "unauthorized")
	}
	// Out of failures: 429, even for the right token (guessing would go on
	// otherwise), and a forged X-Forwarded-For from an untrusted peer does
	// not escape it.
	r := h.do("GET", "/admin/v1/stats", "guess-z", nil)
	h.want(r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	h.want(h.do("GET", "/admin/v1/stats", adminToken, nil), http.StatusTooManyRequests, "rate_limited")
	h.want(h.do("GET", "/admin/v1/stats", adminToken, nil, "X-Forwarded-For", "203.0.113.9"), http.StatusTooManyRequests, "rate_limited")
	res, err := http.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sign-in while limited: %d", res.StatusCode)
	}
	// Requests without a token and user sessions are not failures.
	h.want(h.do("GET", "/admin/v1/stats", "", nil), http.StatusUnauthorized, "unauthorized")
	// One failure is allowed again after AdminFailureEvery.
	h.clock.Advance(api.AdminFailureEvery)
	h.want(h.do("GET", "/admin/v1/stats", adminToken, nil), http.StatusOK, "")
}

func TestAdminSignInFailuresAreRateLimited(t *testing.T) {
	h := newHarnessWith(t, db.Options{}, trustLoopback)
	post := func(token, xff string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/admin/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for range api.AdminFailureBurst {
		if st := post("guess", "198.51.100.7"); st != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", st)
		}
	}
	if st := post("guess", "198.51.100.7"); st != http.StatusTooManyRequests {
		t.Fatalf("sign-in failures past the burst: %d, want 429", st)
	}
	// Behind a trusted proxy, the limit is the client's, not the proxy's:
	// another client signs in.
	if st := post(adminToken, "198.51.100.8"); st != http.StatusSeeOther {
		t.Fatalf("another client behind the proxy: %d", st)
	}
}

func TestAdminCookieIsSecureBehindATrustedTLSProxy(t *testing.T) {
	cookie := func(h *harness, tlsConn bool, proto string) *http.Cookie {
		t.Helper()
		req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"token": {adminToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "127.0.0.1:40000"
		if tlsConn {
			req.TLS = &tls.ConnectionState{}
		}
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		w := httptest.NewRecorder()
		h.srv.Config.Handler.ServeHTTP(w, req)
		cs := w.Result().Cookies()
		if w.Code != http.StatusSeeOther || len(cs) != 1 {
			t.Fatalf("sign in: %d %v", w.Code, cs)
		}
		return cs[0]
	}
	plain := newHarness(t)
	if cookie(plain, false, "https").Secure {
		t.Error("X-Forwarded-Proto from an untrusted peer made the cookie Secure")
	}
	if !cookie(plain, true, "").Secure {
		t.Error("a TLS request's cookie is not Secure")
	}
	proxied := newHarnessWith(t, db.Options{}, trustLoopback)
	if !cookie(proxied, false, "https").Secure {
		t.Error("X-Forwarded-Proto: https from a trusted proxy: cookie not Secure")
	}
	if cookie(proxied, false, "http").Secure {
		t.Error("X-Forwarded-Proto: http made the cookie Secure")
	}
}

func TestParseTrustedProxies(t *testing.T) {
	ps, err := api.ParseTrustedProxies(" 10.0.0.1, 192.168.0.0/16 ,::1")
	if err != nil || len(ps) != 3 || ps[0].String() != "10.0.0.1/32" || ps[1].String() != "192.168.0.0/16" || ps[2].String() != "::1/128" {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := api.ParseTrustedProxies("10.0.0.1,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("bad entry: %v", err)
	}
}

func TestPushWithoutFromUserNameIsRefused(t *testing.T) {
	h := newHarness(t)
	rcv := h.receiver()
	for _, ev := range []*wechat.Event{
		{ToUserName: "gh_x", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgPopup,
			Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}},
		{ToUserName: "gh_x", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgChange,
			Change: []wechat.ChangeItem{{TemplateID: meetingID, SubscribeStatus: "reject"}}},
	} {
		msg, err := wechat.MarshalEvent(ev, true)
		if err != nil {
			t.Fatal(err)
		}
		q, body, err := rcv.Seal(msg, "gh_x", true)
		if err != nil {
			t.Fatal(err)
		}
		h.want(h.do("POST", "/wechat/push?"+q.Encode(), "", string(body)), http.StatusBadRequest, "invalid_json")
	}
}

func TestFullDiskAnswers503AndRecovers(t *testing.T) {
	testkit.SQLiteOnly(t, "a full SQLite file (PRAGMA max_page_count)")
	h := newHarness(t)
	a := h.login("oA")
	h.create(a, meeting(time.Hour))
	h.want(h.do("GET", "/readyz", "", nil), http.StatusOK, "")
	// The writer may not grow the file past a few more pages: a full
	// database in a real file (SQLITE_FULL).
	var pages int64
	if err := testkit.QueryRow(h.t, h.sqlite("PRAGMA"), `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(h.t, h.sqlite("PRAGMA"), fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2))
	var full resp
	for i := 0; ; i++ {
		full = h.do("POST", "/v1/reminders", a, meeting(time.Hour+time.Duration(i)*time.Minute))
		if full.status != http.StatusCreated {
			break
		}
		if i > 5000 {
			t.Fatal("the database never became full")
		}
	}
	h.want(full, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(full.raw, "disk is full") {
		t.Errorf("full disk message: %s", full.raw)
	}
	r := h.do("GET", "/readyz", "", nil)
	h.want(r, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(r.raw, "cannot write") {
		t.Errorf("readyz while full: %s", r.raw)
	}
	// Reads still work.
	h.want(h.do("GET", "/v1/reminders", a, nil), http.StatusOK, "")
	// Space returns: writes and readiness come back without a restart.
	testkit.Exec(h.t, h.sqlite("PRAGMA"), fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+10000))
	h.create(a, meeting(3*time.Hour))
	h.clock.Advance(db.ProbeEvery)
	h.want(h.do("GET", "/readyz", "", nil), http.StatusOK, "")
}

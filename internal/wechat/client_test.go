package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

var t0 = testkit.T0

type env struct {
	fake   *wechattest.Server
	clock  *wechattest.Clock
	client *wechat.Client
	logs   *testkit.SyncBuffer
}

// newEnv starts a fake WeChat and a client sharing one clock. mutate may
// change the client config before the client is built.
func newEnv(t *testing.T, mutate func(*wechat.Config)) *env {
	t.Helper()
	clock := testkit.Clock()
	fake := testkit.WeChat(t, wechattest.Options{Now: clock.Now, Seed: 1})
	logs := &testkit.SyncBuffer{}
	cfg := wechat.Config{
		BaseURL:    fake.URL,
		AppID:      fake.AppID(),
		Secret:     fake.Secret(),
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
		Now:        clock.Now,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := wechat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fake: fake, clock: clock, client: c, logs: logs}
}

func meetingData() map[string]string {
	return map[string]string{"thing1": "项目评审会", "time2": "2026-12-01 14:00", "thing3": "A栋201会议室"}
}

func (e *env) meeting(openID string) wechat.SendRequest {
	return wechat.SendRequest{ToUser: openID, TemplateID: wechattest.MeetingTemplateID,
		Page: "pages/meeting/detail?id=42", Data: meetingData()}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  wechat.Config
		want string
	}{
		{"empty", wechat.Config{}, "missing BaseURL, AppID, Secret"},
		{"no secret", wechat.Config{BaseURL: "https://x", AppID: "wx1"}, "missing Secret"},
		{"bad url", wechat.Config{BaseURL: "ftp://x", AppID: "wx1", Secret: "s"}, "not an http(s) URL"},
		{"bad state", wechat.Config{BaseURL: "https://x", AppID: "wx1", Secret: "s", MiniprogramState: "beta"}, "miniprogram state"},
		{"bad lang", wechat.Config{BaseURL: "https://x", AppID: "wx1", Secret: "s", Lang: "fr_FR"}, "lang"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wechat.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tc.want)
			}
			if tc.cfg.Secret != "" && strings.Contains(err.Error(), tc.cfg.Secret+"\"") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestAccessTokenCachedAndStableByDefault(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, err := e.client.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.client.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Value.Equal(b.Value) {
		t.Fatal("second call returned another token")
	}
	if got := e.fake.Counts(); got.StableToken != 1 || got.LegacyToken != 0 {
		t.Fatalf("token fetches = %+v, want one stable_token call", got)
	}
	if want := t0.Add(7200 * time.Second); !a.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", a.ExpiresAt, want)
	}
}

func TestAccessTokenRefreshedUnderFiveMinutes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, _ := e.client.AccessToken(ctx)
	e.clock.Advance(7200*time.Second - 5*time.Minute - time.Second) // 5 min 1 s left
	b, _ := e.client.AccessToken(ctx)
	if !a.Value.Equal(b.Value) || e.fake.Counts().StableToken != 1 {
		t.Fatal("token refreshed with more than 5 minutes left")
	}
	e.clock.Advance(2 * time.Second) // 4 min 59 s left
	c, err := e.client.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value.Equal(a.Value) || e.fake.Counts().StableToken != 2 {
		t.Fatalf("token not replaced with under 5 minutes left (fetches %d)", e.fake.Counts().StableToken)
	}
	// The old token still works during the overlap, the new one too.
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
	if _, err := e.client.Send(ctx, e.meeting("o1")); err != nil {
		t.Fatal(err)
	}
}

// The callers run in a synctest bubble, over an in-process transport (a
// socket does not block durably, so the fake's server stays outside):
// synctest.Wait holds the fetch until every caller waits behind it.
func TestAccessTokenConcurrentCallersShareOneFetch(t *testing.T) {
	e := newEnv(t, nil)
	synctest.Test(t, func(t *testing.T) { testAccessTokenConcurrentCallersShareOneFetch(t, e) })
}

func testAccessTokenConcurrentCallersShareOneFetch(t *testing.T, e *env) {
	var gate atomic.Bool
	release := make(chan struct{})
	// Hold the token endpoint so that every caller arrives during the fetch.
	slow := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "stable_token") && gate.CompareAndSwap(false, true) {
			<-release
		}
		w := httptest.NewRecorder()
		e.fake.Handler().ServeHTTP(w, r)
		return w.Result(), nil
	})
	c, _ := wechat.New(wechat.Config{BaseURL: e.fake.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(), Now: e.clock.Now,
		HTTPClient: &http.Client{Transport: slow, Timeout: 2 * time.Second}})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := c.AccessToken(context.Background())
			errs <- err
		})
	}
	synctest.Wait() // every caller waits: the fetch on release, the others on it
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.Counts().StableToken; n != 1 {
		t.Fatalf("stable_token called %d times by 50 concurrent callers, want 1", n)
	}
}

// roundTripFunc serves an HTTP client's requests in process.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAccessTokenCallerCancelDoesNotBreakSharedFetch(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.client.AccessToken(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v", err)
	}
	if _, err := e.client.AccessToken(context.Background()); err != nil {
		t.Fatalf("next caller: %v", err)
	}
}

func TestLegacyTokenMode(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.TokenMode = wechat.TokenLegacy })
	if _, err := e.client.AccessToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Counts(); got.LegacyToken != 1 || got.StableToken != 0 {
		t.Fatalf("counts = %+v, want one legacy call", got)
	}
}

type memStore struct {
	mu    sync.Mutex
	tok   wechat.Token
	saves int
}

func (m *memStore) LoadToken(context.Context) (wechat.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tok, nil
}

func (m *memStore) SaveToken(_ context.Context, t wechat.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tok, m.saves = t, m.saves+1
	return nil
}

func TestTokenStoreSurvivesRestart(t *testing.T) {
	store := &memStore{}
	e := newEnv(t, func(c *wechat.Config) { c.TokenStore = store })
	first, err := e.client.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if store.saves != 1 || !store.tok.Value.Equal(first.Value) {
		t.Fatalf("token not persisted (saves=%d)", store.saves)
	}
	// A "restarted" client with the same store reuses the token.
	c2, _ := wechat.New(wechat.Config{BaseURL: e.fake.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(),
		Now: e.clock.Now, TokenStore: store, TokenMode: wechat.TokenLegacy})
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
	if _, err := c2.Send(context.Background(), e.meeting("o1")); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Counts(); got.StableToken != 1 || got.LegacyToken != 0 {
		t.Fatalf("restart refetched the token: %+v", got)
	}
	// An expired stored token is not used.
	e.clock.Advance(3 * time.Hour)
	c3, _ := wechat.New(wechat.Config{BaseURL: e.fake.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(),
		Now: e.clock.Now, TokenStore: store})
	tok, err := c3.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value.Equal(first.Value) || e.fake.Counts().StableToken != 2 {
		t.Fatal("expired stored token was reused")
	}
}

func TestSendRetriesOnceAfterTokenRevoked(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 2)
	if _, err := e.client.Send(ctx, e.meeting("o1")); err != nil {
		t.Fatal(err)
	}
	e.fake.RevokeTokens() // e.g. another party force-refreshed
	res, err := e.client.Send(ctx, e.meeting("o1"))
	if err != nil {
		t.Fatalf("send after token revoke: %v", err)
	}
	if !res.HasMsgID {
		t.Fatal("no msgid")
	}
	got := e.fake.Counts()
	if got.StableToken != 2 || got.Send != 3 {
		t.Fatalf("counts = %+v, want 2 token fetches and 3 send calls (one rejected)", got)
	}
	if len(e.fake.Sends()) != 2 {
		t.Fatalf("accepted sends = %d, want 2", len(e.fake.Sends()))
	}
}

func TestSendTokenExpiredByServerClock(t *testing.T) {
	// The client's clock runs behind WeChat's: it believes its token is
	// fresh, WeChat says 42001; the client refreshes and retries once.
	serverClock := wechattest.NewClock(t0)
	fake := wechattest.New(wechattest.Options{Now: serverClock.Now})
	defer fake.Close()
	fake.AddTemplate(wechattest.DemoTemplates()[0])
	fake.Grant("o1", wechattest.MeetingTemplateID, 1)
	c, _ := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), Now: func() time.Time { return t0 }})
	if _, err := c.AccessToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	serverClock.Advance(2*time.Hour + time.Second)
	e := &env{}
	if _, err := c.Send(context.Background(), e.meeting("o1")); err != nil {
		t.Fatalf("send with expired token: %v", err)
	}
	if n := fake.Counts().StableToken; n != 2 {
		t.Fatalf("stable_token calls = %d, want 2", n)
	}
}

func TestSendTokenErrorRetriedExactlyOnce(t *testing.T) {
	e := newEnv(t, nil)
	var sends atomic.Int32
	always40001 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/subscribe/send") {
			sends.Add(1)
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential rid: 1-2-3"}`)
			return
		}
		e.fake.Handler().ServeHTTP(w, r)
	}))
	defer always40001.Close()
	c, _ := wechat.New(wechat.Config{BaseURL: always40001.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(), Now: e.clock.Now})
	_, err := c.Send(context.Background(), e.meeting("o1"))
	var apiErr *wechat.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 40001 || wechat.Classify(err) != wechat.ClassToken {
		t.Fatalf("err = %v, want APIError 40001 classified token", err)
	}
	if n := sends.Load(); n != 2 {
		t.Fatalf("send tried %d times, want exactly 2 (one retry)", n)
	}
}

func TestStaleTokenFailureDoesNotDropFreshToken(t *testing.T) {
	// Two sends carry token A; A is revoked; both get 40001. The first
	// replaces A with B; the second must not throw B away and refetch.
	e := newEnv(t, nil)
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 2)
	e.fake.Grant("o2", wechattest.MeetingTemplateID, 2)
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/subscribe/send") {
			mu.Lock()
			arrived++
			n := arrived
			mu.Unlock()
			if n <= 2 {
				if n == 2 {
					e.fake.RevokeTokens()
					close(both)
				}
				<-both
			}
		}
		e.fake.Handler().ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c, _ := wechat.New(wechat.Config{BaseURL: proxy.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(), Now: e.clock.Now})
	if _, err := c.AccessToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, o := range []string{"o1", "o2"} {
		wg.Go(func() {
			if _, err := c.Send(context.Background(), e.meeting(o)); err != nil {
				t.Errorf("send to %s: %v", o, err)
			}
		})
	}
	wg.Wait()
	if n := e.fake.Counts().StableToken; n != 2 {
		t.Fatalf("stable_token calls = %d, want 2 (initial + one shared refresh)", n)
	}
}

func TestSendPayloadAndExactMsgID(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.MiniprogramState = "trial"; c.Lang = "en_US" })
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 2)
	ctx := context.Background()
	r1, err := e.client.Send(ctx, e.meeting("o1"))
	if err != nil {
		t.Fatal(err)
	}
	req := e.meeting("o1")
	req.MiniprogramState, req.Lang = "developer", "zh_TW"
	r2, err := e.client.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sends := e.fake.Sends()
	if len(sends) != 2 {
		t.Fatalf("fake recorded %d sends", len(sends))
	}
	if !r1.HasMsgID || r1.MsgID != sends[0].MsgID || r1.MsgID != wechattest.FirstMsgID {
		t.Fatalf("msgid = %d, fake says %d (a float64 decode would lose digits above 2^53)", r1.MsgID, sends[0].MsgID)
	}
	if r2.MsgID != r1.MsgID+1 {
		t.Fatalf("msgids not increasing: %d then %d", r1.MsgID, r2.MsgID)
	}
	s := sends[0]
	if s.ToUser != "o1" || s.TemplateID != wechattest.MeetingTemplateID || s.Page != "pages/meeting/detail?id=42" ||
		s.MiniprogramState != "trial" || s.Lang != "en_US" || s.Data["thing3"] != "A栋201会议室" {
		t.Fatalf("payload as received: %+v", s)
	}
	if sends[1].MiniprogramState != "developer" || sends[1].Lang != "zh_TW" {
		t.Fatalf("per-request state/lang not sent: %+v", sends[1])
	}
	if e.fake.Credits("o1", wechattest.MeetingTemplateID) != 0 {
		t.Fatal("credits not consumed")
	}
}

func TestSendRejectsBadRequestLocally(t *testing.T) {
	e := newEnv(t, nil)
	for _, req := range []wechat.SendRequest{
		{TemplateID: "t", Data: meetingData()},
		{ToUser: "o", Data: meetingData()},
		{ToUser: "o", TemplateID: "t"},
		{ToUser: "o", TemplateID: "t", Data: meetingData(), Lang: "xx"},
		{ToUser: "o", TemplateID: "t", Data: meetingData(), MiniprogramState: "beta"},
	} {
		if _, err := e.client.Send(context.Background(), req); !errors.Is(err, wechat.ErrBadRequest) {
			t.Errorf("Send(%+v) = %v, want ErrBadRequest", req, err)
		}
	}
	if e.fake.Counts().Send != 0 {
		t.Fatal("an invalid request reached WeChat")
	}
}

func TestSendErrorClassification(t *testing.T) {
	type tc struct {
		name  string
		setup func(e *env) wechat.SendRequest
		code  int // 0 = transport error expected
		class wechat.Class
	}
	cases := []tc{
		{"unknown openid", func(e *env) wechat.SendRequest { return e.meeting("o-none") }, 40003, wechat.ClassPermanent},
		{"refused", func(e *env) wechat.SendRequest {
			e.fake.IssueCode("o1")
			return e.meeting("o1")
		}, 43101, wechat.ClassPermanent},
		{"unknown template", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
			r := e.meeting("o1")
			r.TemplateID = "nope"
			return r
		}, 40037, wechat.ClassPermanent},
		{"unknown page", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
			r := e.meeting("o1")
			r.Page = "pages/missing/index"
			return r
		}, 41030, wechat.ClassPermanent},
		{"missing field", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
			r := e.meeting("o1")
			delete(r.Data, "thing3")
			return r
		}, 47003, wechat.ClassPermanent},
		{"busy", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
			e.fake.SetFaults(wechattest.Faults{BusyRate: 1})
			return e.meeting("o1")
		}, -1, wechat.ClassTransient},
		{"quota", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 2)
			e.fake.SetFaults(wechattest.Faults{DailyQuota: 1})
			if _, err := e.client.Send(context.Background(), e.meeting("o1")); err != nil {
				panic(err)
			}
			return e.meeting("o1")
		}, 45009, wechat.ClassQuota},
		{"http 500", func(e *env) wechat.SendRequest {
			e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
			e.fake.SetFaults(wechattest.Faults{HTTP500Rate: 1})
			return e.meeting("o1")
		}, 0, wechat.ClassTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			_, err := e.client.Send(context.Background(), c.setup(e))
			if got := wechat.Classify(err); got != c.class {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, c.class)
			}
			var apiErr *wechat.APIError
			if c.code != 0 {
				if !errors.As(err, &apiErr) || apiErr.Code != c.code {
					t.Fatalf("err = %v, want errcode %d", err, c.code)
				}
			} else if errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want a transport error", err)
			}
		})
	}
}

func TestSendHungRequestTimesOut(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} })
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 1)
	if _, err := e.client.AccessToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.fake.SetFaults(wechattest.Faults{HangRate: 1})
	_, err := e.client.Send(context.Background(), e.meeting("o1"))
	// The fake hung before accepting, but the client cannot know that: its
	// request was written, so the outcome is unknown.
	var tErr *wechat.TransportError
	if !errors.As(err, &tErr) || !errors.Is(err, wechat.ErrOutcomeUnknown) || wechat.Classify(err) != wechat.ClassUnknown {
		t.Fatalf("hung send: err = %v, want a transport error with an unknown outcome", err)
	}
	if e.fake.Credits("o1", wechattest.MeetingTemplateID) != 1 {
		t.Fatal("a hung send consumed a credit")
	}
}

func TestConcurrentSendsToOneUserGet43108(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Grant("o1", wechattest.MeetingTemplateID, 2)
	if _, err := e.client.AccessToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.fake.SetFaults(wechattest.Faults{Latency: 300 * time.Millisecond})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := e.client.Send(context.Background(), e.meeting("o1"))
			errs <- err
		}()
	}
	var classes []wechat.Class
	for range 2 {
		classes = append(classes, wechat.Classify(<-errs))
	}
	if !(classes[0] == wechat.ClassNone && classes[1] == wechat.ClassUserBusy ||
		classes[1] == wechat.ClassNone && classes[0] == wechat.ClassUserBusy) {
		t.Fatalf("classes = %v, want one success and one user_busy", classes)
	}
}

func TestCode2Session(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	code := e.fake.IssueCode("oUser1")
	s, err := e.client.Code2Session(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenID != "oUser1" || s.UnionID == "" || s.SessionKey.IsZero() {
		t.Fatalf("session = %+v", s)
	}
	// The session key never shows, however the session is printed.
	key := s.SessionKey.Reveal()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("login", "session", s, "key", s.SessionKey)
	js, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%s %q %v", s.SessionKey, s.SessionKey, &s), string(js), logBuf.String()} {
		if strings.Contains(out, key) {
			t.Fatalf("session_key leaked: %s", out)
		}
	}

	// Single use.
	if _, err := e.client.Code2Session(ctx, code); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Fatalf("reused code: %v, want ErrInvalidCode", err)
	}
	var apiErr *wechat.APIError
	if _, err := e.client.Code2Session(ctx, "made-up"); !errors.As(err, &apiErr) || apiErr.Code != 40029 {
		t.Fatalf("unknown code: %v, want errcode 40029 reachable", err)
	}
	if _, err := e.client.Code2Session(ctx, ""); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Fatalf("empty code: %v", err)
	}
	// Expires after 5 minutes.
	late := e.fake.IssueCode("oUser1")
	e.clock.Advance(5*time.Minute + time.Second)
	if _, err := e.client.Code2Session(ctx, late); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Fatalf("expired code: %v", err)
	}
	e.fake.BlockUser("oBad")
	if _, err := e.client.Code2Session(ctx, e.fake.IssueCode("oBad")); !errors.Is(err, wechat.ErrUserBlocked) {
		t.Fatalf("blocked user: %v", err)
	}
	e.fake.SetFaults(wechattest.Faults{BusyRate: 1, AllEndpoints: true})
	if _, err := e.client.Code2Session(ctx, e.fake.IssueCode("oUser1")); !errors.Is(err, wechat.ErrUnavailable) {
		t.Fatalf("busy: %v", err)
	}
}

func TestCode2SessionRateLimited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"errcode":45011,"errmsg":"api minute-quota reach limit rid: 1"}`)
	}))
	defer srv.Close()
	c, _ := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: "wx1", Secret: "s3cr3t-value"})
	if _, err := c.Code2Session(context.Background(), "abc"); !errors.Is(err, wechat.ErrRateLimited) {
		t.Fatalf("45011: %v, want ErrRateLimited", err)
	}
}

func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok, err := e.client.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Close() // everything now fails at the transport level
	var errs []error
	_, err = e.client.Send(ctx, e.meeting("o1"))
	errs = append(errs, err)
	_, err = e.client.Code2Session(ctx, "somecode")
	errs = append(errs, err)
	_, err = e.client.Templates(ctx)
	errs = append(errs, err)
	e.clock.Advance(3 * time.Hour)
	_, err = e.client.AccessToken(ctx)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error with WeChat down")
		}
		if wechat.Classify(err) != wechat.ClassTransient {
			t.Errorf("Classify(%v) = %v, want transient", err, wechat.Classify(err))
		}
		for _, secret := range []string{e.fake.Secret(), tok.Value.Reveal(), "access_token=", "secret="} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q contains %q", err, secret)
			}
		}
	}
	logs := e.logs.String()
	if logs == "" {
		t.Fatal("expected debug logs")
	}
	for _, secret := range []string{e.fake.Secret(), tok.Value.Reveal()} {
		if strings.Contains(logs, secret) {
			t.Fatalf("logs contain a secret:\n%s", logs)
		}
	}
}

func TestTokenFetchErrors(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.Secret = "wrong-secret" })
	_, err := e.client.AccessToken(context.Background())
	var apiErr *wechat.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 40125 {
		t.Fatalf("bad secret: %v, want 40125", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatal("error contains the secret")
	}
}

func TestTokenRefreshFailureKeepsCachedTokenUntilExpiry(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, _ := e.client.AccessToken(ctx)
	e.clock.Advance(7200*time.Second - 2*time.Minute)
	e.fake.SetFaults(wechattest.Faults{BusyRate: 1, AllEndpoints: true})
	b, err := e.client.AccessToken(ctx)
	if err != nil || !b.Value.Equal(a.Value) {
		t.Fatalf("refresh failure with a still-valid token: %v", err)
	}
	e.clock.Advance(3 * time.Minute)
	if _, err := e.client.AccessToken(ctx); wechat.Classify(err) != wechat.ClassTransient {
		t.Fatalf("refresh failure with an expired token: %v, want transient error", err)
	}
}

func TestTemplates(t *testing.T) {
	e := newEnv(t, nil)
	ts, err := e.client.Templates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("got %d templates", len(ts))
	}
	byID := map[string]wechat.Template{}
	for _, tm := range ts {
		byID[tm.ID] = tm
	}
	m := byID[wechattest.MeetingTemplateID]
	if m.Kind != wechat.OneTime || m.Title != "会议提醒" || len(m.Keywords) != 3 {
		t.Fatalf("meeting template = %+v", m)
	}
	if k := m.Keywords[1]; k.Key != "time2" || k.Type != "time" || k.Label != "会议时间" {
		t.Fatalf("keyword = %+v", k)
	}
	d := byID[wechattest.DeadlineTemplateID]
	if k, ok := d.Keyword("enum_string3"); !ok || strings.Join(k.Enum, ",") != "高,中,低" {
		t.Fatalf("enum keyword = %+v", k)
	}
	if byID[wechattest.ClinicTemplateID].Kind != wechat.LongTerm {
		t.Fatal("long-term template not recognised")
	}
}

func TestParseContent(t *testing.T) {
	got := wechat.ParseContent("会议名称:{{thing1.DATA}}\n会议时间：{{time2.DATA}}\n编号 {{character_string12.DATA}}\n{{thing1.DATA}}\nno placeholder\n")
	want := []wechat.Keyword{
		{Key: "thing1", Type: "thing", Label: "会议名称"},
		{Key: "time2", Type: "time", Label: "会议时间"},
		{Key: "character_string12", Type: "character_string", Label: "编号"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseContent = %+v\nwant %+v", got, want)
	}
}

func TestClassifyCode(t *testing.T) {
	for code, want := range map[int]wechat.Class{
		0: wechat.ClassNone, -1: wechat.ClassTransient,
		40001: wechat.ClassToken, 40014: wechat.ClassToken, 42001: wechat.ClassToken,
		40003: wechat.ClassPermanent, 40037: wechat.ClassPermanent, 41030: wechat.ClassPermanent,
		43101: wechat.ClassPermanent, 43107: wechat.ClassPermanent, 45168: wechat.ClassPermanent,
		47003: wechat.ClassPermanent, 43108: wechat.ClassUserBusy, 45009: wechat.ClassQuota,
		99999: wechat.ClassPermanent,
	} {
		if got := wechat.ClassifyCode(code); got != want {
			t.Errorf("ClassifyCode(%d) = %v, want %v", code, got, want)
		}
	}
	if wechat.Classify(nil) != wechat.ClassNone {
		t.Error("Classify(nil)")
	}
	wrapped := fmt.Errorf("send reminder r1: %w", &wechat.APIError{Code: 45009})
	if wechat.Classify(wrapped) != wechat.ClassQuota {
		t.Error("Classify does not unwrap")
	}
}

// A template of a type reminderd does not know is left out; the others are
// still learned (one such template failed the whole list).
func TestTemplatesSkipsAnUnknownType(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/gettemplate") {
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","data":[
				{"priTmplId":"T-ONE","title":"会议提醒","content":"会议名称:{{thing1.DATA}}\n","example":"","type":2},
				{"priTmplId":"T-ODD","title":"新类型","content":"内容:{{thing1.DATA}}\n","example":"","type":5},
				{"priTmplId":"T-LONG","title":"就诊提醒","content":"科室:{{thing1.DATA}}\n","example":"","type":3}]}`)
			return
		}
		e.fake.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	var logs strings.Builder
	c, err := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: e.fake.AppID(), Secret: e.fake.Secret(), Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.Templates(context.Background())
	if err != nil {
		t.Fatalf("one template of an unknown type failed the list: %v", err)
	}
	if len(ts) != 2 || ts[0].ID != "T-ONE" || ts[0].Kind != wechat.OneTime || ts[1].ID != "T-LONG" || ts[1].Kind != wechat.LongTerm {
		t.Fatalf("templates %+v", ts)
	}
	if !strings.Contains(logs.String(), "T-ODD") {
		t.Fatalf("the skipped template is not logged: %s", logs.String())
	}
}

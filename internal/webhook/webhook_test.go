package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	secret = "whsec-test-secret"
	appID  = "wxHooks"
)

// receiver is the app's backend: it records every post and answers what
// status says.
type receiver struct {
	mu     sync.Mutex
	posts  []post
	status int
	hang   bool
	srv    *httptest.Server
}

type post struct {
	body      []byte
	signature string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: 200}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.posts = append(rc.posts, post{body: b, signature: r.Header.Get("Reminderd-Signature")})
		st, hang := rc.status, rc.hang
		rc.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) answer(status int, hang bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status, rc.hang = status, hang
}

func (rc *receiver) all() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// verify checks a post's signature as a receiver would, with its own
// HMAC: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func verify(t *testing.T, p post, at time.Time) {
	t.Helper()
	ts, v1, ok := strings.Cut(p.signature, ",v1=")
	ts, tok := strings.CutPrefix(ts, "t=")
	if !ok || !tok {
		t.Fatalf("signature header %q", p.signature)
	}
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n != at.Unix() {
		t.Fatalf("signed at %s, want %d", ts, at.Unix())
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(p.body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(v1), []byte(want)) {
		t.Fatalf("v1=%s, want %s", v1, want)
	}
}

type fixture struct {
	st    store.Store
	clock *wechattest.Clock
	rc    *receiver
	d     *webhook.Dispatcher
	seen  map[string]int
	mu    sync.Mutex
}

func newFixture(t *testing.T, timeout time.Duration) *fixture {
	f := &fixture{st: testkit.Store(t), clock: testkit.Clock(), rc: newReceiver(t), seen: map[string]int{}}
	f.st.EnableWebhooks(store.WebhookApps{Default: appID})
	f.d = webhook.New(webhook.Config{Store: f.st, Targets: webhook.Static{URL: f.rc.srv.URL, Secret: secret}, Owner: "test",
		Now: f.clock.Now, Timeout: timeout,
		Render: func(ctx context.Context, id string) (json.RawMessage, error) {
			return json.RawMessage(`{"id":"` + id + `","status":"sent"}`), nil
		},
		Observe: func(_, typ, result string) { f.mu.Lock(); f.seen[typ+" "+result]++; f.mu.Unlock() }})
	return f
}

func (f *fixture) run(t *testing.T) int {
	t.Helper()
	n, err := f.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) only(t *testing.T) store.Webhook {
	t.Helper()
	page, err := f.st.ListWebhooks(context.Background(), store.WebhookQuery{Limit: 10})
	if err != nil || len(page.Webhooks) != 1 {
		t.Fatalf("outbox %+v, %v; want one row", page, err)
	}
	return page.Webhooks[0]
}

// A consent change is posted once, signed, in the contract's shape, and
// marked delivered.
func TestPostsSignedEvent(t *testing.T) {
	f := newFixture(t, 0)
	if _, err := f.st.RecordAccept(context.Background(), "", "oA", "tpl", false, store.SourceClient, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if n := f.run(t); n != 1 {
		t.Fatalf("posted %d", n)
	}
	posts := f.rc.all()
	if len(posts) != 1 {
		t.Fatalf("%d posts", len(posts))
	}
	verify(t, posts[0], f.clock.Now())
	var ev struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		CreatedAt string `json:"created_at"`
		AppID     string `json:"appid"`
		Data      struct {
			OpenID  string `json:"openid"`
			Cause   string
			Consent struct {
				TemplateID string `json:"template_id"`
				Credits    int64
				Status     string
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(posts[0].body)))
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	w := f.only(t)
	if ev.ID != w.ID || ev.Type != "consent.changed" || ev.AppID != appID || ev.CreatedAt != "2026-12-01T09:00:00Z" ||
		ev.Data.OpenID != "oA" || ev.Data.Cause != "report" || ev.Data.Consent.TemplateID != "tpl" || ev.Data.Consent.Credits != 1 {
		t.Fatalf("posted %s", posts[0].body)
	}
	if !strings.Contains(string(posts[0].body), `"created_at":"2026-12-01T09:00:00Z","appid":"wxHooks","data":`) {
		t.Fatalf("body's fields: %s", posts[0].body)
	}
	if w.State != store.WebhookDelivered || w.Attempts != 1 || w.LastStatus != 200 || !w.DeliveredAt.Equal(f.clock.Now()) {
		t.Fatalf("row %+v", w)
	}
	if n := f.run(t); n != 0 || len(f.rc.all()) != 1 {
		t.Fatalf("posted again: %d", n)
	}
	if f.seen["consent.changed delivered"] != 1 {
		t.Fatalf("observed %v", f.seen)
	}
}

// A refused post is retried after 30 s, then 1, 2, 4 … minutes up to an
// hour, with the same id and the same bytes, until a day has passed; then
// it is dead, and an admin's retry posts it once more.
func TestRetrySchedule(t *testing.T) {
	f := newFixture(t, 0)
	f.rc.answer(503, false)
	if err := f.st.SetConsentStatus(context.Background(), "", "oA", "tpl", store.ConsentReject, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	created := f.clock.Now()
	f.run(t)
	var gaps []time.Duration
	last := f.clock.Now()
	for i := 0; i < 100; i++ {
		w := f.only(t)
		if w.State == store.WebhookDead {
			break
		}
		if w.State != store.WebhookFailing || w.LastStatus != 503 || !strings.Contains(w.LastError, "503") {
			t.Fatalf("after a refusal: %+v", w)
		}
		// Not a moment early.
		f.clock.Set(w.NextAt.Add(-time.Millisecond))
		if n := f.run(t); n != 0 {
			t.Fatalf("posted %d before the retry was due", n)
		}
		f.clock.Set(w.NextAt)
		gaps = append(gaps, w.NextAt.Sub(last))
		last = w.NextAt
		if n := f.run(t); n != 1 {
			t.Fatalf("retry %d not posted", i+1)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, g := range want {
		if gaps[i] != g {
			t.Fatalf("gaps %v; want %v then hours", gaps, want)
		}
	}
	w := f.only(t)
	if w.State != store.WebhookDead || last.Sub(created) < 24*time.Hour || last.Sub(created) > 25*time.Hour {
		t.Fatalf("dead %+v after %v (want after a day, not much more)", w, last.Sub(created))
	}
	posts := f.rc.all()
	if len(posts) != int(w.Attempts) || len(posts) < 30 {
		t.Fatalf("%d posts, %d attempts", len(posts), w.Attempts)
	}
	for _, p := range posts[1:] {
		if string(p.body) != string(posts[0].body) {
			t.Fatalf("a retry posted other bytes:\n%s\n%s", p.body, posts[0].body)
		}
	}
	if f.seen["consent.changed dead"] != 1 || f.seen["consent.changed failed"] != len(posts)-1 {
		t.Fatalf("observed %v", f.seen)
	}
	// Dead stays dead, until an admin retries it.
	f.clock.Advance(time.Hour)
	if n := f.run(t); n != 0 {
		t.Fatal("a dead event was posted again")
	}
	f.rc.answer(204, false)
	if err := f.st.RetryWebhook(context.Background(), w.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	if w := f.only(t); w.State != store.WebhookDelivered {
		t.Fatalf("after the admin's retry: %+v", w)
	}
	verify(t, f.rc.all()[len(f.rc.all())-1], f.clock.Now())
}

// A receiver that does not answer within the timeout is a failure.
func TestTimeoutIsAFailure(t *testing.T) {
	f := newFixture(t, 50*time.Millisecond)
	f.rc.answer(200, true)
	if err := f.st.SetConsentStatus(context.Background(), "", "oA", "tpl", store.ConsentBan, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	w := f.only(t)
	if w.State != store.WebhookFailing || w.LastStatus != 0 || !w.NextAt.Equal(f.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after a timeout: %+v", w)
	}
}

// A reminder event carries the reminder (rendered) and the delivery as
// recorded.
func TestReminderEventBody(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	now := f.clock.Now()
	if _, err := f.st.CreateReminder(ctx, store.NewReminder{ID: "rem_1", OpenID: "oA", TemplateID: "tpl", FireAt: now,
		Timezone: "UTC", Data: `{}`, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cs, err := f.st.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w", Max: 1,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %v %v", cs, err)
	}
	if _, err := f.st.RecordOutcome(ctx, store.Outcome{Claim: cs[0], At: now, Delivery: &store.Delivery{Status: store.DeliverySent,
		HasErrCode: true, MsgID: 1 << 60, HasMsgID: true}, Complete: &store.Completion{Status: store.StatusSent}}); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	var ev struct {
		Type string
		Data struct {
			Reminder map[string]any
			Delivery map[string]any
		}
	}
	if err := json.Unmarshal(f.rc.all()[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "reminder.sent" || ev.Data.Reminder["id"] != "rem_1" || ev.Data.Delivery["msgid"] != "1152921504606846976" ||
		ev.Data.Delivery["status"] != "sent" || ev.Data.Delivery["attempt"] != float64(1) {
		t.Fatalf("posted %s", f.rc.all()[0].body)
	}
}

// Backoff doubles from 30 s to its cap of an hour.
func TestBackoff(t *testing.T) {
	for n, want := range map[int64]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: time.Hour, 9: time.Hour, 40: time.Hour} {
		if got := webhook.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// A body that cannot be rendered (the reminder unreadable) is a failed
// attempt: counted, scheduled again on the backoff, nothing posted; once
// it renders, it is posted.
func TestRenderFailureIsAFailedAttempt(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	now := f.clock.Now()
	if _, err := f.st.CreateReminder(ctx, store.NewReminder{ID: "rem_1", OpenID: "oA", TemplateID: "tpl", FireAt: now,
		Timezone: "UTC", Data: `{}`, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cs, err := f.st.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w", Max: 1,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %v %v", cs, err)
	}
	if _, err := f.st.RecordOutcome(ctx, store.Outcome{Claim: cs[0], At: now, Delivery: &store.Delivery{Status: store.DeliverySent,
		HasErrCode: true, MsgID: 7, HasMsgID: true}, Complete: &store.Completion{Status: store.StatusSent}}); err != nil {
		t.Fatal(err)
	}
	broken := true
	f.d = webhook.New(webhook.Config{Store: f.st, Targets: webhook.Static{URL: f.rc.srv.URL, Secret: secret}, Owner: "test",
		Now: f.clock.Now, Render: func(ctx context.Context, id string) (json.RawMessage, error) {
			if broken {
				return nil, errors.New("database is locked")
			}
			return json.RawMessage(`{"id":"` + id + `"}`), nil
		}})
	f.run(t)
	w := f.only(t)
	if w.State != store.WebhookFailing || w.Attempts != 1 || !strings.Contains(w.LastError, "render") ||
		!w.NextAt.Equal(now.Add(30*time.Second)) || len(f.rc.all()) != 0 {
		t.Fatalf("after a render failure: %+v, %d posts", w, len(f.rc.all()))
	}
	broken = false
	f.clock.Advance(30 * time.Second)
	f.run(t)
	if w := f.only(t); w.State != store.WebhookDelivered || len(f.rc.all()) != 1 {
		t.Fatalf("after the retry: %+v, %d posts", w, len(f.rc.all()))
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/metrics"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

var t0 = testkit.T0

const (
	adminToken = "admin-secret-token-for-tests"
	pushToken  = "push-token"
	meetingID  = wechattest.MeetingTemplateID
	deadlineID = wechattest.DeadlineTemplateID
	clinicID   = wechattest.ClinicTemplateID
)

var aesKey = strings.Repeat("k", 43)

type wake struct {
	mu       sync.Mutex
	times    []time.Time
	paused   bool
	reason   string
	pausedAt time.Time
}

func (w *wake) Wake(t time.Time) {
	w.mu.Lock()
	w.times = append(w.times, t)
	w.mu.Unlock()
}
func (w *wake) Jobs() []api.Job {
	return []api.Job{{Name: "due_scan", Schedule: "@every 1s", LastRunAt: t0, NextRunAt: t0.Add(time.Second)}}
}
func (w *wake) Instances(context.Context) ([]store.Instance, error) {
	return []store.Instance{
		{ID: "vm-1-1-aa", Host: "vm-1", StartedAt: t0, LastSeenAt: t0.Add(time.Minute), Leader: true},
		{ID: "vm-2-1-bb", Host: "vm-2", StartedAt: t0.Add(time.Second), LastSeenAt: t0.Add(time.Minute)},
	}, nil
}
func (w *wake) Breaker() string             { return "closed" }
func (w *wake) QuotaPausedUntil() time.Time { return time.Time{} }

// The admin pause, in memory (the scheduler's tests check that it persists).
func (w *wake) Pause(_ context.Context, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused {
		w.pausedAt = t0
	}
	w.paused, w.reason = true, reason
	return nil
}
func (w *wake) Resume(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = false
	return nil
}
func (w *wake) AdminPaused() (time.Time, string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pausedAt, w.reason, w.paused
}

type harness struct {
	t      testing.TB
	clock  *wechattest.Clock
	fake   *wechattest.Server
	db     store.Store
	client *wechat.Client
	cat    *catalog.Catalog
	srv    *httptest.Server
	logs   *testkit.SyncBuffer
	engine *wake
	cfg    api.Config
}

func newHarness(t testing.TB) *harness { t.Helper(); return newHarnessWith(t, db.Options{}, nil) }

// newHarnessWith is newHarness with the database opened with opt (its clock
// the harness's, unless set) and the server's configuration changed by tweak.
func newHarnessWith(t testing.TB, opt db.Options, tweak func(*api.Config)) *harness {
	t.Helper()
	clock := testkit.Clock()
	if opt.Now == nil {
		opt.Now = clock.Now
	}
	fake := testkit.WeChat(t, wechattest.Options{Now: clock.Now, Seed: 3})
	fake.AddTemplate(wechattest.MeetingStartTemplate()) // an event's alternative
	d := testkit.StoreWith(t, opt)
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(d, client, clock.Now, log)
	if err := cat.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: pushToken, AESKey: aesKey, AppID: fake.AppID(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	eng := &wake{}
	zone, _ := time.LoadLocation("Asia/Shanghai")
	m := metrics.New(func(context.Context) (metrics.State, error) {
		return metrics.State{Apps: []metrics.AppState{{AppID: fake.AppID(), Served: true, RemindersByStatus: map[string]int64{"scheduled": 0},
			Breaker: "closed"}}, Breaker: "closed"}, nil
	}, log)
	cfg := api.Config{DB: d, Catalog: cat, Login: client, Engine: eng, Token: client, Push: rcv,
		Metrics: m.Handler(), AdminToken: adminToken, DefaultZone: zone, Now: clock.Now, Logger: log}
	if tweak != nil {
		tweak(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	if err := fake.SetPush(srv.URL+"/wechat/push", pushToken, aesKey, true); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, clock: clock, fake: fake, db: d, client: client, cat: cat, srv: srv, logs: logs, engine: eng, cfg: cfg}
}

// restart serves the same database from a new server with a new push
// receiver, as a restarted process does: nothing kept in memory survives
// (the receiver's duplicate cache among it).
func (h *harness) restart(push *wechat.Receiver) {
	h.t.Helper()
	h.srv.Close()
	cfg := h.cfg
	cfg.Push = push
	h.srv = httptest.NewServer(api.New(cfg))
	h.t.Cleanup(h.srv.Close)
}

// resp is a decoded answer.
type resp struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r resp) field(path string) string {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	v, _ := f[path].(string)
	return v
}

func (r resp) str(key string) string { v, _ := r.body[key].(string); return v }

// do sends a request; body may be a string (sent verbatim) or a value (JSON).
func (h *harness) do(method, path, token string, body any, headers ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, raw: string(raw), header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
		if out.status >= 400 && out.errCode() == "" {
			h.t.Fatalf("%s %s: error answer not in the contract's shape: %s", method, path, raw)
		}
	}
	return out
}

func (h *harness) want(r resp, status int, code string) {
	h.t.Helper()
	if r.status != status || (code != "" && r.errCode() != code) {
		h.t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

// login returns a session token for openid.
func (h *harness) login(openID string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode(openID)})
	h.want(r, 200, "")
	return r.str("token")
}

func meetingData() map[string]string {
	return map[string]string{"thing1": "项目评审会", "time2": "2026-12-01 14:00", "thing3": "A栋201会议室"}
}

// meeting is a valid create body firing in d.
func meeting(d time.Duration) map[string]any {
	return map[string]any{"template_id": meetingID, "fire_at": t0.Add(d).Format(time.RFC3339),
		"data": meetingData(), "page": "pages/meeting/detail?id=42"}
}

func (h *harness) create(token string, body any) map[string]any {
	h.t.Helper()
	r := h.do("POST", "/v1/reminders", token, body)
	h.want(r, 201, "")
	return r.body
}

// receiver seals pushes as WeChat would send them to this server.
func (h *harness) receiver() *wechat.Receiver {
	h.t.Helper()
	rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: pushToken, AESKey: aesKey, AppID: h.fake.AppID(), Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return rcv
}

// sentDeliveryPush records a sent delivery for reminder id, as the scheduler
// does, and seals WeChat's subscribe_msg_sent_event for it as a safe-mode
// JSON push: the query and body to POST to /wechat/push, and the event (to
// seal again).
func (h *harness) sentDeliveryPush(id string) (q url.Values, body []byte, ev *wechat.Event) {
	h.t.Helper()
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, msgid, started_at, finished_at, latency_ms)
		VALUES (?, 1, 1, 'sent', 0, 1700000000000000099, ?, ?, 12)`, id, t0.UnixMilli(), t0.UnixMilli())
	rcv := h.receiver()
	ev = &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgSent,
		Sent: []wechat.SentItem{{TemplateID: meetingID, MsgID: 1700000000000000099, ErrorCode: 0, ErrorStatus: "success"}}}
	msg, err := wechat.MarshalEvent(ev, true)
	if err != nil {
		h.t.Fatal(err)
	}
	q, body, err = rcv.Seal(msg, "gh_x", true)
	if err != nil {
		h.t.Fatal(err)
	}
	return q, body, ev
}

// sqlite is the harness's SQLite store, for a test that reads or writes it
// underneath the store's operations; on the PostgreSQL run it skips the
// test, saying why.
func (h *harness) sqlite(why string) *db.DB {
	h.t.Helper()
	testkit.SQLiteOnly(h.t, why)
	return h.db.(*db.DB)
}

package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	state := State{Apps: []AppState{
		{AppID: "wxa", Served: true, RemindersByStatus: map[string]int64{"scheduled": 7, "sent": 3}, DueBacklog: 2,
			OldestDueAge: 1500 * time.Millisecond, Breaker: "half_open", QuotaPaused: true},
		{AppID: "wxb", Served: true, RemindersByStatus: map[string]int64{"scheduled": 1}, Breaker: "closed"},
	}, Breaker: "closed", WALFrames: 812, CheckpointFailures: 3, SoleSender: "yielding"}
	m := New(func(context.Context) (State, error) { return state, nil }, slog.New(slog.DiscardHandler))
	m.ObserveSend("wxa", "sent", "", 0, true, 40*time.Millisecond, 300*time.Millisecond)
	m.ObserveSend("wxa", "sent", "", 0, true, 60*time.Millisecond, 2*time.Second)
	m.ObserveSend("wxa", "retry", "", -1, true, 20*time.Millisecond, 0)
	m.ObserveSend("wxa", "skipped", "expired", -2, false, 0, 0)
	m.ObserveSend("wxb", "sent", "", 0, true, 10*time.Millisecond, 100*time.Millisecond)
	m.TokenEvent("wxa", "fetched")
	m.TokenEvent("wxb", "fetch_failed")
	m.Rescued(4)
	m.ObserveTruth("wxa", true, false, false, false)
	m.ObserveTruth("wxa", false, true, true, false)
	m.ObserveTruth("wxb", false, true, false, true)
	out := scrape(t, m)
	for _, want := range []string{
		`reminderd_reminders{appid="wxa",status="scheduled"} 7`,
		`reminderd_reminders{appid="wxb",status="scheduled"} 1`,
		`reminderd_due_backlog{appid="wxa"} 2`,
		`reminderd_due_backlog{appid="wxb"} 0`,
		`reminderd_oldest_due_age_seconds{appid="wxa"} 1.5`,
		`reminderd_breaker_state{appid="wxa",state="half_open"} 1`,
		`reminderd_breaker_state{appid="wxa",state="open"} 0`,
		`reminderd_breaker_state{appid="wxb",state="closed"} 1`,
		`reminderd_breakers_state{state="closed"} 1`,
		`reminderd_breakers_state{state="half_open"} 0`,
		`reminderd_quota_paused{appid="wxa"} 1`,
		`reminderd_quota_paused{appid="wxb"} 0`,
		`reminderd_sole_sender{state="yielding"} 1`,
		`reminderd_sole_sender{state="held"} 0`,
		`reminderd_sends_total{appid="wxa",errcode="0",reason="",status="sent"} 2`,
		`reminderd_sends_total{appid="wxa",errcode="-1",reason="",status="retry"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="none",reason="expired",status="skipped"} 1`,
		`reminderd_sends_total{appid="wxb",errcode="0",reason="",status="sent"} 1`,
		`reminderd_send_lateness_seconds_count{appid="wxa"} 2`,
		`reminderd_send_lateness_seconds_bucket{appid="wxa",le="0.5"} 1`,
		`reminderd_send_lateness_seconds_count{appid="wxb"} 1`,
		`reminderd_send_latency_seconds_count{appid="wxa"} 3`,
		`reminderd_send_latency_seconds_count{appid="wxb"} 1`,
		`reminderd_skipped_expired_total{appid="wxa"} 1`,
		`reminderd_token_events_total{appid="wxa",kind="fetched"} 1`,
		`reminderd_token_events_total{appid="wxb",kind="fetch_failed"} 1`,
		`reminderd_leases_rescued_total 4`,
		`reminderd_sends_late_total{appid="wxa"} 1`,
		`reminderd_possible_duplicates_total{appid="wxa"} 1`,
		`reminderd_possible_duplicates_total{appid="wxb"} 1`,
		`reminderd_unknown_settled_total{appid="wxa"} 1`,
		`reminderd_wechat_invalid_answers_total{appid="wxb"} 1`,
		`reminderd_state_scrape_ok 1`,
		`reminderd_wal_frames 812`,
		`reminderd_checkpoint_failures_total 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" ") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, unwanted := range []string{
		`reminderd_wechat_invalid_answers_total{appid="wxa"}`, // nothing counted: no series
		`reminderd_skipped_expired_total{appid="wxb"}`,
	} {
		if strings.Contains(out, unwanted) {
			t.Errorf("scrape has %q", unwanted)
		}
	}
}

// An app removed from the configuration keeps its reminder counts, and has
// no backlog, breaker or quota series: nothing of it runs.
func TestMetricsRemovedApp(t *testing.T) {
	state := State{Apps: []AppState{{AppID: "wxgone", RemindersByStatus: map[string]int64{"scheduled": 4}}}, Breaker: "closed"}
	m := New(func(context.Context) (State, error) { return state, nil }, slog.New(slog.DiscardHandler))
	out := scrape(t, m)
	if !strings.Contains(out, `reminderd_reminders{appid="wxgone",status="scheduled"} 4`+"\n") {
		t.Errorf("scrape lacks the removed app's reminders:\n%s", out)
	}
	for _, name := range []string{"reminderd_due_backlog{", "reminderd_breaker_state{", "reminderd_quota_paused{", "reminderd_oldest_due_age_seconds{"} {
		if strings.Contains(out, name) {
			t.Errorf("a removed app has %s…}", name)
		}
	}
}

// Every metric family carries appid where it is about one app, and only the
// process's own have none: the exposition names each family's labels.
func TestMetricsLabels(t *testing.T) {
	state := State{Apps: []AppState{{AppID: "wxa", Served: true, RemindersByStatus: map[string]int64{"scheduled": 1}, Breaker: "closed"}}, Breaker: "closed",
		SoleSender: "held"}
	m := New(func(context.Context) (State, error) { return state, nil }, slog.New(slog.DiscardHandler))
	w := m.Webhooks(func(context.Context) (int64, error) { return 0, nil }, slog.New(slog.DiscardHandler))
	m.ObserveSend("wxa", "sent", "", 0, true, time.Millisecond, time.Millisecond)
	m.ObserveSend("wxa", "skipped", "expired", -2, false, 0, 0)
	m.ObserveTruth("wxa", true, true, true, true)
	m.TokenEvent("wxa", "fetched")
	m.Rescued(1)
	m.ObserveHTTP("GET", "/healthz", 200, time.Millisecond)
	w.Observe("wxa", "reminder.sent", "delivered")
	// The process's own: the HTTP server, lease rescue (a dead process's
	// leases, whatever app), the database, the outbox and the sole-sender
	// lease as a whole.
	process := map[string]bool{"reminderd_http_requests_total": true, "reminderd_http_request_duration_seconds": true,
		"reminderd_leases_rescued_total": true, "reminderd_state_scrape_ok": true, "reminderd_wal_frames": true,
		"reminderd_checkpoint_failures_total": true, "reminderd_webhook_outbox_depth": true, "reminderd_breakers_state": true,
		"reminderd_sole_sender": true}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "reminderd_") {
			continue
		}
		seen++
		for _, mt := range f.GetMetric() {
			has := false
			for _, l := range mt.GetLabel() {
				has = has || l.GetName() == "appid"
			}
			if has == process[name] {
				t.Errorf("%s: appid label %v, want %v", name, has, !process[name])
			}
		}
	}
	if seen < 20 {
		t.Errorf("gathered %d reminderd families", seen)
	}
}

func TestMetricsStateFailure(t *testing.T) {
	m := New(func(context.Context) (State, error) { return State{}, errors.New("database is locked") }, slog.New(slog.DiscardHandler))
	out := scrape(t, m)
	if !strings.Contains(out, "reminderd_state_scrape_ok 0") || strings.Contains(out, "reminderd_due_backlog") {
		t.Fatalf("a failed state read must say so and publish no stale gauges:\n%s", out)
	}
}

// A send that never reached WeChat has no errcode ("none", not "-2"); one
// that reached it without an answer is "unanswered"; failed and skipped
// outcomes carry their reason, other statuses none.
func TestSendsErrcodeAndReason(t *testing.T) {
	m := New(func(context.Context) (State, error) { return State{}, nil }, slog.New(slog.DiscardHandler))
	m.ObserveSend("wxa", "skipped", "no_consent", -2, false, 0, 0)
	m.ObserveSend("wxa", "deferred", "", -2, false, 0, 0)
	m.ObserveSend("wxa", "unknown", "", -2, true, 10*time.Second, 0)
	m.ObserveSend("wxa", "failed", "user_refused", 43101, true, 30*time.Millisecond, 0)
	m.ObserveSend("wxa", "retry", "retries_exhausted", -1, true, 30*time.Millisecond, 0)
	out := scrape(t, m)
	for _, want := range []string{
		`reminderd_sends_total{appid="wxa",errcode="none",reason="no_consent",status="skipped"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="none",reason="",status="deferred"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="unanswered",reason="",status="unknown"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="43101",reason="user_refused",status="failed"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="-1",reason="",status="retry"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(out, `errcode="-2"`) {
		t.Errorf("a send WeChat did not answer is counted with errcode -2:\n%s", out)
	}
}

// HTTP requests are counted by route pattern, never by path, and by status;
// an unknown method is "other".
func TestHTTPMetrics(t *testing.T) {
	m := New(func(context.Context) (State, error) { return State{}, nil }, slog.New(slog.DiscardHandler))
	m.ObserveHTTP("GET", "/v1/reminders/{id}", 200, 20*time.Millisecond)
	m.ObserveHTTP("GET", "/v1/reminders/{id}", 404, 2*time.Millisecond)
	m.ObserveHTTP("GET", "/v1/reminders/{id}", 200, 3*time.Millisecond)
	m.ObserveHTTP("BREW", "unmatched", 405, time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`reminderd_http_requests_total{method="GET",route="/v1/reminders/{id}",status="200"} 2`,
		`reminderd_http_requests_total{method="GET",route="/v1/reminders/{id}",status="404"} 1`,
		`reminderd_http_requests_total{method="other",route="unmatched",status="405"} 1`,
		`reminderd_http_request_duration_seconds_count{method="GET",route="/v1/reminders/{id}"} 3`,
		`reminderd_http_request_duration_seconds_bucket{method="GET",route="/v1/reminders/{id}",le="0.005"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

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
	state := State{RemindersByStatus: map[string]int64{"scheduled": 7, "sent": 3}, DueBacklog: 2,
		OldestDueAge: 1500 * time.Millisecond, Breaker: "half_open", QuotaPaused: true, WALFrames: 812, CheckpointFailures: 3}
	m := New(func(context.Context) (State, error) { return state, nil }, slog.New(slog.DiscardHandler))
	m.ObserveSend("wxa", "sent", "", 0, true, 40*time.Millisecond, 300*time.Millisecond)
	m.ObserveSend("wxa", "sent", "", 0, true, 60*time.Millisecond, 2*time.Second)
	m.ObserveSend("wxa", "retry", "", -1, true, 20*time.Millisecond, 0)
	m.ObserveSend("wxa", "skipped", "expired", -2, false, 0, 0)
	m.TokenEvent("fetched")
	m.Rescued(4)
	m.ObserveTruth(true, false, false, false)
	m.ObserveTruth(false, true, true, false)
	m.ObserveTruth(false, true, false, true)
	out := scrape(t, m)
	for _, want := range []string{
		`reminderd_reminders{status="scheduled"} 7`,
		`reminderd_due_backlog 2`,
		`reminderd_oldest_due_age_seconds 1.5`,
		`reminderd_breaker_state{state="half_open"} 1`,
		`reminderd_breaker_state{state="open"} 0`,
		`reminderd_quota_paused 1`,
		`reminderd_sends_total{appid="wxa",errcode="0",reason="",status="sent"} 2`,
		`reminderd_sends_total{appid="wxa",errcode="-1",reason="",status="retry"} 1`,
		`reminderd_sends_total{appid="wxa",errcode="none",reason="expired",status="skipped"} 1`,
		`reminderd_send_lateness_seconds_count 2`,
		`reminderd_send_lateness_seconds_bucket{le="0.5"} 1`,
		`reminderd_send_latency_seconds_count 3`,
		`reminderd_skipped_expired_total 1`,
		`reminderd_token_events_total{kind="fetched"} 1`,
		`reminderd_leases_rescued_total 4`,
		`reminderd_sends_late_total 1`,
		`reminderd_possible_duplicates_total 2`,
		`reminderd_unknown_settled_total 1`,
		`reminderd_wechat_invalid_answers_total 1`,
		`reminderd_state_scrape_ok 1`,
		`reminderd_wal_frames 812`,
		`reminderd_checkpoint_failures_total 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" ") {
			t.Errorf("scrape lacks %q", want)
		}
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

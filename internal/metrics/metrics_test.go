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
	m.ObserveSend("sent", "", 0, 40*time.Millisecond, 300*time.Millisecond)
	m.ObserveSend("sent", "", 0, 60*time.Millisecond, 2*time.Second)
	m.ObserveSend("retry", "", -1, 20*time.Millisecond, 0)
	m.ObserveSend("skipped", "expired", -2, 0, 0)
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
		`reminderd_sends_total{errcode="0",status="sent"} 2`,
		`reminderd_sends_total{errcode="-1",status="retry"} 1`,
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

package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestJobsRecordRunsAndErrors(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	j := NewJobs(func() time.Time { return now }, slog.New(slog.DiscardHandler))
	calls := 0
	if err := j.Add("ok", "@every 1h", func(context.Context) error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := j.Add("bad", "@every 1h", func(context.Context) error { return errors.New("wechat down") }); err != nil {
		t.Fatal(err)
	}
	if err := j.Add("broken", "every hour", nil); err == nil {
		t.Fatal("invalid schedule accepted")
	}
	_ = j.RunNow("ok")
	_ = j.RunNow("bad")
	if err := j.RunNow("missing"); err == nil {
		t.Fatal("RunNow of an unknown job")
	}
	st := j.Status()
	if len(st) != 2 || st[0].Name != "ok" || !st[0].LastRunAt.Equal(now) || st[0].LastError != "" || calls != 1 {
		t.Fatalf("status %+v", st)
	}
	if st[1].LastError != "wechat down" || !st[0].NextRunAt.IsZero() {
		t.Fatalf("status %+v", st[1])
	}

	j.scheduleStarted.init()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	j.scheduleStarted.WaitFor(t, 5*time.Second, "next run set", func() bool { return !j.Status()[0].NextRunAt.IsZero() })
	if next := j.Status()[0].NextRunAt; next.Sub(time.Now()) > time.Hour+time.Second {
		t.Fatalf("next run %v is more than an hour away", next)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package scheduler

import (
	"context"
	"sync/atomic"
	"time"
)

// Each app has its own daily quota at WeChat, so a 45009 pauses its own
// app's sends only: the "quota:<appid>" pause row (the fleet's, read as the
// "quota" row is, fleet.go). The "quota" row is the pause of every app: a
// reminder without an app, and what a build before apps recorded.

// quotaKey is the app a quota pause of appID's reminder belongs to: the
// only served app for a reminder without one, else "" (every app).
func (e *Engine) quotaKey(appID string) string {
	if appID == "" && e.cfg.Apps != nil {
		if ids := e.cfg.Apps(); len(ids) == 1 {
			return ids[0]
		}
	}
	return appID
}

// quotaPauseName is the pause row of app key ("" every app).
func quotaPauseName(key string) string {
	if key == "" {
		return pauseQuota
	}
	return pauseQuota + ":" + key
}

// appQuota is app key's pause instant (unix ms), "" the global one.
func (e *Engine) appQuota(key string) *atomic.Int64 {
	if key == "" {
		return &e.quotaUntil
	}
	if v, ok := e.quotas.Load(key); ok {
		return v.(*atomic.Int64)
	}
	v, _ := e.quotas.LoadOrStore(key, &atomic.Int64{})
	return v.(*atomic.Int64)
}

// extendQuota moves a pause to until, never earlier.
func extendQuota(p *atomic.Int64, until int64) {
	for {
		cur := p.Load()
		if until <= cur || p.CompareAndSwap(cur, until) {
			return
		}
	}
}

// quotaUntilFor is when appID's reminders may be sent again: the later of
// its app's pause and every app's (unix ms).
func (e *Engine) quotaUntilFor(appID string) int64 {
	key := e.quotaKey(appID)
	until := e.quotaUntil.Load()
	if key != "" {
		until = max(until, e.appQuota(key).Load())
	}
	return until
}

// allQuotaPaused reports whether every served app is paused by its quota
// at now (no served apps listed: never).
func (e *Engine) allQuotaPaused(now time.Time) bool {
	if e.cfg.Apps == nil {
		return false
	}
	ids := e.cfg.Apps()
	for _, id := range ids {
		if now.UnixMilli() >= e.appQuota(id).Load() {
			return false
		}
	}
	return len(ids) > 0
}

// readAppQuotas takes up the served apps' quota pauses another process
// recorded (called with readQuotaPause's own rhythm).
func (e *Engine) readAppQuotas(ctx context.Context) {
	if e.cfg.Apps == nil {
		return
	}
	for _, id := range e.cfg.Apps() {
		if p, err := e.store.Pause(ctx, quotaPauseName(id)); err == nil {
			extendQuota(e.appQuota(id), p.Until.UnixMilli())
		}
	}
}

// QuotaPausedUntilOf is when app appID's sending resumes after a 45009
// (its own or every app's), or zero.
func (e *Engine) QuotaPausedUntilOf(appID string) time.Time {
	ms := e.quotaUntilFor(appID)
	if ms == 0 || e.now().UnixMilli() >= ms {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

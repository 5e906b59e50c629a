package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Each app has its own circuit breaker: its WeChat (its own account,
// token and quota) failing opens its breaker only, and defers its own
// reminders while the other apps keep sending. Sending pauses whole (no
// claims) only when every served app's breaker is open.

// breaker is app appID's breaker, made at its first send. A reminder
// written without an app is the only app's, when one is served.
func (e *Engine) breaker(appID string) *gobreaker.CircuitBreaker[wechat.SendResult] {
	if appID == "" && e.cfg.Apps != nil {
		if ids := e.cfg.Apps(); len(ids) == 1 {
			appID = ids[0]
		}
	}
	if cb, ok := e.cbs.Load(appID); ok {
		return cb.(*gobreaker.CircuitBreaker[wechat.SendResult])
	}
	cb, _ := e.cbs.LoadOrStore(appID, e.newBreaker(appID))
	return cb.(*gobreaker.CircuitBreaker[wechat.SendResult])
}

func (e *Engine) newBreaker(appID string) *gobreaker.CircuitBreaker[wechat.SendResult] {
	cfg := e.cfg
	return gobreaker.NewCircuitBreaker[wechat.SendResult](gobreaker.Settings{
		Name:        "wechat_send " + appID,
		MaxRequests: 1,
		Timeout:     cfg.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.BreakerFailures },
		// Only WeChat's health counts: -1, 5xx, timeouts, transport errors,
		// answers lost or invalid.
		IsSuccessful: func(err error) bool {
			c := wechat.Classify(err)
			return c != wechat.ClassTransient && c != wechat.ClassUnknown
		},
		// Per-user and payload errors say nothing about WeChat's health.
		IsExcluded: func(err error) bool {
			switch wechat.Classify(err) {
			case wechat.ClassPermanent, wechat.ClassUserBusy, wechat.ClassQuota:
				return true
			}
			return errors.Is(err, context.Canceled)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			e.log.Warn("circuit breaker state change", "appid", appID, "from", from.String(), "to", to.String())
			if to == gobreaker.StateOpen {
				e.breakerOpens.Add(1)
			}
			if to == gobreaker.StateHalfOpen || to == gobreaker.StateClosed {
				e.Wake(time.Time{})
			}
		},
	})
}

// breakerOpen defers a reminder whose app's breaker is open until the
// breaker lets a probe through; not an attempt.
func (e *Engine) breakerOpen(r store.Reminder, now time.Time) (result, bool) {
	if e.breaker(r.AppID).State() != gobreaker.StateOpen {
		return result{}, false
	}
	return result{verdict: vDefer, errmsg: "app " + r.AppID + ": WeChat is failing (circuit breaker open): not sent",
		deferUntil: now.Add(e.cfg.BreakerTimeout)}, true
}

// breakersState is the apps' breakers together: open when every served
// app's is open (nil Apps: every app that has sent), half-open when none
// is closed, else closed.
func (e *Engine) breakersState() gobreaker.State {
	var ids []string
	if e.cfg.Apps != nil {
		ids = e.cfg.Apps()
	} else {
		e.cbs.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	}
	if len(ids) == 0 {
		return gobreaker.StateClosed
	}
	open, half := 0, 0
	for _, id := range ids {
		switch e.breaker(id).State() {
		case gobreaker.StateOpen:
			open++
		case gobreaker.StateHalfOpen:
			half++
		}
	}
	switch {
	case open == len(ids):
		return gobreaker.StateOpen
	case open+half == len(ids):
		return gobreaker.StateHalfOpen
	}
	return gobreaker.StateClosed
}

// BreakerOf returns app appID's breaker state: "closed", "open" or
// "half_open".
func (e *Engine) BreakerOf(appID string) string { return stateName(e.breaker(appID).State()) }

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return "open"
	case gobreaker.StateHalfOpen:
		return "half_open"
	}
	return "closed"
}

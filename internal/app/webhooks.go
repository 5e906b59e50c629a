package app

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/reminderd/reminderd/internal/metrics"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/webhook"
)

// webhookSwitch turns webhooks on the first time an app has one: at start,
// or on the SIGHUP that gives the first app a webhook_url. Until then
// nothing is written to the outbox and the dispatcher does not scan it, so
// a deployment without webhooks pays nothing for them. Once on, it stays on
// for the life of the process: which app's events are kept is read at each
// event from the apps configured then (WebhookApps.On), so an app whose
// webhook is added or changed by SIGHUP gets its events from then on and an
// app whose webhook is removed gets no new row, while the rows already in
// the outbox still need the dispatcher (docs/webhooks.md).
type webhookSwitch struct {
	store      store.WebhookStore
	defaultApp string
	targets    webhook.Targets

	once    sync.Once
	on      chan struct{} // closed when switched on
	metrics atomic.Pointer[metrics.Webhooks]
}

func (w *webhookSwitch) init(s store.WebhookStore, defaultApp string, targets webhook.Targets) {
	w.store, w.defaultApp, w.targets, w.on = s, defaultApp, targets, make(chan struct{})
}

// observe counts one post in the metrics (registered when switched on).
func (w *webhookSwitch) observe(appID, typ, result string) {
	if m := w.metrics.Load(); m != nil {
		m.Observe(appID, typ, result)
	}
}

// switchWebhooks turns webhooks on if an app of parts has a target and
// they are not on yet.
func (a *App) switchWebhooks(parts []*appParts) {
	hooked := hookedApps(parts, a.hooks.targets)
	if len(hooked) == 0 {
		return
	}
	w := &a.hooks
	w.once.Do(func() {
		w.store.EnableWebhooks(store.WebhookApps{Default: w.defaultApp, On: func(app string) bool {
			_, ok := w.targets.Target(app)
			return ok
		}})
		w.metrics.Store(a.Metrics.Webhooks(w.store.WebhookDepth, a.log))
		close(w.on)
		a.log.Info("webhooks on", "apps", hooked)
	})
}

// WebhooksOn reports whether webhooks are on: some app had a webhook at
// start or has had one since.
func (a *App) WebhooksOn() bool {
	select {
	case <-a.hooks.on:
		return true
	default:
		return false
	}
}

// RunWebhooks posts the webhook outbox until ctx ends. It waits without
// a query until webhooks are on (at start, or on the SIGHUP that adds the
// first webhook): a wait on a channel costs nothing, where a dispatcher
// started at once would scan an outbox nobody writes every second on
// every process. Once on, the dispatcher runs until ctx ends, also when
// every webhook has been removed since: the outbox may still hold rows to
// retry.
func (a *App) RunWebhooks(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-a.hooks.on:
	}
	a.Webhooks.Run(ctx)
}

package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Webhooks are the webhook dispatcher's metrics, registered only when a
// webhook is configured.
type Webhooks struct {
	deliveries *prometheus.CounterVec
}

// Webhooks registers reminderd_webhook_deliveries_total{appid,type,result} and
// the outbox depth gauge, read at each scrape through depth.
func (m *Metrics) Webhooks(depth func(ctx context.Context) (int64, error), log *slog.Logger) *Webhooks {
	w := &Webhooks{deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_webhook_deliveries_total",
		Help: "Webhook posts by the event's app, event type and result: delivered (a 2xx answer), failed (retried later), dead (given up a day after the event; an admin may retry it).",
	}, []string{"appid", "type", "result"})}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "reminderd_webhook_outbox_depth",
		Help: "Webhook events not yet delivered nor dead: pending and failing rows of the outbox.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := depth(ctx)
		if err != nil {
			log.Warn("metrics: webhook outbox depth", "error", err)
			return -1
		}
		return float64(n)
	})
	m.reg.MustRegister(w.deliveries, gauge)
	return w
}

// Observe counts one post of an event of app appID.
func (w *Webhooks) Observe(appID, typ, result string) {
	w.deliveries.WithLabelValues(appID, typ, result).Inc()
}

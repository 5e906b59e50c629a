package api

import (
	"context"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The engine page's chart: sends, failures, retries and skips per hour over
// the last 24 hours, from the delivery records (DeliveriesPerHour), and the
// due backlog now, drawn by the server as inline SVG (no script).

// trendSlack is the longest an outcome follows its claim by (the longest
// lease a deployment would set): DeliveriesPerHour's slack.
const trendSlack = time.Hour

// trendKinds maps delivery statuses to the chart's series, each named by
// the delivery status it is mostly made of (deferred is not an attempt,
// and not drawn).
var trendKinds = map[store.DeliveryStatus]store.DeliveryStatus{
	store.DeliverySent: store.DeliverySent, store.DeliveryDuplicate: store.DeliverySent,
	store.DeliveryFailed: store.DeliveryFailed, store.DeliveryAbandoned: store.DeliveryFailed, store.DeliveryUnknown: store.DeliveryFailed,
	store.DeliveryRetry:   store.DeliveryRetry,
	store.DeliverySkipped: store.DeliverySkipped,
}

var trendOrder = store.Strings([]store.DeliveryStatus{store.DeliverySent, store.DeliveryFailed, store.DeliveryRetry, store.DeliverySkipped})

type trendBar struct {
	X, Y, W, H float64
	Kind       string
	Title      string
}

type trendLabel struct {
	X    float64
	Text string
}

type trendChart struct {
	Width, Height, Base float64
	Bars                []trendBar
	Labels              []trendLabel
	Totals              map[string]int64
	Backlog             int64
	Max                 int64
}

func (s *Server) trend(ctx context.Context, now time.Time, backlog int64) (trendChart, error) {
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	rows, err := s.store.DeliveriesPerHour(ctx, since, trendSlack)
	if err != nil {
		return trendChart{}, fmt.Errorf("trend: %w", err)
	}
	var per [24]map[string]int64
	for i := range per {
		per[i] = map[string]int64{}
	}
	c := trendChart{Width: 760, Height: 220, Base: 190, Totals: map[string]int64{}, Backlog: backlog, Max: 1}
	for _, r := range rows {
		series, ok := trendKinds[r.Status]
		if !ok || r.Hour < 0 || r.Hour >= 24 {
			continue
		}
		k := string(series)
		per[r.Hour][k] += r.N
		c.Totals[k] += r.N
	}
	for _, m := range per {
		var sum int64
		for _, n := range m {
			sum += n
		}
		c.Max = max(c.Max, sum)
	}
	c.Max = max(c.Max, backlog)
	const left, slot, barW, top = 34.0, 28.0, 20.0, 10.0
	scale := (c.Base - top) / float64(c.Max)
	for i, m := range per {
		x := left + float64(i)*slot
		y := c.Base
		hour := since.Add(time.Duration(i) * time.Hour).In(s.zone)
		for _, k := range trendOrder {
			n := m[k]
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			c.Bars = append(c.Bars, trendBar{X: x, Y: y, W: barW, H: h, Kind: k, Title: fmt.Sprintf("%s %s: %d", hour.Format("01-02 15:00"), k, n)})
		}
		if i%3 == 0 {
			c.Labels = append(c.Labels, trendLabel{X: x + barW/2, Text: hour.Format("15:00")})
		}
	}
	if backlog > 0 {
		h := float64(backlog) * scale
		x := left + 24*slot + 8
		c.Bars = append(c.Bars, trendBar{X: x, Y: c.Base - h, W: barW, H: h, Kind: "backlog", Title: fmt.Sprintf("backlog: %d", backlog)})
	}
	return c, nil
}

package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The delivery records' reads of store.ReminderStore.

// deliveryFromRow maps a deliveries row to the domain's Delivery.
func deliveryFromRow(r pgsqlc.Delivery) store.Delivery {
	d := store.Delivery{ID: r.ID, ReminderID: r.ReminderID, OccurrenceAt: instant(r.OccurrenceAt), Attempt: r.Attempt,
		Status: store.DeliveryStatus(r.Status), ErrMsg: r.Errmsg, StartedAt: instant(r.StartedAt),
		FinishedAt: nullInstant(r.FinishedAt), EventStatus: r.EventStatus, PossibleDuplicate: r.PossibleDuplicate}
	if r.Errcode != nil {
		d.ErrCode, d.HasErrCode = *r.Errcode, true
	}
	if r.Msgid != nil {
		d.MsgID, d.HasMsgID = *r.Msgid, true
	}
	if r.LatencyMs != nil {
		d.Latency, d.HasLatency = time.Duration(*r.LatencyMs)*time.Millisecond, true
	}
	if r.Delivered != nil {
		d.Delivered, d.HasDelivered = *r.Delivered, true
	}
	return d
}

// ListDeliveries returns a reminder's deliveries, oldest first.
func (d *DB) ListDeliveries(ctx context.Context, reminderID string) ([]store.Delivery, error) {
	rows, err := d.q.ListDeliveries(ctx, reminderID)
	if err != nil {
		return nil, storeErr(err, "list deliveries of "+reminderID)
	}
	out := make([]store.Delivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryFromRow(r)
	}
	return out, nil
}

// DeliveriesPerHour counts the deliveries that ended (or started) since,
// per hour and status, reading from firstDeliverySince on: the deliveries
// have no index on their instants.
func (d *DB) DeliveriesPerHour(ctx context.Context, since time.Time, slack time.Duration) ([]store.TrendBucket, error) {
	from, err := firstDeliverySince(ctx, d.q, since, slack)
	if err != nil {
		return nil, storeErr(err, "deliveries per hour")
	}
	rows, err := d.q.DeliveriesPerHour(ctx, pgsqlc.DeliveriesPerHourParams{Since: since.UnixMilli(), FromID: from})
	if err != nil {
		return nil, storeErr(err, "deliveries per hour")
	}
	out := make([]store.TrendBucket, len(rows))
	for i, r := range rows {
		out[i] = store.TrendBucket{Hour: r.Hour, Status: store.DeliveryStatus(r.Status), N: r.N}
	}
	return out, nil
}

// firstDeliverySince returns a delivery id at or before the first delivery
// started at or after since: a bisection of the primary key (about
// 2·log2(rows) indexed reads) instead of a scan. Delivery ids are taken at
// insert, in the order of the outcomes (across processes within a
// transaction's length), and an outcome follows its start by at most a
// lease: slack (the longest lease) is taken off since so that no delivery
// of the range is missed; the caller still filters on the instant.
func firstDeliverySince(ctx context.Context, q *pgsqlc.Queries, since time.Time, slack time.Duration) (int64, error) {
	r, err := q.DeliveryIDRange(ctx)
	if err != nil || r.Hi == 0 {
		return 0, err
	}
	target := since.Add(-slack).UnixMilli()
	lo, hi := r.Lo, r.Hi+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		d, err := q.DeliveryAtOrAfter(ctx, mid)
		if err != nil {
			return 0, err
		}
		if d.StartedAt < target {
			lo = d.ID + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/bisect"
	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The delivery records' reads of store.ReminderStore.

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
	if err != nil {
		return 0, err
	}
	return bisect.FirstAtOrAfter(ctx, r.Lo, r.Hi, since.Add(-slack).UnixMilli(), func(ctx context.Context, id int64) (bisect.Row, error) {
		d, err := q.DeliveryAtOrAfter(ctx, id)
		return bisect.Row{Key: d.ID, At: d.StartedAt}, err
	})
}

package db

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The delivery records' reads of store.ReminderStore.

// ListDeliveries reads on the read pool.
func (d *DB) ListDeliveries(ctx context.Context, reminderID string) ([]store.Delivery, error) {
	rows, err := d.Read.ListDeliveries(ctx, reminderID)
	if err != nil {
		return nil, storeErr(err, "list deliveries of "+reminderID)
	}
	out := make([]store.Delivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryFromRow(r)
	}
	return out, nil
}

// DeliveriesPerHour reads from firstDeliverySince on: the deliveries have
// no index on their instants.
func (d *DB) DeliveriesPerHour(ctx context.Context, since time.Time, slack time.Duration) ([]store.TrendBucket, error) {
	from, err := firstDeliverySince(ctx, d.Read, since, slack)
	if err != nil {
		return nil, storeErr(err, "deliveries per hour")
	}
	rows, err := d.Read.DeliveriesPerHour(ctx, dbsqlc.DeliveriesPerHourParams{Since: since.UnixMilli(), FromID: from})
	if err != nil {
		return nil, storeErr(err, "deliveries per hour")
	}
	out := make([]store.TrendBucket, len(rows))
	for i, r := range rows {
		out[i] = store.TrendBucket{Hour: r.Hour, Status: store.DeliveryStatus(r.Status), N: r.N}
	}
	return out, nil
}

package db

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/bisect"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
)

// firstDeliverySince returns a delivery id at or before the first delivery
// started at or after since, for DeliveriesPerHour's @from_id: a bisection
// of the primary key (about 2·log2(rows) indexed reads) instead of a scan,
// as the deliveries have no index on their instants. Delivery ids follow the
// outcomes, and an outcome follows its start by at most a lease: slack
// (the longest lease) is taken off since so that no delivery of the range
// is missed; the caller still filters on the instant.
func firstDeliverySince(ctx context.Context, q *dbsqlc.Queries, since time.Time, slack time.Duration) (int64, error) {
	r, err := q.DeliveryIDRange(ctx)
	if err != nil {
		return 0, err
	}
	return bisect.FirstAtOrAfter(ctx, r.Lo, r.Hi, since.Add(-slack).UnixMilli(), func(ctx context.Context, id int64) (bisect.Row, error) {
		d, err := q.DeliveryAtOrAfter(ctx, id)
		return bisect.Row{Key: d.ID, At: d.StartedAt}, err
	})
}

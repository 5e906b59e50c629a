package db

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"time"
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

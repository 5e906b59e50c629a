// The lease rescuer: claims whose lease ran out (a dead or frozen process)
// are taken back as attempts of unknown outcome, in one write transaction
// (the lease_rescue job). It waits on the writer only.

package scheduler

import (
	"context"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"time"

)

// RescueLeases returns reminders whose lease expired (their process died
// mid-send) to scheduled, due now, and marks their in-flight delivery rows
// abandoned: WeChat may have accepted them. It returns how many it rescued.
func (e *Engine) RescueLeases(ctx context.Context) (int, error) {
	now := e.now().UnixMilli()
	var n int
	err := e.db.WithTx(ctx, func(q *dbsqlc.Queries) error {
		n = 0
		expired, err := q.ExpiredLeases(ctx, sqlInt(now))
		if err != nil {
			return err
		}
		for _, x := range expired {
			// WeChat may have the claim's send: the credit it held counts
			// as used, and the reminder waits out the unknown wait since the
			// claim before it is sent again (see unknownPending).
			due := max(now, x.ClaimedAt+e.cfg.UnknownWait.Milliseconds())
			ok, err := q.RescueReminder(ctx, dbsqlc.RescueReminderParams{ID: x.ID, Now: now, Attempts: x.Attempts, DueAt: due})
			if err != nil {
				return err
			}
			if ok == 0 {
				continue
			}
			n++
			// The rescuer writes the attempt's record. A database
			// written by a binary that recorded a claim as a 'sending'
			// delivery row still holds such rows: that row becomes the
			// record, so that the attempt has one row, not two.
			legacy, err := q.AbandonDeliveries(ctx, dbsqlc.AbandonDeliveriesParams{ReminderID: x.ID, Now: now})
			if err != nil {
				return err
			}
			if legacy == 0 {
				if err := q.InsertAbandonedDelivery(ctx, dbsqlc.InsertAbandonedDeliveryParams{ReminderID: x.ID, OccurrenceAt: x.FireAt,
					Attempt: x.Attempts, StartedAt: x.ClaimedAt, Now: now, PossibleDuplicate: b2i(x.UnknownAt.Valid)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rescue leases: %w", err)
	}
	if n > 0 {
		if e.cfg.OnRescue != nil {
			e.cfg.OnRescue(n)
		}
		e.log.Warn("rescued reminders whose lease expired", "count", n)
		e.Wake(time.Time{})
	}
	return n, nil
}

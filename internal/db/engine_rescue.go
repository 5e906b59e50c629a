// The lease rescuer's operation (store.EngineStore.RescueExpiredLeases).

package db

import (
	"context"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
)

// RescueExpiredLeases returns reminders whose lease expired (their process
// died mid-send) to scheduled and records their attempt abandoned: WeChat
// may have accepted it. It returns how many it rescued.
func (d *DB) RescueExpiredLeases(ctx context.Context, at time.Time, unknownWait time.Duration) (int, error) {
	now := at.UnixMilli()
	var n int
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		n = 0
		expired, err := q.ExpiredLeases(ctx, someInt(now))
		if err != nil {
			return err
		}
		for _, x := range expired {
			if x.SendStarted.Valid && x.SendStarted.Int64 == 0 {
				// Its worker never took the user's send lease: not sent.
				ok, err := q.RescueUnstarted(ctx, dbsqlc.RescueUnstartedParams{ID: x.ID, Now: now, Attempts: x.Attempts})
				if err != nil {
					return err
				}
				if ok > 0 && x.CreditHeld == 1 {
					if _, err := q.RefundCredit(ctx, dbsqlc.RefundCreditParams{Appid: x.Appid, Openid: x.Openid, TemplateID: x.TemplateID, Now: now,
						ClaimedAt: x.ClaimedAt}); err != nil {
						return err
					}
				}
				n += int(ok)
				continue
			}
			// WeChat may have the claim's send: the credit it held counts
			// as used, and the reminder waits out the unknown wait since the
			// claim before it is sent again.
			due := max(now, x.ClaimedAt+unknownWait.Milliseconds())
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
	return n, nil
}

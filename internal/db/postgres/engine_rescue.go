// The lease rescuer's operation (store.EngineStore.RescueExpiredLeases).

package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
)

// RescueExpiredLeases returns reminders whose lease expired (their process
// died mid-send) to scheduled and records their attempt abandoned: WeChat
// may have accepted it. It returns how many it rescued.
//
// Across processes: ExpiredLeases locks the expired rows FOR UPDATE SKIP
// LOCKED, so two rescuers never rescue one claim twice (the second skips
// the rows the first holds, and once the first commits they are no longer
// sending), and a rescuer never waits on a record in progress; the rescue
// itself is a compare-and-set on the expired claim besides.
func (d *DB) RescueExpiredLeases(ctx context.Context, at time.Time, unknownWait time.Duration) (int, error) {
	now := at.UnixMilli()
	var n int
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		n = 0
		expired, err := q.ExpiredLeases(ctx, now)
		if err != nil {
			return err
		}
		for _, x := range expired {
			if x.SendStarted != nil && !*x.SendStarted && !x.StartMarked {
				// Its worker never took the user's send lease: not sent.
				ok, err := q.RescueUnstarted(ctx, pgsqlc.RescueUnstartedParams{ID: x.ID, Now: now, Attempts: x.Attempts})
				if err != nil {
					return err
				}
				if ok > 0 && x.CreditHeld {
					if _, err := q.OutcomeRefundCredit(ctx, pgsqlc.OutcomeRefundCreditParams{Appid: x.Appid, Openid: x.Openid, TemplateID: x.TemplateID,
						Now: now, ClaimedAt: x.ClaimedAt}); err != nil {
						return err
					}
				}
				n += int(ok)
				continue
			}
			// The credit the claim held counts as used, and the reminder
			// waits out the unknown wait since the claim.
			due := max(now, x.ClaimedAt+unknownWait.Milliseconds())
			ok, err := q.RescueReminder(ctx, pgsqlc.RescueReminderParams{ID: x.ID, Now: now, Attempts: x.Attempts, DueAt: due})
			if err != nil {
				return err
			}
			if ok == 0 {
				continue
			}
			n++
			if err := q.DeleteSendStart(ctx, pgsqlc.DeleteSendStartParams{ReminderID: x.ID, Attempt: x.Attempts}); err != nil {
				return err
			}
			// A claim recorded as a 'sending' delivery row (a database
			// copied from an older deployment) makes that row the record.
			legacy, err := q.AbandonDeliveries(ctx, pgsqlc.AbandonDeliveriesParams{ReminderID: x.ID, Now: now})
			if err != nil {
				return err
			}
			if legacy == 0 {
				if err := q.InsertAbandonedDelivery(ctx, pgsqlc.InsertAbandonedDeliveryParams{ReminderID: x.ID, OccurrenceAt: x.FireAt,
					Attempt: x.Attempts, StartedAt: x.ClaimedAt, Now: now, PossibleDuplicate: x.UnknownAt != nil}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, storeErr(err, "rescue leases")
	}
	return n, nil
}

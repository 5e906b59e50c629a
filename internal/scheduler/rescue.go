// The lease rescuer: claims whose lease ran out (a dead or frozen process)
// are taken back as attempts of unknown outcome by the store, in one write
// transaction (the lease_rescue job). It waits on the store only.

package scheduler

import (
	"context"
	"time"
)

// RescueLeases returns reminders whose lease expired (their process died
// mid-send) to scheduled, due once the unknown wait since their claim is
// over, and records their attempt abandoned: WeChat may have accepted it.
// It returns how many it rescued.
func (e *Engine) RescueLeases(ctx context.Context) (int, error) {
	n, err := e.store.RescueExpiredLeases(ctx, e.now(), e.cfg.UnknownWait)
	if err != nil {
		return 0, err
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

package scheduler

import (
	"testing"
	"time"
)

// A user's send lease holds as long as the claim it guards can still be
// sending: past the claim's lease, whatever the wait for a send slot or the
// send rate before the send.
func TestUserSendLeaseOutlastsTheClaim(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	const budget, timeout = 45 * time.Second, 10 * time.Second
	for _, c := range []struct {
		name       string
		claimLease time.Time
		want       time.Time
	}{
		{"a claim leased for the default 2 min", now.Add(2 * time.Minute), now.Add(2*time.Minute + timeout)},
		{"a claim about to run out", now.Add(time.Second), now.Add(budget + timeout)},
	} {
		got := userSendUntil(now, c.claimLease, budget, timeout)
		if !got.Equal(c.want) {
			t.Errorf("%s: lease until %v, want %v", c.name, got.Sub(now), c.want.Sub(now))
		}
		// The send may start as late as the claim's lease less the budget
		// and take the budget: the lease must still hold at its end.
		if end := c.claimLease; got.Before(end) {
			t.Errorf("%s: the lease (until +%v) runs out before the claim's send can end (+%v)", c.name, got.Sub(now), end.Sub(now))
		}
	}
}
